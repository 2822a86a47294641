/* django-scim-portal: copy buttons. No inline scripts; works under a strict CSP. */
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
