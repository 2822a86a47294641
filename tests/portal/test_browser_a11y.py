"""Accessibility and small screens in a real browser (Debian's Chromium driven by
Playwright) against the example project: axe-core on every page of the Provisioning tab
and on the admin pages the app adds, the create-connection flow by keyboard alone, every
portal page at a phone's 390 pixels, and the phone and desktop screenshots."""

import json
import re
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import resolve
from playwright.sync_api import expect

from scim_portal.portal import urls as portal_urls
from tests.portal import test_browser
from tests.portal.test_browser import SCREENSHOTS
from tests.test_example_project import demo_site

pytestmark = pytest.mark.slow

browser = test_browser.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
BLOCKING = ("serious", "critical")
#: Django admin's own markup, which this app cannot change, on the admin pages only:
#: - link-in-text-block: its breadcrumbs and the delete confirmation's list of objects
#:   tell links from text by colour alone (contrast under 3:1, no underline).
ADMIN_OWN_RULES = {"link-in-text-block"}
#: Portal pages no link leads to with GET: forms post to them and they redirect.
POST_ONLY = {"domain-verify", "restore", "drift-action", "drift-csv"}

#: Run in the site's database after ``simulate_idp``: one user deleted through SCIM (the
#: Deleted tab then has a row), an OAuth application for the authorisation page.
SETUP = """
import json
from django.test import Client
from scim_portal.models import Connection, DirectoryUser, OAuthApplication
from scim_portal.provisioning import issue_token
connection = Connection.objects.get(account__slug="acme")
issued = issue_token(connection, label="a11y")
user = DirectoryUser.objects.filter(connection=connection, user_name__startswith="edsger@").get()
response = Client(HTTP_HOST="127.0.0.1").delete(
    f"{connection.scim_path()}/Users/{user.pk}", HTTP_AUTHORIZATION=f"Bearer {issued.raw}"
)
assert response.status_code == 204, response.content
application = OAuthApplication(name="Acme for Okta", redirect_uris="https://acme.okta.example/cb")
application.set_secret()
application.save()
pushed = DirectoryUser.objects.filter(connection=connection, active=True).order_by("user_name")[0]
print(json.dumps({"connection": str(connection.pk), "client_id": application.client_id,
                  "token": issued.raw, "user": str(pushed.pk)}))
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The example project with the demo data, a simulated Okta connection with removals
    held for review and a deleted user, and an OAuth application: (base URL, ids)."""
    # 64 people, 25 unassigned at once: past the brake's 25, so some are held.
    unassign = ("simulate_idp", "--account", "acme", "--mass-unassign", "--people", "64")
    with demo_site(tmp_path_factory.mktemp("site"), unassign) as (base, run):
        ids = json.loads(run("shell", "-c", SETUP).strip().splitlines()[-1])
        yield base, ids


def log_in(browser, base, username, password=None, viewport=DESKTOP, **context):
    page = browser.new_context(viewport=viewport, **context).new_page()
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password or f"{username}-demo")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    return page


def page_name(url):
    """The URL pattern's name of ``url`` ("portal:users", "admin:…_change")."""
    match = resolve(urlsplit(url).path)
    return f"{match.namespaces[-1]}:{match.url_name}"


def crawl(page, start, prefix):
    """Visit ``start`` and, breadth first, one page of every URL pattern its links lead
    to under ``prefix`` (not the log-out form's); yield each visited page's name."""
    seen, queue = set(), [start]
    while queue:
        url = queue.pop(0)
        name = page_name(url)
        if name in seen or name in {f"portal:{post_only}" for post_only in POST_ONLY}:
            continue
        seen.add(name)
        response = page.goto(url)
        assert response.status == 200, (url, response.status)
        yield name
        hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
        queue += [
            href.split("#")[0]
            for href in hrefs
            if urlsplit(href).path.startswith(prefix) and "?" not in href
        ]


def axe_problems(page, name, ignore=frozenset()):
    """The serious and critical axe-core violations on ``page``, one line each."""
    results = Axe().run(page)
    return [
        f"{name} ({page.url}): {violation['id']} [{violation['impact']}] "
        + ", ".join(" ".join(node["target"]) for node in violation["nodes"])
        for violation in results.response["violations"]
        if violation["impact"] in BLOCKING and violation["id"] not in ignore
    ]


def token_page(page, base, name):
    """Create an Okta connection through the form; the token-shown-once page."""
    page.goto(f"{base}/provisioning/acme/new/")
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create connection").click()
    expect(page.get_by_text("it is shown only once")).to_be_visible()
    return page


def portal_pages(page, base, ids, label):
    """Visit every page of the Provisioning tab; yield each one's name once it shows
    (``label`` names the connection it creates)."""
    connection = f"{base}/provisioning/acme/{ids['connection']}/"
    yield from crawl(page, f"{base}/provisioning/acme/", "/provisioning/acme/")
    page.goto(f"{connection}held/")
    page.get_by_role("checkbox", name=re.compile("^Select staff")).first.check()
    page.get_by_role("button", name="Approve selected…").click()
    expect(page.get_by_role("heading", name=re.compile("^Approve"))).to_be_visible()
    yield page_name(page.url)
    page.goto(f"{connection}tokens/")
    page.get_by_label("Label").fill("rotation")
    page.get_by_role("button", name="Issue credential").click()
    expect(page.get_by_text("Older credentials keep working")).to_be_visible()
    yield page_name(page.url)
    yield page_name(token_page(page, base, f"Okta {label}").url)
    query = {"response_type": "code", "client_id": ids["client_id"], "state": "s"}
    page.goto(f"{base}/scim/oauth/authorize?" + "&".join(f"{k}={v}" for k, v in query.items()))
    expect(page.get_by_role("heading", name="Authorise Acme for Okta")).to_be_visible()
    yield "oauth:authorize"


def test_every_portal_page_passes_axe(browser, site):
    base, ids = site
    page = log_in(browser, base, "acme-admin")
    problems, visited = [], set()
    for name in portal_pages(page, base, ids, "axe"):
        visited.add(name)
        problems += axe_problems(page, name)
    page.context.close()
    every_page = {f"portal:{pattern.name}" for pattern in portal_urls.urlpatterns}
    assert every_page - visited == {f"portal:{name}" for name in POST_ONLY}
    assert not problems, "\n".join(problems)


def test_the_admin_pages_the_app_adds_pass_axe(browser, site):
    base, ids = site
    page = log_in(browser, base, "staff")
    problems, visited = [], []

    def check(name):
        visited.append(name)
        problems.extend(axe_problems(page, name, ignore=ADMIN_OWN_RULES))

    for name in crawl(page, f"{base}/admin/scim_portal/", "/admin/scim_portal/"):
        check(name)
    admin = f"{base}/admin/scim_portal"
    page.goto(f"{admin}/connection/{ids['connection']}/issue-credential/")
    page.get_by_role("button", name=re.compile("^Issue")).click()
    expect(page.get_by_text("shown only once")).to_be_visible()
    check("admin:credential issued")
    page.goto(f"{admin}/environmentkey/add/")
    page.get_by_label("Name").fill("CI")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("shown only once")).to_be_visible()
    check("admin:environment key issued")
    page.goto(f"{admin}/oauthapplication/add/")
    page.get_by_label("Name").fill("Globex for Okta")
    page.get_by_label("Redirect uris").fill("https://globex.okta.example/cb")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("shown only once")).to_be_visible()
    check("admin:OAuth secret issued")
    page.goto(f"{admin}/webhookendpoint/add/")
    page.get_by_label("Format").select_option("set")
    page.get_by_label("Method").select_option("poll")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("shown only once")).to_be_visible()
    check("admin:webhook secret issued")
    page.goto(f"{admin}/webhookendpoint/")
    page.locator("#result_list tbody a").first.click()
    page.get_by_role("link", name=re.compile("Rotate")).click()
    check(page_name(page.url))
    page.context.close()
    for model in ("connection", "environmentkey", "oauthapplication", "webhookendpoint"):
        assert {f"admin:scim_portal_{model}_{view}" for view in ("changelist", "add")} <= set(
            visited
        )
    safety = {"admin:scim_portal_removal_changelist", "admin:scim_portal_deleteduser_changelist"}
    assert safety <= set(visited)
    assert "admin:scim_portal_connection_dashboard" in visited  # the staff dashboard
    assert not problems, "\n".join(problems)


def focus_ring(page):
    """The focused element's outline or box shadow, "" when it shows none."""
    return page.evaluate(
        """() => { const style = getComputedStyle(document.activeElement);
        const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
        return outline ? 'outline ' + style.outlineWidth : (
            style.boxShadow !== 'none' ? style.boxShadow : ''); }"""
    )


def tab_to(page, matches, presses=40):
    """Press Tab until the focused element ``matches`` (a JavaScript predicate); every
    element focused on the way shows a focus ring. The focused element."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        focused = page.locator("*:focus")
        assert focus_ring(page), f"no visible focus on {focused.evaluate('e => e.outerHTML')}"
        if focused.evaluate(matches):
            return focused
    raise AssertionError(f"nothing {matches} within {presses} Tabs")


def named(selector, name):
    """A predicate: ``selector`` whose text, or its label's, is ``name``."""
    return (
        f"e => e.matches({selector!r}) && "
        f"(e.labels && e.labels.length ? e.labels[0] : e).textContent.trim() === {name!r}"
    )


def test_keyboard_alone_creates_a_connection_and_copies_its_token(browser, site):
    base, _ = site
    page = log_in(browser, base, "acme-admin", permissions=["clipboard-read", "clipboard-write"])
    page.goto(f"{base}/provisioning/acme/")
    tab_to(page, named("a", "Skip to content"), presses=1)
    tab_to(page, named("a", "New connection"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="New SCIM connection")).to_be_visible()
    tab_to(page, named("input", "Name"))
    page.keyboard.type("Keyboard Okta")
    tab_to(page, named("select", "Provider"))
    page.keyboard.press("ArrowDown")  # Entra ID: the form is redrawn, the focus kept
    expect(page.get_by_label("OAuth2 Client Credentials Grant")).to_be_checked()
    expect(page.get_by_label("Provider")).to_be_focused()
    page.keyboard.press("ArrowUp")  # back to Okta
    expect(page.get_by_label("HTTP Header")).to_be_checked()
    expect(page.get_by_label("Provider")).to_be_focused()
    expect(page.get_by_label("Name")).to_have_value("Keyboard Okta")
    tab_to(page, named("input", "HTTP Header"))  # a radio group: Tab reaches the checked one
    page.keyboard.press("ArrowDown")
    expect(page.get_by_label("HTTP Header")).not_to_be_checked()
    page.keyboard.press("ArrowUp")
    expect(page.get_by_label("HTTP Header")).to_be_checked()
    tab_to(page, named("button", "Create connection"))
    page.keyboard.press("Enter")
    expect(page.get_by_text("it is shown only once")).to_be_visible()
    token = page.get_by_label("Authorization (Bearer)").input_value()
    assert token.startswith("scimp_")
    tab_to(page, "e => e.id === 'scim-token'")
    tab_to(page, named("button", "Copy"), presses=1)
    page.keyboard.press("Space")
    expect(page.locator("#scim-token-copied")).not_to_be_empty()
    assert page.evaluate("navigator.clipboard.readText()") == token
    page.context.close()


def test_every_portal_page_fits_a_phone(browser, site):
    base, ids = site
    page = log_in(browser, base, "acme-admin", viewport=PHONE)
    too_wide, problems = [], []
    for name in portal_pages(page, base, ids, "phone"):
        problems += axe_problems(page, name)  # a table scrolling inside its wrap, too
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide.append(f"{name} ({page.url}): {width} px")
        for wrap in page.locator(".sp-table-wrap").all():  # a wide table scrolls inside
            assert wrap.evaluate("e => e.getBoundingClientRect().right") <= PHONE["width"]
        for button in page.locator(".scim-portal button:visible").all():
            button.scroll_into_view_if_needed()  # inside a table: its wrap scrolls to it
            box = button.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], name
    assert not too_wide, "\n".join(too_wide)
    assert not problems, "\n".join(problems)
    page.context.close()


def picture(page, name):
    """What the screen shows, as a person holding it sees it (not the whole page)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_screenshots(browser, site, size):
    base, ids = site
    viewport = PHONE if size == "phone" else DESKTOP
    page = log_in(browser, base, "acme-admin", viewport=viewport)
    connection = f"{base}/provisioning/acme/{ids['connection']}/"
    page.goto(f"{base}/provisioning/acme/")
    expect(page.get_by_role("link", name="Okta (simulated)")).to_be_visible()
    picture(page, f"{size}-connections")
    # The IdP is still pushing its first sync (the module's site may be minutes old by
    # now, past the quiet time, so push one change): the overview announces it as a status.
    pushed = page.request.patch(
        f"{base}/scim/v2/{ids['connection']}/Users/{ids['user']}",
        headers={"Authorization": f"Bearer {ids['token']}",
                 "Content-Type": "application/scim+json"},
        data=json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                         "Operations": [{"op": "replace", "path": "title",
                                         "value": f"Seen on a {size}"}]}),
    )  # fmt: skip
    assert pushed.status == 200, pushed.text()
    page.goto(connection)
    expect(page.get_by_text("removals are held for review")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="so far; last change")).to_be_visible()
    picture(page, f"{size}-overview")
    page.goto(f"{connection}logs/")
    expect(page.get_by_role("link", name=re.compile(r"^(POST|PATCH) \/Users"))).not_to_have_count(0)
    picture(page, f"{size}-request-log")
    token_page(page, base, name=f"Okta on a {size}")
    picture(page, f"{size}-token-shown-once")
    page.context.close()


@pytest.mark.parametrize("language", ["en", "de", "fr"])
def test_charts_pictures(browser, site, language):
    """The demo's month of history (globex's connection) as the overview draws it, in each
    language; the charts' data tables open from their disclosure."""
    base, _ = site
    page = log_in(browser, base, "globex-admin")
    page.context.set_extra_http_headers({"Accept-Language": language})
    page.goto(f"{base}/provisioning/globex/")
    page.locator("a", has_text="Okta (demo history)").first.click()
    requests = page.locator("section[aria-labelledby='sp-traffic-heading']")
    directory = page.locator("section[aria-labelledby='sp-directory-heading']")
    for chart in (requests, directory):
        expect(chart.locator("svg[role='img']")).to_have_count(1)
    assert page.locator("html").get_attribute("lang") == language
    picker = {"en": "Language", "de": "Sprache", "fr": "Langue"}[language]
    expect(page.get_by_label(picker, exact=True)).to_be_visible()  # the host's words too
    if language == "en":
        expect(requests.locator("svg desc")).to_contain_text("requests in the last 7 days")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    suffix = "" if language == "en" else f"-{language}"
    requests.screenshot(path=str(SCREENSHOTS / f"chart-requests{suffix}.png"))
    directory.screenshot(path=str(SCREENSHOTS / f"chart-directory{suffix}.png"))
    if language == "en":
        requests.locator("summary").first.click()
        expect(requests.locator("table")).to_be_visible()
        assert not axe_problems(page, "overview with its data table open")
    page.context.close()


def test_staff_dashboard_picture(browser, site):
    base, _ = site
    page = log_in(browser, base, "staff")
    page.goto(f"{base}/admin/scim_portal/connection/dashboard/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert not axe_problems(page, "staff dashboard", ignore=ADMIN_OWN_RULES)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "staff-dashboard.png"), full_page=True)
    page.context.close()
