"""The brake on mass removals, deciding what it held, and restoring deleted users, through
the SCIM endpoint the way identity providers drive them."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from scim_portal import _cache
from scim_portal.models import (
    DeletedUser,
    DirectoryGroup,
    DirectoryUser,
    DirectoryUserValue,
    GroupMembership,
    HostLink,
    ProvisioningEvent,
    Removal,
)
from scim_portal.provisioning import directory, prune, safety
from scim_portal.provisioning.adapter import DefaultProvisioningAdapter
from scim_portal.provisioning.events import Actor
from scim_portal.provisioning.exceptions import ResourceNotFound
from tests.factories import UserFactory
from tests.testapp.models import OrganizationMembership

pytestmark = pytest.mark.django_db

OFF = {"op": "replace", "path": "active", "value": False}
ON = {"op": "replace", "path": "active", "value": True}


def people(scim, count, prefix="p"):
    return [
        scim.create_user(
            f"{prefix}{n}@example.com",
            emails=[{"value": f"{prefix}{n}@example.com", "primary": True, "type": "work"}],
        )["id"]
        for n in range(count)
    ]


def host_of(user_id):
    return DirectoryUser.objects.select_related("host_user").get(pk=user_id).host_user


def member(scim, user_id):
    return OrganizationMembership.objects.get(
        organization=scim.connection.account, user=host_of(user_id)
    )


def small_brake(scim, percent=10, minimum=3):
    directory.update_connection_settings(
        scim.connection, brake_percent=percent, brake_minimum=minimum
    )


def deactivate(scim, user_ids):
    for user_id in user_ids:
        assert scim.patch_ops(f"/Users/{user_id}", OFF).status_code == 200


def test_the_brake_holds_removals_past_the_threshold_and_the_idp_still_gets_success(scim):
    small_brake(scim, percent=10, minimum=3)
    ids = people(scim, 40)
    # 10% of 40 is 4: the first four deactivations go through, the fifth is held.
    deactivate(scim, ids[:8])
    applied, held = ids[:4], ids[4:8]
    assert all(not member(scim, user_id).is_active for user_id in applied)
    assert all(not host_of(user_id).is_active for user_id in applied)
    assert all(member(scim, user_id).is_active for user_id in held)
    assert all(host_of(user_id).is_active for user_id in held)
    # The directory records what the IdP said: the held people answer inactive.
    for user_id in held:
        assert scim.get(f"/Users/{user_id}").json()["active"] is False
    rows = list(safety.held(scim.connection))
    assert [str(row.user_id) for row in rows] == held
    assert "more than 10%" in rows[0].reason
    assert (
        ProvisioningEvent.objects.filter(
            connection_id=scim.connection.pk, type="user.removal_held"
        ).count()
        == 4
    )


def test_below_the_minimum_the_brake_never_holds(scim):
    small_brake(scim, percent=10, minimum=25)
    ids = people(scim, 30)
    deactivate(scim, ids[:24])
    assert not safety.held(scim.connection).exists()
    assert all(not member(scim, user_id).is_active for user_id in ids[:24])


def test_a_brake_turned_off_holds_nothing(scim):
    small_brake(scim, percent=1, minimum=1)
    directory.update_connection_settings(scim.connection, brake_enabled=False)
    ids = people(scim, 5)
    deactivate(scim, ids)
    assert not safety.held(scim.connection).exists()
    assert all(not member(scim, user_id).is_active for user_id in ids)


def test_removals_older_than_an_hour_no_longer_count(scim):
    small_brake(scim, percent=10, minimum=3)
    ids = people(scim, 30)
    deactivate(scim, ids[:3])  # 3 of 30: exactly 10%, not more
    # An hour later those three no longer count: two more are below the minimum of 3.
    Removal.objects.update(at=timezone.now() - timedelta(minutes=61))
    deactivate(scim, ids[3:5])
    assert not safety.held(scim.connection).exists()
    deactivate(scim, ids[5:6])  # 3 within the hour out of the 27 the hour began with
    assert [str(row.user_id) for row in safety.held(scim.connection)] == ids[5:6]


def test_while_engaged_every_removal_waits_and_approval_applies_them_in_one_call(scim):
    small_brake(scim, percent=20, minimum=2)
    ids = people(scim, 10)
    deactivate(scim, ids[:3])  # the third is past 20% of 10
    # A deletion of someone else waits too while a removal waits for a decision.
    assert scim.delete(f"/Users/{ids[9]}").status_code == 204
    assert scim.get(f"/Users/{ids[9]}").status_code == 404
    waiting = list(safety.held(scim.connection))
    assert [row.kind for row in waiting] == ["deactivate", "delete"]
    deleted_host = DeletedUser.objects.get(pk=ids[9]).host_user
    assert OrganizationMembership.objects.get(user=deleted_host).is_active

    preview = safety.preview_approval(scim.connection)
    assert (preview.removals, preview.memberships_deactivated, preview.host_users_deactivated) == (
        2,
        2,
        2,
    )
    admin = UserFactory()
    assert safety.approve(scim.connection, actor=Actor.for_user(admin)) == 2
    assert not member(scim, ids[2]).is_active
    assert not OrganizationMembership.objects.get(user=deleted_host).is_active
    deleted_host.refresh_from_db()
    assert not deleted_host.is_active
    approved = ProvisioningEvent.objects.filter(type="user.removal_approved")
    assert approved.count() == 2
    assert all(event.actor["username"] == admin.username for event in approved)
    # Decided: the brake lets the next removal through again (the hour's count allowing).
    assert not safety.held(scim.connection).exists()


def test_a_deletion_after_a_held_deactivation_is_one_decision_about_the_deletion(scim):
    small_brake(scim, percent=10, minimum=1)
    ids = people(scim, 3)
    deactivate(scim, ids[:1])
    assert scim.delete(f"/Users/{ids[0]}").status_code == 204
    waiting = list(safety.held(scim.connection))
    assert [(str(row.user_id), row.kind) for row in waiting] == [(ids[0], "delete")]


def test_rejection_keeps_people_active_and_their_next_removal_waits_again(scim):
    small_brake(scim, percent=10, minimum=1)
    ids = people(scim, 3)
    deactivate(scim, ids[:1])
    assert safety.reject(scim.connection, actor=Actor.for_user(UserFactory())) == 1
    assert member(scim, ids[0]).is_active
    row = Removal.objects.get(user_id=ids[0])
    assert row.state == "rejected"
    directory.update_connection_settings(scim.connection, brake_enabled=False)
    assert scim.delete(f"/Users/{ids[0]}").status_code == 204
    assert Removal.objects.get(user_id=ids[0], state="held").kind == "delete"


def test_the_idp_reactivating_a_held_person_settles_the_removal(scim):
    small_brake(scim, percent=10, minimum=1)
    ids = people(scim, 3)
    deactivate(scim, ids[:1])
    assert scim.patch_ops(f"/Users/{ids[0]}", ON).status_code == 200
    assert Removal.objects.get(user_id=ids[0]).state == "superseded"
    assert member(scim, ids[0]).is_active
    assert not safety.held(scim.connection).exists()


def test_role_and_group_changes_of_held_people_wait_with_their_removal(scim):
    directory.update_connection_settings(scim.connection, default_role="viewer")
    ids = people(scim, 4)
    group = scim.create_group("Editors", ids)
    directory.set_role_mapping(
        scim.connection, DirectoryGroup.objects.get(pk=group["id"]), "editor"
    )
    assert member(scim, ids[0]).role == "editor"
    small_brake(scim, percent=10, minimum=1)
    deactivate(scim, ids[:1])  # held
    scim.patch_ops(f"/Groups/{group['id']}", {"op": "remove", "path": "members"})
    assert member(scim, ids[0]).role == "editor"  # waits with the removal
    assert member(scim, ids[1]).role == "viewer"  # not held: follows at once
    assert DirectoryUser.objects.get(pk=ids[0]).role == "viewer"  # the directory moved on


def test_restore_brings_back_membership_role_and_groups_exactly(scim):
    directory.update_connection_settings(scim.connection, default_role="viewer")
    ids = people(scim, 2)
    editors = scim.create_group("Editors", ids)
    other = scim.create_group("Other", ids[:1])
    directory.set_role_mapping(
        scim.connection, DirectoryGroup.objects.get(pk=editors["id"]), "editor"
    )
    directory.update_connection_settings(
        scim.connection, deprovision_policy="remove", brake_enabled=False
    )
    before = scim.get(f"/Users/{ids[0]}").json()
    host = host_of(ids[0])
    assert scim.delete(f"/Users/{ids[0]}").status_code == 204
    assert not OrganizationMembership.objects.filter(user=host).exists()
    host.refresh_from_db()
    assert not host.is_active
    # The IdP sees it deleted throughout the grace period.
    assert scim.get(f"/Users/{ids[0]}").status_code == 404
    listed = scim.get("/Users", filter=f'userName eq "{before["userName"]}"').json()
    assert listed["totalResults"] == 0

    restored = safety.restore(scim.connection, ids[0], actor=Actor.for_user(UserFactory()))
    assert str(restored.pk) == ids[0]
    again = scim.get(f"/Users/{ids[0]}").json()
    assert {g["value"] for g in again["groups"]} == {editors["id"], other["id"]}
    assert again["userName"] == before["userName"]
    assert again["emails"] == before["emails"]
    membership = OrganizationMembership.objects.get(user=host)
    assert (membership.role, membership.is_active) == ("editor", True)
    host.refresh_from_db()
    assert host.is_active
    assert DirectoryUserValue.objects.filter(user_id=ids[0]).exists()
    assert not DeletedUser.objects.filter(pk=ids[0]).exists()
    assert ProvisioningEvent.objects.filter(type="user.restored").count() == 1


def test_restore_is_refused_when_the_idp_created_the_user_name_again(scim):
    directory.update_connection_settings(scim.connection, brake_enabled=False)
    (user_id,) = people(scim, 1)
    assert scim.delete(f"/Users/{user_id}").status_code == 204
    scim.create_user("p0@example.com")
    with pytest.raises(safety.CannotRestore):
        safety.restore(scim.connection, user_id)
    assert DeletedUser.objects.filter(pk=user_id).exists()


def test_after_the_grace_period_prune_purges_the_kept_row_and_its_values(scim, settings):
    directory.update_connection_settings(scim.connection, brake_enabled=False)
    (user_id,) = people(scim, 1)
    scim.delete(f"/Users/{user_id}")
    kept = DeletedUser.objects.get(pk=user_id)
    assert kept.attributes["userName"] == "p0@example.com"
    prune(now=timezone.now() + timedelta(days=29))
    assert DeletedUser.objects.filter(pk=user_id).exists()
    prune(now=timezone.now() + timedelta(days=31))
    assert not DeletedUser.objects.filter(pk=user_id).exists()
    with pytest.raises(ResourceNotFound):
        safety.restore(scim.connection, user_id)


def test_restore_cannot_reach_another_connections_deleted_user(scim, other_scim):
    directory.update_connection_settings(scim.connection, brake_enabled=False)
    (user_id,) = people(scim, 1)
    scim.delete(f"/Users/{user_id}")
    with pytest.raises(ResourceNotFound):
        safety.restore(other_scim.connection, user_id)
    assert safety.approve(other_scim.connection) == 0
    assert User.objects.filter(pk=DeletedUser.objects.get(pk=user_id).host_user_id).exists()


def test_a_held_deletion_is_purged_only_after_it_is_decided(scim):
    small_brake(scim, percent=10, minimum=1)
    (user_id, _other) = people(scim, 2)
    scim.delete(f"/Users/{user_id}")
    assert safety.held(scim.connection).count() == 1
    prune(now=timezone.now() + timedelta(days=60))
    assert DeletedUser.objects.filter(pk=user_id).exists()  # still needed to apply it
    host = DeletedUser.objects.get(pk=user_id).host_user
    safety.approve(scim.connection)
    assert not OrganizationMembership.objects.get(user=host).is_active
    prune(now=timezone.now() + timedelta(days=60))
    assert not DeletedUser.objects.filter(pk=user_id).exists()
    assert GroupMembership.objects.count() == 0


def test_after_an_approval_the_rest_of_that_removal_is_not_held_again(scim):
    small_brake(scim, percent=20, minimum=2)
    ids = people(scim, 10)
    deactivate(scim, ids[:3])  # the third is held
    safety.approve(scim.connection)
    deactivate(scim, ids[3:4])  # counted from the approval: 1, below the minimum
    assert not safety.held(scim.connection).exists()
    assert not member(scim, ids[3]).is_active


def test_after_a_rejection_the_next_removal_is_held_again(scim):
    small_brake(scim, percent=20, minimum=2)
    ids = people(scim, 10)
    deactivate(scim, ids[:3])
    safety.reject(scim.connection)
    deactivate(scim, ids[3:4])
    assert [str(row.user_id) for row in safety.held(scim.connection)] == ids[3:4]


def test_a_rejected_deletion_keeps_its_copy_until_it_is_approved_after_all(scim):
    small_brake(scim, percent=10, minimum=1)
    (user_id, _other) = people(scim, 2)
    scim.delete(f"/Users/{user_id}")
    safety.reject(scim.connection)
    prune(now=timezone.now() + timedelta(days=60))
    copy = DeletedUser.objects.get(pk=user_id)  # still needed: the admin may approve later
    removal = Removal.objects.get(user_id=user_id, state="rejected")
    safety.apply_rejected(scim.connection, [removal.pk])
    assert not OrganizationMembership.objects.get(user=copy.host_user).is_active
    prune(now=timezone.now() + timedelta(days=60))
    assert not DeletedUser.objects.filter(pk=user_id).exists()


def test_a_rejection_made_moot_by_a_later_approved_deletion_no_longer_keeps_the_copy(scim):
    small_brake(scim, percent=10, minimum=1)
    (user_id, _other) = people(scim, 2)
    deactivate(scim, [user_id])
    safety.reject(scim.connection)  # kept active in the host
    # The IdP deletes the person later: that waits for review too, and is approved.
    assert scim.delete(f"/Users/{user_id}").status_code == 204
    assert safety.approve(scim.connection) == 1
    host = DeletedUser.objects.get(pk=user_id).host_user
    assert not OrganizationMembership.objects.get(user=host).is_active

    prune(now=timezone.now() + timedelta(days=60))

    # Nothing waits for this person any more: the copy goes after its grace period.
    assert not DeletedUser.objects.filter(pk=user_id).exists()
    assert not Removal.objects.filter(user_id=user_id, state="rejected").exists()


def test_the_threshold_counts_people_not_removals_of_the_same_person(scim):
    small_brake(scim, percent=10, minimum=3)
    ids = people(scim, 40)
    # One person flapping at the IdP (deactivated, reactivated, five times in the hour) is
    # one person removed, not five: 1 of 40 engages nothing.
    for _ in range(5):
        deactivate(scim, ids[:1])
        assert scim.patch_ops(f"/Users/{ids[0]}", ON).status_code == 200
    deactivate(scim, ids[:1])
    assert not safety.held(scim.connection).exists()
    assert not member(scim, ids[0]).is_active
    # Real removals still engage it: 5 different people of 40 is more than 10%.
    deactivate(scim, ids[1:5])
    assert [str(row.user_id) for row in safety.held(scim.connection)] == ids[4:5]


def test_with_no_restore_window_an_applied_deletion_keeps_no_copy(scim, settings):
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "RESTORE_WINDOW_DAYS": 0}
    directory.update_connection_settings(scim.connection, brake_enabled=False)
    (gone, held) = people(scim, 2)
    assert scim.delete(f"/Users/{gone}").status_code == 204
    assert not DeletedUser.objects.filter(pk=gone).exists()  # no personal data left behind
    # A deletion the brake holds still keeps its copy: approving it needs one.
    small_brake(scim, percent=10, minimum=1)
    directory.update_connection_settings(scim.connection, brake_enabled=True)
    assert scim.delete(f"/Users/{held}").status_code == 204
    assert safety.held(scim.connection).count() == 1
    host = DeletedUser.objects.get(pk=held).host_user
    assert safety.approve(scim.connection) == 1
    assert not OrganizationMembership.objects.get(user=host).is_active


def test_a_rejected_persons_next_removal_waits_alone_and_does_not_hold_everyone_else(scim):
    small_brake(scim, percent=10, minimum=3)
    ids = people(scim, 40)
    deactivate(scim, ids[:5])  # the fifth is held, and rejected: kept on purpose
    assert safety.reject(scim.connection) == 1
    Removal.objects.update(at=timezone.now() - timedelta(hours=2))
    # Days later the IdP deletes that person: it waits for review, as rejected before...
    assert scim.delete(f"/Users/{ids[4]}").status_code == 204
    assert [str(row.user_id) for row in safety.held(scim.connection)] == ids[4:5]
    # ...but the brake is not engaged by it: someone else leaving is deprovisioned at once.
    deactivate(scim, ids[10:11])
    assert not member(scim, ids[10]).is_active
    assert [str(row.user_id) for row in safety.held(scim.connection)] == ids[4:5]


def test_restore_never_links_someone_who_became_staff_or_superuser_meanwhile(scim):
    directory.update_connection_settings(scim.connection, brake_enabled=False)
    (user_id,) = people(scim, 1)
    host = host_of(user_id)
    assert scim.delete(f"/Users/{user_id}").status_code == 204
    User.objects.filter(pk=host.pk).update(is_superuser=True)

    restored = safety.restore(scim.connection, user_id)

    assert (restored.host_user_id, restored.host_link) == (None, HostLink.BLOCKED)
    membership = OrganizationMembership.objects.get(organization=scim.connection.account, user=host)
    assert membership.is_active is False  # the connection does not touch them
    event = ProvisioningEvent.objects.get(type="user.restored")
    assert event.changes["host_link"] == HostLink.public(HostLink.BLOCKED)


def test_a_restored_user_still_awaits_the_person_it_invited(scim):
    from scim_portal.provisioning.ownership import accept_invitation, invitations_for

    directory.update_connection_settings(scim.connection, brake_enabled=False)
    invited = UserFactory(email="someone@elsewhere.example")
    email = {"value": "someone@elsewhere.example", "primary": True, "type": "work"}
    user_id = scim.create_user("someone@elsewhere.example", emails=[email])["id"]
    assert DirectoryUser.objects.get(pk=user_id).awaited_user == invited
    assert scim.delete(f"/Users/{user_id}").status_code == 204

    safety.restore(scim.connection, user_id)

    assert [str(user.pk) for user in invitations_for(invited)] == [user_id]
    linked = accept_invitation(DirectoryUser.objects.get(pk=user_id), invited)
    assert (linked.host_user, linked.host_link) == (invited, HostLink.MEMBER)


class GroupsAdapter(DefaultProvisioningAdapter):
    """A host that keeps group memberships of its own, through the adapter."""

    removed: list = []

    def members_removed(self, group, user_ids):
        GroupsAdapter.removed.extend((group.display_name, str(user_id)) for user_id in user_ids)


@pytest.fixture
def groups_adapter(settings):
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "ADAPTER": f"{__name__}.GroupsAdapter"}
    GroupsAdapter.removed = []
    return GroupsAdapter


@pytest.mark.parametrize("then", ["approve", "reactivate", "reject"])
def test_group_removals_of_a_held_person_wait_and_follow_the_decision(scim, groups_adapter, then):
    ids = people(scim, 4)
    eng = scim.create_group("Eng", ids)
    ops = scim.create_group("Ops", ids)
    small_brake(scim, percent=10, minimum=1)
    deactivate(scim, ids[:1])  # held
    scim.patch_ops(f"/Groups/{eng['id']}", {"op": "remove", "path": "members"})
    scim.patch_ops(f"/Groups/{ops['id']}", {"op": "remove", "path": "members"})
    # Everyone else left both groups in the host at once; the held person did not.
    assert sorted(groups_adapter.removed) == sorted(
        (group, user_id) for group in ("Eng", "Ops") for user_id in ids[1:]
    )
    groups_adapter.removed.clear()
    scim.patch_ops(  # back in Ops before the decision: only Eng is left behind
        f"/Groups/{ops['id']}", {"op": "add", "path": "members", "value": [{"value": ids[0]}]}
    )
    if then == "approve":
        safety.approve(scim.connection)
    elif then == "reactivate":
        assert scim.patch_ops(f"/Users/{ids[0]}", ON).status_code == 200
    else:
        safety.reject(scim.connection)
    assert groups_adapter.removed == ([] if then == "reject" else [("Eng", ids[0])])


def _counts_the_directory(scim, user_id):
    with CaptureQueriesContext(db_connection) as queries:
        deactivate(scim, [user_id])
    table = DirectoryUser._meta.db_table
    return any("COUNT(" in q["sql"] and f'FROM "{table}"' in q["sql"] for q in queries)


def test_the_population_is_counted_once_per_hour_of_removals_not_per_removal(scim):
    small_brake(scim, percent=90, minimum=3)
    ids = people(scim, 10)
    deactivate(scim, ids[:2])  # below the minimum: nothing counted
    assert _counts_the_directory(scim, ids[2])  # the first at the minimum counts them
    assert not _counts_the_directory(scim, ids[3])  # the next ones use what it found
    assert not _counts_the_directory(scim, ids[4])
    # An hour later the removals in it are others: the population is counted again.
    Removal.objects.update(at=timezone.now() - timedelta(minutes=61))
    deactivate(scim, ids[5:7])
    assert _counts_the_directory(scim, ids[7])


def test_the_key_of_the_population_after_an_approval_is_one_memcached_takes(scim):
    small_brake(scim, percent=5, minimum=2)
    ids = people(scim, 20)
    deactivate(scim, ids[:2])  # the second is held
    safety.approve(scim.connection)
    deactivate(scim, ids[2:4])  # two since the approval: the population is counted
    assert [str(row.user_id) for row in safety.held(scim.connection)] == ids[3:4]
    # The cache took the key naming the approval: a key memcached refuses (a space) would
    # have been a failure the breaker swallowed, turning the cache off.
    assert _cache._down_until == float("-inf")
