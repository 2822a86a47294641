"""``manage.py simulate_idp``: an Okta- or Entra-style provisioning run against this site.

It creates a connection for the account, maps two directory groups to roles, then
sends the SCIM requests that identity provider sends (in-process, with the real
token, through the real URLs) and prints the account's members with their roles.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.test import Client

from example_project.accounts.models import Account, Membership
from example_project.accounts.roles import role_key
from scim_portal.models import DirectoryGroup
from scim_portal.provisioning import create_connection, directory

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

    def handle(self, *args: Any, account: str, provider: str, **options: Any) -> None:
        try:
            account_obj = Account.objects.get(slug=account)
        except Account.DoesNotExist:
            raise CommandError(f"No account {account!r}; run seed_demo first.") from None
        connection, issued = create_connection(
            account=account_obj, name=f"{provider.title()} (simulated)", provider=provider
        )
        directory.update_connection_settings(connection, default_role="member")
        self.client = Client(HTTP_HOST="127.0.0.1")
        self.auth = {"HTTP_AUTHORIZATION": f"Bearer {issued.raw}"}
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

    def _send(self, method: str, path: str, body: dict[str, Any]) -> Any:
        response = getattr(self.client, method)(
            self.base + path,
            data=json.dumps(body),
            content_type="application/scim+json",
            **self.auth,
        )
        if response.status_code >= 400:
            raise CommandError(f"{method.upper()} {path} failed: {response.content.decode()}")
        return response.json() if response.content else None
