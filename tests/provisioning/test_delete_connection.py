"""Deleting a connection: both modes, on a directory that needs several batches."""

import pytest
from django.contrib.auth.models import User

from scim_portal.models import (
    Connection,
    Credential,
    DeprovisionPolicy,
    DirectoryGroup,
    DirectoryUser,
    DirectoryUserValue,
    GroupMembership,
    ProvisioningEvent,
    RequestLog,
)
from scim_portal.provisioning import connections, delete_connection, directory
from scim_portal.provisioning.events import Actor
from scim_portal.provisioning.exceptions import HostProvisioningFailed
from tests.factories import UserFactory
from tests.testapp.models import OrganizationMembership

pytestmark = pytest.mark.django_db

USERS = 23  # with a batch size of 5: five batches


@pytest.fixture
def populated(scim, monkeypatch):
    monkeypatch.setattr(connections, "DELETE_BATCH_SIZE", 5)
    ids = [
        scim.create_user(f"u{i}@example.com", emails=[{"value": f"u{i}@example.com"}])["id"]
        for i in range(USERS)
    ]
    for name in ("One", "Two", "Three"):
        scim.create_group(name, ids[:7])
    return scim


def test_remove_mode_deprovisions_every_host_membership(populated):
    staff = UserFactory(is_staff=True)
    connection = populated.connection
    result = delete_connection(connection, actor=Actor.for_user(staff))
    assert (result.users, result.groups, result.remove_directory) == (USERS, 3, True)
    assert not Connection.objects.filter(pk=connection.pk).exists()
    for model in (
        DirectoryUser,
        DirectoryGroup,
        GroupMembership,
        DirectoryUserValue,
        Credential,
    ):
        assert not model.objects.exists(), model
    memberships = OrganizationMembership.objects.filter(organization=connection.account)
    assert memberships.count() == USERS and not memberships.filter(is_active=True).exists()
    assert User.objects.filter(is_active=True, is_staff=False).count() == 0
    # the audit trail stays
    assert RequestLog.objects.filter(connection_id=connection.pk).count() > USERS
    event = ProvisioningEvent.objects.get(connection_id=connection.pk, type="connection.deleted")
    assert event.changes["users"] == USERS and event.actor_user == staff


def test_remove_mode_with_remove_policy_ends_memberships(populated):
    directory.update_connection_settings(
        populated.connection, deprovision_policy=DeprovisionPolicy.REMOVE
    )
    delete_connection(populated.connection)
    assert not OrganizationMembership.objects.exists()


def test_keep_mode_leaves_host_users_and_memberships_alone(populated):
    connection = populated.connection
    result = delete_connection(connection, remove_directory=False)
    assert (result.users, result.groups, result.remove_directory) == (USERS, 3, False)
    assert not DirectoryUser.objects.exists()
    memberships = OrganizationMembership.objects.filter(organization=connection.account)
    assert memberships.filter(is_active=True).count() == USERS
    assert User.objects.filter(is_active=True).count() == USERS


def test_memory_is_bounded_by_batches(populated, django_assert_max_num_queries, monkeypatch):
    seen = []
    original = connections.call_adapter

    def spy(hook, *args, **kwargs):
        seen.append(hook)
        return original(hook, *args, **kwargs)

    monkeypatch.setattr(connections, "call_adapter", spy)
    loaded = []
    real_list = list

    def tracking_list(iterable=()):
        result = real_list(iterable)
        if result and isinstance(result[0], DirectoryUser):
            loaded.append(len(result))
        return result

    monkeypatch.setattr(connections, "list", tracking_list, raising=False)
    delete_connection(populated.connection)
    assert seen.count("user_deleted") == USERS
    assert loaded and max(loaded) <= 5


def interrupt_after(monkeypatch, calls):
    """Make the adapter's ``user_deleted`` fail on call number ``calls + 1``, as a worker
    killed mid-deletion would stop it."""
    original = connections.call_adapter
    seen = []

    def failing(hook, *args, **kwargs):
        if hook == "user_deleted":
            seen.append(hook)
            if len(seen) > calls:
                raise HostProvisioningFailed(hook)
        return original(hook, *args, **kwargs)

    monkeypatch.setattr(connections, "call_adapter", failing)


@pytest.mark.django_db(transaction=True)
def test_an_interrupted_deletion_keeps_what_it_committed_and_refuses_the_idp(
    populated, monkeypatch
):
    connection = populated.connection
    members = OrganizationMembership.objects.filter(organization=connection.account)
    interrupt_after(monkeypatch, 12)  # two batches of 5 committed, the third rolled back
    with pytest.raises(HostProvisioningFailed):
        delete_connection(connection)

    assert Connection.objects.filter(pk=connection.pk).exists()
    assert DirectoryUser.objects.filter(connection=connection).count() == USERS - 10
    assert DirectoryGroup.objects.filter(connection=connection).count() == 3
    assert members.filter(is_active=False).count() == 10
    assert members.filter(is_active=True).count() == USERS - 10
    assert not Credential.objects.filter(connection=connection, revoked_at__isnull=True).exists()
    response = populated.get("/Users")
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/scim+json")
    assert not ProvisioningEvent.objects.filter(type="connection.deleted").exists()


@pytest.mark.django_db(transaction=True)
def test_deleting_again_finishes_an_interrupted_deletion(populated, monkeypatch):
    connection = populated.connection
    interrupt_after(monkeypatch, 12)
    with pytest.raises(HostProvisioningFailed):
        delete_connection(connection)
    monkeypatch.undo()

    result = delete_connection(connection)
    assert (result.users, result.groups) == (USERS - 10, 3)
    assert not Connection.objects.filter(pk=connection.pk).exists()
    for model in (DirectoryUser, DirectoryGroup, GroupMembership, DirectoryUserValue, Credential):
        assert not model.objects.exists(), model
    memberships = OrganizationMembership.objects.filter(organization=connection.account)
    assert memberships.count() == USERS and not memberships.filter(is_active=True).exists()
    event = ProvisioningEvent.objects.get(connection_id=connection.pk, type="connection.deleted")
    assert event.changes["users"] == USERS - 10
    revoked = ProvisioningEvent.objects.filter(connection_id=connection.pk, type="token.revoked")
    assert revoked.count() == 1  # once, by the first attempt
