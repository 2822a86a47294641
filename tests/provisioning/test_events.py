"""Provisioning events: every type, numbered per connection, signalled after commit."""

import pytest
from django.db import transaction

from scim_portal.models import DirectoryGroup, DirectoryUser, EventType, ProvisioningEvent
from scim_portal.provisioning import (
    create_connection,
    delete_connection,
    directory,
    issue_credential,
    issue_token,
    reconcile,
    revoke_credential,
    safety,
)
from scim_portal.provisioning.events import Actor
from scim_portal.provisioning.ownership import accept_invitation
from scim_portal.signals import provisioning_event
from tests.factories import OrganizationFactory, UserFactory, VerifiedDomainFactory
from tests.testapp.models import OrganizationMembership

pytestmark = pytest.mark.django_db


@pytest.fixture
def received():
    events = []

    def receiver(sender, event, **kwargs):
        events.append(event)

    provisioning_event.connect(receiver)
    yield events
    provisioning_event.disconnect(receiver)


def test_a_scripted_run_emits_every_event_type_in_order(
    client, received, django_capture_on_commit_callbacks
):
    from tests.scim_client import ScimClient

    staff = UserFactory(is_staff=True)
    with django_capture_on_commit_callbacks(execute=True):
        connection, issued = create_connection(
            account=OrganizationFactory(), name="Run", provider="okta", created_by=staff
        )
        scim = ScimClient(client, connection, issued.raw)
        user = scim.create_user("run@example.com", title="A")
        scim.patch_ops(f"/Users/{user['id']}", {"op": "replace", "path": "title", "value": "B"})
        scim.patch_ops(f"/Users/{user['id']}", {"op": "replace", "path": "active", "value": False})
        scim.patch_ops(f"/Users/{user['id']}", {"op": "replace", "path": "active", "value": True})
        group = scim.create_group("Run Group")
        directory.set_role_mapping(
            connection,
            DirectoryGroup.objects.get(pk=group["id"]),
            "editor",
            actor=Actor.for_user(staff),
        )
        scim.patch_ops(
            f"/Groups/{group['id']}",
            {"op": "add", "path": "members", "value": [{"value": user["id"]}]},
        )
        scim.patch_ops(
            f"/Groups/{group['id']}", {"op": "replace", "path": "displayName", "value": "Renamed"}
        )
        scim.patch_ops(f"/Groups/{group['id']}", {"op": "remove", "path": "members"})
        directory.remove_role_mapping(
            connection, DirectoryGroup.objects.get(pk=group["id"]), actor=Actor.for_user(staff)
        )
        directory.update_connection_settings(
            connection, name="Run 2", default_role="viewer", actor=Actor.for_user(staff)
        )
        scim.delete(f"/Groups/{group['id']}")
        invited = UserFactory(email="someone@elsewhere.example")
        awaiting = scim.create_user(
            "someone", emails=[{"value": "someone@elsewhere.example", "primary": True}]
        )
        accept_invitation(DirectoryUser.objects.get(pk=awaiting["id"]), invited)
        scim.delete(f"/Users/{user['id']}")
        safety.restore(connection, user["id"], actor=Actor.for_user(staff))
        directory.update_connection_settings(connection, brake_percent=1, brake_minimum=1)
        off = {"op": "replace", "path": "active", "value": False}
        scim.patch_ops(f"/Users/{user['id']}", off)
        safety.approve(connection, actor=Actor.for_user(staff))
        scim.patch_ops(f"/Users/{awaiting['id']}", off)
        safety.reject(connection, actor=Actor.for_user(staff))
        VerifiedDomainFactory(account=connection.account, domain="run.example")
        for stray in (UserFactory(email="stray@run.example"), UserFactory()):
            OrganizationMembership.objects.create(
                organization=connection.account, user=stray, role="viewer"
            )
        reconcile.adopt(connection, stray.pk - 1, actor=Actor.for_user(staff))
        reconcile.deactivate_member(connection, stray.pk, actor=Actor.for_user(staff))
        second = issue_token(connection, label="rotation", created_by=staff)
        revoke_credential(issued.token, actor=Actor.for_user(staff))
        assert second.raw
        basic = issue_credential(connection, "basic", label="Basic", created_by=staff)
        revoke_credential(basic.credential, actor=Actor.for_user(staff))
        delete_connection(connection, actor=Actor.for_user(staff))

    events = list(ProvisioningEvent.objects.filter(connection_id=connection.id).order_by("number"))
    assert [e.number for e in events] == list(range(1, len(events) + 1))
    account_level = {"domain.added", "domain.verified", "domain.removed"}
    assert {e.type for e in events} == set(EventType.values) - account_level
    assert [e.number for e in received] == [e.number for e in events]

    by_type = {}
    for event in events:
        by_type.setdefault(event.type, event)
    assert by_type["user.updated"].changes == {"title": {"old": "A", "new": "B"}}
    assert by_type["roles.changed"].changes == {"role": {"old": "", "new": "editor"}}
    assert by_type["group.members_added"].changes == {"count": 1, "ids": [user["id"]]}
    assert by_type["user.created"].actor == {
        "type": "token", "kind": "bearer", "prefix": issued.token.prefix,
    }  # fmt: skip
    assert by_type["credential.issued"].changes["kind"] == "basic"
    assert by_type["credential.revoked"].changes == {
        "kind": "basic", "prefix": basic.credential.username,
    }  # fmt: skip
    assert by_type["connection.created"].actor == {
        "type": "user", "id": staff.pk, "username": staff.username, "staff": True,
    }  # fmt: skip
    assert by_type["connection.updated"].changes == {
        "name": {"old": "Run", "new": "Run 2"}, "default_role": {"old": "", "new": "viewer"},
    }  # fmt: skip
    assert by_type["role_mapping.removed"].changes["role"] == {"old": "editor", "new": None}
    assert by_type["user.linked"].actor == {"type": "system"}
    deleted = by_type["connection.deleted"]
    # The restored one, the linked one and the adopted one.
    assert deleted.changes["users"] == 3 and deleted.actor_user == staff
    assert by_type["user.removal_held"].changes["kind"] == "deactivate"
    assert by_type["user.removal_approved"].actor["username"] == staff.username
    assert by_type["user.restored"].changes["userName"] == "run@example.com"


def test_no_signal_and_no_event_for_a_rolled_back_change(
    received, django_capture_on_commit_callbacks
):
    connection, _ = create_connection(account=OrganizationFactory(), name="X", provider="okta")
    before = ProvisioningEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                directory.create_user(connection, {"userName": "rolled@example.com"})
                raise RuntimeError("abort")
        except RuntimeError:
            pass
    assert ProvisioningEvent.objects.count() == before
    assert received == []


def test_signals_wait_for_commit(received, django_capture_on_commit_callbacks):
    connection, _ = create_connection(account=OrganizationFactory(), name="X", provider="okta")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        directory.create_user(connection, {"userName": "later@example.com"})
        assert received == []
    for callback in callbacks:
        callback()
    assert [e.type for e in received] == ["user.created"]


def test_numbers_are_per_connection(db):
    first, _ = create_connection(account=OrganizationFactory(), name="A", provider="okta")
    second, _ = create_connection(account=OrganizationFactory(), name="B", provider="okta")
    directory.create_user(first, {"userName": "a@example.com"})
    directory.create_user(second, {"userName": "b@example.com"})
    for connection in (first, second):
        numbers = list(
            ProvisioningEvent.objects.filter(connection_id=connection.id).values_list(
                "number", flat=True
            )
        )
        assert numbers == [1, 2, 3]  # connection.created, token.issued, user.created


def test_secrets_never_reach_events(scim):
    user = scim.create_user("secretive@example.com")
    scim.patch_ops(f"/Users/{user['id']}", {"op": "replace", "path": "password", "value": "pw-123"})
    assert "pw-123" not in str(list(ProvisioningEvent.objects.values_list("changes", flat=True)))


def test_role_mapping_events_are_written_once_and_when_its_group_goes(db):
    connection, _ = create_connection(account=OrganizationFactory(), name="X", provider="okta")
    group = directory.create_group(connection, {"displayName": "Admins"})
    directory.set_role_mapping(connection, group, "admin", precedence=5)
    directory.set_role_mapping(connection, group, "admin", precedence=5)  # no change
    directory.delete_group(connection, group.pk)
    kinds = list(
        ProvisioningEvent.objects.filter(connection=connection, type__startswith="role_mapping")
        .order_by("number")
        .values_list("type", flat=True)
    )
    assert kinds == ["role_mapping.set", "role_mapping.removed"]


@pytest.mark.parametrize(
    ("kind", "prefix", "shown"),
    [
        ("bearer", "scimp_1a2b3c4d", "scimp_1a2b3c4d…"),
        ("client_secret", "scimcs_1a2b3c4d", "scimcs_1a2b3c4d…"),
        ("basic", "scimu_abc", "scimu_abc"),
        ("federated", "4f1c-object-id", "4f1c-object-id"),
        ("authorization", "Acme for Okta", "Acme for Okta"),
    ],
)
def test_the_identity_provider_is_named_by_its_credential_as_lists_show_it(kind, prefix, shown):
    """A secret's first characters end in "…"; a username, a subject or an application's
    name is whole (as ``Credential.display`` shows each)."""
    event = ProvisioningEvent(actor={"type": "token", "kind": kind, "prefix": prefix})
    assert event.actor_display == f"the identity provider ({shown})"


def test_a_failing_receiver_is_logged_and_the_others_still_hear(
    client, received, django_capture_on_commit_callbacks, caplog
):
    """A committed create answers 201 even when a host receiver raises."""
    from tests.scim_client import ScimClient

    def broken(sender, event, **kwargs):
        raise RuntimeError("the host's webhook queue is down")

    connection, issued = create_connection(account=OrganizationFactory(), name="X", provider="okta")
    # Connected first, so it runs before the fixture's receiver.
    provisioning_event.connect(broken, weak=False)
    provisioning_event.receivers.insert(0, provisioning_event.receivers.pop())
    provisioning_event.sender_receivers_cache.clear()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = ScimClient(client, connection, issued.raw).post(
                "/Users", {"userName": "heard@example.com"}
            )
    finally:
        provisioning_event.disconnect(broken)
    assert response.status_code == 201
    assert [e.type for e in received] == ["user.created"]
    assert DirectoryUser.objects.filter(user_name="heard@example.com").exists()
    failure = [r for r in caplog.records if "provisioning_event receiver" in r.getMessage()]
    assert failure and failure[0].exc_info[0] is RuntimeError
