"""The Drift page of a connection: counts, rows of a kind, per-row fixes, the CSV."""

import csv
import io
import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from scim_portal import permissions
from scim_portal.models import DirectoryUser, EventType, ProvisioningEvent, Removal
from tests.conftest import grant
from tests.drift_seed import COUNTS
from tests.factories import UserFactory
from tests.testapp.models import OrganizationMembership

pytestmark = pytest.mark.django_db


def login(host, who):
    client = Client()
    if who == "creator":
        host["people"]["creator"] = grant(
            UserFactory(username="creator"), host["account"], permissions.READ, permissions.CREATE
        )
    if who != "anonymous":
        client.force_login(host["people"][who])
    return client


@pytest.fixture
def page(drift_host):
    return f"/provisioning/acme/{drift_host['connection'].pk}/drift/"


def targets(host):
    users, hosts = host["users"], host["hosts"]
    rejected = Removal.objects.get(user_id=users["rejected"].pk, state="rejected")
    return {
        "reapply": (users["lost"].pk, "membership"),
        "deactivate": (hosts["contractor"].pk, "unmanaged"),
        "adopt": (hosts["newhire"].pk, "unmanaged"),
        "approve": (rejected.pk, "rejected"),
    }


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def counts_on(html):
    """The counts of the kinds' links, as the page shows them."""
    return {label: int(n) for label, n in
            re.findall(r'\?kind=(\w+)"[^>]*>[^<(]+\((\d+)\)', html)}  # fmt: skip


def test_page_shows_counts_and_the_rows_of_a_kind(drift_host, page):
    admin = login(drift_host, "admin")
    html = admin.get(page, {"kind": "membership"}).content.decode()
    assert counts_on(html) == COUNTS
    assert 'href="/provisioning/acme/' in html and 'aria-current="page">Drift<' in html
    for name in ("lost", "stale", "gone", "both", "locked"):
        assert f"{name}@acme.test" in html
    assert "no membership" in html and "Re-apply" in html
    assert "promoted@acme.test" not in html  # another kind
    unmanaged = admin.get(page, {"kind": "unmanaged"}).content.decode()
    assert "contractor" in unmanaged and "Adopt" in unmanaged
    assert ">Staff<" in unmanaged and 'aria-label="Deactivate root"' not in unmanaged
    held = admin.get(page, {"kind": "held"}).content.decode()
    assert "held@acme.test" in held and "removed within an hour" in held
    assert "<form" not in held.split("<tbody>")[1]  # decided on the review page


def test_first_kind_with_rows_is_shown_by_default(drift_host, page):
    html = login(drift_host, "auditor").get(page).content.decode()
    assert 'href="?kind=unmanaged" aria-current="true"' in html


def test_pages_follow_the_key(drift_host, page, monkeypatch):
    monkeypatch.setattr("scim_portal.portal.drift.DriftView.page_size", 2)
    admin = login(drift_host, "admin")
    seen, after = [], None
    while True:
        query = {"kind": "membership", **({"after": after} if after else {})}
        html = admin.get(page, query).content.decode()
        rows = [name for name in ("lost", "stale", "gone", "both", "locked")
                if f">{name}@acme.test</a>" in html]  # fmt: skip
        assert len(rows) <= 2
        seen += rows
        found = re.search(r'after=([^"]+)" rel="next"', html)
        if not found:
            break
        after = found[1]
    assert sorted(seen) == sorted(["lost", "stale", "gone", "both", "locked"])
    assert admin.get(page, {"kind": "membership", "after": "nope"}).status_code == 404


@pytest.mark.parametrize("kind", ["unmanaged", "membership", "role", "held", "rejected"])
def test_page_is_a_fixed_number_of_statements(drift_host, page, kind,
                                              django_assert_max_num_queries):  # fmt: skip
    admin = login(drift_host, "admin")
    admin.get(page)  # session and permissions warm
    # The portal's own (session, person, account, permissions, connection), a COUNT per
    # kind and the distinct roles, the page, and for unmanaged the verified domains.
    with django_assert_max_num_queries(18) as small:
        admin.get(page, {"kind": kind})
    # Ten times the directory: the same statements.
    connection = drift_host["connection"]
    for number in range(40):
        user = DirectoryUser.objects.create(
            connection=connection, user_name=f"more{number}@acme.test", host_link="managed",
            host_user=UserFactory(), email=f"more{number}@acme.test",
        )  # fmt: skip
        OrganizationMembership.objects.create(
            organization=connection.account, user_id=user.host_user_id, role="admin"
        )
        OrganizationMembership.objects.create(organization=connection.account, user=UserFactory())
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = admin.get(page, {"kind": kind})
    assert response.status_code == 200


@pytest.mark.parametrize("action", ["reapply", "deactivate", "adopt", "approve"])
def test_each_action_fixes_its_row_and_only_its_row(drift_host, page, action):
    admin = login(drift_host, "admin")
    target, kind = targets(drift_host)[action]
    response = admin.post(f"{page}{action}/", {"target": target, "kind": kind})
    assert response.status_code == 302 and response["Location"] == f"{page}?kind={kind}"
    [message] = messages_of(response)
    assert message.endswith(("follows the directory.", "was deactivated.", "next sync.",
                             "approved and applied."))  # fmt: skip
    html = admin.get(response["Location"]).content.decode()
    assert counts_on(html) == {**COUNTS, kind: COUNTS[kind] - 1}
    event = ProvisioningEvent.objects.filter(
        type__in=[EventType.DRIFT_FIXED, EventType.USER_ADOPTED]
    ).get()
    assert event.actor["username"] == "admin" and event.actor["via"] == "portal"


def test_a_refused_fix_says_why(drift_host, page):
    admin = login(drift_host, "admin")
    root = drift_host["hosts"]["root"]
    response = admin.post(f"{page}deactivate/", {"target": root.pk, "kind": "unmanaged"})
    [message] = messages_of(response)
    assert "root is vendor staff or a superuser" in message
    assert OrganizationMembership.objects.get(user=root).is_active


@pytest.mark.parametrize("who", ["admin", "creator", "auditor", "member", "other_admin",
                                 "anonymous"])  # fmt: skip
def test_who_may_see_and_fix(drift_host, page, who):
    client = login(drift_host, who)
    may = {"admin": {"read", "create", "delete"}, "creator": {"read", "create"},
           "auditor": {"read"}}.get(who, set())  # fmt: skip
    expected = 302 if who == "anonymous" else None
    for url in (page, page.replace("drift/", "drift.csv")):
        status = client.get(url).status_code
        assert status == (expected or (200 if "read" in may else 403))
    for action, (target, kind) in targets(drift_host).items():
        needed = "create" if action == "adopt" else "delete"
        response = client.post(f"{page}{action}/", {"target": target, "kind": kind})
        assert response.status_code == (expected or (302 if needed in may else 403)), action
    fixed = ProvisioningEvent.objects.filter(
        type__in=[EventType.DRIFT_FIXED, EventType.USER_ADOPTED]
    )
    assert fixed.count() == {"admin": 4, "creator": 1}.get(who, 0)
    if who == "auditor":
        html = client.get(page, {"kind": "unmanaged"}).content.decode()
        assert "contractor" in html and "<form" not in html.split("<tbody>")[1]


def test_rows_of_another_connection_or_account_are_not_found(drift_host, page):
    admin = login(drift_host, "admin")
    theirs, outsider = drift_host["users"]["theirs"], drift_host["hosts"]["outsider"]
    assert admin.post(f"{page}reapply/", {"target": theirs.pk}).status_code == 404
    assert admin.post(f"{page}deactivate/", {"target": outsider.pk}).status_code == 404
    assert admin.post(f"{page}adopt/", {"target": "nope"}).status_code == 404
    assert admin.post(f"{page}delete-everything/", {"target": 1}).status_code == 404
    other = f"/provisioning/globex/{drift_host['other_connection'].pk}/drift/"
    assert admin.get(other).status_code == 403
    sibling = f"/provisioning/acme/{drift_host['other_connection'].pk}/drift/"
    assert admin.get(sibling).status_code == 404
    assert OrganizationMembership.objects.get(user=outsider).is_active
    assert not ProvisioningEvent.objects.filter(type=EventType.DRIFT_FIXED).exists()


def test_actions_need_the_csrf_token(drift_host, page):
    client = Client(enforce_csrf_checks=True)
    client.force_login(drift_host["people"]["admin"])
    contractor = drift_host["hosts"]["contractor"]
    response = client.post(f"{page}deactivate/", {"target": contractor.pk})
    assert response.status_code == 403
    assert OrganizationMembership.objects.get(user=contractor).is_active


def test_csv_download(drift_host, page):
    response = login(drift_host, "auditor").get(page.replace("drift/", "drift.csv"))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="drift-okta-')
    body = b"".join(response.streaming_content).decode()
    records = list(csv.DictReader(io.StringIO(body)))
    assert len(records) == sum(COUNTS.values())
    by_kind = {kind: sum(1 for r in records if r["kind"] == kind) for kind in COUNTS}
    assert by_kind == COUNTS


def test_an_admin_cannot_deactivate_their_own_membership(drift_host, page):
    # Tenant admins are rarely in their IdP: they show as unmanaged members themselves.
    me = drift_host["people"]["admin"]
    OrganizationMembership.objects.create(organization=drift_host["account"], user=me, role="x")
    admin = login(drift_host, "admin")
    html = admin.get(page, {"kind": "unmanaged"}).content.decode()
    assert me.username in html
    own = re.compile(rf'deactivate/" class="sp-inline">[^\n]*?name="target" value="{me.pk}"')
    assert not own.search(html)
    contractor = drift_host["hosts"]["contractor"].pk
    assert re.search(rf'deactivate/" class="sp-inline">[^\n]*?value="{contractor}"', html)

    response = admin.post(f"{page}deactivate/", {"target": me.pk, "kind": "unmanaged"})

    [message] = messages_of(response)
    assert "your own membership" in message
    assert OrganizationMembership.objects.get(user=me).is_active
    assert not ProvisioningEvent.objects.filter(type=EventType.DRIFT_FIXED).exists()
