"""The brake in the Provisioning tab: an Entra-style mass unassignment held at the
threshold, the review page with its dry run, approving or rejecting in one request,
restoring deleted users, the brake's settings and the deletion dry run."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.db import connection as db_connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from scim_portal import permissions
from scim_portal.models import (
    DeletedUser,
    DirectoryGroup,
    DirectoryUser,
    EventType,
    GroupMembership,
    ProvisioningEvent,
    Removal,
    RemovalState,
)
from scim_portal.provisioning import create_connection, directory, prune, safety
from tests.conftest import grant
from tests.factories import OrganizationFactory, UserFactory
from tests.scim_client import ScimClient, load_fixture
from tests.testapp.models import OrganizationMembership

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def acme(db):
    """Account acme with an Entra connection (the brake at its defaults: 10%, at least
    25), its admin and auditor, and another account's admin."""
    account = OrganizationFactory(handle="acme")
    connection, issued = create_connection(account=account, name="Entra", provider="entra")
    other_account = OrganizationFactory(handle="globex")
    theirs, _ = create_connection(account=other_account, name="Theirs", provider="okta")
    every = (permissions.READ, permissions.CREATE, permissions.DELETE)
    people = {
        "admin": grant(UserFactory(username="admin"), account, *every),
        "auditor": grant(UserFactory(username="auditor"), account, permissions.READ),
        "other_admin": grant(UserFactory(username="other"), other_account, *every),
    }
    return {
        "account": account,
        "connection": connection,
        "scim": ScimClient(Client(), connection, issued.raw),
        "theirs": theirs,
        "people": people,
        "base": f"/provisioning/acme/{connection.pk}",
    }


def as_person(acme, who, **kwargs):
    client = Client(**kwargs)
    client.force_login(acme["people"][who])
    return client


def populate(connection, count, prefix="p"):
    """``count`` directory users, each with a host user and an active membership (created
    through the service, as a first sync would, without the HTTP round trips)."""
    return [
        directory.create_user(
            connection,
            {
                "userName": f"{prefix}{n:04}@acme.example",
                "emails": [{"value": f"{prefix}{n:04}@acme.example", "type": "work"}],
                "active": True,
            },
        )
        for n in range(count)
    ]


def host_rows(account):
    """The host's rows a person would notice: who may sign in, and the memberships."""
    members = OrganizationMembership.objects.filter(organization=account)
    return (
        set(User.objects.filter(is_active=True).values_list("pk", flat=True)),
        {
            user: (role, active)
            for user, role, active in members.values_list("user", "role", "is_active")
        },
    )


def changed(before, after):
    """What changed between two :func:`host_rows`, as the dry run counts it."""
    (active_before, members_before), (active_after, members_after) = before, after
    return {
        "memberships_deactivated": sum(
            1
            for user, (_role, active) in members_before.items()
            if active and user in members_after and not members_after[user][1]
        ),
        "memberships_removed": len(set(members_before) - set(members_after)),
        "host_users_deactivated": len(active_before - active_after),
    }


def said(response):
    """The messages a response left for the next page."""
    return [str(message) for message in get_messages(response.wsgi_request)]


def counts_on(page, attribute="data-count"):
    """The numbers a page shows in its dry run (``<dd data-count="name">n</dd>``)."""
    return {
        name: int(value) for name, value in re.findall(rf'{attribute}="([a-z_]+)">(\d+)<', page)
    }


@pytest.fixture
def mass_unassign(acme):
    """An Entra-style sync that deactivates 40% of a 1,000-user directory: 400 PATCH
    requests, as Entra sends them when an admin unassigns the app from a big group."""
    people = populate(acme["connection"], 1000)
    for person in people[:400]:
        response = acme["scim"].patch(
            f"/Users/{person.pk}", load_fixture("entra/disable_user.json")
        )
        assert response.status_code == 200, response.content
        assert response.json()["active"] is False  # the IdP is told its change is done
    return people


def test_the_brake_holds_a_mass_unassignment_at_the_threshold(acme, mass_unassign):
    people, account = mass_unassign, acme["account"]
    removals = Removal.objects.filter(connection=acme["connection"]).order_by("at", "pk")
    assert [r.state for r in removals] == ["applied"] * 100 + ["held"] * 300
    assert [r.user_id for r in removals] == [p.pk for p in people[:400]]
    # The directory says what the IdP said; the host changed for the first 100 only.
    assert DirectoryUser.objects.filter(active=False).count() == 400
    members = {
        m.user_id: m.is_active for m in OrganizationMembership.objects.filter(organization=account)
    }
    assert not any(members[p.host_user_id] for p in people[:100])
    assert all(members[p.host_user_id] for p in people[100:])
    active = set(User.objects.filter(is_active=True).values_list("pk", flat=True))
    assert not any(p.host_user_id in active for p in people[:100])
    assert all(p.host_user_id in active for p in people[100:])
    held = ProvisioningEvent.objects.filter(type=EventType.USER_REMOVAL_HELD)
    assert held.count() == 300
    assert "more than 10% of 1000 active users" in held.order_by("number").first().changes["reason"]

    admin = as_person(acme, "admin")
    for url in ("/provisioning/acme/", acme["base"] + "/", acme["base"] + "/users/"):
        page = admin.get(url).content.decode()
        assert "300 removals are held for review" in page, url
        assert f'href="{acme["base"]}/held/"' in page
    page = admin.get(acme["base"] + "/held/").content.decode()
    assert "300 removals are held for review" in page
    assert people[100].user_name in page and people[199].user_name in page  # the first page
    assert people[99].user_name not in page  # applied, not held
    assert people[150].host_user.get_username() in page and "Deactivation" in page
    assert counts_on(page) == {
        "removals": 300,
        "deactivations": 300,
        "deletions": 0,
        "memberships_deactivated": 300,
        "memberships_removed": 0,
        "host_users_deactivated": 300,
        "unlinked": 0,
    }
    assert '>Held <span class="sp-count">300</span>' in page


def test_approving_them_all_is_one_request_that_changes_what_the_dry_run_said(acme, mass_unassign):
    people, account = mass_unassign, acme["account"]
    admin = as_person(acme, "admin")
    page = admin.get(acme["base"] + "/held/").content.decode()
    through = re.search(r'name="through" value="(\d+)"', page)[1]
    confirm = admin.get(
        acme["base"] + "/held/confirm/", {"decision": "approve", "all": "1", "through": through}
    ).content.decode()
    shown = counts_on(confirm)
    assert shown == counts_on(page)
    before = host_rows(account)

    response = admin.post(
        acme["base"] + "/held/confirm/", {"decision": "approve", "all": "1", "through": through}
    )

    assert response.status_code == 302 and response["Location"].endswith("/held/")
    after = host_rows(account)
    assert changed(before, after) == {
        name: shown[name]
        for name in ("memberships_deactivated", "memberships_removed", "host_users_deactivated")
    }
    assert said(response) == [
        "Approved 300 removals: 300 memberships deactivated, 0 removed, 300 accounts deactivated."
    ]
    assert not Removal.objects.filter(state=RemovalState.HELD).exists()
    assert Removal.objects.filter(state=RemovalState.APPROVED).count() == 300
    approved = ProvisioningEvent.objects.filter(type=EventType.USER_REMOVAL_APPROVED)
    assert approved.count() == 300
    assert {tuple(sorted(e.actor.items())) for e in approved} == {
        (("id", acme["people"]["admin"].pk), ("type", "user"), ("username", "admin"),
         ("via", "portal"))
    }  # fmt: skip
    assert all(p.host_user_id not in after[0] for p in people[:400])
    page = admin.get(acme["base"] + "/").content.decode()
    assert "held for review" not in page and ">Held" not in page


def test_rejecting_them_keeps_the_people_active_and_shows_them_as_rejected(acme, mass_unassign):
    people, account = mass_unassign, acme["account"]
    admin = as_person(acme, "admin")
    page = admin.get(acme["base"] + "/held/").content.decode()
    through = re.search(r'name="through" value="(\d+)"', page)[1]
    before = host_rows(account)

    response = admin.post(
        acme["base"] + "/held/confirm/", {"decision": "reject", "all": "1", "through": through}
    )

    assert response.status_code == 302
    assert host_rows(account) == before
    assert all(p.host_user_id in before[0] for p in people[100:400])
    assert Removal.objects.filter(state=RemovalState.REJECTED).count() == 300
    message = said(response)[-1]
    assert message.startswith("Rejected 300 removals: those people keep their access")
    rejected = admin.get(acme["base"] + "/held/", {"show": "rejected"}).content.decode()
    assert "Rejected (300)" in rejected and people[399].user_name in rejected
    assert "by admin" in rejected
    events = ProvisioningEvent.objects.filter(type=EventType.USER_REMOVAL_REJECTED)
    assert events.count() == 300 and events.first().actor["via"] == "portal"
    # A later removal of a rejected person waits for review again.
    acme["scim"].delete(f"/Users/{people[100].pk}")
    assert Removal.objects.filter(user_id=people[100].pk, state=RemovalState.HELD).exists()


@pytest.fixture
def small(acme):
    """Twenty people; the brake holds every removal after the first (5%, at least 2)."""
    directory.update_connection_settings(acme["connection"], brake_percent=5, brake_minimum=2)
    people = populate(acme["connection"], 20)
    for person in people[:6]:
        acme["scim"].patch(f"/Users/{person.pk}", load_fixture("entra/disable_user.json"))
    assert safety.held(acme["connection"]).count() == 5
    return people


def test_a_selection_is_confirmed_with_its_own_numbers_and_decided_alone(acme, small):
    admin = as_person(acme, "admin")
    other = OrganizationFactory()  # people[2] keeps an account elsewhere: not deactivated
    OrganizationMembership.objects.create(organization=other, user=small[2].host_user)
    chosen = list(Removal.objects.filter(user_id__in=[small[1].pk, small[2].pk]))

    confirm = admin.get(
        acme["base"] + "/held/confirm/",
        {"decision": "approve", "ids": [r.pk for r in chosen]},
    ).content.decode()
    shown = counts_on(confirm)
    assert shown["removals"] == 2 and shown["host_users_deactivated"] == 1
    assert small[1].user_name in confirm and small[3].user_name not in confirm
    before = host_rows(acme["account"])
    response = admin.post(
        acme["base"] + "/held/confirm/",
        {"decision": "approve", "ids": re.findall(r'name="ids" value="(\d+)"', confirm)},
    )

    assert response.status_code == 302
    assert changed(before, host_rows(acme["account"])) == {
        "memberships_deactivated": 2,
        "memberships_removed": 0,
        "host_users_deactivated": 1,
    }
    assert safety.held(acme["connection"]).count() == 3
    page = admin.get(acme["base"] + "/held/").content.decode()
    assert "3 removals are held for review" in page
    assert small[1].user_name not in page


def test_nothing_selected_or_nonsense_is_refused(acme, small):
    admin = as_person(acme, "admin")
    url = acme["base"] + "/held/confirm/"
    response = admin.get(url, {"decision": "approve"})
    assert response.status_code == 302
    assert "Select at least one removal" in said(response)[-1]
    assert admin.get(url, {"decision": "nuke", "ids": "1"}).status_code == 400
    assert admin.get(url, {"decision": "approve", "ids": "x"}).status_code == 400
    assert admin.get(url, {"decision": "approve", "all": "1"}).status_code == 400  # no through
    assert admin.post(url, {"decision": "approve"}).status_code == 400
    # Removals of another connection are simply not held here.
    theirs = Removal.objects.create(
        connection=acme["theirs"], user_id=small[0].pk, user_name="x", kind="deactivate",
        state="held",
    )  # fmt: skip
    response = admin.post(url, {"decision": "approve", "ids": [theirs.pk]})
    assert "Nothing was decided" in said(response)[-1]
    theirs.refresh_from_db()
    assert theirs.state == RemovalState.HELD


def page_queries(client, url):
    """The number of statements a page costs, and how many of them read removals."""
    with CaptureQueriesContext(db_connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries), sum("scim_portal_removal" in query["sql"] for query in queries)


def test_the_banner_costs_at_most_one_query(acme):
    admin = as_person(acme, "admin")
    directory.update_connection_settings(acme["connection"], brake_percent=1, brake_minimum=2)
    people = populate(acme["connection"], 40)
    urls = [
        "/provisioning/acme/",
        acme["base"] + "/",
        acme["base"] + "/users/",
        acme["base"] + "/settings/",
        acme["base"] + "/activity/",
    ]
    for person in people[:3]:
        directory.update_user(
            acme["connection"], person.pk, lambda u: {**u.attributes, "active": False}
        )
    assert "2 removals are held" in admin.get(acme["base"] + "/").content.decode()
    few = {url: page_queries(admin, url) for url in urls}
    for person in people[3:20]:
        directory.update_user(
            acme["connection"], person.pk, lambda u: {**u.attributes, "active": False}
        )
    assert "19 removals are held" in admin.get(acme["base"] + "/").content.decode()
    many = {url: page_queries(admin, url) for url in urls}

    for url in urls:
        total, reading_removals = many[url]
        assert reading_removals <= 1, url  # the banner and the tab's count: one query at most
        assert total == few[url][0], url  # and not one per held removal


def test_the_review_page_costs_the_same_for_5_and_300_held(acme, small):
    admin = as_person(acme, "admin")
    url = acme["base"] + "/held/"
    five = page_queries(admin, url)[0]
    more = populate(acme["connection"], 300, prefix="q")
    for person in more:
        directory.update_user(
            acme["connection"], person.pk, lambda u: {**u.attributes, "active": False}
        )
    assert "305 removals are held" in admin.get(url).content.decode()
    assert page_queries(admin, url)[0] == five


@pytest.fixture
def engineer(acme):
    """A person in a group mapped to the role "editor", in an account whose connection
    removes memberships of deleted users."""
    connection, scim = acme["connection"], acme["scim"]
    directory.update_connection_settings(connection, deprovision_policy="remove")
    others = populate(connection, 3)
    user = scim.post("/Users", load_fixture("entra/create_user.json")).json()
    group = scim.create_group("Engineering", members=[user["id"], str(others[0].pk)])
    directory.set_role_mapping(connection, DirectoryGroup.objects.get(pk=group["id"]), "editor")
    host = DirectoryUser.objects.get(pk=user["id"]).host_user
    member = OrganizationMembership.objects.get(organization=acme["account"], user=host)
    assert (member.role, member.is_active) == ("editor", True)
    return {"user": user, "group": group, "host": host}


def test_restore_within_the_grace_period_brings_everything_back(acme, engineer):
    scim, admin = acme["scim"], as_person(acme, "admin")
    user_id, host = engineer["user"]["id"], engineer["host"]
    before = OrganizationMembership.objects.filter(user=host).values_list(
        "organization", "role", "is_active"
    )
    before = list(before)
    assert scim.delete(f"/Users/{user_id}").status_code == 204
    assert not OrganizationMembership.objects.filter(user=host).exists()
    assert scim.get(f"/Users/{user_id}").status_code == 404
    page = admin.get(acme["base"] + "/deleted/").content.decode()
    assert engineer["user"]["userName"] in page
    assert re.search(r'<td class="sp-num">1</td>', page)  # one group
    assert "Restore" in page

    response = admin.post(acme["base"] + f"/deleted/{user_id}/restore/")

    assert response.status_code == 302
    message = said(response)[-1]
    assert message == f"Restored {engineer['user']['userName']} with 1 group."
    assert (
        list(
            OrganizationMembership.objects.filter(user=host).values_list(
                "organization", "role", "is_active"
            )
        )
        == before
    )
    restored = DirectoryUser.objects.get(pk=user_id)
    assert restored.host_user == host and restored.role == "editor"
    assert GroupMembership.objects.filter(user=restored, group_id=engineer["group"]["id"]).exists()
    assert scim.get(f"/Users/{user_id}").status_code == 200
    members = scim.get(f"/Groups/{engineer['group']['id']}").json()["members"]
    assert user_id in {m["value"] for m in members}
    event = ProvisioningEvent.objects.get(type=EventType.USER_RESTORED)
    assert event.actor["username"] == "admin" and event.actor["via"] == "portal"
    assert not DeletedUser.objects.exists()


def test_after_the_grace_period_prune_removes_the_kept_user(acme, engineer):
    scim, admin = acme["scim"], as_person(acme, "admin")
    user_id = engineer["user"]["id"]
    scim.delete(f"/Users/{user_id}")
    kept = DeletedUser.objects.get(pk=user_id)
    assert kept.attributes["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]

    prune(now=timezone.now() + timedelta(days=29))
    assert DeletedUser.objects.filter(pk=user_id).exists()
    DeletedUser.objects.filter(pk=user_id).update(purge_after=timezone.now() - timedelta(days=1))
    assert (
        engineer["user"]["userName"] not in admin.get(acme["base"] + "/deleted/").content.decode()
    )
    call_command("scim_portal", "prune")

    assert not DeletedUser.objects.filter(pk=user_id).exists()
    response = admin.post(acme["base"] + f"/deleted/{user_id}/restore/")
    assert response.status_code == 302
    assert "can no longer be restored" in said(response)[-1]
    assert not DirectoryUser.objects.filter(pk=user_id).exists()


def test_a_user_the_identity_provider_created_again_cannot_be_restored(acme, engineer):
    scim, admin = acme["scim"], as_person(acme, "admin")
    user_id = engineer["user"]["id"]
    scim.delete(f"/Users/{user_id}")
    scim.post("/Users", load_fixture("entra/create_user.json"))

    response = admin.post(acme["base"] + f"/deleted/{user_id}/restore/")

    assert response.status_code == 302
    message = said(response)[-1]
    assert "has since created" in message and "restore is not possible" in message
    assert DeletedUser.objects.filter(pk=user_id).exists()


def brake_urls(acme, small):
    removal = Removal.objects.filter(state=RemovalState.HELD).first()
    copy_id = small[19].pk
    directory.delete_user(acme["connection"], copy_id)
    base = acme["base"]
    return {
        "held": ("get", base + "/held/", {}),
        "rejected": ("get", base + "/held/", {"show": "rejected"}),
        "deleted": ("get", base + "/deleted/", {}),
        "confirm": ("get", base + "/held/confirm/", {"decision": "approve", "ids": removal.pk}),
        "approve": ("post", base + "/held/confirm/", {"decision": "approve", "ids": removal.pk}),
        "reject": ("post", base + "/held/confirm/", {"decision": "reject", "ids": removal.pk}),
        "restore": ("post", base + f"/deleted/{copy_id}/restore/", {}),
    }


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        ("admin", {"held", "rejected", "deleted", "confirm", "approve", "reject", "restore"}),
        ("auditor", {"held", "rejected", "deleted"}),
        ("other_admin", set()),
    ],
)
def test_who_may_see_and_decide(acme, small, who, allowed):
    client = as_person(acme, who)
    for name, (method, url, data) in brake_urls(acme, small).items():
        response = getattr(client, method)(url, data)
        if name in allowed:
            assert response.status_code in (200, 302), (name, response.status_code)
        else:
            assert response.status_code == 403, (name, response.status_code)
    assert Removal.objects.filter(state=RemovalState.HELD).count() == (
        4 if "approve" in allowed else 6
    )
    assert DeletedUser.objects.exists() is ("restore" not in allowed)


def test_a_reader_sees_the_held_removals_without_buttons(acme, small):
    page = as_person(acme, "auditor").get(acme["base"] + "/held/").content.decode()
    assert "5 removals are held for review" in page and small[1].user_name in page
    assert "Approve" not in page and "Reject all" not in page and 'name="ids"' not in page
    deleted = as_person(acme, "auditor").get(acme["base"] + "/deleted/").content.decode()
    assert "No deleted user" in deleted
    admin_page = as_person(acme, "admin").get(acme["base"] + "/held/").content.decode()
    assert "Approve all 5…" in admin_page and admin_page.count('name="ids"') == 5


def test_another_accounts_admin_cannot_reach_this_connection_through_their_own_account(acme, small):
    client = as_person(acme, "other_admin")
    for _name, (method, url, data) in brake_urls(acme, small).items():
        theirs = url.replace("/provisioning/acme/", "/provisioning/globex/")
        assert getattr(client, method)(theirs, data).status_code == 404, theirs
    assert safety.held(acme["connection"]).count() == 6
    assert DeletedUser.objects.exists()


def test_decisions_and_restores_need_the_csrf_token(acme, small):
    client = as_person(acme, "admin", enforce_csrf_checks=True)
    for name, (method, url, data) in brake_urls(acme, small).items():
        if method == "post":
            assert client.post(url, data).status_code == 403, name
    assert safety.held(acme["connection"]).count() == 6 and DeletedUser.objects.exists()
    # With the token the page gave, the same request works.
    page = client.get(
        acme["base"] + "/held/confirm/", {"decision": "reject", "all": "1", "through": 10**9}
    ).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    response = client.post(
        acme["base"] + "/held/confirm/",
        {"decision": "reject", "all": "1", "through": 10**9, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    assert safety.held(acme["connection"]).count() == 0


SETTINGS = {
    "form": "settings",
    "name": "Entra",
    "default_role": "",
    "link_policy": "verified_email",
    "deprovision_policy": "deactivate",
    "out_of_domain_policy": "flag",
}


def test_the_brake_settings_are_saved_and_audited(acme):
    admin = as_person(acme, "admin")
    page = admin.get(acme["base"] + "/settings/").content.decode()
    assert 'name="brake_percent"' in page and 'value="10"' in page
    assert re.search(r'<option value="on" selected>', page)

    response = admin.post(
        acme["base"] + "/settings/",
        {**SETTINGS, "brake_enabled": "off", "brake_percent": "20", "brake_minimum": "50"},
    )

    assert response.status_code == 302
    connection = acme["connection"]
    connection.refresh_from_db()
    assert (connection.brake_enabled, connection.brake_percent, connection.brake_minimum) == (
        False, 20, 50,
    )  # fmt: skip
    event = ProvisioningEvent.objects.filter(type=EventType.CONNECTION_UPDATED).latest("number")
    assert event.changes == {
        "brake_enabled": {"old": True, "new": False},
        "brake_percent": {"old": 10, "new": 20},
        "brake_minimum": {"old": 25, "new": 50},
    }
    assert event.actor["username"] == "admin" and event.actor["via"] == "portal"
    # A submission without them (an older form) leaves them as they are.
    admin.post(acme["base"] + "/settings/", {**SETTINGS, "name": "Entra 2"})
    connection.refresh_from_db()
    assert (connection.name, connection.brake_enabled, connection.brake_percent) == (
        "Entra 2", False, 20,
    )  # fmt: skip
    bad = admin.post(acme["base"] + "/settings/", {**SETTINGS, "brake_percent": "101"})
    assert bad.status_code == 400
    reader = as_person(acme, "auditor").get(acme["base"] + "/settings/").content.decode()
    assert "Brake on mass removals</dt><dd>Off" in reader


@pytest.mark.parametrize("remove", [True, False])
def test_the_delete_page_counts_exactly_what_deleting_changes(acme, small, remove):
    admin = as_person(acme, "admin")
    directory.update_connection_settings(acme["connection"], deprovision_policy="remove")
    directory.delete_user(acme["connection"], small[19].pk)  # held: still active in the host
    other = OrganizationFactory()
    OrganizationMembership.objects.create(organization=other, user=small[10].host_user)
    page = admin.get(acme["base"] + "/delete/").content.decode()
    shown = counts_on(page, "data-count" if remove else "data-keep")
    assert counts_on(page)["users"] == 19 and counts_on(page)["deleted_users"] == 1
    assert counts_on(page)["credentials"] == 1
    assert "6 removals are held for review" in page
    before = host_rows(acme["account"])

    response = admin.post(acme["base"] + "/delete/", {"remove_directory": "on"} if remove else {})

    assert response.status_code == 302
    effects = changed(before, host_rows(acme["account"]))
    assert effects == {name: shown[name] for name in effects}
    if remove:  # 20 memberships; 20 accounts but the one already deactivated and the shared one
        assert effects == {
            "memberships_deactivated": 0,
            "memberships_removed": 20,
            "host_users_deactivated": 18,
        }


def test_the_new_pages_have_no_inline_script_or_style(acme, small):
    admin = as_person(acme, "admin")
    directory.delete_user(acme["connection"], small[19].pk)
    removal = Removal.objects.filter(state=RemovalState.HELD).first()
    urls = [
        acme["base"] + "/held/",
        acme["base"] + "/held/?show=rejected",
        acme["base"] + f"/held/confirm/?decision=approve&ids={removal.pk}",
        acme["base"] + "/deleted/",
        acme["base"] + "/delete/",
        acme["base"] + "/settings/",
    ]
    for url in urls:
        page = admin.get(url).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), url
        assert not re.search(r"\son[a-z]+=", page), url
        assert not re.search(r"\sstyle=", page), url


def test_a_host_failure_while_deciding_or_restoring_is_a_message_not_a_500(
    acme, small, monkeypatch
):
    from scim_portal.provisioning.adapter import DefaultProvisioningAdapter

    def unavailable(*args, **kwargs):
        raise RuntimeError("host database unavailable")

    monkeypatch.setattr(DefaultProvisioningAdapter, "user_deactivated", unavailable)
    monkeypatch.setattr(DefaultProvisioningAdapter, "user_restored", unavailable)
    admin = as_person(acme, "admin", raise_request_exception=False)
    gone = small[19]
    directory.delete_user(acme["connection"], gone.pk)

    approved = admin.post(
        acme["base"] + "/held/confirm/", {"decision": "approve", "all": "1", "through": 10**9}
    )
    restored = admin.post(acme["base"] + f"/deleted/{gone.pk}/restore/")

    for response in (approved, restored):
        assert response.status_code == 302
        assert "could not apply this change" in said(response)[-1]
        assert "host database" not in said(response)[-1]
    # Nothing happened: the held removals still wait, the deleted user is still deleted.
    assert safety.held(acme["connection"]).count() == 6
    assert not DirectoryUser.objects.filter(pk=gone.pk).exists()
    assert DeletedUser.objects.filter(pk=gone.pk).exists()


def test_ids_too_large_for_the_database_are_refused_not_a_500(acme, small):
    admin = as_person(acme, "admin", raise_request_exception=False)
    url = acme["base"] + "/held/confirm/"
    huge = 10**30
    assert admin.get(url, {"decision": "approve", "ids": huge}).status_code == 400
    assert admin.post(url, {"decision": "approve", "ids": [huge]}).status_code == 400
    assert admin.post(url, {"decision": "reject", "all": "1", "through": huge}).status_code == 400
    assert safety.held(acme["connection"]).count() == 5
