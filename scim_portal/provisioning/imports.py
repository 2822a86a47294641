"""Filling a new connection's directory from another SCIM service provider: an import.

The vendor moves an account's directory here from the service provider that served it
until now (django-scim2: :mod:`scim_portal.importers.django_scim2` reads it). Users and
groups are written in batches, one transaction each, with their events, and the
adapter's ``user_imported`` and ``group_imported`` hooks do in the host what provisioning
would (the default adapter keeps the account membership of each linked host user).

Each directory user is linked to the host user it came from, under the ownership rules
(docs/security.md): managed by the new connection, or a member when a sibling
connection of the account manages that person already; never staff or superusers
(skipped); not linked when another account's connection manages them, nor when their
email is on a domain verified for another account.

The ids the identity provider stored keep working: an id that is a UUID becomes the
resource's primary key, any other (django-scim2 serves the integer primary key) is kept
as its ``legacy_id``, which every lookup by id accepts — the URL of a resource, a
member's ``value``, an ``id`` or ``members.value`` filter.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .._uuid import uuid7
from ..models import (
    AccountDomain,
    Connection,
    DirectoryGroup,
    DirectoryUser,
    DirectoryUserValue,
    EventType,
    GroupMembership,
    HostLink,
)
from ..models.folding import fold
from .connections import create_connection
from .documents import Document, call_adapter, group_columns, user_columns, value_rows
from .domains import domain_of
from .events import SYSTEM, Actor, EventRecorder, id_list, recording
from .exceptions import InvalidDocument, ProvisioningError
from .ownership import is_protected

#: Why a person is not imported: a connection never touches staff or superusers.
PROTECTED = "staff or superuser: never imported"
TAKEN_USER_NAME = "userName taken (ignoring case)"
TAKEN_DISPLAY_NAME = "displayName taken (ignoring case)"
#: A UUID id is kept as the primary key, and every lookup reads a UUID so.
ID_TAKEN = "its id (a UUID) is another connection's resource's, so it could not be kept"
#: Why a person is imported unlinked: a connection of this account may not claim them.
OTHER_ACCOUNTS_DOMAIN = "email on a domain another account verified"
#: Ids looked up per statement (SQLite takes at most 32,766 parameters, old builds 999).
LOOKUP_CHUNK = 500


class AlreadyImported(ProvisioningError):
    """The account's directory was imported already, into ``connection``."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        super().__init__(
            f"The account's directory was already imported from {connection.imported_from} "
            f"into the connection {connection.name!r} ({connection.pk}). An import runs once "
            "per account: to run it again, delete that connection keeping the host users "
            f"(manage.py scim_portal delete-connection --connection {connection.pk} "
            "--keep-directory), then import again."
        )


@dataclass(frozen=True)
class ImportedUser:
    """A user as the other service provider served it."""

    #: The SCIM id it served (and the identity provider stored).
    source_id: str
    #: The document to store, as :meth:`scim_portal.scim.resources.ResourceKind.parse`
    #: makes it from the served resource.
    document: Document
    #: The host user it is (an ``AUTH_USER_MODEL`` instance), or None.
    host_user: Any = None
    created: datetime | None = None
    last_modified: datetime | None = None


@dataclass(frozen=True)
class ImportedGroup:
    """A group as the other service provider served it, with its members' source ids."""

    source_id: str
    document: Document
    member_ids: tuple[str, ...] = ()
    created: datetime | None = None
    last_modified: datetime | None = None


@dataclass(frozen=True)
class Skipped:
    """Something not imported as it was: ``kind`` is "user", "group", "membership" or
    "link" (the user was imported, not linked to its host user)."""

    kind: str
    source_id: str
    name: str
    reason: str


@dataclass
class ImportReport:
    """What an import wrote, and what it skipped and why."""

    users: int = 0
    groups: int = 0
    memberships: int = 0
    #: Directory users linked to the host user they came from.
    linked: int = 0
    #: Ids kept as the primary key (UUIDs) and as ``legacy_id`` (any other).
    kept_ids: int = 0
    legacy_ids: int = 0
    skipped: list[Skipped] = field(default_factory=list)

    def skip(self, kind: str, source_id: Any, name: str, reason: str) -> None:
        self.skipped.append(Skipped(kind, str(source_id), name, reason))

    def skipped_counts(self) -> dict[str, int]:
        """``"<kind>: <reason>"`` → how many (reasons are worded without names)."""
        return dict(Counter(f"{item.kind}: {item.reason}" for item in self.skipped))

    def as_json(self) -> dict[str, Any]:
        return {
            "users": self.users,
            "groups": self.groups,
            "memberships": self.memberships,
            "linked": self.linked,
            "kept_ids": self.kept_ids,
            "legacy_ids": self.legacy_ids,
            "skipped": self.skipped_counts(),
            "skipped_items": [asdict(item) for item in self.skipped],
        }


def previous_import(account: Any) -> Connection | None:
    """The connection of ``account`` an import filled, if any."""
    return Connection.objects.filter(account=account).exclude(imported_from="").first()


@transaction.atomic
def start_import(
    account: Any, *, name: str, provider: str, source: str, actor: Actor = SYSTEM
) -> tuple[Connection, Any]:
    """Create the connection an import fills (with its first bearer token, as
    :func:`.create_connection`), marked as imported from ``source``;
    :class:`AlreadyImported` if ``account`` has one already."""
    earlier = previous_import(account)
    if earlier is not None:
        raise AlreadyImported(earlier)
    connection, issued = create_connection(
        account=account, name=name, provider=provider, actor=actor
    )
    connection.imported_from = source
    connection.save(update_fields=["imported_from"])
    return connection, issued


def _key_of(source_id: str) -> tuple[uuid.UUID | None, str | None]:
    """``(primary key, legacy id)`` to keep ``source_id`` as: a UUID in its canonical form
    is the key; any other id, a UUID spelled otherwise included, is kept as typed."""
    try:
        value = uuid.UUID(source_id)
    except ValueError:
        return None, source_id
    return value, None if str(value) == source_id else source_id


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), LOOKUP_CHUNK):
        yield values[start : start + LOOKUP_CHUNK]


def _new_resources(
    model: type[DirectoryUser] | type[DirectoryGroup],
    connection: Connection,
    items: Sequence[ImportedUser] | Sequence[ImportedGroup],
    report: ImportReport,
) -> list[tuple[Any, dict[str, Any], uuid.UUID, str | None]]:
    """``(item, columns, primary key, legacy id)`` of each of ``items`` to write into
    ``connection``; each one that cannot be (its document invalid, its unique name or its
    id taken) recorded in ``report`` with why. A source id that is a UUID no resource
    has is the key, any other a new key's legacy id; a UUID another connection's resource
    has cannot be kept (every lookup reads a UUID as the key), so that item is skipped."""
    is_user = model is DirectoryUser
    kind, attribute, unique, taken_name = (
        ("user", "userName", "user_name", TAKEN_USER_NAME)
        if is_user
        else ("group", "displayName", "display_name", TAKEN_DISPLAY_NAME)
    )
    columns_of = user_columns if is_user else group_columns
    wanted: list[tuple[Any, dict[str, Any]]] = []
    names: set[str] = set()
    for item in items:
        try:
            columns = columns_of(item.document)
        except InvalidDocument as exc:
            report.skip(kind, item.source_id, str(item.document.get(attribute) or ""), str(exc))
            continue
        name = fold(columns[unique])
        if name in names:
            report.skip(kind, item.source_id, columns[unique], taken_name)
            continue
        names.add(name)
        wanted.append((item, columns))
    taken_names = _existing(model, connection, f"{unique}_key", sorted(names))
    known = _existing(model, connection, "legacy_id", [item.source_id for item, _ in wanted])
    keys = {item.source_id: _key_of(item.source_id) for item, _ in wanted}
    holders: dict[uuid.UUID, Any] = {}  # a UUID key's resource → its connection
    for chunk in _chunks([key for key, _legacy in keys.values() if key is not None]):
        holders |= dict(model.objects.filter(pk__in=chunk).values_list("pk", "connection_id"))
    result = []
    for item, columns in wanted:
        key, legacy = keys[item.source_id]
        if fold(columns[unique]) in taken_names:
            reason = taken_name
        elif item.source_id in known or (key is not None and holders.get(key) == connection.pk):
            reason = "id imported already"
        elif key is not None and key in holders:
            reason = ID_TAKEN
        else:
            reason = ""
        if reason:
            report.skip(kind, item.source_id, columns[unique], reason)
            continue
        known.add(item.source_id)  # the same id again in this batch: imported already
        if key is None:
            key, legacy = uuid7(), item.source_id
        else:
            holders[key] = connection.pk
        result.append((item, columns, key, legacy))
    return result


def _existing(
    model: type[DirectoryUser] | type[DirectoryGroup],
    connection: Connection,
    name: str,
    values: Sequence[str],
) -> set[str]:
    """The ``values`` of the field ``name`` that resources of ``connection`` have."""
    found: set[str] = set()
    for chunk in _chunks(values):
        rows = model.objects.filter(connection=connection, **{f"{name}__in": chunk})
        found |= set(rows.values_list(name, flat=True))
    return found


@transaction.atomic
def import_users(
    connection: Connection,
    users: Sequence[ImportedUser],
    report: ImportReport,
    *,
    actor: Actor = SYSTEM,
) -> list[DirectoryUser]:
    """Write ``users`` into ``connection``'s directory in one transaction, counted (and
    what is skipped, with why) in ``report``; the directory users written."""
    account_id = connection.account_id
    allowed = []
    for item in users:
        if item.host_user is not None and is_protected(item.host_user):
            report.skip("user", item.source_id, str(item.document.get("userName") or ""), PROTECTED)
        else:
            allowed.append(item)
    ready = _new_resources(DirectoryUser, connection, allowed, report)
    managers: dict[Any, Any] = {}
    linked_here: set[Any] = set()
    for chunk in _chunks([item.host_user.pk for item, *_ in ready if item.host_user is not None]):
        linked = DirectoryUser.objects.filter(host_user_id__in=chunk)
        managers |= dict(
            linked.filter(host_link=HostLink.MANAGED).values_list(
                "host_user_id", "connection__account_id"
            )
        )
        linked_here |= set(
            linked.filter(connection=connection).values_list("host_user_id", flat=True)
        )
    owners = _domain_owners([item.host_user for item, *_ in ready if item.host_user is not None])
    rows: list[DirectoryUser] = []
    now = timezone.now()
    for item, columns, pk, legacy in ready:
        user = DirectoryUser(
            id=pk,
            legacy_id=legacy,
            connection=connection,
            attributes=item.document,
            role=connection.default_role,
            created=item.created or now,
            last_modified=item.last_modified or item.created or now,
            **columns,
        )
        host = item.host_user
        if host is None:
            report.skip("link", item.source_id, user.user_name, "no host user")
        elif host.pk in linked_here:
            report.skip("link", item.source_id, user.user_name, "host user linked already")
        elif host.pk not in managers and owners.get(host.pk, account_id) != account_id:
            user.host_link = HostLink.BLOCKED
            report.skip("link", item.source_id, user.user_name, OTHER_ACCOUNTS_DOMAIN)
        elif host.pk not in managers:
            user.host_user, user.host_link = host, HostLink.MANAGED
        elif managers[host.pk] == account_id:
            # A sibling connection of the account manages them: the membership only.
            user.host_user, user.host_link = host, HostLink.MEMBER
        else:
            user.host_link = HostLink.BLOCKED
            report.skip(
                "link", item.source_id, user.user_name, "managed by another account's connection"
            )
        if user.host_user is not None:
            linked_here.add(host.pk)
        rows.append(user)
    DirectoryUser.objects.bulk_create(rows)
    DirectoryUserValue.objects.bulk_create(
        [value for user in rows for value in value_rows(user)], batch_size=1000
    )
    with recording(connection, actor) as events:
        for user in rows:
            user.connection = connection
            call_adapter("user_imported", user)
            _record_user(user, connection.imported_from, events)
    report.users += len(rows)
    report.linked += sum(1 for user in rows if user.host_user_id is not None)
    report.legacy_ids += sum(1 for user in rows if user.legacy_id is not None)
    report.kept_ids += sum(1 for user in rows if user.legacy_id is None)
    return rows


def _domain_owners(host_users: Sequence[Any]) -> dict[Any, Any]:
    """The account each of ``host_users`` (by pk) belongs to by their email's domain,
    verified for it; those on no verified domain are left out."""
    field_name = get_user_model().get_email_field_name()
    domains = {
        user.pk: domain
        for user in host_users
        if (domain := domain_of(getattr(user, field_name, None) or "")) is not None
    }
    verified: dict[str, Any] = {}
    for chunk in _chunks(sorted(set(domains.values()))):
        rows = AccountDomain.objects.filter(domain__in=chunk, verified_at__isnull=False)
        verified |= dict(rows.values_list("domain", "account_id"))
    return {pk: verified[domain] for pk, domain in domains.items() if domain in verified}


def _record_user(user: DirectoryUser, source: str, events: EventRecorder) -> None:
    events.add(
        EventType.USER_CREATED,
        "User",
        user.id,
        {
            "userName": user.user_name,
            "externalId": user.external_id,
            "role": user.role,
            "host_link": HostLink.public(user.host_link),
            "imported_from": source,
        },
    )
    if user.host_user_id is not None:
        changes = {"userName": user.user_name, "host_user": user.host_user_id, "how": "imported"}
        events.add(EventType.USER_LINKED, "User", user.id, changes)


def _user_ids(connection: Connection, source_ids: Sequence[str]) -> dict[str, uuid.UUID]:
    """The directory user ids of ``connection`` named by ``source_ids`` (an id kept as
    the primary key, or a legacy id), by source id."""
    found: dict[str, uuid.UUID] = {}
    for chunk in _chunks(sorted(set(source_ids))):
        keys = [key for key, _legacy in map(_key_of, chunk) if key is not None]
        rows = DirectoryUser.objects.filter(
            Q(legacy_id__in=chunk) | Q(pk__in=keys), connection=connection
        ).values_list("pk", "legacy_id")
        for pk, legacy in rows:
            found[legacy if legacy is not None else str(pk)] = pk
    return found


@transaction.atomic
def import_groups(
    connection: Connection,
    groups: Sequence[ImportedGroup],
    report: ImportReport,
    *,
    actor: Actor = SYSTEM,
) -> list[DirectoryGroup]:
    """Write ``groups`` with their memberships (of users imported before) into
    ``connection``'s directory in one transaction, counted in ``report``."""
    ready = _new_resources(DirectoryGroup, connection, groups, report)
    members = _user_ids(connection, [m for item, *_ in ready for m in item.member_ids])
    now = timezone.now()
    written: list[tuple[DirectoryGroup, set[uuid.UUID]]] = []
    for item, columns, pk, legacy in ready:
        group = DirectoryGroup(
            id=pk,
            legacy_id=legacy,
            connection=connection,
            attributes=item.document,
            created=item.created or now,
            last_modified=item.last_modified or item.created or now,
            **columns,
        )
        user_ids: set[uuid.UUID] = set()
        for member in item.member_ids:
            if member in members:
                user_ids.add(members[member])
            else:
                report.skip("membership", member, group.display_name, "its user was not imported")
        written.append((group, user_ids))
    DirectoryGroup.objects.bulk_create([group for group, _ in written])
    GroupMembership.objects.bulk_create(
        [
            GroupMembership(group=group, user_id=user_id)
            for group, user_ids in written
            for user_id in user_ids
        ],
        batch_size=1000,
    )
    with recording(connection, actor) as events:
        for group, user_ids in written:
            group.connection = connection
            call_adapter("group_imported", group, user_ids)
            events.add(
                EventType.GROUP_CREATED,
                "Group",
                group.id,
                {"displayName": group.display_name, "imported_from": connection.imported_from},
            )
            if user_ids:
                events.add(EventType.GROUP_MEMBERS_ADDED, "Group", group.id, id_list(user_ids))
    report.groups += len(written)
    report.memberships += sum(len(user_ids) for _, user_ids in written)
    report.legacy_ids += sum(1 for group, _ in written if group.legacy_id is not None)
    report.kept_ids += sum(1 for group, _ in written if group.legacy_id is None)
    return [group for group, _ in written]
