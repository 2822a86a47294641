/* django-scim-portal: copy buttons, and the credential forms' method fields. No inline
   scripts; works under a strict CSP. Every page works without it. */
(function () {
  "use strict";

  function announce(button, text) {
    var status = document.getElementById(button.getAttribute("aria-describedby"));
    if (status) {
      status.textContent = text;
      window.setTimeout(function () { status.textContent = ""; }, 4000);
    }
  }

  function copy(button) {
    var input = document.getElementById(button.getAttribute("data-copy-target"));
    if (!input) { return; }
    var done = function () { announce(button, "Copied to the clipboard."); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {
        input.select();
        announce(button, "Selected: press Ctrl+C (⌘C) to copy.");
      });
    } else {
      input.focus();
      input.select();
      try {
        document.execCommand("copy");
        done();
      } catch (error) {
        announce(button, "Selected: press Ctrl+C (⌘C) to copy.");
      }
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (button) { copy(button); }
  });
  document.addEventListener("focusin", function (event) {
    if (event.target.hasAttribute && event.target.hasAttribute("data-copy-source")) {
      event.target.select();
    }
  });
})();

(function () {
  "use strict";

  var REFOCUS = "scim-portal-refocus";

  /* The chosen method of a form: a checked radio or a select's value. */
  function chosenMethod(form) {
    var control = form.querySelector("[data-method-choice]:checked") ||
      form.querySelector("select[data-method-choice]");
    return control ? control.value : "";
  }

  /* Show only the fields of the chosen method (all show without the script). */
  function showMethodFields(form) {
    var chosen = chosenMethod(form);
    form.querySelectorAll("[data-method-fields]").forEach(function (fields) {
      fields.hidden = fields.getAttribute("data-method-fields") !== chosen;
    });
  }

  /* Send the form as its hidden "Show its authentication methods" button would. */
  function redraw(select) {
    var button = document.getElementById(select.getAttribute("data-refresh"));
    if (!button || !select.form) { return; }
    var field = document.createElement("input");
    field.type = "hidden";
    field.name = button.name;
    field.value = button.value;
    select.form.appendChild(field);
    /* The redrawn page gives the focus back, so arrow keys keep choosing (WCAG 3.2.2). */
    try { window.sessionStorage.setItem(REFOCUS, select.id); } catch (error) { /* no storage */ }
    select.form.submit();
  }

  function refocus() {
    var id = null;
    try {
      id = window.sessionStorage.getItem(REFOCUS);
      window.sessionStorage.removeItem(REFOCUS);
    } catch (error) { return; }
    var control = id && document.getElementById(id);
    if (control) { control.focus(); }
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.hasAttribute("data-refresh")) { redraw(target); }
    if (target.hasAttribute("data-method-choice") && target.form) { showMethodFields(target.form); }
  });

  function start() {
    document.querySelectorAll("[data-refresh-button]").forEach(function (button) {
      /* Choosing a provider redraws the form at once; Enter then creates, as it reads. */
      button.hidden = true;
      button.type = "button";
    });
    document.querySelectorAll("form").forEach(function (form) {
      if (form.querySelector("[data-method-choice]")) { showMethodFields(form); }
    });
    refocus();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

(function () {
  "use strict";

  /* "Select every removal on this page": a header checkbox for the row checkboxes named
     by its data-select-all (hidden without the script: nothing to toggle then). */
  function rows(all) {
    return all.form ? all.form.querySelectorAll(
      'input[type="checkbox"][name="' + all.getAttribute("data-select-all") + '"]'
    ) : [];
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.hasAttribute("data-select-all")) {
      rows(target).forEach(function (box) { box.checked = target.checked; });
    } else if (target.form && target.type === "checkbox") {
      var all = target.form.querySelector("[data-select-all]");
      if (all && all.getAttribute("data-select-all") === target.name) {
        var boxes = Array.prototype.slice.call(rows(all));
        all.checked = boxes.every(function (box) { return box.checked; });
        all.indeterminate = !all.checked && boxes.some(function (box) { return box.checked; });
      }
    }
  });

  function start() {
    document.querySelectorAll("[data-select-all]").forEach(function (all) { all.hidden = false; });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
