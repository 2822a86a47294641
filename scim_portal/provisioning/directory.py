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

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import (
    Connection,
    DirectoryGroup,
    DirectoryUser,
    DirectoryUserValue,
    GroupMembership,
)
from .exceptions import (
    InvalidDocument,
    InvalidMembers,
    ResourceNotFound,
    UniquenessConflict,
    VersionMismatch,
)

Document = dict[str, Any]
VALUE_KEY_LENGTH = 255


def _text(document: Document, key: str, limit: int, *, required: bool = False) -> str | None:
    value = document.get(key)
    if value is None or value == "":
        if required:
            raise InvalidDocument(f"{key} is required.")
        return None
    value = str(value)
    if len(value) > limit:
        raise InvalidDocument(f"{key} is longer than {limit} characters.")
    return value


def _primary_email(document: Document) -> str:
    emails = [e for e in document.get("emails") or [] if isinstance(e, dict) and e.get("value")]
    primary = next((e for e in emails if e.get("primary") is True), emails[0] if emails else None)
    value = str(primary["value"]) if primary else ""
    return value if len(value) <= 254 else ""


def user_columns(document: Document) -> dict[str, Any]:
    """The indexed columns of a user document."""
    return {
        "user_name": _text(document, "userName", 255, required=True),
        "external_id": _text(document, "externalId", 255),
        "display_name": _text(document, "displayName", 255) or "",
        "email": _primary_email(document),
        "active": document.get("active") if isinstance(document.get("active"), bool) else None,
    }


def group_columns(document: Document) -> dict[str, Any]:
    """The indexed columns of a group document."""
    return {
        "display_name": _text(document, "displayName", 255, required=True),
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
            value_key = str(value).lower() if value is not None else None
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
    try:
        with transaction.atomic():
            obj.save(**kw)
    except IntegrityError as exc:
        raise UniquenessConflict(attribute, value) from exc


def _locked(model: Any, connection: Connection, resource_id: Any) -> Any:
    try:
        return model.objects.select_for_update().get(connection=connection, pk=resource_id)
    except (model.DoesNotExist, ValueError, TypeError):
        raise ResourceNotFound(f"No {model._meta.verbose_name} with id {resource_id}.") from None


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


@transaction.atomic
def create_user(connection: Connection, document: Document) -> DirectoryUser:
    """Create a user; :class:`UniquenessConflict` if the userName is taken."""
    user = DirectoryUser(connection=connection, attributes=document, **user_columns(document))
    _save_unique(user, "userName", user.user_name, force_insert=True)
    DirectoryUserValue.objects.bulk_create(_value_rows(user))
    return user


@transaction.atomic
def update_user(
    connection: Connection,
    user_id: Any,
    build: Callable[[DirectoryUser], Document],
    *,
    if_match: str | None = None,
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
    values_changed = _multi_valued_part(document) != _multi_valued_part(user.attributes)
    old_user_name = user.user_name
    for field, value in user_columns(document).items():
        setattr(user, field, value)
    user.attributes = document
    user.version += 1
    user.last_modified = timezone.now()
    if user.user_name.lower() != old_user_name.lower():
        _save_unique(user, "userName", user.user_name)
    else:
        user.save()
    if values_changed:
        DirectoryUserValue.objects.filter(user=user).delete()
        DirectoryUserValue.objects.bulk_create(_value_rows(user))
    return user, True


@transaction.atomic
def delete_user(connection: Connection, user_id: Any, *, if_match: str | None = None) -> None:
    """Delete a user with its memberships."""
    user = _locked(DirectoryUser, connection, user_id)
    _check_version(user, if_match)
    user.delete()


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
) -> bool:
    changed = False
    for change in changes:
        ids = _member_ids(connection, change.user_ids, strict=change.kind != "remove")
        memberships = GroupMembership.objects.filter(group=group)
        if change.kind == "remove_all":
            changed |= memberships.delete()[0] > 0
        elif change.kind == "remove":
            changed |= bool(ids) and memberships.filter(user_id__in=ids).delete()[0] > 0
        else:
            if change.kind == "replace":
                changed |= memberships.exclude(user_id__in=ids).delete()[0] > 0
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
            changed |= bool(new)
    return changed


@transaction.atomic
def create_group(
    connection: Connection, document: Document, members: MemberChange | None = None
) -> DirectoryGroup:
    """Create a group with its members (an ``add`` change of users of the same connection)."""
    group = DirectoryGroup(connection=connection, attributes=document, **group_columns(document))
    _save_unique(group, "displayName", group.display_name, force_insert=True)
    if members is not None:
        _apply_member_changes(connection, group, [members])
    return group


@transaction.atomic
def update_group(
    connection: Connection,
    group_id: Any,
    build: Callable[[DirectoryGroup], Document] | None = None,
    member_changes: Iterable[MemberChange] = (),
    *,
    if_match: str | None = None,
) -> tuple[DirectoryGroup, bool]:
    """Change a group's document (``build(locked group)``) and members, atomically.

    Member changes cost the same few queries whatever the group's size: they
    are set operations on the membership table, never a load of all members.
    """
    group = _locked(DirectoryGroup, connection, group_id)
    _check_version(group, if_match)
    old_name = group.display_name
    document_changed = False
    if build is not None:
        document = build(group)
        if document != group.attributes:
            for field, value in group_columns(document).items():
                setattr(group, field, value)
            group.attributes = document
            document_changed = True
    members_changed = _apply_member_changes(connection, group, member_changes)
    if document_changed or members_changed:
        group.version += 1
        group.last_modified = timezone.now()
        if group.display_name.lower() != old_name.lower():
            _save_unique(group, "displayName", group.display_name)
        elif document_changed:
            group.save()
        else:
            group.save(update_fields=["version", "last_modified"])
    return group, document_changed or members_changed


@transaction.atomic
def delete_group(connection: Connection, group_id: Any, *, if_match: str | None = None) -> None:
    """Delete a group with its memberships."""
    group = _locked(DirectoryGroup, connection, group_id)
    _check_version(group, if_match)
    group.delete()
