"""``manage.py scim_portal <subcommand>``: manage SCIM connections from the shell."""

from __future__ import annotations

import argparse
import contextlib
import json
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    no_translations,
)
from django.db import transaction
from django.utils.dateparse import parse_datetime

from scim_portal.conf import app_settings, get_account_model
from scim_portal.delivery.endpoints import add_endpoint
from scim_portal.models import (
    Connection,
    Credential,
    CredentialKind,
    DeliveryMethod,
    DirectoryGroup,
    DirectoryUser,
    EndpointFormat,
)
from scim_portal.providers import PROVIDERS, UnknownProvider
from scim_portal.provisioning import (
    create_connection,
    delete_connection,
    issue_credential,
    issue_token,
    prune,
    revoke_credential,
)
from scim_portal.provisioning.events import Actor
from scim_portal.provisioning.exceptions import ProvisioningError

#: ``issue-credential --kind`` on the command line, and the credential kind it issues.
KINDS = {
    "bearer": CredentialKind.BEARER,
    "basic": CredentialKind.BASIC,
    "client-credentials": CredentialKind.CLIENT_SECRET,
    "federated": CredentialKind.FEDERATED,
}
#: Options only a federated issuer takes.
FEDERATED_OPTIONS = ("issuer", "subject", "audience", "jwks_url")


class Command(BaseCommand):
    help = "Create, list and delete SCIM connections; issue and revoke their credentials."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")

        create = sub.add_parser(
            "create-connection", help="Create a connection and its first token."
        )
        create.add_argument("--account", required=True, help="The account's identifier (slug).")
        create.add_argument("--name", required=True, help="A name the tenant admin recognises.")
        create.add_argument("--provider", required=True, help=f"One of: {', '.join(PROVIDERS)}.")
        create.add_argument("--json", action="store_true", dest="as_json", help="Print JSON.")

        imported = sub.add_parser(
            "import-django-scim2",
            help="Create a connection holding the users and groups django-scim2 serves here.",
            description="Reads every user and group through django-scim2's adapters (run it "
            "in the application that serves django-scim2), creates a connection with its "
            "first token (shown once) and fills its directory: ids and externalIds kept, each "
            "user linked to the host user it is. Staff and superusers are not imported. Runs "
            "once per account (docs/integration.md, 'Migrating from django-scim2').",
        )
        imported.add_argument("--account", required=True, help="The account's identifier (slug).")
        imported.add_argument("--name", required=True, help="A name the tenant admin recognises.")
        imported.add_argument(
            "--provider",
            default="generic",
            help=f"The IdP that pushes to it (default generic): {', '.join(PROVIDERS)}.",
        )
        imported.add_argument(
            "--request-user",
            default="",
            help="Read as this host user (its username): for a django-scim2 that scopes the "
            "directory by the authenticated user. Anonymous by default.",
        )
        imported.add_argument(
            "--batch-size",
            type=int,
            default=500,
            help="Users per transaction (default 500; groups go ten times fewer at a time).",
        )
        imported.add_argument(
            "--dry-run",
            action="store_true",
            help="Import, count and roll everything back: nothing is written.",
        )
        imported.add_argument("--json", action="store_true", dest="as_json", help="Print JSON.")

        listing = sub.add_parser("list-connections", help="List connections and their credentials.")
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

        issue = sub.add_parser(
            "issue-credential",
            help="Issue a credential of any kind; the connection's others keep working.",
            description="Prints the secret once: a bearer token; a Basic username and "
            "password; an OAuth client id and client secret. A federated issuer has no "
            "secret: its signed assertions are exchanged at the token endpoint. The SCIM URL "
            "and token endpoint are absolute when SCIM_PORTAL['PUBLIC_URL'] is set; without "
            "it they are paths, and a warning on stderr says so.",
        )
        issue.add_argument("--connection", required=True, help="The connection id.")
        issue.add_argument("--kind", required=True, choices=list(KINDS), help="What to issue.")
        issue.add_argument("--label", default="", help="A label to tell it apart.")
        issue.add_argument("--expires-at", help="ISO 8601 date-time after which it stops working.")
        issue.add_argument("--issuer", default="", help="Federated: the assertions' iss (a URL).")
        issue.add_argument("--subject", default="", help="Federated: the assertions' sub.")
        issue.add_argument("--audience", default="", help="Federated: the assertions' aud.")
        issue.add_argument(
            "--jwks-url",
            default="",
            help="Federated: where the issuer publishes its keys (default: the jwks_uri of "
            "its OpenID configuration).",
        )
        issue.add_argument("--json", action="store_true", dest="as_json", help="Print JSON.")

        revoke_any = sub.add_parser(
            "revoke-credential", help="Revoke a credential of any kind at once."
        )
        revoke_any.add_argument("--connection", required=True, help="The connection id.")
        revoke_any.add_argument(
            "--credential",
            required=True,
            help="The credential's id, or its prefix, username or subject as listed.",
        )

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

        drift = sub.add_parser(
            "drift", help="Where the application and a connection's directory disagree."
        )
        drift.add_argument("--connection", required=True, help="The connection id.")
        drift.add_argument(
            "--limit", type=int, default=20, help="Rows shown of each kind (default 20)."
        )
        drift.add_argument("--json", action="store_true", dest="as_json", help="Print JSON.")

        sub.add_parser(
            "prune",
            help="Delete request logs and events older than their retention settings.",
        )

        endpoint = sub.add_parser(
            "add-endpoint", help="Add a webhook endpoint; prints its secret (shown once)."
        )
        endpoint.add_argument("--url", default="", help="Where events are POSTed (https).")
        endpoint.add_argument(
            "--format",
            default=EndpointFormat.STANDARD_WEBHOOKS.value,
            choices=EndpointFormat.values,
            help="standard-webhooks (signed JSON, the default) or set (RFC 9967 SETs).",
        )
        endpoint.add_argument(
            "--poll",
            action="store_true",
            help="A SET endpoint the receiver polls (RFC 8936) instead of a URL pushed to.",
        )
        endpoint.add_argument("--account", help="Only this account's events (default: all).")
        endpoint.add_argument(
            "--event-type",
            action="append",
            dest="event_types",
            default=[],
            help="Only this event type (repeat for more; default: every type).",
        )
        endpoint.add_argument("--description", default="")
        endpoint.add_argument("--json", action="store_true", dest="as_json", help="Print JSON.")

        signing = sub.add_parser(
            "rotate-signing-key",
            help="Retire the SET signing key (still published 30 days) and make a new one.",
        )
        signing.add_argument(
            "--algorithm",
            default="ES256",
            choices=["ES256", "ES384", "RS256"],
            help="The new key's JWS algorithm (default ES256).",
        )
        signing.add_argument("--json", action="store_true", dest="as_json", help="Print JSON.")

        worker = sub.add_parser(
            "worker",
            help="Run a task worker (database backend) delivering events, with the sweep.",
        )
        worker.add_argument(
            "--interval",
            type=float,
            default=0.2,
            help="Seconds between looks for new tasks when idle (default 0.2).",
        )
        worker.add_argument(
            "--queue", default="default", help="Task queues to run, comma-separated."
        )
        worker.add_argument(
            "--beat-only",
            action="store_true",
            help="Only enqueue the sweep every SWEEP_INTERVAL_SECONDS (beside another "
            "backend's workers, e.g. rqworker).",
        )
        worker.add_argument("--max-tasks", type=int, default=None, help=argparse.SUPPRESS)

    # The output is a contract (read by scripts): English whatever LANGUAGE_CODE says.
    @no_translations
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
            "setup_url": connection.setup_url(),
            "token": issued.raw,
        }
        if as_json:
            self._print_json(payload)
            return
        self.stdout.write(
            f"Created connection {connection.name!r} ({connection.provider_info.name})"
        )
        self.stdout.write(f"  id:       {payload['id']}")
        self.stdout.write(f"  SCIM URL: {payload['setup_url']}")
        self.stdout.write(f"  token:    {issued.raw}")
        self.stdout.write(self.style.WARNING("The token is shown only this once; store it now."))

    def handle_import_django_scim2(
        self,
        *,
        account: str,
        name: str,
        provider: str,
        request_user: str,
        batch_size: int,
        dry_run: bool,
        as_json: bool,
        **options: Any,
    ) -> None:
        from scim_portal.importers.django_scim2 import SOURCE, DjangoScim2, SourceUnavailable
        from scim_portal.provisioning.imports import ImportReport, start_import

        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        account_obj = self._account(account)
        try:
            source = DjangoScim2(self._host_user(request_user) if request_user else None)
        except SourceUnavailable as exc:
            raise CommandError(str(exc)) from exc
        actor = Actor.for_command("scim_portal import-django-scim2")
        report = ImportReport()
        # A dry run is the import itself, in one transaction rolled back at the end.
        with transaction.atomic() if dry_run else contextlib.nullcontext():
            try:
                connection, issued = start_import(
                    account_obj, name=name, provider=provider, source=SOURCE, actor=actor
                )
            except (UnknownProvider, ValueError, ProvisioningError) as exc:
                raise CommandError(str(exc)) from exc
            self._fill(source, connection, report, batch_size, actor)
            if dry_run:
                transaction.set_rollback(True)
        payload: dict[str, Any] = {
            "id": str(connection.id),
            "scim_url": self._scim_url(connection),
            "setup_url": connection.setup_url(),
            "token": issued.raw,
            **report.as_json(),
        }
        if dry_run:
            payload |= {"id": None, "scim_url": None, "setup_url": None, "token": None}
            payload["dry_run"] = True
        if as_json:
            self._print_json(payload)
            return
        counts = (
            f"{report.users} users ({report.linked} linked to their host users), "
            f"{report.groups} groups, {report.memberships} memberships"
        )
        if dry_run:
            self.stdout.write(f"Dry run: nothing was written. It would import {counts}.")
        else:
            self.stdout.write(
                f"Imported {counts} from {SOURCE} into the connection {connection.name!r} "
                f"({connection.provider_info.name})"
            )
            self.stdout.write(f"  id:       {payload['id']}")
            self.stdout.write(f"  SCIM URL: {payload['setup_url']}")
            self.stdout.write(f"  token:    {issued.raw}")
            self.stdout.write(
                self.style.WARNING("The token is shown only this once; store it now.")
            )
        for what, number in payload["skipped"].items():
            self.stdout.write(f"  skipped {number:>6}  {what}")

    def _fill(
        self, source: Any, connection: Connection, report: Any, batch_size: int, actor: Actor
    ) -> None:
        """Import ``source``'s users then groups into ``connection``, a batch per
        transaction, with progress on stderr."""
        from scim_portal.provisioning.imports import import_groups, import_users

        def read(kind: str) -> int:
            skipped = sum(1 for item in report.skipped if item.kind == kind)
            return skipped + (report.users if kind == "user" else report.groups)

        try:
            total = source.count_users()
            for users in source.users(report, batch_size):
                import_users(connection, users, report, actor=actor)
                self.stderr.write(f"users: {read('user')}/{total} read, {report.users} imported")
            total = source.count_groups()
            for groups in source.groups(report, max(1, batch_size // 10)):
                import_groups(connection, groups, report, actor=actor)
                self.stderr.write(f"groups: {read('group')}/{total} read, {report.groups} imported")
        except ProvisioningError as exc:
            raise CommandError(
                f"The import stopped after {report.users} users and {report.groups} groups: "
                f"{exc}. The connection {connection.pk} holds what was imported; delete it "
                "keeping the host users (delete-connection --keep-directory) before "
                "importing again."
            ) from exc

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
            for credential in row["credentials"]:
                self.stdout.write(
                    f"    {credential['kind']} {credential['display']}  {credential['state']}  "
                    f"id={credential['id']}  {credential['label']}".rstrip()
                )

    def handle_rotate_token(
        self, *, connection: str, label: str, expires_at: str | None, as_json: bool, **options: Any
    ) -> None:
        connection_obj = self._connection(connection)
        expiry = self._expiry(expires_at)
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
            "setup_url": connection_obj.setup_url(),
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
        matches = list(
            Credential.objects.filter(
                connection=connection_obj, kind=CredentialKind.BEARER, prefix=prefix
            )
        )
        if not matches:
            raise CommandError(f"Connection {connection} has no token with prefix {prefix!r}.")
        if len(matches) > 1:
            raise CommandError(f"Several tokens have prefix {prefix!r}; revoke them in the admin.")
        revoked = revoke_credential(matches[0], actor=Actor.for_command("scim_portal revoke-token"))
        self.stdout.write(f"Revoked token {revoked.prefix}… of {connection_obj.name!r}.")

    def handle_issue_credential(
        self,
        *,
        connection: str,
        kind: str,
        label: str,
        expires_at: str | None,
        as_json: bool,
        **options: Any,
    ) -> None:
        connection_obj = self._connection(connection)
        federated = {name: options[name] for name in FEDERATED_OPTIONS}
        if kind != "federated":
            given = [name for name, value in federated.items() if value]
            if given:
                flags = ", ".join("--" + name.replace("_", "-") for name in given)
                raise CommandError(f"{flags}: only for --kind federated.")
            federated = {}
        expiry = self._expiry(expires_at)
        try:
            issued = issue_credential(
                connection_obj,
                KINDS[kind],
                label=label,
                expires_at=expiry,
                actor=Actor.for_command("scim_portal issue-credential"),
                **federated,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        credential = issued.credential
        payload: dict[str, Any] = {
            "kind": kind,
            "connection": str(connection_obj.id),
            "credential_id": credential.pk,
            "scim_url": self._scim_url(connection_obj),
            "setup_url": connection_obj.setup_url(),
        }
        if kind == "bearer":
            payload |= {"token": issued.raw, "prefix": credential.prefix}
        elif kind == "basic":
            payload |= {"username": credential.username, "password": issued.raw}
        elif kind == "client-credentials":
            payload |= {
                "client_id": connection_obj.oauth_client_id,
                "client_secret": issued.raw,
                "prefix": credential.prefix,
            }
        else:
            payload |= {
                "client_id": connection_obj.oauth_client_id,
                "issuer": credential.issuer,
                "subject": credential.subject,
                "audience": credential.audience,
                "jwks_url": credential.jwks_url,
            }
        if credential.kind in (CredentialKind.CLIENT_SECRET, CredentialKind.FEDERATED):
            payload["token_endpoint"] = self._token_endpoint()
        payload |= {
            "label": credential.label,
            "expires_at": expiry.isoformat() if expiry else None,
        }
        if as_json:
            self._print_json(payload)
            return
        self.stdout.write(
            f"New {credential.get_kind_display()} for {connection_obj.name!r} (id {credential.pk}):"
        )
        shown = (
            "token", "username", "password", "client_id", "client_secret", "issuer", "subject",
            "audience", "jwks_url", "scim_url", "token_endpoint",
        )  # fmt: skip
        for name in shown:
            if payload.get(name):
                self.stdout.write(f"  {name + ':':<16}{payload[name]}")
        if issued.raw:
            self.stdout.write(
                self.style.WARNING(
                    "The secret is shown only this once; store it now. The connection's other "
                    "credentials keep working until you revoke them."
                )
            )

    def handle_revoke_credential(self, *, connection: str, credential: str, **options: Any) -> None:
        connection_obj = self._connection(connection)
        found = self._credential(connection_obj, credential)
        if found.is_revoked:
            self.stdout.write(f"{found} of {connection_obj.name!r} was already revoked.")
            return
        revoked = revoke_credential(found, actor=Actor.for_command("scim_portal revoke-credential"))
        self.stdout.write(f"Revoked {revoked} of {connection_obj.name!r}.")

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

    def handle_drift(self, *, connection: str, limit: int, as_json: bool, **options: Any) -> None:
        from scim_portal.provisioning.drift import KINDS, Drift

        if limit < 1:
            raise CommandError("--limit must be at least 1 (rows shown of each kind).")
        report = Drift(self._connection(connection))
        if as_json:
            data = report.as_json(limit=limit)
            data["held"] = [row.as_held() for row in report.rows("held")]
            self._print_json(data)
            return
        counts = report.counts()
        self.stdout.write(f"Drift of {report.connection.name!r} ({report.connection.pk}):")
        for kind in KINDS:
            self.stdout.write(f"  {kind:<12}{counts[kind]:>8}")
        if not report.known:
            self.stdout.write(
                self.style.WARNING(
                    "The application's memberships hook has no members(): host memberships "
                    "could not be read, so only held and rejected removals are shown."
                )
            )
        for kind in KINDS:
            page = report.page(kind, limit=limit) if counts[kind] else None
            if page is None or not page.rows:
                continue
            self.stdout.write(f"\n{kind.capitalize()} ({counts[kind]}):")
            for row in page.rows:
                who = row.user_name or row.host_username
                reason = f"  ({row.reason})" if row.reason else ""
                self.stdout.write(
                    f"  {who:<32} directory: {row.directory} | host: {row.host}{reason}"
                )
            if page.next_after is not None:
                self.stdout.write(f"  … {counts[kind] - len(page.rows)} more (raise --limit)")

    def handle_prune(self, **options: Any) -> None:
        logs, events = prune()
        self.stdout.write(f"Deleted {logs} request log rows and {events} events.")

    def handle_add_endpoint(
        self,
        *,
        url: str,
        format: str,
        poll: bool,
        account: str | None,
        event_types: list[str],
        description: str,
        as_json: bool,
        **options: Any,
    ) -> None:
        if not poll and not url:
            raise CommandError("--url is required (or --poll for a polled SET endpoint).")
        if poll and format != EndpointFormat.SET:
            raise CommandError("Only SET endpoints can be polled: add --format set.")
        try:
            endpoint, issued = add_endpoint(
                url=url,
                format=format,
                method=DeliveryMethod.POLL if poll else DeliveryMethod.PUSH,
                account=self._account(account) if account else None,
                event_types=event_types,
                description=description,
                actor="the command scim_portal add-endpoint",
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        payload = {"id": str(endpoint.pk), "secret": issued.raw}
        if as_json:
            self._print_json(payload)
            return
        self.stdout.write(f"Added endpoint {endpoint} ({endpoint.get_format_display()})")
        self.stdout.write(f"  id:     {payload['id']}")
        self.stdout.write(f"  secret: {issued.raw}")
        self.stdout.write(self.style.WARNING("The secret is shown only this once; store it now."))

    def handle_rotate_signing_key(self, *, algorithm: str, as_json: bool, **options: Any) -> None:
        from scim_portal.delivery.keys import rotate_signing_key

        key = rotate_signing_key(
            algorithm=algorithm, actor="the command scim_portal rotate-signing-key"
        )
        if as_json:
            self._print_json({"kid": key.kid, "algorithm": key.algorithm})
            return
        self.stdout.write(f"SET signing key {key.kid} ({key.algorithm}) signs from now on.")

    def handle_worker(
        self,
        *,
        interval: float,
        queue: str,
        beat_only: bool,
        max_tasks: int | None,
        **options: Any,
    ) -> None:
        from scim_portal.delivery import worker

        if not beat_only and not worker.is_database_backend():
            raise CommandError(
                "The tasks backend is not django-tasks-db's database backend: run its own "
                "worker, and `scim_portal worker --beat-only` beside it (docs/events.md)."
            )
        worker.run(
            interval=interval,
            queues=queue.split(","),
            beat_only=beat_only,
            max_tasks=max_tasks,
        )

    # Helpers

    def _account(self, identifier: str) -> Any:
        model = get_account_model()
        field = app_settings.ACCOUNT_LOOKUP_FIELD
        try:
            return model._default_manager.get(**{field: identifier})
        except model.DoesNotExist:
            raise CommandError(f"No account with {field} {identifier!r}.") from None

    def _host_user(self, username: str) -> Any:
        model = get_user_model()
        try:
            return model._default_manager.get_by_natural_key(username)
        except model.DoesNotExist:
            raise CommandError(f"No user with {model.USERNAME_FIELD} {username!r}.") from None

    def _connection(self, identifier: str) -> Connection:
        try:
            return Connection.objects.get(pk=identifier)
        except (Connection.DoesNotExist, ValidationError):
            raise CommandError(f"No connection with id {identifier!r}.") from None

    def _credential(self, connection: Connection, identifier: str) -> Credential:
        """The connection's credential with this id, or else this prefix (a bearer
        token's or client secret's first characters, a Basic username, a subject)."""
        credentials = Credential.objects.filter(connection=connection)
        value = identifier.strip().rstrip("…").strip()
        if value.isdigit():
            by_id = credentials.filter(pk=int(value)).first()
            if by_id is not None:
                return by_id
        matches = list(credentials.filter(prefix=value)[:2])
        if not matches:
            raise CommandError(
                f"Connection {connection.id} has no credential with id or prefix {value!r}."
            )
        if len(matches) > 1:
            raise CommandError(f"Several credentials have prefix {value!r}; give the id.")
        return matches[0]

    def _expiry(self, value: str | None) -> datetime | None:
        if not value:
            return None
        expiry = parse_datetime(value)
        if expiry is None or expiry.tzinfo is None:
            raise CommandError(
                f"--expires-at {value!r} is not an ISO 8601 date-time with a time zone."
            )
        return expiry

    def _scim_url(self, connection: Connection) -> str:
        if not app_settings.PUBLIC_URL:
            self.stderr.write(
                "SCIM_PORTAL['PUBLIC_URL'] is not set, so the SCIM URL is relative.",
            )
        return connection.scim_url()

    def _token_endpoint(self) -> str:
        """The OAuth token endpoint, absolute from ``PUBLIC_URL`` (a path without it)."""
        if not app_settings.PUBLIC_URL:
            self.stderr.write(
                "SCIM_PORTAL['PUBLIC_URL'] is not set, so the token endpoint is relative.",
            )
        return Connection.token_endpoint()

    def _describe(self, connection: Connection) -> dict[str, Any]:
        field = app_settings.ACCOUNT_LOOKUP_FIELD
        return {
            "id": str(connection.id),
            "account": str(getattr(connection.account, field)),
            "name": connection.name,
            "provider": connection.provider,
            "scim_url": connection.scim_url(),
            "setup_url": connection.setup_url(),
            "created_at": connection.created_at.isoformat(),
            "last_request_at": connection.last_request_at.isoformat()
            if connection.last_request_at
            else None,
            "users": connection.user_count,  # type: ignore[attr-defined]
            "groups": connection.group_count,  # type: ignore[attr-defined]
            "oauth_client_id": connection.oauth_client_id,
            "tokens": [
                {
                    "prefix": token.prefix,
                    "label": token.label,
                    "created_at": token.created_at.isoformat(),
                    "last_used_at": _iso(token.last_used_at),
                    "expires_at": _iso(token.expires_at),
                    "revoked_at": _iso(token.revoked_at),
                }
                for token in connection.credentials.all()
                if token.kind == CredentialKind.BEARER
            ],
            "credentials": [
                {
                    "id": credential.pk,
                    "kind": credential.kind,
                    "display": credential.display,
                    "label": credential.label,
                    "state": credential.state,
                    "created_at": credential.created_at.isoformat(),
                    "last_used_at": _iso(credential.last_used_at),
                    "expires_at": _iso(credential.expires_at),
                    "revoked_at": _iso(credential.revoked_at),
                }
                for credential in connection.credentials.all()
            ],
        }

    def _print_json(self, payload: Any) -> None:
        self.stdout.write(json.dumps(payload, indent=2))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
