"""End-to-end provisioning into the host application, through the SCIM API."""

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError

from scim_portal.models import (
    DeprovisionPolicy,
    DirectoryGroup,
    DirectoryUser,
    HostLink,
    LinkPolicy,
    ProvisioningEvent,
    RequestLog,
)
from scim_portal.provisioning import directory
from scim_portal.provisioning.adapter import DefaultProvisioningAdapter
from tests.factories import OrganizationFactory, UserFactory, VerifiedDomainFactory
from tests.scim_client import load_fixture
from tests.testapp.models import OrganizationMembership
from tests.testapp.scim import Memberships

pytestmark = pytest.mark.django_db


def membership(scim, user_name):
    host = DirectoryUser.objects.get(connection=scim.connection, user_name=user_name).host_user
    return OrganizationMembership.objects.get(organization=scim.connection.account, user=host)


@pytest.fixture
def okta(scim):
    directory.update_connection_settings(scim.connection, default_role="viewer")
    return scim


def test_okta_push_group_mapped_to_a_role_gives_it_in_the_same_request(okta):
    user = okta.post("/Users", load_fixture("okta/create_user.json")).json()
    host = User.objects.get(username="Test.User@example.com")
    assert (host.email, host.first_name, host.last_name) == (
        "Test.User@example.com",
        "Test",
        "User",
    )
    assert not host.has_usable_password()
    member = membership(okta, "Test.User@example.com")
    assert (member.role, member.is_active) == ("viewer", True)

    group = okta.post("/Groups", load_fixture("okta/create_group.json")).json()
    directory.set_role_mapping(
        okta.connection, DirectoryGroup.objects.get(pk=group["id"]), "editor", precedence=10
    )
    okta.patch_ops(
        f"/Groups/{group['id']}", {"op": "add", "path": "members", "value": [{"value": user["id"]}]}
    )
    assert membership(okta, "Test.User@example.com").role == "editor"

    okta.patch_ops(f"/Groups/{group['id']}", {"op": "remove", "path": "members"})
    assert membership(okta, "Test.User@example.com").role == "viewer"


def test_lowest_precedence_wins_and_group_deletion_recomputes(okta):
    user = okta.create_user("multi@example.com")
    admins = okta.create_group("Admins", [user["id"]])
    editors = okta.create_group("Editors", [user["id"]])
    directory.set_role_mapping(
        okta.connection, DirectoryGroup.objects.get(pk=editors["id"]), "editor", precedence=20
    )
    assert membership(okta, "multi@example.com").role == "editor"
    directory.set_role_mapping(
        okta.connection, DirectoryGroup.objects.get(pk=admins["id"]), "admin", precedence=10
    )
    assert membership(okta, "multi@example.com").role == "admin"
    okta.delete(f"/Groups/{admins['id']}")
    assert membership(okta, "multi@example.com").role == "editor"
    directory.update_connection_settings(okta.connection, default_role="admin")
    directory.remove_role_mapping(okta.connection, DirectoryGroup.objects.get(pk=editors["id"]))
    assert membership(okta, "multi@example.com").role == "admin"


def test_entra_email_change_keeps_the_same_host_user(scim):
    user = scim.post("/Users", load_fixture("entra/create_user.json")).json()
    host = DirectoryUser.objects.get(pk=user["id"]).host_user
    scim.patch(f"/Users/{user['id']}", load_fixture("entra/replace_email.json"))
    scim.patch(f"/Users/{user['id']}", load_fixture("entra/replace_username.json"))
    assert User.objects.count() == 1
    host.refresh_from_db()
    assert host.email == "changed@example.com"
    assert DirectoryUser.objects.get(pk=user["id"]).host_user_id == host.pk


def test_deactivation_blocks_membership_and_reactivation_restores_it(scim):
    user = scim.post("/Users", load_fixture("entra/create_user.json")).json()
    name = user["userName"]
    scim.patch(f"/Users/{user['id']}", load_fixture("entra/disable_user_legacy.json"))
    member = membership(scim, name)
    assert member.is_active is False and member.user.is_active is False
    scim.patch(f"/Users/{user['id']}", load_fixture("okta/reactivate_user.json"))
    member = membership(scim, name)
    assert member.is_active is True and member.user.is_active is True


def test_host_user_with_another_active_membership_stays_active(scim):
    other = OrganizationFactory()
    existing = UserFactory(email="shared@example.com")
    OrganizationMembership.objects.create(organization=other, user=existing, role="admin")
    VerifiedDomainFactory(account=scim.connection.account, domain="example.com")
    user = scim.create_user("shared@example.com", emails=[{"value": "shared@example.com"}])
    assert DirectoryUser.objects.get(pk=user["id"]).host_user == existing  # linked by email
    scim.patch_ops(f"/Users/{user['id']}", {"op": "replace", "path": "active", "value": False})
    existing.refresh_from_db()
    assert existing.is_active is True
    assert membership(scim, "shared@example.com").is_active is False


@pytest.mark.parametrize(
    ("policy", "verified", "link"),
    [
        (LinkPolicy.VERIFIED_EMAIL, True, HostLink.MANAGED),  # claimed
        (LinkPolicy.VERIFIED_EMAIL, False, HostLink.AWAITING),
        (LinkPolicy.ALWAYS_CREATE, True, HostLink.AWAITING),  # never claims; no duplicate
        (LinkPolicy.NEVER, True, HostLink.NONE),
    ],
)
def test_link_policies(scim, policy, verified, link):
    existing = UserFactory(username="someone", email="link@example.com")
    if verified:
        VerifiedDomainFactory(account=scim.connection.account, domain="example.com")
    directory.update_connection_settings(scim.connection, link_policy=policy)
    user = scim.create_user("link@example.com", emails=[{"value": "link@example.com"}])
    directory_user = DirectoryUser.objects.get(pk=user["id"])
    assert directory_user.host_link == link
    assert directory_user.host_user == (existing if link == HostLink.MANAGED else None)
    assert directory_user.awaited_user == (existing if link == HostLink.AWAITING else None)
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    ("policy", "remains"), [(DeprovisionPolicy.DEACTIVATE, True), (DeprovisionPolicy.REMOVE, False)]
)
def test_deletion_follows_the_deprovision_policy(scim, policy, remains):
    directory.update_connection_settings(scim.connection, deprovision_policy=policy)
    user = scim.create_user("leaver@example.com")
    host = DirectoryUser.objects.get(pk=user["id"]).host_user
    scim.delete(f"/Users/{user['id']}")
    memberships = OrganizationMembership.objects.filter(user=host)
    assert memberships.exists() is remains
    if remains:
        assert memberships.get().is_active is False
    host.refresh_from_db()
    assert host.is_active is False


class ExplodingAdapter(DefaultProvisioningAdapter):
    def members_added(self, group, user_ids):
        raise RuntimeError("host database unavailable")

    def user_created(self, user):
        super().user_created(user)
        if user.user_name.startswith("boom"):
            raise RuntimeError("host database unavailable")


def test_adapter_failure_leaves_no_trace_but_the_log(scim, settings):
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "ADAPTER": f"{__name__}.ExplodingAdapter"}
    events_before = ProvisioningEvent.objects.count()
    response = scim.post("/Users", {"userName": "boom@example.com"})
    assert response.status_code == 500
    body = response.json()
    assert "user_created" in body["detail"] and "host database" not in body["detail"]
    assert not DirectoryUser.objects.exists()
    assert not User.objects.filter(username="boom@example.com").exists()
    assert ProvisioningEvent.objects.count() == events_before
    log = RequestLog.objects.get(status=500)
    assert "user_created" in log.detail

    user = scim.create_user("fine@example.com")
    group = scim.create_group("G")
    response = scim.patch_ops(
        f"/Groups/{group['id']}", {"op": "add", "path": "members", "value": [{"value": user["id"]}]}
    )
    assert response.status_code == 500
    assert "members" not in scim.get(f"/Groups/{group['id']}").json()


def test_existing_host_membership_is_updated_not_duplicated(scim):
    existing = UserFactory(email="again@example.com")
    VerifiedDomainFactory(account=scim.connection.account, domain="example.com")
    OrganizationMembership.objects.create(
        organization=scim.connection.account, user=existing, role="admin", is_active=False
    )
    scim.create_user("again@example.com", emails=[{"value": "again@example.com"}], active=True)
    [member] = OrganizationMembership.objects.filter(user=existing)
    assert member.is_active is True


class LinksNobodyAdapter(DefaultProvisioningAdapter):
    """A host that keeps the default adapter's other hooks but links no new user."""

    def user_created(self, user):
        pass


def test_a_subclass_user_created_still_decides_whether_to_link(scim, settings):
    """The default adapter makes the host user before the directory row (so the row is
    written once), but not for a subclass with its own ``user_created``: that one decides."""
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "ADAPTER": f"{__name__}.LinksNobodyAdapter"}
    user = scim.create_user("solo@example.com")
    assert DirectoryUser.objects.get(pk=user["id"]).host_user is None
    assert not User.objects.filter(username="solo@example.com").exists()
    assert not OrganizationMembership.objects.exists()


def test_the_default_adapter_writes_a_new_users_row_once_with_its_host_user(scim):
    user = scim.create_user("once@example.com")
    row = DirectoryUser.objects.get(pk=user["id"])
    assert row.host_user.username == "once@example.com" and row.host_link == HostLink.MANAGED
    assert OrganizationMembership.objects.get(user=row.host_user).is_active


class LosesTheUsernameRace(Memberships):
    """As when a simultaneous create of the same userName committed first, after this one
    looked for a free username: the winner's host user holds it, so this one's fails."""

    def create_user(self, directory_user):
        raise IntegrityError('duplicate key value violates unique constraint "username_key"')


def test_a_create_losing_the_race_for_its_user_name_is_a_409_not_a_host_failure(scim, settings):
    """The default adapter makes the host user before the directory row, so the loser of
    two simultaneous creates of one userName fails on the host's username first (on
    PostgreSQL, tests/scim/test_concurrency.py): the IdP must still get the 409."""
    scim.create_user("same@example.com")  # the winner, committed
    settings.SCIM_PORTAL = {
        **settings.SCIM_PORTAL,
        "MEMBERSHIPS": f"{__name__}.LosesTheUsernameRace",
    }
    response = scim.post("/Users", {"userName": "Same@example.com"})
    assert response.status_code == 409, response.content
    assert response.json()["scimType"] == "uniqueness"
    # A host failure for a userName nobody has stays what it is.
    assert scim.post("/Users", {"userName": "free@example.com"}).status_code == 500


class LinksByHand(DefaultProvisioningAdapter):
    """A host that decides links itself (a private hook, but the one every link went through)."""

    calls: list = []

    def _link(self, user):
        self.calls.append(user.user_name)
        user.host_link = HostLink.NONE
        user.save(update_fields=["host_link"])


def test_a_subclass_link_is_still_called_for_a_new_user(scim, settings):
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "ADAPTER": f"{__name__}.LinksByHand"}
    LinksByHand.calls = []
    user = scim.create_user("byhand@example.com")
    assert LinksByHand.calls == ["byhand@example.com"]
    assert DirectoryUser.objects.get(pk=user["id"]).host_user is None
    assert not User.objects.filter(username="byhand@example.com").exists()
