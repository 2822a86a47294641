"""Deleting a connection: both modes, on a directory that needs several batches."""

import threading
import time
from collections import Counter

import pytest
from django import db
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
from scim_portal.provisioning import connections, delete_connection, directory, issue_credential
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


@pytest.mark.parametrize("kind", ["bearer", "basic", "client_secret"])
def test_a_half_deleted_connection_takes_no_new_credential(populated, monkeypatch, kind):
    """Issuing one mid-deletion (portal, admin, API, command all call issue_credential)
    would leave the connection working for whatever the deletion has not reached."""
    connection = populated.connection
    admin = UserFactory()
    interrupt_after(monkeypatch, 0)
    with pytest.raises(HostProvisioningFailed):
        delete_connection(connection, actor=Actor.for_user(admin))
    with pytest.raises(ValueError, match="being deleted"):
        issue_credential(connection, kind)
    assert not Credential.objects.filter(connection=connection, revoked_at__isnull=True).exists()
    assert populated.get("/Users").status_code == 401
    started = ProvisioningEvent.objects.get(connection=connection, type="connection.updated")
    assert started.actor_user == admin and started.changes["deleting_since"]["old"] is None


def test_the_deletion_records_who_began_it_once(populated, monkeypatch):
    connection = populated.connection
    interrupt_after(monkeypatch, 7)  # one batch of 5 committed
    with pytest.raises(HostProvisioningFailed):
        delete_connection(connection, actor=Actor.for_user(UserFactory()))
    monkeypatch.undo()
    delete_connection(connection, actor=Actor.for_user(UserFactory()))
    events = ProvisioningEvent.objects.filter(connection_id=connection.pk)
    assert events.filter(type="connection.updated").count() == 1
    assert events.filter(type="connection.deleted").count() == 1


def test_deleting_a_connection_deleted_meanwhile_answers_like_a_finished_deletion(populated):
    """Two admins clicking at once: the second finds the connection gone."""
    connection = populated.connection
    stale = Connection.objects.get(pk=connection.pk)
    delete_connection(connection)
    result = delete_connection(stale)
    assert (result.connection_id, result.users, result.groups) == (str(connection.pk), 0, 0)
    assert ProvisioningEvent.objects.filter(type="connection.deleted").count() == 1


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_deletions_at_once_deprovision_each_user_once(populated, monkeypatch):
    connection = populated.connection
    original = connections.call_adapter
    calls: Counter = Counter()
    lock = threading.Lock()

    def slow(hook, *args, **kwargs):
        if hook == "user_deleted":
            with lock:
                calls[args[0].pk] += 1
            time.sleep(0.02)  # both deleters inside a batch at once
        return original(hook, *args, **kwargs)

    monkeypatch.setattr(connections, "call_adapter", slow)
    results, errors = [], []

    def delete():
        try:
            results.append(delete_connection(Connection.objects.get(pk=connection.pk)))
        except Exception as exc:
            errors.append(exc)
        finally:
            db.connections.close_all()

    threads = [threading.Thread(target=delete) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(calls) == USERS and set(calls.values()) == {1}
    assert sum(result.users for result in results) == USERS
    assert not Connection.objects.filter(pk=connection.pk).exists()
    assert ProvisioningEvent.objects.filter(type="connection.deleted").count() == 1
