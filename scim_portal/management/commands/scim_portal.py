"""``manage.py scim_portal <subcommand>``: manage SCIM connections from the shell."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime

from scim_portal.conf import app_settings, get_account_model
from scim_portal.models import Connection, Credential, DirectoryGroup, DirectoryUser
from scim_portal.providers import PROVIDERS, UnknownProvider
from scim_portal.provisioning import (
    create_connection,
    delete_connection,
    issue_token,
    prune,
    revoke_credential,
)
from scim_portal.provisioning.events import Actor


class Command(BaseCommand):
    help = "Create, list and delete SCIM connections; issue and revoke their tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")

        create = sub.add_parser(
            "create-connection", help="Create a connection and its first token."
        )
        create.add_argument("--account", required=True, help="The account's identifier (slug).")
        create.add_argument("--name", required=True, help="A name the tenant admin recognises.")
        create.add_argument("--provider", required=True, help=f"One of: {', '.join(PROVIDERS)}.")
        create.add_argument("--json", action="store_true", dest="as_json", help="Print JSON.")

        listing = sub.add_parser("list-connections", help="List connections and their tokens.")
        listing.add_argument("--account", help="Only this account's connections.")
        listing.add_argument("--json", action="store_true", dest="as_json", help="Print JSON.")

        rotate = sub.add_parser(
            "rotate-token", help="Issue a new token; the old ones keep working until revoked."
        )
        rotate.add_argument("--connection", required=True, help="The connection id.")
        rotate.add_argument("--label", default="", help="A label for the new token.")
        rotate.add_argument("--expires-at", help="ISO 8601 date-time after which it stops working.")
        rotate.add_argument("--json", action="store_true", dest="as_json", help="Print JSON.")

        revoke = sub.add_parser("revoke-token", help="Revoke a token at once.")
        revoke.add_argument("--connection", required=True, help="The connection id.")
        revoke.add_argument("--token", required=True, help="The token's prefix, as listed.")

        delete = sub.add_parser(
            "delete-connection", help="Delete a connection with its tokens, users and groups."
        )
        delete.add_argument("--connection", required=True, help="The connection id.")
        delete.add_argument(
            "--keep-directory",
            action="store_true",
            help="Keep the host users and memberships it provisioned (detach them).",
        )
        delete.add_argument(
            "--no-input", action="store_false", dest="interactive", help="Do not ask to confirm."
        )

        sub.add_parser(
            "prune",
            help="Delete request logs and events older than their retention settings.",
        )

    def handle(self, *args: Any, subcommand: str, **options: Any) -> None:
        handler = getattr(self, "handle_" + subcommand.replace("-", "_"))
        handler(**options)

    # Subcommands

    def handle_create_connection(
        self, *, account: str, name: str, provider: str, as_json: bool, **options: Any
    ) -> None:
        account_obj = self._account(account)
        try:
            connection, issued = create_connection(
                account=account_obj,
                name=name,
                provider=provider,
                actor=Actor.for_command("scim_portal create-connection"),
            )
        except (UnknownProvider, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        payload = {
            "id": str(connection.id),
            "scim_url": self._scim_url(connection),
            "token": issued.raw,
        }
        if as_json:
            self._print_json(payload)
            return
        self.stdout.write(
            f"Created connection {connection.name!r} ({connection.provider_info.name})"
        )
        self.stdout.write(f"  id:       {payload['id']}")
        self.stdout.write(f"  SCIM URL: {payload['scim_url']}{connection.provider_info.url_suffix}")
        self.stdout.write(f"  token:    {issued.raw}")
        self.stdout.write(self.style.WARNING("The token is shown only this once; store it now."))

    def handle_list_connections(
        self, *, account: str | None, as_json: bool, **options: Any
    ) -> None:
        connections = (
            Connection.objects.with_counts()
            .select_related("account")
            .prefetch_related("credentials")
        )
        if account is not None:
            connections = connections.filter(account=self._account(account))
        rows = [self._describe(connection) for connection in connections]
        if as_json:
            self._print_json(rows)
            return
        if not rows:
            self.stdout.write("No connections.")
        for row in rows:
            self.stdout.write(
                f"{row['id']}  {row['account']}  {row['name']} ({row['provider']})  "
                f"users={row['users']} groups={row['groups']}  "
                f"last request: {row['last_request_at'] or 'never'}"
            )
            for token in row["tokens"]:
                state = "revoked" if token["revoked_at"] else "active"
                self.stdout.write(f"    token {token['prefix']}…  {state}  {token['label']}")

    def handle_rotate_token(
        self, *, connection: str, label: str, expires_at: str | None, as_json: bool, **options: Any
    ) -> None:
        connection_obj = self._connection(connection)
        expiry = None
        if expires_at:
            expiry = parse_datetime(expires_at)
            if expiry is None or expiry.tzinfo is None:
                raise CommandError(
                    f"--expires-at {expires_at!r} is not an ISO 8601 date-time with a time zone."
                )
        try:
            issued = issue_token(
                connection_obj,
                label=label,
                expires_at=expiry,
                actor=Actor.for_command("scim_portal rotate-token"),
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        payload = {
            "id": str(connection_obj.id),
            "scim_url": self._scim_url(connection_obj),
            "token": issued.raw,
            "prefix": issued.token.prefix,
        }
        if as_json:
            self._print_json(payload)
            return
        self.stdout.write(f"New token for {connection_obj.name!r}: {issued.raw}")
        self.stdout.write(
            self.style.WARNING(
                "Shown only this once. Older tokens keep working until you revoke them."
            )
        )

    def handle_revoke_token(self, *, connection: str, token: str, **options: Any) -> None:
        connection_obj = self._connection(connection)
        prefix = token.rstrip("…").strip()
        matches = list(Credential.objects.filter(connection=connection_obj, prefix=prefix))
        if not matches:
            raise CommandError(f"Connection {connection} has no token with prefix {prefix!r}.")
        if len(matches) > 1:
            raise CommandError(f"Several tokens have prefix {prefix!r}; revoke them in the admin.")
        revoked = revoke_credential(matches[0], actor=Actor.for_command("scim_portal revoke-token"))
        self.stdout.write(f"Revoked token {revoked.prefix}… of {connection_obj.name!r}.")

    def handle_delete_connection(
        self, *, connection: str, interactive: bool, keep_directory: bool, **options: Any
    ) -> None:
        connection_obj = self._connection(connection)
        if interactive:
            users = DirectoryUser.objects.filter(connection=connection_obj).count()
            groups = DirectoryGroup.objects.filter(connection=connection_obj).count()
            what = (
                "keeping the host users it provisioned"
                if keep_directory
                else "deprovisioning the host users it provisioned"
            )
            answer = input(
                f"Delete {connection_obj.name!r} with {users} users and {groups} groups, "
                f"{what}? Type 'yes' to confirm: "
            )
            if answer.strip().lower() != "yes":
                raise CommandError("Not deleted.")
        result = delete_connection(
            connection_obj,
            remove_directory=not keep_directory,
            actor=Actor.for_command("scim_portal delete-connection"),
        )
        kept = "; host users kept" if keep_directory else ""
        self.stdout.write(
            f"Deleted connection {result.connection_id} "
            f"({result.users} users, {result.groups} groups{kept})."
        )

    def handle_prune(self, **options: Any) -> None:
        logs, events = prune()
        self.stdout.write(f"Deleted {logs} request log rows and {events} events.")

    # Helpers

    def _account(self, identifier: str) -> Any:
        model = get_account_model()
        field = app_settings.ACCOUNT_LOOKUP_FIELD
        try:
            return model._default_manager.get(**{field: identifier})
        except model.DoesNotExist:
            raise CommandError(f"No account with {field} {identifier!r}.") from None

    def _connection(self, identifier: str) -> Connection:
        try:
            return Connection.objects.get(pk=identifier)
        except (Connection.DoesNotExist, ValidationError):
            raise CommandError(f"No connection with id {identifier!r}.") from None

    def _scim_url(self, connection: Connection) -> str:
        if not app_settings.PUBLIC_URL:
            self.stderr.write(
                "SCIM_PORTAL['PUBLIC_URL'] is not set, so the SCIM URL is relative.",
            )
        return connection.scim_url()

    def _describe(self, connection: Connection) -> dict[str, Any]:
        field = app_settings.ACCOUNT_LOOKUP_FIELD
        return {
            "id": str(connection.id),
            "account": str(getattr(connection.account, field)),
            "name": connection.name,
            "provider": connection.provider,
            "scim_url": connection.scim_url(),
            "created_at": connection.created_at.isoformat(),
            "last_request_at": connection.last_request_at.isoformat()
            if connection.last_request_at
            else None,
            "users": connection.user_count,  # type: ignore[attr-defined]
            "groups": connection.group_count,  # type: ignore[attr-defined]
            "tokens": [
                {
                    "prefix": token.prefix,
                    "label": token.label,
                    "created_at": token.created_at.isoformat(),
                    "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
                    "expires_at": token.expires_at.isoformat() if token.expires_at else None,
                    "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
                }
                for token in connection.credentials.all()
            ],
        }

    def _print_json(self, payload: Any) -> None:
        self.stdout.write(json.dumps(payload, indent=2))
