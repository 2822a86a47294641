"""The brake in a real browser (Chromium through Playwright) against the example project:
a mass unassignment held, the banner, the review page, a selection approved after its
dry run, the restorable deleted users, and the last one rejected: on the Drift tab and in
its CSV."""

import csv
import json
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.portal.test_browser import browser, dns, log_in, shot, site, tab  # noqa: F401

pytestmark = pytest.mark.slow


def scim(url, token, method, body=None):
    request = urllib.request.Request(
        url, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def test_a_mass_unassignment_is_held_and_a_selection_approved(browser, site, tmp_path):  # noqa: F811
    page = log_in(browser, site, "acme-admin")
    page.get_by_role("link", name="Provisioning").click()
    page.get_by_role("link", name="New connection").click()
    page.get_by_label("Name").fill("Okta production")
    page.get_by_label("Provider").select_option("okta")
    page.get_by_role("button", name="Create connection").click()
    base = page.get_by_label("SCIM connector base URL").input_value()
    token = page.get_by_label("Authorization (Bearer)").input_value()
    ids = [
        scim(f"{base}/Users", token, "POST", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": f"person{n:03}@acme.example",
            "emails": [{"value": f"person{n:03}@acme.example", "primary": True}],
        })["id"]
        for n in range(100)
    ]  # fmt: skip
    off = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
           "Operations": [{"op": "replace", "path": "active", "value": False}]}  # fmt: skip
    for user_id in ids[:40]:  # the IdP unassigns 40 of 100: past 10% and 25 people
        assert scim(f"{base}/Users/{user_id}", token, "PATCH", off)["active"] is False
    for user_id in ids[90:93]:
        scim(f"{base}/Users/{user_id}", token, "DELETE")

    page.goto(base.replace("/scim/v2/", "/provisioning/acme/") + "/")
    banner = page.get_by_role("status").filter(has_text="held for review")
    expect(banner).to_contain_text("19 removals are held for review")
    shot(page, "brake-banner")
    banner.get_by_role("link", name="Review the held removals").click()
    expect(tab(page, "Held 19")).to_have_attribute("aria-current", "page")
    expect(page.locator('[data-count="host_users_deactivated"]').first).to_have_text("19")
    page.get_by_label("Select every removal on this page").check()
    page.get_by_label("Select person026@acme.example").uncheck()
    expect(page.get_by_label("Select every removal on this page")).not_to_be_checked()
    shot(page, "brake-held")
    page.get_by_role("button", name="Approve selected…").click()
    expect(page.get_by_role("heading", name="Approve 18 removals")).to_be_visible()
    expect(page.locator('[data-count="memberships_deactivated"]')).to_have_text("18")
    shot(page, "brake-confirm")
    page.get_by_role("button", name="Approve 18").click()
    expect(page.get_by_text("Approved 18 removals: 18 memberships deactivated")).to_be_visible()
    expect(page.get_by_role("heading", name="1 removal is held for review")).to_be_visible()
    expect(page.get_by_role("cell", name="person026@acme.example", exact=True)).to_be_visible()

    page.goto(f"{site}/a/acme/")  # the host's members: approved ones deactivated, 026 not
    for name, state in (("person025", "Deactivated"), ("person026", "Active")):
        row = page.get_by_role("row").filter(has_text=f"{name}@acme.example")
        expect(row).to_contain_text(state)

    page.goto(base.replace("/scim/v2/", "/provisioning/acme/") + "/deleted/")
    expect(page.get_by_role("button", name="Restore person090@acme.example")).to_be_visible()
    page.get_by_role("button", name="Restore person091@acme.example").click()
    expect(page.get_by_text("Restored person091@acme.example with 0 groups.")).to_be_visible()
    shot(page, "brake-deleted")

    # The one left is rejected: it stays active and the drift report lists it, CSV too.
    tab(page, "Held 1").click()
    page.get_by_role("button", name="Reject it…").click()
    page.get_by_role("button", name="Reject 1").click()
    expect(page.get_by_text("Rejected 1 removal")).to_be_visible()
    tab(page, "Drift").click()
    kinds = page.get_by_role("navigation", name="Kinds of drift")
    kinds.get_by_role("link", name="Rejected removals (1)").click()
    expect(page.get_by_role("row").filter(has_text="person026@acme.example")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    path = tmp_path / "drift.csv"
    download.value.save_as(path)
    rejected = [
        record["userName"]
        for record in csv.DictReader(path.open(encoding="utf-8"))
        if record["kind"] == "rejected"
    ]
    assert rejected == ["person026@acme.example"]
    page.context.close()
