"""Creating, changing and deleting connections (their credentials: credentials.py)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, overload

from django.db import transaction
from django.db.models import Value
from django.utils import timezone

from ..models import (
    Connection,
    Credential,
    CredentialKind,
    DeletedUser,
    DirectoryGroup,
    DirectoryUser,
    EventType,
    IssuedCredential,
    Removal,
    RemovalKind,
    RemovalState,
)
from ..models.connections import count_per_connection
from ..providers import get_provider
from .credentials import issue, revoke_credential
from .documents import call_adapter
from .effects import host_effects
from .events import SYSTEM, Actor, recording
from .roles import recompute_all_roles
from .safety import drop_deleted, purge_deleted, unapplied_deletions, unrelinked

#: Directory rows handled per batch when a connection is deleted (bounded memory).
DELETE_BATCH_SIZE = 500


@overload
def create_connection(
    *,
    account: Any,
    name: str,
    provider: str,
    created_by: Any = None,
    actor: Actor | None = None,
    credential_kind: str = ...,
    **credential: Any,
) -> tuple[Connection, IssuedCredential]: ...


@overload
def create_connection(
    *,
    account: Any,
    name: str,
    provider: str,
    created_by: Any = None,
    actor: Actor | None = None,
    credential_kind: None,
) -> tuple[Connection, None]: ...


@transaction.atomic
def create_connection(
    *,
    account: Any,
    name: str,
    provider: str,
    created_by: Any = None,
    actor: Actor | None = None,
    credential_kind: str | None = CredentialKind.BEARER,
    **credential: Any,
) -> tuple[Connection, IssuedCredential | None]:
    """Create a connection for ``account`` with its first credential (a bearer token
    unless ``credential_kind`` says otherwise; ``credential`` holds a federated
    issuer's ``issuer``, ``subject``, ``audience`` and ``jwks_url``).

    With ``credential_kind=None`` the connection gets no credential, and the result
    none: it waits for one, such as the authorisation an identity provider obtains
    on the authorisation page (Okta's OAuth 2).

    Raises :class:`~scim_portal.providers.UnknownProvider` for an unknown
    provider key and ``ValueError`` for an empty name or an incomplete credential.
    The secret in the result is the only time it is available.
    """
    get_provider(provider)
    name = name.strip()
    if not name:
        raise ValueError("A connection needs a name.")
    if credential_kind is None and credential:
        raise ValueError("A connection created without a credential takes no credential fields.")
    actor = actor or Actor.for_user(created_by)
    connection = Connection.objects.create(
        account=account, name=name, provider=provider, created_by=created_by
    )
    issued = None
    with recording(connection, actor) as events:
        events.add(
            EventType.CONNECTION_CREATED,
            "Connection",
            connection.id,
            {"name": name, "provider": provider},
        )
        if credential_kind is not None:
            label = "Initial token" if credential_kind == CredentialKind.BEARER else "Initial"
            issued = issue(
                connection,
                events,
                kind=credential_kind,
                label=credential.pop("label", "") or label,
                created_by=created_by,
                **credential,
            )
    return connection, issued


@dataclass(frozen=True)
class ConnectionDeleted:
    """What :func:`delete_connection` removed."""

    connection_id: str
    users: int
    groups: int
    remove_directory: bool


def delete_connection(
    connection: Connection, *, remove_directory: bool = True, actor: Actor = SYSTEM
) -> ConnectionDeleted:
    """Delete ``connection`` with its credentials and directory.

    With ``remove_directory`` (the default, "also remove its users and groups")
    every directory user goes through the adapter's ``user_deleted`` (so host
    memberships follow the deprovision policy); without it host users and their
    memberships stay as they are, detached from the directory. Request logs and
    events are kept for the audit trail, and a ``connection.deleted`` event records
    who did it and the counts.

    No transaction grows with the directory (a million users take minutes, longer
    than a web request may run): first the connection is marked as being deleted
    (``deleting_since``, a ``connection.updated`` event naming who began it) and its
    credentials are revoked, with their access tokens, so every identity provider
    request is refused from then on and no credential can be issued or authorised
    again; then the users go in batches of :data:`DELETE_BATCH_SIZE`, each batch
    committed on its own; last, in one transaction, the groups, the event and the
    connection. Interrupted anywhere, what is committed is consistent — each user
    is either still there, host user untouched, or gone and deprovisioned — and
    calling this again finishes the deletion; its event then counts what that call
    removed. Two calls at once take turns batch by batch; the one that finds the
    connection gone returns what it removed. Memory stays bounded at any directory size.

    The kept copies of deleted users go first, in batches too: with
    ``remove_directory``, those whose deletion the brake held or an admin rejected are
    deprovisioned like the others. :func:`deletion_preview` counts all of it beforehand.
    """
    connection_id = str(connection.pk)
    users = groups = 0
    try:
        connection = _begin_deletion(connection, actor)
        while _delete_kept(connection, remove_directory):
            pass
        last = None
        while batch := _delete_users(connection, remove_directory, after=last):
            users, last = users + len(batch), batch[-1]
        with transaction.atomic():
            # Every directory write raises the connection's event sequence (a row lock), so
            # a request that authenticated before the revocation has committed by now; a
            # user it created is handled here like the others.
            connection = _lock(connection)
            while batch := _delete_users(connection, remove_directory, after=last, atomic=False):
                users, last = users + len(batch), batch[-1]
            while True:
                ids = list(
                    DirectoryGroup.objects.filter(connection=connection)
                    .order_by("pk")
                    .values_list("pk", flat=True)[:DELETE_BATCH_SIZE]
                )
                if not ids:
                    break
                DirectoryGroup.objects.filter(pk__in=ids).delete()
                groups += len(ids)
            call_adapter("connection_deleted", connection, remove_directory=remove_directory)
            with recording(connection, actor) as events:
                events.add(
                    EventType.CONNECTION_DELETED,
                    "Connection",
                    connection.id,
                    {
                        "name": connection.name,
                        "users": users,
                        "groups": groups,
                        "remove_directory": remove_directory,
                    },
                )
            connection.delete()
    except Connection.DoesNotExist:
        # Deleted meanwhile by another call (two people clicking at once): done.
        groups = 0
    return ConnectionDeleted(
        connection_id=connection_id, users=users, groups=groups, remove_directory=remove_directory
    )


def _lock(connection: Connection) -> Connection:
    """``connection`` read again under its row lock (``Connection.DoesNotExist`` if gone)."""
    return (
        Connection.objects.select_for_update(of=("self",))
        .select_related("account")
        .get(pk=connection.pk)
    )


@transaction.atomic
def _begin_deletion(connection: Connection, actor: Actor) -> Connection:
    """Mark ``connection`` as being deleted (once, evented with who began it) and revoke
    its credentials, under its row lock: a credential issued before is revoked here, and
    none is issued after (:func:`.credentials.refuse_if_deleting`)."""
    locked = _lock(connection)
    if locked.deleting_since is None:
        locked.deleting_since = timezone.now()
        locked.save(update_fields=["deleting_since"])
        with recording(locked, actor) as events:
            events.add(
                EventType.CONNECTION_UPDATED,
                "Connection",
                locked.pk,
                {"deleting_since": {"old": None, "new": locked.deleting_since.isoformat()}},
            )
    for credential in locked.credentials.filter(revoked_at__isnull=True).order_by("pk"):
        revoke_credential(credential, actor=actor)
    return locked


def _delete_users(
    connection: Connection, remove_directory: bool, *, after: Any, atomic: bool = True
) -> list[Any]:
    """Delete up to :data:`DELETE_BATCH_SIZE` of ``connection``'s directory users past the
    id ``after``, in a transaction of their own unless ``atomic`` is false, each through
    the adapter's ``user_deleted`` first when ``remove_directory``: their ids. (Reading
    past the last id, not from the start, keeps each batch from stepping over the index
    entries of the rows deleted before it.)"""
    with transaction.atomic() if atomic else contextlib.nullcontext():
        if atomic:
            # Two deletions at once take turns, batch by batch: the second reads past what
            # the first committed and never hands a user to the adapter twice.
            connection = _lock(connection)
        users = DirectoryUser.objects.filter(connection=connection).order_by("pk")
        if after is not None:
            users = users.filter(pk__gt=after)
        batch = list(users.select_related("host_user")[:DELETE_BATCH_SIZE])
        if remove_directory:
            for user in batch:
                user.connection = connection
                call_adapter("user_deleted", user)
        ids = [user.pk for user in batch]
        # Memberships and multi-valued rows go with their users (cascade, by ids).
        DirectoryUser.objects.filter(pk__in=ids).delete()
    return ids


def deletion_preview(connection: Connection) -> dict[str, Any]:
    """Exactly what :func:`delete_connection` would change, for both answers to "also
    remove its users and groups"; nothing is written.

    ``users``, ``groups``, ``deleted_users`` (kept restorable, gone with the connection),
    ``held_removals`` (waiting for a decision) and ``credentials`` (revoked at once) are
    the same either way; ``remove_directory`` and ``keep_directory`` say what happens in
    the host: ``memberships_deactivated``, ``memberships_removed`` (per the deprovision
    policy) and ``host_users_deactivated`` (managed by this connection, active, not
    protected, and an active member of no other account). Set-based: the same few
    statements for ten users or a million.
    """

    counts = {
        "users": DirectoryUser.objects.all(),
        "groups": DirectoryGroup.objects.all(),
        "deleted_users": DeletedUser.objects.all(),
        "held_removals": Removal.objects.filter(state=RemovalState.HELD),
        "credentials": Credential.objects.filter(revoked_at__isnull=True),
    }
    row = (
        Connection.objects.filter(pk=connection.pk)
        .values_list(*(count_per_connection(rows) for rows in counts.values()))
        .get()
    )
    directory = dict(zip(counts, row, strict=True))
    deletion = Value(RemovalKind.DELETE.value)
    live = DirectoryUser.objects.filter(connection=connection).annotate(removal_kind=deletion)
    host = host_effects(connection, live)
    kept = unrelinked(connection, unapplied_deletions(connection))
    if kept.exists():
        host += host_effects(connection, kept.annotate(removal_kind=deletion))
    effects = {
        "memberships_deactivated": host.memberships_deactivated,
        "memberships_removed": host.memberships_removed,
        "host_users_deactivated": host.host_users_deactivated,
    }
    return {
        **directory,
        "remove_directory": effects,
        "keep_directory": dict.fromkeys(effects, 0),
    }


@transaction.atomic
def _delete_kept(connection: Connection, remove_directory: bool) -> int:
    """One batch of :func:`.safety.drop_deleted`, under the connection's row lock."""
    return drop_deleted(
        _lock(connection), remove_directory=remove_directory, limit=DELETE_BATCH_SIZE
    )


def prune(now: datetime | None = None) -> tuple[int, int]:
    """Delete request logs, events and delivery log rows older than their retention, OAuth
    access tokens and codes that can no longer be used, and finished delivery tasks; the
    counts of logs and events deleted."""
    from datetime import timedelta

    from django.apps import apps
    from django.db.models import Q

    from ..conf import app_settings
    from ..models import (
        AccessToken,
        AuthorizationCode,
        DeliveryAttempt,
        ProvisioningEvent,
        RequestLog,
    )

    now = now or timezone.now()
    log_cutoff = now - timedelta(days=app_settings.REQUEST_LOG_RETENTION_DAYS)
    event_cutoff = now - timedelta(days=app_settings.EVENT_RETENTION_DAYS)
    logs = RequestLog.objects.filter(created_at__lt=log_cutoff).delete()[0]
    events = ProvisioningEvent.objects.filter(created_at__lt=event_cutoff).delete()[0]
    # An access token past its expiry (and its refresh token's) or revoked opens nothing.
    AccessToken.objects.filter(
        Q(revoked_at__isnull=False)
        | Q(expires_at__lt=now, refresh_expires_at__isnull=True)
        | Q(expires_at__lt=now, refresh_expires_at__lt=now)
    ).delete()
    # A used code is kept until it expires: presented again, it revokes what it obtained.
    AuthorizationCode.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()
    # The delivery log, and the database backend's finished delivery tasks (two a second
    # per busy connection) once a day old.
    DeliveryAttempt.objects.filter(
        created_at__lt=now - timedelta(days=app_settings.DELIVERY_LOG_RETENTION_DAYS)
    ).delete()
    if apps.is_installed("django_tasks_db"):
        from django_tasks_db.models import DBTaskResult

        DBTaskResult.objects.filter(
            task_path__startswith="scim_portal.",
            status="SUCCESSFUL",
            finished_at__lt=now - timedelta(days=1),
        ).delete()
    purge_deleted(now)
    return logs, events


#: Connection fields a person may change, with how an event shows them.
SETTINGS_FIELDS = (
    "name",
    "link_policy",
    "deprovision_policy",
    "out_of_domain_policy",
    "default_role",
    "access_token_lifetime",
    "silent_after_hours",
    "brake_enabled",
    "brake_percent",
    "brake_minimum",
)


@transaction.atomic
def update_connection_settings(
    connection: Connection, *, actor: Actor = SYSTEM, **fields: Any
) -> Connection:
    """Change the connection's name, policies, default role or access-token lifetime; a
    ``connection.updated`` event records who changed what (old and new values).

    A new default role is given at once to every user no mapped group gives a role.
    """
    unknown = set(fields) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValueError(f"Cannot change {', '.join(sorted(unknown))} of a connection.")
    locked = Connection.objects.select_for_update().get(pk=connection.pk)
    old = {field: getattr(locked, field) for field in fields}
    for field, value in fields.items():
        setattr(locked, field, value)
    locked.full_clean(exclude=["account", "created_by"])
    changed = {
        field: {"old": old[field], "new": getattr(locked, field)}
        for field in fields
        if getattr(locked, field) != old[field]
    }
    if changed:
        locked.save(update_fields=list(changed))
        with recording(locked, actor) as events:
            events.add(EventType.CONNECTION_UPDATED, "Connection", locked.pk, changed)
    if "default_role" in changed:
        recompute_all_roles(locked, actor=actor)
    for field in fields:
        setattr(connection, field, getattr(locked, field))
    return locked
