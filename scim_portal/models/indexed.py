"""The directory's indexed columns: which SCIM attributes have a column of their own.

A user or group is stored as the document the IdP wrote (``attributes``); the
attributes registered here are also kept in a column beside it, with an index. This
registry is the one place that says so: filters and sorting
(:mod:`scim_portal.scim.filters`) compare the column instead of the JSON, and the
directory writer (:mod:`scim_portal.provisioning.documents`) derives the column from
every document it stores. Adding an indexed attribute is a field and its index on the
model, an entry here and one migration (docs/architecture.md).

Items of multi-valued attributes have rows of their own (``DirectoryUserValue``) with an
index on ``(connection, attribute, value_key)``: :func:`holders` reads the users holding
one item value, with their groups, in one statement (a lookup by work email).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import models

from . import _sql
from .directory import (
    DirectoryGroup,
    DirectoryUser,
    DirectoryUserValue,
    GroupMembership,
    users_with_groups,
    users_with_groups_sql,
)

Document = dict[str, Any]


class ColumnType(enum.Enum):
    """What a column holds, which says how the writer reads it from a document."""

    #: The SCIM ``id``: the primary key, assigned by the server.
    ID = "id"
    #: A string: ``None`` (a nullable field) or ``""`` when the document has none.
    TEXT = "text"
    #: ``True`` or ``False``; ``None`` when the document has no boolean there.
    BOOLEAN = "boolean"
    #: A time the server keeps (``meta.created``, ``meta.lastModified``).
    DATETIME = "datetime"


@dataclass(frozen=True)
class IndexedAttribute:
    """One SCIM attribute kept in a column."""

    #: The attribute as documents hold it, below the core schema: ``userName``,
    #: ``name.familyName``, ``meta.created``.
    path: str
    #: The model field holding it.
    field: str
    type: ColumnType = ColumnType.TEXT
    #: The :class:`~.folding.FoldedKeyField` of ``field``, if any: what equality,
    #: substring matches, sorting and uniqueness compare when the attribute is not
    #: ``caseExact`` (filters on a text column without one use ``LOWER()``).
    folded_key: str = ""
    #: Every document has it (the writer refuses one without): the column is never empty.
    required: bool = False
    #: Unique per connection, case-insensitively (a constraint on ``folded_key``).
    unique: bool = False
    #: Filters and sorting use the column for ``path``.
    searchable: bool = True
    #: How the writer derives the column, when it is not the value at ``path``.
    read: Callable[[Document], Any] | None = None

    @property
    def written(self) -> bool:
        """Whether the directory writer sets the column from the document (the server
        sets the id and the meta dates)."""
        return self.type in {ColumnType.TEXT, ColumnType.BOOLEAN}

    def value_in(self, document: Document) -> Any:
        """The value at :attr:`path` in ``document`` (None when absent)."""
        value: Any = document
        for name in self.path.split("."):
            value = value.get(name) if isinstance(value, dict) else None
        return value


class IndexedColumns:
    """The indexed attributes of one model, in the order the writer derives them."""

    def __init__(self, model: type[models.Model], *attributes: IndexedAttribute) -> None:
        self.model = model
        self.attributes = attributes
        #: Searchable attributes by their lower-cased path, as filters resolve them.
        self.by_path = {a.path.lower(): a for a in attributes if a.searchable}

    def __iter__(self) -> Iterator[IndexedAttribute]:
        return iter(self.attributes)

    def model_field(self, attribute: IndexedAttribute) -> Any:
        return self.model._meta.get_field(attribute.field)

    def holds_empty(self, attribute: IndexedAttribute) -> bool:
        """Whether the column holds "" for a document without the attribute (text that
        is optional and not NULL)."""
        if attribute.type is not ColumnType.TEXT or attribute.required:
            return False
        return not self.model_field(attribute).null


def primary_email(document: Document) -> str:
    """The value of the primary email (or the first), or "" if it does not fit the column."""
    emails = [e for e in document.get("emails") or [] if isinstance(e, dict) and e.get("value")]
    primary = next((e for e in emails if e.get("primary") is True), emails[0] if emails else None)
    value = str(primary["value"]) if primary else ""
    return value if len(value) <= 254 else ""


#: Shared by users and groups.
_ID = IndexedAttribute("id", "id", ColumnType.ID)
_EXTERNAL_ID = IndexedAttribute("externalId", "external_id")
_CREATED = IndexedAttribute("meta.created", "created", ColumnType.DATETIME)
_LAST_MODIFIED = IndexedAttribute("meta.lastModified", "last_modified", ColumnType.DATETIME)

USER_COLUMNS = IndexedColumns(
    DirectoryUser,
    _ID,
    IndexedAttribute(
        "userName", "user_name", folded_key="user_name_key", required=True, unique=True
    ),
    _EXTERNAL_ID,
    IndexedAttribute("displayName", "display_name", folded_key="display_name_key"),
    # For the directory's own use (who holds an email): filters on emails read every
    # email, from DirectoryUserValue.
    IndexedAttribute(
        "emails[primary eq true].value", "email", searchable=False, read=primary_email
    ),
    IndexedAttribute("active", "active", ColumnType.BOOLEAN),
    _CREATED,
    _LAST_MODIFIED,
)
GROUP_COLUMNS = IndexedColumns(
    DirectoryGroup,
    _ID,
    IndexedAttribute(
        "displayName", "display_name", folded_key="display_name_key", required=True, unique=True
    ),
    _EXTERNAL_ID,
    _CREATED,
    _LAST_MODIFIED,
)


@dataclass(frozen=True)
class ItemKey:
    """An item value looked up through the value rows' index: ``emails[type eq
    "work"].value eq "…"`` is ``ItemKey("emails", fold("…"), "work")``."""

    #: The rows' ``attribute``: ``emails``, or ``<extension urn>:<name>``, lower-cased.
    attribute: str
    #: The folded value (the rows' ``value_key``).
    value_key: str
    #: The lower-cased ``type`` the item must have; None: any.
    type: str | None = None


#: :func:`holders` reads at most this many users: enough to tell "at most one" apart.
HOLDERS_READ = 2


def holders(
    connection: Any, key: ItemKey
) -> list[tuple[DirectoryUser, list[tuple[Any, Any, str]]]]:
    """Up to :data:`HOLDERS_READ` users of ``connection`` holding an item with ``key``, in
    id order, each with ``(user id, group id, group displayName)`` of its memberships —
    one statement, through the value rows' index. Fewer than :data:`HOLDERS_READ` users
    is all of them; as many may be only some."""
    using = DirectoryUser.objects.db
    values = {"connection": connection, "attribute": key.attribute, "value_key": key.value_key}
    if key.type is not None:
        values["type"] = key.type
    params = _sql.prepared(DirectoryUser, {"connection": connection}, using)
    params += _sql.prepared(DirectoryUserValue, values, using)
    rows = _sql.fetch(_holders_sql(key.type is not None, using), params, using)
    return users_with_groups(rows, using)


@cache
def _holders_sql(typed: bool, using: str) -> str:
    def column(model: type[models.Model], name: str) -> str:
        return _sql.column(model, name, using)

    user, value, membership = DirectoryUser, DirectoryUserValue, GroupMembership
    type_test = f" AND v.{column(value, 'type')} = %s" if typed else ""
    return (
        f"{users_with_groups_sql(using)}"  # noqa: S608
        f"WHERE r.{column(user, 'connection')} = %s AND r.{column(user, 'id')} IN ("
        f"SELECT DISTINCT v.{column(value, 'user')} FROM {_sql.table(value, using)} v "
        f"WHERE v.{column(value, 'connection')} = %s AND v.{column(value, 'attribute')} = %s "
        f"AND v.{column(value, 'value_key')} = %s{type_test} LIMIT {HOLDERS_READ}) "
        f"ORDER BY r.{column(user, 'id')}, m.{column(membership, 'group')}"
    )
