"""The brake's dry runs count exactly what deciding (or deleting the connection) then
changes in the host, set-based; what approval, restore and connection deletion do with
removals the brake held."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from scim_portal.models import DeletedUser, DirectoryUser, Removal, RemovalState
from scim_portal.provisioning import create_connection, delete_connection, directory, safety
from scim_portal.provisioning.connections import deletion_preview
from tests.factories import OrganizationFactory, UserFactory
from tests.testapp.models import OrganizationMembership
from tests.testapp.scim import Memberships

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def connection(db):
    """A connection whose brake holds every removal after the first (10% of 10 users,
    at least 2)."""
    connection, _ = create_connection(account=OrganizationFactory(), name="Entra", provider="entra")
    directory.update_connection_settings(connection, brake_percent=10, brake_minimum=2)
    return connection


def make_users(connection, count, start=0):
    return [
        directory.create_user(
            connection,
            {"userName": f"u{n}@example.com", "emails": [{"value": f"u{n}@example.com"}]},
        )
        for n in range(start, start + count)
    ]


def deactivate(connection, user):
    directory.update_user(connection, user.pk, lambda u: {**u.attributes, "active": False})


def host_state(account):
    """What a person would notice in the host: who may sign in, and each membership."""
    members = OrganizationMembership.objects.filter(organization=account)
    return {
        "active_users": set(User.objects.filter(is_active=True).values_list("pk", flat=True)),
        "memberships": set(members.values_list("user_id", "role", "is_active")),
    }


def changes(before, after):
    """The numbers of the preview, counted from the host's rows before and after."""
    was = {user: (role, active) for user, role, active in before["memberships"]}
    now = {user: (role, active) for user, role, active in after["memberships"]}
    return {
        "memberships_deactivated": sum(
            1
            for user, (_role, active) in was.items()
            if active and now.get(user, (0, 1))[1] is False
        ),
        "memberships_removed": len(set(was) - set(now)),
        "host_users_deactivated": len(before["active_users"] - after["active_users"]),
    }


def mixed_hold(connection):
    """Ten people, and every kind of held removal: deactivations of managed people (one
    an active member of another account, one already deactivated by hand in the host),
    deletions (one of a person deactivated before), a person linked to nobody."""
    people = make_users(connection, 10)
    deactivate(connection, people[0])  # applied: the brake is not engaged yet
    other = OrganizationFactory()
    OrganizationMembership.objects.create(
        organization=other, user=people[1].host_user, role="admin", is_active=True
    )
    OrganizationMembership.objects.filter(user=people[2].host_user).update(is_active=False)
    DirectoryUser.objects.filter(pk=people[3].pk).update(host_user=None, host_link="")
    for person in people[1:5]:
        deactivate(connection, person)
    directory.delete_user(connection, people[5].pk)
    directory.delete_user(connection, people[0].pk)  # was deactivated: not counted, still held
    return people


@pytest.mark.parametrize("policy", ["deactivate", "remove"])
@pytest.mark.parametrize("set_based", [True, False])
def test_the_preview_is_what_approval_changes(connection, policy, set_based, monkeypatch):
    if not set_based:  # a hook without active_elsewhere(): asked per person
        monkeypatch.setattr(Memberships, "active_elsewhere", lambda self, account: None)
    directory.update_connection_settings(connection, deprovision_policy=policy)
    mixed_hold(connection)
    assert Removal.objects.filter(state=RemovalState.HELD).count() == 6

    preview = safety.preview_approval(connection)
    before = host_state(connection.account)
    applied = safety.decide(connection, RemovalState.APPROVED)
    after = host_state(connection.account)

    assert applied == preview
    assert preview.removals == 6 and preview.deactivations == 4 and preview.deletions == 2
    assert preview.unlinked == 1
    counted = {
        "memberships_deactivated": preview.memberships_deactivated,
        "memberships_removed": preview.memberships_removed,
        "host_users_deactivated": preview.host_users_deactivated,
    }
    assert counted == changes(before, after)
    # people[1] is active elsewhere, people[3] is linked to nobody, people[0] was
    # deactivated before.
    assert preview.host_users_deactivated == 3
    if policy == "remove":
        assert (preview.memberships_deactivated, preview.memberships_removed) == (2, 2)
    else:  # people[2]'s and people[0]'s memberships were inactive already
        assert (preview.memberships_deactivated, preview.memberships_removed) == (3, 0)
    assert not Removal.objects.filter(state=RemovalState.HELD).exists()


def test_a_selection_previews_and_decides_only_itself(connection):
    people = make_users(connection, 10)
    for person in people[:5]:
        deactivate(connection, person)
    held = list(safety.held(connection))
    assert len(held) == 4
    chosen = [held[0].pk, held[2].pk]

    preview = safety.preview_approval(connection, chosen)
    assert (preview.removals, preview.memberships_deactivated) == (2, 2)
    assert safety.approve(connection, chosen) == 2
    assert safety.held(connection).count() == 2
    assert safety.preview_approval(connection, chosen).removals == 0


def test_through_leaves_out_removals_held_after_the_preview(connection):
    people = make_users(connection, 10)
    for person in people[:4]:
        deactivate(connection, person)
    last = safety.held(connection).last()
    shown = safety.preview_approval(connection, through=last.pk)
    deactivate(connection, people[4])  # held after the admin saw the numbers

    applied = safety.decide(connection, RemovalState.APPROVED, through=last.pk)

    assert applied == shown and applied.removals == 3
    assert safety.held(connection).get().user_id == people[4].pk


def preview_queries(connection):
    with CaptureQueriesContext(db_connection) as queries:
        safety.preview_approval(connection)
    return len(queries)


def test_the_preview_costs_the_same_for_3_and_30_held(connection):
    people = make_users(connection, 4)
    for person in people:
        deactivate(connection, person)
    directory.delete_user(connection, people[1].pk)
    assert safety.preview_approval(connection).removals == 3
    few = preview_queries(connection)

    more = make_users(connection, 100, start=10)
    for person in more[:30]:
        deactivate(connection, person)
    directory.delete_user(connection, more[0].pk)

    assert safety.preview_approval(connection).removals == 33
    assert preview_queries(connection) == few <= 10


def test_an_approved_deactivation_takes_the_role_that_waited(connection):
    people = make_users(connection, 10)
    group = directory.create_group(
        connection,
        {"displayName": "Admins"},
        directory.MemberChange("add", tuple(str(p.pk) for p in people[:2])),
    )
    directory.set_role_mapping(connection, group, "admin")
    deactivate(connection, people[0])
    deactivate(connection, people[1])  # held
    # The IdP takes people[1] out of the admins: the role change waits with the removal.
    remove = directory.MemberChange("remove", (str(people[1].pk),))
    directory.update_group(connection, group.pk, member_changes=[remove])
    member = OrganizationMembership.objects.get(user=people[1].host_user)
    assert (member.role, member.is_active) == ("admin", True)

    safety.approve(connection)

    member.refresh_from_db()
    assert (member.role, member.is_active) == ("", False)
    directory.update_user(connection, people[1].pk, lambda u: {**u.attributes, "active": True})
    member.refresh_from_db()
    assert (member.role, member.is_active) == ("", True)  # not the admin they were


def test_restoring_a_person_whose_removal_was_rejected_ends_the_rejection(connection):
    people = make_users(connection, 10)
    deactivate(connection, people[0])
    directory.delete_user(connection, people[1].pk)
    safety.reject(connection)
    rejected = Removal.objects.get(user_id=people[1].pk)
    assert rejected.state == RemovalState.REJECTED

    safety.restore(connection, people[1].pk)

    rejected.refresh_from_db()
    assert rejected.state == RemovalState.SUPERSEDED
    safety.approve(connection)  # nothing waits
    connection.refresh_from_db()
    connection.brake_enabled = False
    connection.save()
    directory.delete_user(connection, people[1].pk)  # no earlier rejection holds it now
    assert Removal.objects.filter(user_id=people[1].pk).latest("pk").state == "applied"


@pytest.mark.parametrize("remove", [True, False])
def test_deleting_the_connection_deprovisions_held_deletions_as_previewed(connection, remove):
    directory.update_connection_settings(connection, deprovision_policy="remove")
    people = mixed_hold(connection)
    safety.reject(connection, [Removal.objects.get(user_id=people[5].pk).pk])
    outsider = UserFactory()  # another account's member: untouched
    OrganizationMembership.objects.create(organization=OrganizationFactory(), user=outsider)
    preview = deletion_preview(connection)
    assert preview["users"] == 8 and preview["deleted_users"] == 2
    assert preview["held_removals"] == 5 and preview["credentials"] == 1
    before = host_state(connection.account)

    delete_connection(connection, remove_directory=remove)

    after = host_state(connection.account)
    expected = preview["remove_directory" if remove else "keep_directory"]
    assert changes(before, after) == expected
    if remove:
        # Everyone linked loses the membership; people[1] stays active (another account).
        assert expected == {
            "memberships_deactivated": 0,
            "memberships_removed": 9,
            "host_users_deactivated": 7,
        }
        assert people[5].host_user_id not in after["active_users"]
    assert not DeletedUser.objects.exists() and not Removal.objects.exists()


def test_applying_a_rejected_deactivation_later_also_takes_the_role_that_waited(connection):
    people = make_users(connection, 10)
    group = directory.create_group(
        connection,
        {"displayName": "Admins"},
        directory.MemberChange("add", tuple(str(p.pk) for p in people[:2])),
    )
    directory.set_role_mapping(connection, group, "admin")
    deactivate(connection, people[0])
    deactivate(connection, people[1])  # held
    remove = directory.MemberChange("remove", (str(people[1].pk),))
    directory.update_group(connection, group.pk, member_changes=[remove])
    safety.reject(connection)
    member = OrganizationMembership.objects.get(user=people[1].host_user)
    assert (member.role, member.is_active) == ("admin", True)  # kept as it was

    safety.apply_rejected(connection, [Removal.objects.get(user_id=people[1].pk).pk])

    member.refresh_from_db()
    assert (member.role, member.is_active) == ("", False)
