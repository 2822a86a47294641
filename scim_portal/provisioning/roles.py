"""Roles from group mappings: recomputing users' roles, setting and removing mappings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from ..models import (
    Connection,
    DirectoryGroup,
    DirectoryUser,
    EventType,
    GroupMembership,
    RoleMapping,
)
from .documents import call_adapter
from .events import SYSTEM, Actor, EventRecorder, recording
from .exceptions import (
    ResourceNotFound,
)
from .safety import held_ids


def recompute_roles(
    connection: Connection, user_ids: Iterable[Any], events: EventRecorder
) -> set[Any]:
    """Give each user the role of its mapped group with the lowest precedence, else
    the connection's default; tell the adapter and record what changed."""
    ids = set(user_ids)
    if not ids:
        return set()
    best: dict[Any, str] = {}
    rows = (
        GroupMembership.objects.filter(user_id__in=ids, group__role_mappings__connection=connection)
        .order_by("group__role_mappings__precedence", "group__role_mappings__id")
        .values_list("user_id", "group__role_mappings__role")
    )
    for user_id, role in rows:
        best.setdefault(user_id, role)
    changed = []
    for user in DirectoryUser.objects.filter(connection=connection, pk__in=ids).select_related(
        "host_user"
    ):
        new = best.get(user.pk, connection.default_role)
        if new != user.role:
            old, user.role = user.role, new
            changed.append((user, old, new))
    DirectoryUser.objects.bulk_update([user for user, _old, _new in changed], ["role"])
    # People whose removal the brake holds keep their host role until it is decided.
    waiting = held_ids(connection, [user.pk for user, _old, _new in changed])
    for user, old, new in changed:
        user.connection = connection
        if user.pk not in waiting:
            call_adapter("roles_changed", user, old, new)
        events.add(EventType.ROLES_CHANGED, "User", user.pk, {"role": {"old": old, "new": new}})
    return {user.pk for user, _old, _new in changed}


@transaction.atomic
def recompute_all_roles(connection: Connection, *, actor: Actor = SYSTEM, batch: int = 1000) -> int:
    """Recompute every user's role (after the role mapping or default role changed)."""
    changed = 0
    last = None
    with recording(connection, actor) as events:
        while True:
            page = DirectoryUser.objects.filter(connection=connection).order_by("pk")
            if last is not None:
                page = page.filter(pk__gt=last)
            ids = list(page.values_list("pk", flat=True)[:batch])
            if not ids:
                break
            changed += len(recompute_roles(connection, ids, events))
            last = ids[-1]
    return changed


@transaction.atomic
def set_role_mapping(
    connection: Connection,
    group: DirectoryGroup,
    role: str,
    *,
    precedence: int = 100,
    actor: Actor = SYSTEM,
) -> RoleMapping:
    """Members of ``group`` get ``role`` (lowest precedence wins); roles recomputed now."""
    if group.connection_id != connection.pk:
        raise ResourceNotFound("The group is not in this connection.")
    old = RoleMapping.objects.filter(group=group).first()
    if old is not None and (old.role, old.precedence) == (role, precedence):
        return old
    mapping, _ = RoleMapping.objects.update_or_create(
        group=group, defaults={"connection": connection, "role": role, "precedence": precedence}
    )
    with recording(connection, actor) as events:
        changes = {
            "group": str(group.pk),
            "displayName": group.display_name,
            "role": {"old": old.role if old else None, "new": role},
            "precedence": {"old": old.precedence if old else None, "new": precedence},
        }
        events.add(EventType.ROLE_MAPPING_SET, "RoleMapping", mapping.pk, changes)
    _recompute_group_members(connection, group, actor)
    return mapping


@transaction.atomic
def remove_role_mapping(
    connection: Connection, group: DirectoryGroup, *, actor: Actor = SYSTEM
) -> None:
    """Stop giving a role to ``group``'s members; their roles are recomputed now."""
    mapping = RoleMapping.objects.filter(connection=connection, group=group).first()
    if mapping is None:
        return
    with recording(connection, actor) as events:
        record_mapping_removed(events, mapping, group)
    mapping.delete()
    _recompute_group_members(connection, group, actor)


def record_mapping_removed(events: EventRecorder, mapping: RoleMapping, group: Any) -> None:
    """A ``role_mapping.removed`` event: the mapping was removed, or went with its group."""
    changes = {
        "group": str(group.pk),
        "displayName": group.display_name,
        "role": {"old": mapping.role, "new": None},
    }
    events.add(EventType.ROLE_MAPPING_REMOVED, "RoleMapping", mapping.pk, changes)


def _recompute_group_members(connection: Connection, group: DirectoryGroup, actor: Actor) -> None:
    member_ids = list(GroupMembership.objects.filter(group=group).values_list("user_id", flat=True))
    with recording(connection, actor) as events:
        for start in range(0, len(member_ids), 1000):
            recompute_roles(connection, member_ids[start : start + 1000], events)
