"""Property: whatever connection B's identity provider does, through real SCIM requests
(and whoever accepts B's invitations), it changes no host user it does not manage —
not even members of B's account — and account A's memberships and roles stay exactly
as they were."""

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)

from scim_portal import _secrets
from scim_portal.models import (
    AccessToken,
    DirectoryGroup,
    DirectoryUser,
    HostLink,
    OAuthApplication,
)
from scim_portal.models.credentials import ACCESS_TOKEN_PREFIX
from scim_portal.provisioning import create_connection, directory, issue_credential
from scim_portal.provisioning.credentials import record_authorization
from scim_portal.provisioning.ownership import CannotLink, accept_invitation
from tests.factories import OrganizationFactory, UserFactory, VerifiedDomainFactory
from tests.oauth.issuer import ASSERTION_TYPE, AUDIENCE, Issuer, SigningKey
from tests.scim_client import ScimClient
from tests.scim_client import basic_auth as _basic
from tests.testapp.models import OrganizationMembership

pytestmark = pytest.mark.django_db

#: Emails B's IdP may send: A's people, vendor staff, a person in both accounts, people
#: on B's verified domain (claimable), and fresh addresses.
EMAILS = [
    "admin@a.example", "dev@a.example", "both@shared.example", "staff@vendor.example",
    "root@vendor.example", "free@b.example", "pat@b.example", "new1@b.example",
    "new2@elsewhere.example", "loner@elsewhere.example",
]  # fmt: skip
names = st.sampled_from(["alice", "bob", "carol", "dave", "erin"])
emails = st.sampled_from(EMAILS)


def host_rows():
    return {
        user.pk: {field.attname: getattr(user, field.attname) for field in User._meta.fields}
        for user in User.objects.all()
    }


def account_rows(account):
    return list(
        OrganizationMembership.objects.filter(organization=account)
        .order_by("pk")
        .values_list("pk", "user_id", "role", "is_active")
    )


class ConnectionBMachine(RuleBasedStateMachine):
    users = Bundle("users")
    groups = Bundle("groups")

    def __init__(self):
        super().__init__()
        self.savepoint = transaction.savepoint()
        self.account_a = OrganizationFactory()
        self.account_b = OrganizationFactory()
        VerifiedDomainFactory(account=self.account_a, domain="a.example")
        VerifiedDomainFactory(account=self.account_b, domain="b.example")
        # B even proved the vendor's domain: staff must stay out of reach all the same.
        VerifiedDomainFactory(account=self.account_b, domain="vendor.example")
        admin = UserFactory(email="admin@a.example")
        OrganizationMembership.objects.create(organization=self.account_a, user=admin, role="admin")
        both = UserFactory(email="both@shared.example")
        for account, role in ((self.account_a, "editor"), (self.account_b, "viewer")):
            OrganizationMembership.objects.create(organization=account, user=both, role=role)
        UserFactory(email="staff@vendor.example", is_staff=True)
        UserFactory(email="root@vendor.example", is_staff=True, is_superuser=True)
        UserFactory(email="free@b.example")  # nobody manages them: B may claim them
        UserFactory(email="loner@elsewhere.example")  # no account at all
        connection_a, _ = create_connection(account=self.account_a, name="A", provider="entra")
        directory.create_user(
            connection_a,
            {"userName": "dev", "emails": [{"value": "dev@a.example"}]},
        )  # A's connection manages dev@a.example
        self.connection_b, issued = create_connection(
            account=self.account_b, name="B", provider="okta"
        )
        self.scim = ScimClient(Client(), self.connection_b, issued.raw)
        self.hosts_before = host_rows()
        self.managed: set[int] = set()
        self.account_a_before = account_rows(self.account_a)

    def teardown(self):
        transaction.savepoint_rollback(self.savepoint)

    def ok(self, response, *statuses):
        assert response.status_code in statuses or response.status_code < 300, (
            response.status_code,
            response.content,
        )
        return response

    @rule(target=users, name=names, email=emails, active=st.booleans())
    def create(self, name, email, active):
        response = self.scim.post(
            "/Users",
            {"userName": f"{name}-{email}", "emails": [{"value": email}], "active": active},
        )
        self.ok(response, 409)
        return response.json().get("id", "00000000-0000-0000-0000-000000000000")

    @rule(user=users, email=emails, given=names, active=st.booleans())
    def put(self, user, email, given, active):
        body = {
            "userName": f"put-{user}",
            "name": {"givenName": given},
            "emails": [{"value": email, "primary": True}],
            "active": active,
        }
        self.ok(self.scim.put(f"/Users/{user}", body), 404, 409)

    @rule(
        user=users,
        op=st.sampled_from(["add", "replace"]),
        path=st.sampled_from(["emails", "name.givenName", "active", "displayName", None]),
        email=emails,
        flag=st.booleans(),
    )
    def patch(self, user, op, path, email, flag):
        values = {
            "emails": [{"value": email}],
            "name.givenName": email.split("@")[0],
            "active": flag,
            "displayName": email,
        }
        if path is None:
            operation = {"op": op, "value": {"active": flag, "emails": [{"value": email}],
                                             "name": {"familyName": "X"}}}  # fmt: skip
        else:
            operation = {"op": op, "path": path, "value": values[path]}
        self.ok(self.scim.patch_ops(f"/Users/{user}", operation), 404)

    @rule(user=consumes(users))
    def delete(self, user):
        self.ok(self.scim.delete(f"/Users/{user}"), 404)

    @rule(target=groups, name=names, members=st.lists(users, max_size=3, unique=True))
    def create_group(self, name, members):
        body = {"displayName": f"g-{name}", "members": [{"value": m} for m in members]}
        response = self.ok(self.scim.post("/Groups", body), 400, 409)
        return response.json().get("id", "00000000-0000-0000-0000-000000000000")

    @rule(group=groups, user=users, add=st.booleans())
    def change_members(self, group, user, add):
        operation = (
            {"op": "add", "path": "members", "value": [{"value": user}]}
            if add
            else {"op": "remove", "path": f'members[value eq "{user}"]'}
        )
        self.ok(self.scim.patch_ops(f"/Groups/{group}", operation), 400, 404)

    @rule(group=groups, role=st.sampled_from(["admin", "editor", "viewer"]))
    def map_role(self, group, role):
        found = DirectoryGroup.objects.filter(connection=self.connection_b, pk=group).first()
        if found is not None:
            directory.set_role_mapping(self.connection_b, found, role)

    @rule(group=consumes(groups))
    def delete_group(self, group):
        self.ok(self.scim.delete(f"/Groups/{group}"), 404)

    @rule(target=users, name=names, email=emails, active=st.booleans())
    def invited_person_joins(self, name, email, active):
        """A user whose email belongs to someone B may not claim, who accepts at once."""
        user = self.create(name, email, active)
        self.person_accepts(user)
        return user

    @rule(user=users)
    def person_accepts(self, user):
        """The person B's directory user awaits accepts the invitation (a member link)."""
        found = DirectoryUser.objects.filter(
            connection=self.connection_b, pk=user, host_link=HostLink.AWAITING
        ).first()
        if found is None or found.awaited_user is None:
            return
        person = found.awaited_user
        linked_elsewhere = (
            DirectoryUser.objects.filter(connection=self.connection_b, host_user=person)
            .exclude(pk=found.pk)
            .exists()
        )
        try:
            accept_invitation(found, person)
        except CannotLink:
            # Two directory users awaited the same person: the second is refused.
            assert linked_elsewhere
        else:
            assert not linked_elsewhere

    @rule(policy=st.sampled_from(["deactivate", "remove"]))
    def deprovision_policy(self, policy):
        directory.update_connection_settings(self.connection_b, deprovision_policy=policy)

    @invariant()
    def nobody_else_changed(self):
        # Checked after every step, so a user B claimed and then deleted counts as B's.
        self.managed |= set(
            DirectoryUser.objects.filter(
                connection=self.connection_b, host_link=HostLink.MANAGED
            ).values_list("host_user_id", flat=True)
        )
        now = host_rows()
        for pk, before in self.hosts_before.items():
            if pk not in self.managed:  # members of B included: B owns only their membership
                assert now.get(pk) == before, (pk, before, now.get(pk))
        assert account_rows(self.account_a) == self.account_a_before
        staff = User.objects.filter(is_staff=True)
        assert not DirectoryUser.objects.filter(host_user__in=staff).exists()


def test_connection_b_never_reaches_beyond_what_it_owns(db):
    run_state_machine_as_test(
        ConnectionBMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )


def _access_token_of(credential):
    """An access token of ``credential``, stored as the token endpoint stores one."""
    raw = _secrets.generate(ACCESS_TOKEN_PREFIX)
    AccessToken.objects.create(
        credential=credential,
        digest=_secrets.digest(raw),
        prefix=_secrets.display_prefix(raw, ACCESS_TOKEN_PREFIX),
        expires_at=timezone.now() + timedelta(hours=1),
    )
    return raw


def _token_endpoint(client, data, authorization=None):
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = client.post(
        "/scim/oauth/token", {"grant_type": "client_credentials", **data}, secure=True, **extra
    )
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def test_no_credential_of_connection_a_opens_connection_b(db, client, settings):
    """Every kind of credential A holds, and every access token A got, opens A and is a
    401 at B for every method, with B's directory unchanged."""
    settings.SCIM_PORTAL = {
        **settings.SCIM_PORTAL,
        "FEDERATION_ALLOW_HTTP": True,
        "FEDERATION_ALLOW_PRIVATE_NETWORKS": True,
    }
    issuer = Issuer(SigningKey("a-key"))
    try:
        connection_a, bearer = create_connection(
            account=OrganizationFactory(), name="A", provider="entra"
        )
        connection_b, b_token = create_connection(
            account=OrganizationFactory(), name="B", provider="okta"
        )
        basic = issue_credential(connection_a, "basic")
        secret = issue_credential(connection_a, "client_secret")
        federated = issue_credential(
            connection_a,
            "federated",
            issuer=issuer.url,
            subject=str(uuid.uuid4()),
            audience=AUDIENCE,
            jwks_url=issuer.jwks_url,
        ).credential
        connection_a.refresh_from_db()
        application = OAuthApplication(name="Vendor app", redirect_uris="https://idp.test/cb")
        application.set_secret()
        application.save()
        consent = record_authorization(connection_a, application, UserFactory())
        credentials = {
            "bearer token": f"Bearer {bearer.raw}",
            "Basic": _basic(basic.credential.username, basic.raw),
            "client-secret access token": "Bearer "
            + _token_endpoint(client, {}, _basic(connection_a.oauth_client_id, secret.raw)),
            "federated access token": "Bearer "
            + _token_endpoint(
                client,
                {
                    "client_assertion_type": ASSERTION_TYPE,
                    "client_assertion": issuer.assertion(federated.subject),
                },
            ),
            "authorization access token": f"Bearer {_access_token_of(consent)}",
            "client secret as a bearer token": f"Bearer {secret.raw}",
            "Basic password as a bearer token": f"Bearer {basic.raw}",
        }
    finally:
        issuer.stop()
    b_scim = ScimClient(client, connection_b, b_token.raw)
    b_user = b_scim.create_user("kept@b.example")
    before = list(DirectoryUser.objects.filter(connection=connection_b).values())
    base_a, base_b = f"/scim/v2/{connection_a.pk}", f"/scim/v2/{connection_b.pk}"
    for name, authorization in credentials.items():
        opens_a = client.get(f"{base_a}/Users", HTTP_AUTHORIZATION=authorization).status_code
        assert opens_a == (401 if "as a bearer" in name else 200), name
        attempts = [
            client.get(f"{base_b}/Users", HTTP_AUTHORIZATION=authorization),
            client.get(f"{base_b}/Users/{b_user['id']}", HTTP_AUTHORIZATION=authorization),
            client.get(f"{base_b}/ServiceProviderConfig", HTTP_AUTHORIZATION=authorization),
            client.post(
                f"{base_b}/Users",
                '{"userName": "planted@b.example"}',
                content_type="application/scim+json",
                HTTP_AUTHORIZATION=authorization,
            ),
            client.patch(
                f"{base_b}/Users/{b_user['id']}",
                '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations":'
                ' [{"op": "replace", "path": "active", "value": false}]}',
                content_type="application/scim+json",
                HTTP_AUTHORIZATION=authorization,
            ),
            client.delete(f"{base_b}/Users/{b_user['id']}", HTTP_AUTHORIZATION=authorization),
        ]
        assert [response.status_code for response in attempts] == [401] * len(attempts), name
    assert list(DirectoryUser.objects.filter(connection=connection_b).values()) == before
    assert not DirectoryUser.objects.filter(connection=connection_a).exists()
