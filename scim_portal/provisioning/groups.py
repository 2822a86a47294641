"""Writing directory groups and their memberships, as set operations in the database."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from django.db import transaction
from django.utils import timezone

from ..models import (
    Connection,
    DirectoryGroup,
    DirectoryUser,
    EventType,
    GroupMembership,
    RoleMapping,
)
from ..models.folding import fold
from .documents import (
    Document,
    call_adapter,
    check_version,
    group_columns,
    locked,
    save_unique,
)
from .events import SYSTEM, Actor, EventRecorder, diff, id_list, recording
from .exceptions import (
    InvalidMembers,
)
from .roles import recompute_roles, record_mapping_removed
from .safety import hold_group_removals


@dataclass(frozen=True)
class MemberChange:
    """One change of a group's members, applied in order with the others.

    ``displays`` maps a user id to the ``display`` the IdP sent for it.
    """

    kind: Literal["add", "remove", "replace", "remove_all"]
    user_ids: tuple[str, ...] = ()
    displays: tuple[tuple[str, str], ...] = ()


def _member_ids(
    connection: Connection, values: Iterable[str], *, strict: bool = True
) -> set[uuid.UUID]:
    """The user ids named by ``values`` (ids, or legacy ids an import kept); unless all
    are users of ``connection``, :class:`InvalidMembers` (``strict``) or only the users
    (for removals)."""
    ids: set[uuid.UUID] = set()
    legacy: set[str] = set()
    for value in values:
        try:
            ids.add(uuid.UUID(str(value)))
        except ValueError:
            legacy.add(str(value))
    found: set[uuid.UUID] = set()
    invalid: set[str] = set()
    if ids:
        found = set(
            DirectoryUser.objects.filter(connection=connection, pk__in=ids).values_list(
                "pk", flat=True
            )
        )
        invalid = {str(missing) for missing in ids - found}
    if legacy:
        known = dict(
            DirectoryUser.objects.filter(connection=connection, legacy_id__in=legacy).values_list(
                "legacy_id", "pk"
            )
        )
        invalid |= legacy - known.keys()
        found |= set(known.values())
    if invalid and strict:
        raise InvalidMembers(invalid)
    return found


def _apply_member_changes(
    connection: Connection, group: DirectoryGroup, changes: Iterable[MemberChange]
) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    """Apply ``changes`` in order; the net ``(added, removed)`` user ids."""
    added: set[uuid.UUID] = set()
    removed: set[uuid.UUID] = set()

    def gone(user_ids: Iterable[uuid.UUID]) -> None:
        for user_id in user_ids:
            if user_id in added:
                added.discard(user_id)
            else:
                removed.add(user_id)

    for change in changes:
        ids = _member_ids(connection, change.user_ids, strict=change.kind != "remove")
        memberships = GroupMembership.objects.filter(group=group)
        if change.kind == "remove_all":
            leaving = memberships
        elif change.kind == "remove":
            leaving = memberships.filter(user_id__in=ids) if ids else memberships.none()
        elif change.kind == "replace":
            leaving = memberships.exclude(user_id__in=ids)
        else:
            leaving = memberships.none()
        left = set(leaving.values_list("user_id", flat=True))
        if left:
            memberships.filter(user_id__in=left).delete()
            gone(left)
        if change.kind in {"add", "replace"} and ids:
            present = set(memberships.filter(user_id__in=ids).values_list("user_id", flat=True))
            new = ids - present
            displays = {str(user_id): display[:255] for user_id, display in change.displays}
            # ignore_conflicts: a concurrent request may have added the same member.
            GroupMembership.objects.bulk_create(
                [
                    GroupMembership(
                        group=group, user_id=user_id, display=displays.get(str(user_id), "")
                    )
                    for user_id in new
                ],
                ignore_conflicts=True,
            )
            for user_id in new:
                if user_id in removed:
                    removed.discard(user_id)
                else:
                    added.add(user_id)
    return added, removed


def _members_changed(
    connection: Connection,
    group: DirectoryGroup,
    added: set[uuid.UUID],
    removed: set[uuid.UUID],
    events: EventRecorder,
) -> None:
    if added:
        call_adapter("members_added", group, added)
        events.add(EventType.GROUP_MEMBERS_ADDED, "Group", group.id, id_list(added))
    if removed:
        # People whose removal the brake holds keep their host groups until it is decided.
        leaving = hold_group_removals(connection, group, removed)
        if leaving:
            call_adapter("members_removed", group, leaving)
        events.add(EventType.GROUP_MEMBERS_REMOVED, "Group", group.id, id_list(removed))
    if (added or removed) and RoleMapping.objects.filter(group=group).exists():
        recompute_roles(connection, added | removed, events)


@transaction.atomic
def create_group(
    connection: Connection,
    document: Document,
    members: MemberChange | None = None,
    *,
    actor: Actor = SYSTEM,
) -> DirectoryGroup:
    """Create a group with its members (an ``add`` change of users of the same connection)."""
    with recording(connection, actor) as events:
        group = DirectoryGroup(
            connection=connection, attributes=document, **group_columns(document)
        )
        save_unique(group, "displayName", group.display_name, force_insert=True)
        call_adapter("group_created", group)
        events.add(EventType.GROUP_CREATED, "Group", group.id, {"displayName": group.display_name})
        if members is not None:
            added, removed = _apply_member_changes(connection, group, [members])
            _members_changed(connection, group, added, removed, events)
    return group


@transaction.atomic
def update_group(
    connection: Connection,
    group_id: Any,
    build: Callable[[DirectoryGroup], Document] | None = None,
    member_changes: Iterable[MemberChange] = (),
    *,
    if_match: str | None = None,
    actor: Actor = SYSTEM,
) -> tuple[DirectoryGroup, bool]:
    """Change a group's document (``build(locked group)``) and members, atomically.

    Member changes cost the same few queries whatever the group's size: they
    are set operations on the membership table, never a load of all members.
    """
    group = locked(DirectoryGroup, connection, group_id)
    check_version(group, if_match)
    with recording(connection, actor) as events:
        old_name, old_document = group.display_name, group.attributes
        document_changed = False
        if build is not None:
            document = build(group)
            if document != group.attributes:
                for field, value in group_columns(document).items():
                    setattr(group, field, value)
                group.attributes = document
                document_changed = True
        added, removed = _apply_member_changes(connection, group, member_changes)
        if document_changed or added or removed:
            group.version += 1
            group.last_modified = timezone.now()
            if fold(group.display_name) != fold(old_name):
                save_unique(group, "displayName", group.display_name)
            elif document_changed:
                group.save()
            else:
                group.save(update_fields=["version", "last_modified"])
        if document_changed:
            changes = diff(old_document, group.attributes)
            call_adapter("group_updated", group, changes)
            events.add(EventType.GROUP_UPDATED, "Group", group.id, changes)
        _members_changed(connection, group, added, removed, events)
    return group, bool(document_changed or added or removed)


@transaction.atomic
def delete_group(
    connection: Connection, group_id: Any, *, if_match: str | None = None, actor: Actor = SYSTEM
) -> None:
    """Delete a group with its memberships; its members' roles are recomputed."""
    group = locked(DirectoryGroup, connection, group_id)
    check_version(group, if_match)
    with recording(connection, actor) as events:
        mapping = RoleMapping.objects.filter(group=group).first()
        members = (
            set(GroupMembership.objects.filter(group=group).values_list("user_id", flat=True))
            if mapping is not None
            else set()
        )
        call_adapter("group_deleted", group)
        events.add(EventType.GROUP_DELETED, "Group", group.id, {"displayName": group.display_name})
        if mapping is not None:  # goes with its group
            record_mapping_removed(events, mapping, group)
        group.delete()
        recompute_roles(connection, members, events)
