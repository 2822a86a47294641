"""Documents and their columns, and what every directory write shares.

Documents are SCIM resources as stored (what the IdP wrote, minus ``id``, ``meta``,
secrets and the read-only ``groups``); the indexed columns the registry names
(:mod:`scim_portal.models.indexed`) are derived from them here, so every caller gets
the same columns. Updates lock the resource row first (:func:`locked`), so concurrent
writes to one resource apply one after the other."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError

from ..models import (
    Connection,
    DirectoryGroup,
    DirectoryUser,
    DirectoryUserValue,
)
from ..models.directory import VALUE_KEY_LENGTH, resource_key
from ..models.folding import fold
from ..models.indexed import (
    GROUP_COLUMNS,
    USER_COLUMNS,
    ColumnType,
    IndexedAttribute,
    IndexedColumns,
)
from .adapter import get_adapter
from .exceptions import (
    HostProvisioningFailed,
    InvalidDocument,
    ResourceNotFound,
    UniquenessConflict,
    VersionMismatch,
)

Document = dict[str, Any]
#: Bytes of a folded key an index entry holds safely (PostgreSQL's B-tree stops near
#: 2,700): 255 characters that each fold to three 4-byte ones would not fit.
MAX_KEY_BYTES = 2600


def _text(value: Any, path: str, limit: int, *, required: bool, folded: bool) -> str | None:
    if value is None or value == "":
        if required:
            raise InvalidDocument(f"{path} is required.")
        return None
    value = str(value)
    if len(value) > limit:
        raise InvalidDocument(f"{path} is longer than {limit} characters.")
    if folded and len(fold(value).encode()) > MAX_KEY_BYTES:
        raise InvalidDocument(f"{path} is too long once case-folded.")
    return value


def columns(indexed: IndexedColumns, document: Document) -> dict[str, Any]:
    """The indexed columns (:mod:`scim_portal.models.indexed`) of ``document``;
    :class:`InvalidDocument` if one of them cannot hold its value."""
    return {
        attribute.field: _column(indexed, attribute, document)
        for attribute in indexed
        if attribute.written
    }


def _column(indexed: IndexedColumns, attribute: IndexedAttribute, document: Document) -> Any:
    if attribute.read is not None:
        return attribute.read(document)
    value = attribute.value_in(document)
    if attribute.type is ColumnType.BOOLEAN:
        return value if isinstance(value, bool) else None
    field = indexed.model_field(attribute)
    text = _text(
        value,
        attribute.path,
        field.max_length,
        required=attribute.required,
        folded=bool(attribute.folded_key),
    )
    return "" if text is None and not field.null else text


def user_columns(document: Document) -> dict[str, Any]:
    """The indexed columns of a user document."""
    return columns(USER_COLUMNS, document)


def group_columns(document: Document) -> dict[str, Any]:
    """The indexed columns of a group document."""
    return columns(GROUP_COLUMNS, document)


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


def value_rows(user: DirectoryUser) -> list[DirectoryUserValue]:
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


def multi_valued_part(document: Document) -> list[tuple[str, list[dict[str, Any]]]]:
    return sorted(_multi_valued_items(document), key=lambda pair: pair[0])


def save_unique(obj: DirectoryUser | DirectoryGroup, attribute: str, value: str, **kw: Any) -> None:
    # No savepoint of its own: every caller is an atomic service function, so the
    # conflict rolls back the whole change, which is what a SCIM 409 means.
    try:
        obj.save(**kw)
    except IntegrityError as exc:
        raise UniquenessConflict(attribute, value) from exc


def locked(model: Any, connection: Connection, resource_id: Any) -> Any:
    """The resource, its row locked, with ``connection`` attached (the adapter reads it);
    ``resource_id`` is its SCIM id or the legacy id an import kept. A user comes with its
    host user in the same statement (only the user's row locked)."""
    rows = model.objects.select_for_update(of=("self",))
    if model is DirectoryUser:
        rows = rows.select_related("host_user")
    # The adapter's membership calls need the account: it comes in the same statement.
    with_account = not Connection.account.is_cached(connection)  # type: ignore[attr-defined]
    if with_account:
        rows = rows.select_related("connection__account")
    try:
        resource = rows.get(connection=connection, **resource_key(resource_id))
    except (model.DoesNotExist, ValidationError, ValueError, TypeError):
        raise ResourceNotFound(f"No {model._meta.verbose_name} with id {resource_id}.") from None
    if with_account:
        connection.account = resource.connection.account
    resource.connection = connection
    return resource


def call_adapter(hook: str, *args: Any, **kwargs: Any) -> None:
    """Call the host adapter; any failure becomes :class:`HostProvisioningFailed`."""
    try:
        getattr(get_adapter(), hook)(*args, **kwargs)
    except HostProvisioningFailed:
        raise
    except Exception as exc:
        raise HostProvisioningFailed(hook) from exc


def is_active(value: bool | None) -> bool:
    return value is not False


def check_version(resource: DirectoryUser | DirectoryGroup, if_match: str | None) -> None:
    if if_match is None:
        return
    accepted = {tag.strip() for tag in if_match.split(",")}
    if "*" in accepted:
        return
    current = resource.etag
    if current not in accepted and current.removeprefix("W/") not in accepted:
        raise VersionMismatch(f"The resource is at version {current}.")
