"""Who a connection may touch in the host: the attacks that worked before ownership,
through real SCIM requests, and the rules that stop them (docs/security.md)."""

import warnings

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from scim_portal.models import (
    DirectoryUser,
    EmailDomainPolicy,
    HostLink,
    ProvisioningEvent,
    RequestLog,
)
from scim_portal.provisioning import create_connection, directory
from scim_portal.provisioning.adapter import AccountMemberships
from scim_portal.provisioning.ownership import CannotLink, accept_invitation, invitations_for
from tests.factories import OrganizationFactory, UserFactory, VerifiedDomainFactory
from tests.scim_client import ScimClient
from tests.testapp.models import OrganizationMembership
from tests.testapp.scim import Memberships

pytestmark = pytest.mark.django_db


def snapshot(user):
    user = User.objects.get(pk=user.pk)
    return {field.attname: getattr(user, field.attname) for field in User._meta.concrete_fields}


@pytest.fixture
def tenants(client):
    """Account A with its admin (a password login, member of A), account B with a
    connection, and a vendor superuser and staff member who belong to no account."""
    account_a, account_b = OrganizationFactory(handle="a"), OrganizationFactory(handle="b")
    admin_a = UserFactory(username="admin-a", email="admin@a.example")
    OrganizationMembership.objects.create(organization=account_a, user=admin_a, role="admin")
    connection, issued = create_connection(account=account_b, name="B's IdP", provider="okta")
    return {
        "a": account_a,
        "b": account_b,
        "admin_a": admin_a,
        "root": UserFactory(username="root", email="root@vendor.example", is_superuser=True),
        "staff": UserFactory(username="staff", email="staff@vendor.example", is_staff=True),
        "scim_b": ScimClient(client, connection, issued.raw),
    }


def attack(scim, email, **extra):
    """What a hostile IdP does: create a user with the victim's email, point the email
    at an address it owns, deactivate it, then delete it."""
    user = scim.create_user(email, emails=[{"value": email, "primary": True}], **extra)
    path = f"/Users/{user['id']}"
    takeover = {"op": "replace", "path": "emails", "value": [{"value": "evil@b.example"}]}
    assert scim.patch_ops(path, takeover).status_code == 200
    assert (
        scim.patch_ops(path, {"op": "replace", "path": "active", "value": False}).status_code == 200
    )
    names = {"op": "replace", "path": "name", "value": {"givenName": "Mallory"}}
    assert scim.patch_ops(path, names).status_code == 200
    assert scim.delete(path).status_code == 204
    return user


def test_another_accounts_admin_is_not_linked_rewritten_or_deactivated(tenants):
    admin, scim = tenants["admin_a"], tenants["scim_b"]
    before, users_before = snapshot(admin), User.objects.count()
    membership = OrganizationMembership.objects.get(user=admin)
    user = tenants["scim_b"].create_user(
        "admin@a.example", emails=[{"value": "admin@a.example", "primary": True}]
    )
    directory_user = DirectoryUser.objects.get(pk=user["id"])
    # Kept in B's directory, awaiting the person; nobody linked, no duplicate created.
    assert directory_user.host_link == HostLink.AWAITING and directory_user.host_user is None
    assert User.objects.count() == users_before
    scim.delete(f"/Users/{user['id']}")
    attack(scim, "admin@a.example")
    assert snapshot(admin) == before
    assert OrganizationMembership.objects.get(pk=membership.pk).is_active is True
    assert not OrganizationMembership.objects.filter(organization=tenants["b"], user=admin).exists()


def test_a_domain_verified_by_the_attacker_still_cannot_take_a_user_another_connection_manages(
    tenants, client
):
    """A's connection created the person; B even verified their domain: B only waits."""
    connection_a, issued_a = create_connection(account=tenants["a"], name="A", provider="entra")
    scim_a = ScimClient(client, connection_a, issued_a.raw)
    scim_a.create_user("dev@shared.example", emails=[{"value": "dev@shared.example"}])
    managed = User.objects.get(email="dev@shared.example")
    VerifiedDomainFactory(account=tenants["b"], domain="shared.example")
    before = snapshot(managed)
    user = attack(tenants["scim_b"], "dev@shared.example")
    assert snapshot(managed) == before
    assert ProvisioningEvent.objects.filter(resource_id=user["id"], type="user.created").get(
    ).changes["host_link"] == "pending"  # fmt: skip


@pytest.mark.parametrize("who", ["root", "staff"])
def test_vendor_staff_and_superusers_are_never_touched(tenants, who, settings):
    victim = tenants[who]
    VerifiedDomainFactory(account=tenants["b"], domain="vendor.example")  # even then
    before = snapshot(victim)
    invited = []
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "MEMBERSHIPS": f"{__name__}.Recording"}
    Recording.invited = invited
    user = tenants["scim_b"].create_user(victim.email, emails=[{"value": victim.email}])
    directory_user = DirectoryUser.objects.get(pk=user["id"])
    assert directory_user.host_link == HostLink.BLOCKED and directory_user.host_user is None
    assert invited == []  # nobody asks the vendor's staff to join a customer
    with pytest.raises(CannotLink):
        accept_invitation(directory_user, victim)
    tenants["scim_b"].delete(f"/Users/{user['id']}")
    attack(tenants["scim_b"], victim.email)
    assert snapshot(victim) == before
    assert not OrganizationMembership.objects.filter(user=victim).exists()


def test_provision_staff_lets_a_verified_domain_claim_staff_but_never_superusers(tenants, settings):
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "PROVISION_STAFF": True}
    VerifiedDomainFactory(account=tenants["b"], domain="vendor.example")
    scim = tenants["scim_b"]
    staff = scim.create_user("staff@vendor.example", emails=[{"value": "staff@vendor.example"}])
    root = scim.create_user("root@vendor.example", emails=[{"value": "root@vendor.example"}])
    assert DirectoryUser.objects.get(pk=staff["id"]).host_user == tenants["staff"]
    assert DirectoryUser.objects.get(pk=root["id"]).host_link == HostLink.BLOCKED


def test_provision_staff_is_warned_about_by_the_system_check(settings, capsys):
    call_command("check")
    assert "W004" not in capsys.readouterr().err
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "PROVISION_STAFF": True}
    call_command("check")
    assert "scim_portal.W004" in capsys.readouterr().err


def test_a_verified_domain_claims_an_unmanaged_user_who_then_follows_the_idp(tenants):
    VerifiedDomainFactory(account=tenants["b"], domain="b.example")
    person = UserFactory(email="Pat@B.example", first_name="Pat")
    scim, users_before = tenants["scim_b"], User.objects.count()
    user = scim.create_user("pat", emails=[{"value": "pat@b.example"}])
    assert DirectoryUser.objects.get(pk=user["id"]).host_link == HostLink.MANAGED
    assert User.objects.count() == users_before  # nobody new
    scim.patch_ops(
        f"/Users/{user['id']}", {"op": "replace", "path": "name.givenName", "value": "P"}
    )
    scim.patch_ops(f"/Users/{user['id']}", {"op": "replace", "path": "active", "value": False})
    person.refresh_from_db()
    assert (person.first_name, person.is_active) == ("P", False)


def test_an_invited_person_who_accepts_gets_membership_only(tenants):
    admin, scim = tenants["admin_a"], tenants["scim_b"]
    user = scim.create_user("admin-a", emails=[{"value": "admin@a.example"}])
    [awaiting] = invitations_for(admin)
    assert str(awaiting.pk) == user["id"]
    with pytest.raises(CannotLink):
        accept_invitation(awaiting, tenants["staff"])  # someone else
    accept_invitation(awaiting, admin)
    assert DirectoryUser.objects.get(pk=user["id"]).host_link == HostLink.MEMBER
    membership_b = OrganizationMembership.objects.get(organization=tenants["b"], user=admin)
    assert membership_b.is_active
    before = snapshot(admin)
    path = f"/Users/{user['id']}"
    scim.patch_ops(path, {"op": "replace", "path": "emails", "value": [{"value": "x@b.example"}]})
    scim.patch_ops(path, {"op": "replace", "path": "active", "value": False})
    assert snapshot(admin) == before  # B's IdP may not edit or deactivate the person…
    membership_b.refresh_from_db()
    assert membership_b.is_active is False  # …only their membership of B
    assert OrganizationMembership.objects.get(organization=tenants["a"], user=admin).is_active
    directory.update_connection_settings(scim.connection, deprovision_policy="remove")
    scim.delete(path)
    assert not OrganizationMembership.objects.filter(organization=tenants["b"]).exists()
    assert snapshot(admin) == before


def test_a_managed_user_never_takes_another_persons_email(tenants):
    scim = tenants["scim_b"]
    user = scim.create_user("new@b.example", emails=[{"value": "new@b.example"}])
    host = DirectoryUser.objects.get(pk=user["id"]).host_user
    scim.patch_ops(
        f"/Users/{user['id']}",
        {"op": "replace", "path": "emails", "value": [{"value": "ADMIN@a.example"}]},
    )
    host.refresh_from_db()
    assert host.email == "new@b.example"
    assert User.objects.filter(email__iexact="admin@a.example").count() == 1


class Recording(Memberships):
    invited: list = []

    def invite(self, account, user, directory_user):
        self.invited.append((account, user, directory_user.user_name))


def test_the_invite_hook_is_called_for_a_person_the_connection_may_not_claim(tenants, settings):
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "MEMBERSHIPS": f"{__name__}.Recording"}
    Recording.invited = []
    tenants["scim_b"].create_user("a-admin", emails=[{"value": "admin@a.example"}])
    assert Recording.invited == [(tenants["b"], tenants["admin_a"], "a-admin")]


class Legacy(Memberships):
    def find_user_by_verified_email(self, email):
        return User.objects.filter(username="admin-a").first()


def test_the_old_hook_still_works_for_one_release_with_a_warning(tenants, settings, capsys):
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "MEMBERSHIPS": f"{__name__}.Legacy"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        user = tenants["scim_b"].create_user("x", emails=[{"value": "someone@else.example"}])
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
    # Its answer is still held to the rules: B may not claim A's admin.
    assert DirectoryUser.objects.get(pk=user["id"]).awaited_user == tenants["admin_a"]
    call_command("check")
    assert "scim_portal.W005" in capsys.readouterr().err


def test_default_hook_finds_by_email_and_gets_the_account(tenants):
    hook = AccountMemberships()
    assert hook.find_user_by_email("ADMIN@a.example", tenants["b"]) == tenants["admin_a"]
    UserFactory(email="admin@a.example")
    assert hook.find_user_by_email("admin@a.example", tenants["b"]) is None  # ambiguous


@pytest.mark.parametrize(
    ("policy", "status", "flagged"),
    [
        (EmailDomainPolicy.ACCEPT, 201, False),
        (EmailDomainPolicy.FLAG, 201, True),
        (EmailDomainPolicy.REJECT, 400, False),
    ],
)
def test_emails_outside_verified_domains_follow_the_connection_policy(
    tenants, policy, status, flagged
):
    scim = tenants["scim_b"]
    VerifiedDomainFactory(account=tenants["b"], domain="b.example")
    directory.update_connection_settings(scim.connection, out_of_domain_policy=policy)
    inside = scim.post("/Users", {"userName": "in", "emails": [{"value": "in@b.example"}]})
    outside = scim.post("/Users", {"userName": "out", "emails": [{"value": "out@gmail.example"}]})
    assert inside.status_code == 201
    assert outside.status_code == status
    if status == 400:
        assert outside.json()["scimType"] == "invalidValue"
        assert "gmail.example" in outside.json()["detail"]
        assert not DirectoryUser.objects.filter(user_name="out").exists()
    logs = dict(RequestLog.objects.filter(method="POST").values_list("status", "warning"))
    warnings_logged = list(RequestLog.objects.exclude(warning="").values_list("warning", flat=True))
    assert bool(warnings_logged) is flagged
    if flagged:
        assert warnings_logged == ["The email out@gmail.example is outside the account's "
                                   "verified domains."]  # fmt: skip
    assert logs[201] == "" or flagged


def test_an_idp_cannot_plant_an_email_on_another_accounts_verified_domain(tenants, client):
    """A's IdP sends B's CEO's address: A's new host user gets no email, so B's IdP later
    creates B's CEO freely and A's user can never be invited into B as the CEO."""
    VerifiedDomainFactory(account=tenants["b"], domain="b.example")
    connection_a, issued_a = create_connection(account=tenants["a"], name="A", provider="entra")
    planted = ScimClient(client, connection_a, issued_a.raw).create_user(
        "not-the-ceo", emails=[{"value": "ceo@b.example"}]
    )
    host_a = DirectoryUser.objects.get(pk=planted["id"]).host_user
    assert host_a.email == ""
    ceo = tenants["scim_b"].create_user("ceo", emails=[{"value": "ceo@b.example"}])
    ceo_user = DirectoryUser.objects.get(pk=ceo["id"])
    assert ceo_user.host_link == HostLink.MANAGED and ceo_user.host_user != host_a
    assert ceo_user.host_user.email == "ceo@b.example"


def test_a_user_another_account_manages_on_our_own_domain_is_blocked_not_invited(tenants, settings):
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "MEMBERSHIPS": f"{__name__}.Recording"}
    Recording.invited = []
    connection_a, _ = create_connection(account=tenants["a"], name="A", provider="entra")
    directory.create_user(connection_a, {"userName": "x", "emails": [{"value": "cfo@b.example"}]})
    VerifiedDomainFactory(account=tenants["b"], domain="b.example")  # verified afterwards
    user = tenants["scim_b"].create_user("cfo", emails=[{"value": "cfo@b.example"}])
    assert DirectoryUser.objects.get(pk=user["id"]).host_link == HostLink.BLOCKED
    assert Recording.invited == []


class Unconfirmed(Recording):
    def find_user_by_email(self, email, account):
        return None  # e.g. django-allauth: nobody has verified this address


def test_an_unconfirmed_holder_of_the_email_is_never_invited(tenants, settings):
    """Someone who signed up with B's CEO's address without verifying it gets nothing."""
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "MEMBERSHIPS": f"{__name__}.Unconfirmed"}
    Recording.invited = []
    mallory = UserFactory(username="mallory", email="ceo@b.example")
    VerifiedDomainFactory(account=tenants["b"], domain="b.example")
    user = tenants["scim_b"].create_user("ceo", emails=[{"value": "ceo@b.example"}])
    directory_user = DirectoryUser.objects.get(pk=user["id"])
    assert directory_user.host_link == HostLink.BLOCKED and directory_user.awaited_user is None
    assert Recording.invited == [] and not invitations_for(mallory).exists()
    assert User.objects.filter(email__iexact="ceo@b.example").count() == 1  # no duplicate


def test_a_second_connection_of_the_same_account_links_its_people_as_members(tenants, client):
    VerifiedDomainFactory(account=tenants["b"], domain="b.example")
    first = tenants["scim_b"].create_user("sam", emails=[{"value": "sam@b.example"}])
    host = DirectoryUser.objects.get(pk=first["id"]).host_user
    connection, issued = create_connection(account=tenants["b"], name="Entra", provider="entra")
    second = ScimClient(client, connection, issued.raw).create_user(
        "sam", emails=[{"value": "sam@b.example"}]
    )
    linked = DirectoryUser.objects.get(pk=second["id"])
    assert (linked.host_link, linked.host_user) == (HostLink.MEMBER, host)
    event = ProvisioningEvent.objects.get(connection=connection, type="user.linked")
    assert event.changes == {"userName": "sam", "host_user": host.pk, "how": "linked"}


def test_a_claim_is_recorded_with_the_host_user_it_took(tenants):
    VerifiedDomainFactory(account=tenants["b"], domain="b.example")
    person = UserFactory(email="kim@b.example")
    user = tenants["scim_b"].create_user("kim", emails=[{"value": "kim@b.example"}])
    event = ProvisioningEvent.objects.get(resource_id=user["id"], type="user.linked")
    assert event.changes == {"userName": "kim", "host_user": person.pk, "how": "claimed"}


def test_an_email_change_re_decides_and_stale_invitations_cannot_be_accepted(tenants):
    admin, scim = tenants["admin_a"], tenants["scim_b"]
    user = scim.create_user("a-admin", emails=[{"value": "admin@a.example"}])
    [invitation] = invitations_for(admin)
    scim.patch_ops(
        f"/Users/{user['id']}",
        {"op": "replace", "path": "emails", "value": [{"value": "fresh@b.example"}]},
    )
    moved = DirectoryUser.objects.get(pk=user["id"])
    assert moved.host_link == HostLink.MANAGED and moved.host_user.email == "fresh@b.example"
    with pytest.raises(CannotLink):
        accept_invitation(invitation, admin)
    assert not OrganizationMembership.objects.filter(organization=tenants["b"], user=admin)


def test_the_same_person_is_invited_once_a_day_at_most(tenants, settings):
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "MEMBERSHIPS": f"{__name__}.Recording"}
    Recording.invited = []
    for _ in range(3):  # an IdP creating and deleting in a loop
        user = tenants["scim_b"].create_user("a-admin", emails=[{"value": "admin@a.example"}])
        tenants["scim_b"].delete(f"/Users/{user['id']}")
    assert len(Recording.invited) == 1


def test_verifying_a_domain_links_the_people_who_were_waiting_for_it(tenants):
    from scim_portal.provisioning.domains import add_domain, mark_verified
    from scim_portal.provisioning.events import Actor

    person = UserFactory(email="lee@b.example")
    scim = tenants["scim_b"]
    lee = scim.create_user("lee", emails=[{"value": "lee@b.example"}])
    other = scim.create_user("a-admin", emails=[{"value": "admin@a.example"}])
    assert DirectoryUser.objects.get(pk=lee["id"]).host_link == HostLink.AWAITING
    domain = add_domain(tenants["b"], "b.example", actor=Actor())
    mark_verified(domain, actor=Actor.for_user(tenants["staff"], via="admin"))
    claimed = DirectoryUser.objects.get(pk=lee["id"])
    assert (claimed.host_link, claimed.host_user) == (HostLink.MANAGED, person)
    assert DirectoryUser.objects.get(pk=other["id"]).host_link == HostLink.AWAITING  # a.example
    event = ProvisioningEvent.objects.get(resource_id=lee["id"], type="user.linked")
    assert event.changes["how"] == "claimed" and event.actor["via"] == "admin"
