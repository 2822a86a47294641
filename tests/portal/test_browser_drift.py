"""The Drift tab in a real browser (Debian's Chromium driven by Playwright), against the
example project as ``make run`` serves it, after ``simulate_idp`` and a few changes made
in the host behind the directory's back."""

import csv
import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.portal import test_browser
from tests.portal.test_browser import log_in, shot, tab
from tests.test_example_project import demo_site

pytestmark = pytest.mark.slow

browser = test_browser.browser

#: Run in the site's database: ada loses her membership, alan gets another role.
DRIFT = """
from django.contrib.auth.models import User
from example_project.accounts.models import Account, Membership
from example_project.accounts.roles import set_membership
acme = Account.objects.get(slug="acme")
Membership.objects.filter(account=acme, user__username="ada@okta.acme.example.com").delete()
set_membership(acme, User.objects.get(username="alan@okta.acme.example.com"), "admin")
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The example project with the demo data and a simulated Okta connection; the
    connection's id."""
    setups = (("simulate_idp", "--account", "acme"), ("shell", "-c", DRIFT))
    with demo_site(tmp_path_factory.mktemp("site"), *setups) as (base, run):
        [connection] = json.loads(
            run("scim_portal", "list-connections", "--account", "acme", "--json")
        )
        yield base, connection["id"]


def test_admin_fixes_drift_and_downloads_the_report(browser, site, tmp_path):
    base, connection = site
    page = log_in(browser, base, "acme-admin")
    page.goto(f"{base}/provisioning/acme/{connection}/")
    tab(page, "Drift").click()
    kinds = page.get_by_role("navigation", name="Kinds of drift")
    # The demo's people who log in with a password are in no directory.
    expect(kinds.get_by_role("link", name="Not in the directory (3)")).to_be_visible()
    expect(kinds.get_by_role("link", name="Membership (1)")).to_be_visible()
    expect(kinds.get_by_role("link", name="Role (1)")).to_be_visible()
    kinds.get_by_role("link", name="Role (1)").click()
    row = page.get_by_role("row").filter(has_text="alan@okta.acme.example.com")
    expect(row).to_contain_text("active member, role admin")
    kinds.get_by_role("link", name="Membership (1)").click()
    row = page.get_by_role("row").filter(has_text="ada@okta.acme.example.com")
    expect(row).to_contain_text("no membership")
    shot(page, "drift")

    row.get_by_role("button", name="Re-apply ada@okta.acme.example.com").click()
    expect(page.get_by_text("ada@okta.acme.example.com's membership now follows")).to_be_visible()
    expect(kinds.get_by_role("link", name="Membership (0)")).to_be_visible()
    expect(kinds.get_by_role("link", name="Role (1)")).to_be_visible()

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    path = Path(tmp_path / "drift.csv")
    download.value.save_as(path)
    records = list(csv.DictReader(path.open(encoding="utf-8")))
    assert sorted(record["kind"] for record in records) == ["role"] + ["unmanaged"] * 3
    page.context.close()

    auditor = log_in(browser, base, "acme-auditor")
    auditor.goto(f"{base}/provisioning/acme/{connection}/drift/?kind=role")
    expect(auditor.get_by_role("row").filter(has_text="alan@okta")).to_be_visible()
    expect(auditor.get_by_role("button", name="Re-apply alan@okta.acme.example.com")).to_have_count(
        0
    )
    auditor.context.close()
