"""Writing the directory: users, groups and memberships of one connection.

Every function runs in one transaction; updates lock the resource row first, so
concurrent writes to one resource apply one after the other and none is lost.
Documents are SCIM resources as stored (what the IdP wrote, minus ``id``,
``meta``, ``password`` and the read-only ``groups``); the indexed columns are
derived from them here, so every caller gets the same columns.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import (
    Connection,
    DirectoryGroup,
    DirectoryUser,
    DirectoryUserValue,
    EmailDomainPolicy,
    EventType,
    GroupMembership,
    HostLink,
    RoleMapping,
)
from ..models.folding import fold
from .adapter import get_adapter
from .domains import domain_of, owner_of_email
from .events import SYSTEM, Actor, EventRecorder, diff, id_list, recording
from .exceptions import (
    EmailOutsideDomains,
    HostProvisioningFailed,
    InvalidDocument,
    InvalidMembers,
    ResourceNotFound,
    UniquenessConflict,
    VersionMismatch,
)

Document = dict[str, Any]
#: Bytes of a folded key an index entry holds safely (PostgreSQL's B-tree stops near
#: 2,700): 255 characters that each fold to three 4-byte ones would not fit.
MAX_KEY_BYTES = 2600
VALUE_KEY_LENGTH = 255


def _text(
    document: Document, key: str, limit: int, *, required: bool = False, folded: bool = False
) -> str | None:
    value = document.get(key)
    if value is None or value == "":
        if required:
            raise InvalidDocument(f"{key} is required.")
        return None
    value = str(value)
    if len(value) > limit:
        raise InvalidDocument(f"{key} is longer than {limit} characters.")
    if folded and len(fold(value).encode()) > MAX_KEY_BYTES:
        raise InvalidDocument(f"{key} is too long once case-folded.")
    return value


def _primary_email(document: Document) -> str:
    emails = [e for e in document.get("emails") or [] if isinstance(e, dict) and e.get("value")]
    primary = next((e for e in emails if e.get("primary") is True), emails[0] if emails else None)
    value = str(primary["value"]) if primary else ""
    return value if len(value) <= 254 else ""


def user_columns(document: Document) -> dict[str, Any]:
    """The indexed columns of a user document."""
    return {
        "user_name": _text(document, "userName", 255, required=True, folded=True),
        "external_id": _text(document, "externalId", 255),
        "display_name": _text(document, "displayName", 255, folded=True) or "",
        "email": _primary_email(document),
        "active": document.get("active") if isinstance(document.get("active"), bool) else None,
    }


def group_columns(document: Document) -> dict[str, Any]:
    """The indexed columns of a group document."""
    return {
        "display_name": _text(document, "displayName", 255, required=True, folded=True),
        "external_id": _text(document, "externalId", 255),
    }


def _multi_valued_items(document: Document) -> Iterable[tuple[str, list[dict[str, Any]]]]:
    """``(attribute key, items)`` of every multi-valued complex attribute."""
    for key, value in document.items():
        if key.lower().startswith("urn:") and isinstance(value, dict):
            for sub_key, sub_value in value.items():
                if _is_item_list(sub_value):
                    yield f"{key}:{sub_key}".lower(), sub_value
        elif key != "groups" and _is_item_list(value):
            yield key.lower(), value


def _is_item_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _value_rows(user: DirectoryUser) -> list[DirectoryUserValue]:
    rows = []
    for attribute, items in _multi_valued_items(user.attributes):
        for position, item in enumerate(items):
            raw_type, value = item.get("type"), item.get("value")
            value_key = fold(str(value)) if value is not None else None
            if value_key is not None and len(value_key) > VALUE_KEY_LENGTH:
                value_key = None  # too long to index; compared through ``item``
            rows.append(
                DirectoryUserValue(
                    user=user,
                    connection_id=user.connection_id,
                    attribute=attribute[:255],
                    position=position,
                    type=str(raw_type).lower()[:64] if raw_type is not None else None,
                    primary=item.get("primary") if isinstance(item.get("primary"), bool) else None,
                    value_key=value_key
                    if value_key and len(value_key) <= VALUE_KEY_LENGTH
                    else None,
                    item=item,
                )
            )
    return rows


def _multi_valued_part(document: Document) -> list[tuple[str, list[dict[str, Any]]]]:
    return sorted(_multi_valued_items(document), key=lambda pair: pair[0])


def _save_unique(
    obj: DirectoryUser | DirectoryGroup, attribute: str, value: str, **kw: Any
) -> None:
    # No savepoint of its own: every caller is an atomic service function, so the
    # conflict rolls back the whole change, which is what a SCIM 409 means.
    try:
        obj.save(**kw)
    except IntegrityError as exc:
        raise UniquenessConflict(attribute, value) from exc


def _locked(model: Any, connection: Connection, resource_id: Any) -> Any:
    try:
        return model.objects.select_for_update().get(connection=connection, pk=resource_id)
    except (model.DoesNotExist, ValidationError, ValueError, TypeError):
        raise ResourceNotFound(f"No {model._meta.verbose_name} with id {resource_id}.") from None


def call_adapter(hook: str, *args: Any, **kwargs: Any) -> None:
    """Call the host adapter; any failure becomes :class:`HostProvisioningFailed`."""
    try:
        getattr(get_adapter(), hook)(*args, **kwargs)
    except HostProvisioningFailed:
        raise
    except Exception as exc:
        raise HostProvisioningFailed(hook) from exc


def _is_active(value: bool | None) -> bool:
    return value is not False


def _check_version(resource: DirectoryUser | DirectoryGroup, if_match: str | None) -> None:
    if if_match is None:
        return
    accepted = {tag.strip() for tag in if_match.split(",")}
    if "*" in accepted:
        return
    current = resource.etag
    if current not in accepted and current.removeprefix("W/") not in accepted:
        raise VersionMismatch(f"The resource is at version {current}.")


# Users


def check_email_domain(connection: Connection, user: DirectoryUser) -> str:
    """Apply the connection's policy for emails outside the account's verified domains:
    "" if the user's email is fine, a warning to flag, or :class:`EmailOutsideDomains`."""
    policy, email = connection.out_of_domain_policy, user.email
    if not email or policy == EmailDomainPolicy.ACCEPT:
        return ""
    if owner_of_email(user) == connection.account_id:
        return ""
    if policy == EmailDomainPolicy.REJECT:
        raise EmailOutsideDomains(domain_of(email) or email)
    return f"The email {email} is outside the account's verified domains."


@transaction.atomic
def create_user(
    connection: Connection, document: Document, *, actor: Actor = SYSTEM
) -> DirectoryUser:
    """Create a user; :class:`UniquenessConflict` if the userName is taken,
    :class:`EmailOutsideDomains` if the connection rejects its email. ``user.warning``
    says what was accepted but flagged."""
    with recording(connection, actor) as events:
        user = DirectoryUser(
            connection=connection,
            attributes=document,
            role=connection.default_role,
            **user_columns(document),
        )
        user.warning = check_email_domain(connection, user)
        _save_unique(user, "userName", user.user_name, force_insert=True)
        DirectoryUserValue.objects.bulk_create(_value_rows(user))
        call_adapter("user_created", user)
        summary = {"userName": user.user_name, "externalId": user.external_id}
        events.add(
            EventType.USER_CREATED,
            "User",
            user.id,
            {**summary, "role": user.role, "host_link": HostLink.public(user.host_link)},
        )
        _record_claim(user, events)
    return user


def _record_claim(user: DirectoryUser, events: EventRecorder) -> None:
    """A ``user.linked`` event when the adapter linked an existing host user."""
    if user.claimed and user.host_user_id is not None:
        how = "claimed" if user.host_link == HostLink.MANAGED else "linked"
        changes = {"userName": user.user_name, "host_user": user.host_user_id, "how": how}
        events.add(EventType.USER_LINKED, "User", user.id, changes)


@transaction.atomic
def update_user(
    connection: Connection,
    user_id: Any,
    build: Callable[[DirectoryUser], Document],
    *,
    if_match: str | None = None,
    actor: Actor = SYSTEM,
) -> tuple[DirectoryUser, bool]:
    """Replace a user's document with ``build(locked user)``.

    ``build`` sees the row locked, so a PATCH computed from the current document
    cannot lose a concurrent write. Returns the user and whether it changed; an
    unchanged document keeps its version.
    """
    user = _locked(DirectoryUser, connection, user_id)
    _check_version(user, if_match)
    document = build(user)
    if document == user.attributes:
        return user, False
    with recording(connection, actor) as events:
        old_document, was_active = user.attributes, _is_active(user.active)
        values_changed = _multi_valued_part(document) != _multi_valued_part(old_document)
        old_user_name, old_email = user.user_name, user.email
        for field, value in user_columns(document).items():
            setattr(user, field, value)
        if user.email.lower() != old_email.lower():
            user.warning = check_email_domain(connection, user)
        user.attributes = document
        user.version += 1
        user.last_modified = timezone.now()
        if fold(user.user_name) != fold(old_user_name):
            _save_unique(user, "userName", user.user_name)
        else:
            user.save()
        if values_changed:
            DirectoryUserValue.objects.filter(user=user).delete()
            DirectoryUserValue.objects.bulk_create(_value_rows(user))
        changes = diff(old_document, document)
        changes.pop("active", None)
        if changes:
            call_adapter("user_updated", user, changes)
            events.add(EventType.USER_UPDATED, "User", user.id, changes)
            _record_claim(user, events)
        if was_active and not _is_active(user.active):
            call_adapter("user_deactivated", user)
            events.add(EventType.USER_DEACTIVATED, "User", user.id, {"userName": user.user_name})
        elif not was_active and _is_active(user.active):
            call_adapter("user_reactivated", user)
            events.add(EventType.USER_REACTIVATED, "User", user.id, {"userName": user.user_name})
    return user, True


@transaction.atomic
def delete_user(
    connection: Connection, user_id: Any, *, if_match: str | None = None, actor: Actor = SYSTEM
) -> None:
    """Delete a user with its memberships."""
    user = _locked(DirectoryUser, connection, user_id)
    _check_version(user, if_match)
    with recording(connection, actor) as events:
        call_adapter("user_deleted", user)
        events.add(EventType.USER_DELETED, "User", user.id, {"userName": user.user_name})
        user.delete()


def link_pending_users(account: Any, domain: str, *, actor: Actor = SYSTEM) -> int:
    """Give every directory user of ``account`` whose email is on ``domain`` (just
    verified) and who is not linked yet another chance to be linked, each in its own
    transaction; the number now linked."""
    pending = DirectoryUser.objects.filter(
        connection__account=account, host_link__in=[HostLink.AWAITING, HostLink.BLOCKED]
    ).values_list("pk", "email")
    linked = 0
    for pk, email in pending.iterator():
        if domain_of(email) == domain:
            linked += _link_pending(pk, actor)
    return linked


@transaction.atomic
def _link_pending(pk: Any, actor: Actor) -> int:
    user = DirectoryUser.objects.select_for_update().select_related("connection").get(pk=pk)
    with recording(user.connection, actor) as events:
        call_adapter("link_pending", user)
        _record_claim(user, events)
    return int(user.host_link in {HostLink.MANAGED, HostLink.MEMBER})


# Roles


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
    for user, old, new in changed:
        user.connection = connection
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


# Groups


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
    """The user ids named by ``values``; unless all are users of ``connection``,
    :class:`InvalidMembers` (``strict``) or only the users (for removals)."""
    ids: set[uuid.UUID] = set()
    invalid: set[str] = set()
    for value in values:
        try:
            ids.add(uuid.UUID(str(value)))
        except ValueError:
            invalid.add(str(value))
    found: set[uuid.UUID] = set()
    if ids:
        found = set(
            DirectoryUser.objects.filter(connection=connection, pk__in=ids).values_list(
                "pk", flat=True
            )
        )
        invalid |= {str(missing) for missing in ids - found}
    if invalid and strict:
        raise InvalidMembers(invalid)
    return ids if strict else found if ids else set()


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
        call_adapter("members_removed", group, removed)
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
        _save_unique(group, "displayName", group.display_name, force_insert=True)
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
    group = _locked(DirectoryGroup, connection, group_id)
    _check_version(group, if_match)
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
                _save_unique(group, "displayName", group.display_name)
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
    group = _locked(DirectoryGroup, connection, group_id)
    _check_version(group, if_match)
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
            changes = {
                "group": str(group.pk),
                "displayName": group.display_name,
                "role": {"old": mapping.role, "new": None},
            }
            events.add(EventType.ROLE_MAPPING_REMOVED, "RoleMapping", mapping.pk, changes)
        group.delete()
        recompute_roles(connection, members, events)


# Role mappings and policies


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
        changes = {
            "group": str(group.pk),
            "displayName": group.display_name,
            "role": {"old": mapping.role, "new": None},
        }
        events.add(EventType.ROLE_MAPPING_REMOVED, "RoleMapping", mapping.pk, changes)
    mapping.delete()
    _recompute_group_members(connection, group, actor)


def _recompute_group_members(connection: Connection, group: DirectoryGroup, actor: Actor) -> None:
    member_ids = list(GroupMembership.objects.filter(group=group).values_list("user_id", flat=True))
    with recording(connection, actor) as events:
        for start in range(0, len(member_ids), 1000):
            recompute_roles(connection, member_ids[start : start + 1000], events)


#: Connection fields a person may change, with how an event shows them.
SETTINGS_FIELDS = (
    "name",
    "link_policy",
    "deprovision_policy",
    "out_of_domain_policy",
    "default_role",
)


@transaction.atomic
def update_connection_settings(
    connection: Connection, *, actor: Actor = SYSTEM, **fields: Any
) -> Connection:
    """Change the connection's name, policies or default role; a ``connection.updated``
    event records who changed what (old and new values).

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
