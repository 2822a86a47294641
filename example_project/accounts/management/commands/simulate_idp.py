"""``manage.py simulate_idp``: an Okta- or Entra-style provisioning run against this site.

It creates a connection for the account, maps two directory groups to roles, then
sends the SCIM requests that identity provider sends (in-process, with the real
credential, through the real URLs) and prints the account's members with their roles.
``--mass-unassign`` then plays an IdP admin's mistake: a large group is provisioned and
40% of it unassigned in one sync, to show the brake on mass removals holding them.
``--auth`` picks how it authenticates (``idp_auth.py``): a bearer token (the default),
HTTP Basic, OAuth client credentials, or JWT client assertions of a federated issuer.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.test import Client
from django.urls import reverse

from example_project.accounts.idp_auth import METHODS, AuthFailed, SimulatedAuth
from example_project.accounts.models import Account, Membership
from example_project.accounts.roles import role_key
from scim_portal.accounts import url_key
from scim_portal.conf import app_settings
from scim_portal.models import Connection, DirectoryGroup
from scim_portal.provisioning import create_connection, directory, safety

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
PEOPLE = [
    ("grace", "Grace", "Hopper", "Acme Admins"),
    ("alan", "Alan", "Turing", "Acme Auditors"),
    ("ada", "Ada", "Lovelace", None),
    ("edsger", "Edsger", "Dijkstra", None),
]


class Command(BaseCommand):
    help = "Provision users and groups into an account the way Okta or Entra ID does."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--account", default="acme")
        parser.add_argument("--provider", choices=["okta", "entra"], default="okta")
        parser.add_argument(
            "--auth",
            choices=list(METHODS),
            default="bearer",
            help="How the simulated IdP authenticates: a bearer token (default), HTTP Basic, "
            "OAuth client credentials, or JWT client assertions (needs "
            "SCIM_PORTAL_DEV_FEDERATION=1: its keys are served from http://127.0.0.1).",
        )
        parser.add_argument(
            "--mass-unassign",
            action="store_true",
            help="Then provision a group of --people more people and deactivate 40%% of them "
            "in one sync (an unassigned group): the brake holds the removals past its "
            "threshold for review in the Provisioning tab.",
        )
        parser.add_argument(
            "--people", type=int, default=250, help="People in the --mass-unassign group."
        )

    def handle(
        self,
        *args: Any,
        account: str,
        provider: str,
        auth: str,
        mass_unassign: bool = False,
        people: int = 250,
        **options: Any,
    ) -> None:
        try:
            account_obj = Account.objects.get(slug=account)
        except Account.DoesNotExist:
            raise CommandError(f"No account {account!r}; run seed_demo first.") from None
        if auth == "jwt" and not (
            app_settings.FEDERATION_ALLOW_HTTP and app_settings.FEDERATION_ALLOW_PRIVATE_NETWORKS
        ):
            raise CommandError(
                "--auth jwt publishes its issuer's keys at http://127.0.0.1, which federation "
                "refuses unless SCIM_PORTAL['FEDERATION_ALLOW_HTTP'] and "
                "['FEDERATION_ALLOW_PRIVATE_NETWORKS'] are True. In the example project set "
                "SCIM_PORTAL_DEV_FEDERATION=1 (demo profile only), e.g. "
                "SCIM_PORTAL_DEV_FEDERATION=1 python manage.py simulate_idp --auth jwt"
            )
        if mass_unassign and people < 10:
            raise CommandError("--people must be at least 10.")
        method = METHODS[auth]()
        try:
            connection = self._run(account_obj, account, provider, method)
            if mass_unassign:
                self._mass_unassign(connection, provider, people)
        except AuthFailed as exc:
            raise CommandError(str(exc)) from exc
        finally:
            method.close()

    def _run(
        self, account_obj: Account, account: str, provider: str, auth: SimulatedAuth
    ) -> Connection:
        connection, issued = create_connection(
            account=account_obj,
            name=f"{provider.title()} (simulated)",
            provider=provider,
            credential_kind=auth.kind,
            **auth.credential_fields(),
        )
        directory.update_connection_settings(connection, default_role="member")
        self.client = Client(HTTP_HOST="127.0.0.1")
        auth.start(connection, issued, self.client)
        self.idp_auth = auth
        self.base = connection.scim_path()
        domain = f"{provider}.{account}.example.com"

        groups = {}
        for name, role in (("Acme Admins", "admin"), ("Acme Auditors", "auditor")):
            body: dict[str, Any] = {"displayName": name, "members": []}
            if provider == "entra":
                body["schemas"] = [
                    "urn:ietf:params:scim:schemas:core:2.0:Group",
                    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
                ]
            groups[name] = self._send("post", "/Groups", body)["id"]
            directory.set_role_mapping(
                connection, DirectoryGroup.objects.get(pk=groups[name]), role
            )

        for login, given, family, group in PEOPLE:
            email = f"{login}@{domain}"
            user = {
                "userName": email,
                "name": {"givenName": given, "familyName": family},
                "emails": [{"value": email, "type": "work", "primary": True}],
                "active": True,
            }
            if provider == "okta":
                user |= {"password": "not-stored", "groups": [], "locale": "en-US"}
            else:
                user |= {"externalId": f"{login}-object-id", ENTERPRISE: {"department": "R&D"}}
            created = self._send("post", "/Users", user)
            if group:
                member = {"value": created["id"], "display": email}
                op = {"op": "add", "path": "members", "value": [member]}
                if provider == "entra":
                    op = {
                        "op": "Add",
                        "path": "members",
                        "value": [{"$ref": None, "value": created["id"]}],
                    }
                self._send(
                    "patch", f"/Groups/{groups[group]}", {"schemas": [PATCH], "Operations": [op]}
                )
            if login == "edsger":  # leaves the company
                active = {"op": "replace", "value": {"active": False}}
                if provider == "entra":
                    active = {"op": "Replace", "path": "active", "value": "False"}
                self._send(
                    "patch", f"/Users/{created['id']}", {"schemas": [PATCH], "Operations": [active]}
                )

        self.stdout.write(
            f"Connection {connection.id} ({provider}), SCIM URL {connection.scim_url()}"
        )
        self.stdout.write(f"Authenticated with {auth.describe()}")
        self.stdout.write(f"{'member':<34} {'role':<8} status")
        for membership in (
            Membership.objects.filter(account=account_obj, user__email__endswith=domain)
            .select_related("user", "role")
            .order_by("user__email")
        ):
            status = "active" if membership.is_active else "deactivated"
            self.stdout.write(
                f"{membership.user.email:<34} {role_key(membership) or '-':<8} {status}"
            )
        return connection

    def _mass_unassign(self, connection: Connection, provider: str, people: int) -> None:
        """Provision a group of ``people``, then unassign 40% of them in one sync: each
        deactivated the way the provider does it (the IdP gets its success every time)."""
        domain = f"{provider}.{connection.account.slug}.example.com"
        ids = []
        for number in range(people):
            email = f"staff{number:04d}@{domain}"
            user = {
                "userName": email,
                "name": {"givenName": "Staff", "familyName": f"{number:04d}"},
                "emails": [{"value": email, "type": "work", "primary": True}],
                "active": True,
            }
            ids.append(self._send("post", "/Users", user)["id"])
        group = self._send(
            "post", "/Groups", {"displayName": "All Staff", "members": [{"value": i} for i in ids]}
        )
        unassigned = ids[: people * 2 // 5]
        for user_id in unassigned:
            if provider == "entra":
                op = {"op": "Replace", "path": "active", "value": "False"}
            else:
                op = {"op": "replace", "value": {"active": False}}
            self._send("patch", f"/Users/{user_id}", {"schemas": [PATCH], "Operations": [op]})
        held = safety.held(connection).count()
        self.stdout.write("")
        self.stdout.write(
            f"Mass unassignment: {len(unassigned)} of the {people} people of "
            f"{group['displayName']} were deactivated at the identity provider."
        )
        self.stdout.write(
            f"The brake let {len(unassigned) - held} through and holds {held} for review "
            f"(threshold: more than {connection.brake_percent}% of the active users and at "
            f"least {connection.brake_minimum} within an hour)."
        )
        review = reverse(
            "scim_portal:portal:held", args=[url_key(connection.account), connection.pk]
        )
        self.stdout.write(f"Review them in the Provisioning tab: {review}")

    def _send(self, method: str, path: str, body: dict[str, Any]) -> Any:
        response = getattr(self.client, method)(
            self.base + path,
            data=json.dumps(body),
            content_type="application/scim+json",
            HTTP_AUTHORIZATION=self.idp_auth.header(),
        )
        if response.status_code >= 400:
            raise CommandError(f"{method.upper()} {path} failed: {response.content.decode()}")
        return response.json() if response.content else None
