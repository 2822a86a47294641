"""Where a filtered attribute lives, and how its values are tested, compared and sorted.

:class:`~scim_portal.scim.filters.QueryBuilder` resolves each attribute path of a filter
to one :class:`Target`; the target turns a comparison, a presence test or a valuePath
into a ``Q`` within the connection, or raises :class:`InvalidFilter`:

- :class:`ColumnTarget`: an attribute with a column of its own (the registry in
  :mod:`scim_portal.models.indexed`) uses the column and its index; ``userName`` and
  ``displayName`` compare their folded key (:mod:`scim_portal.models.folding`) with
  the folded literal, never ``LOWER()``, whose folding differs between databases and
  locales; :class:`IdTarget` is the primary key;
- :class:`ValuesTarget`: items of multi-valued attributes (``emails[type eq
  "work"].value``, …) are an ``EXISTS`` over
  :class:`~scim_portal.models.DirectoryUserValue`, with the filter inside a valuePath
  built by :class:`ItemQueryBuilder`;
- :class:`MembershipTarget`: group members and a user's groups are an ``EXISTS`` over
  memberships;
- :class:`JsonTarget`: everything else is read from the stored JSON document.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Exists, F, OuterRef, Q, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Lower
from django.db.models.lookups import (
    Contains,
    EndsWith,
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IsNull,
    LessThan,
    LessThanOrEqual,
    StartsWith,
)
from django.utils.dateparse import parse_datetime
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)

from ..models import DirectoryUserValue, GroupMembership
from ..models.directory import VALUE_KEY_LENGTH, resource_key
from ..models.folding import fold
from ..models.indexed import IndexedAttribute
from .exceptions import InvalidFilter
from .negotiation import unstorable

if TYPE_CHECKING:
    from .filters import QueryBuilder

LOOKUPS = {
    CompareOperator.eq: Exact,
    CompareOperator.co: Contains,
    CompareOperator.sw: StartsWith,
    CompareOperator.ew: EndsWith,
    CompareOperator.gt: GreaterThan,
    CompareOperator.ge: GreaterThanOrEqual,
    CompareOperator.lt: LessThan,
    CompareOperator.le: LessThanOrEqual,
}
ORDERING = {CompareOperator.gt, CompareOperator.ge, CompareOperator.lt, CompareOperator.le}
SUBSTRING = {CompareOperator.co, CompareOperator.sw, CompareOperator.ew}


class LogicalVisitor(FilterVisitor[Q]):
    """``and``, ``or`` and ``not``, shared by both builders below."""

    def visit_logical_expr(self, node: LogicalExpr) -> Q:
        queries = [self.visit(term) for term in node.terms]
        combined = queries[0]
        for query in queries[1:]:
            combined = combined & query if node.op == LogicalOperator.and_ else combined | query
        return combined

    def visit_not(self, node: Not) -> Q:
        return ~self.visit(node.expr)


@dataclass(frozen=True)
class Membership:
    """A resource's membership attribute (a group's ``members``, a user's ``groups``),
    filtered as an ``EXISTS`` over :class:`~scim_portal.models.GroupMembership`."""

    #: The attribute's name, lower-cased.
    attribute: str
    #: The membership's foreign key to the resource filtered (``group`` for members).
    owner: str
    #: The membership's column holding the related resource's id (``user_id`` for members).
    item: str


@dataclass(frozen=True, kw_only=True)
class Target:
    """Where a resolved attribute lives and how its values compare: one subclass per
    place (a column, the JSON document, the items' rows, the memberships)."""

    value_type: Any
    case_exact: bool
    #: The sub-attribute named below a multi-valued attribute (``emails.type``).
    sub_attribute: str | None = None

    @property
    def is_text(self) -> bool:
        return _is_text(self.value_type)

    def present(self) -> Q:
        raise NotImplementedError

    def compare(self, op: CompareOperator, raw: Any) -> Q:
        raise NotImplementedError

    def value_path(self, builder: QueryBuilder, node: ValuePath) -> Q:
        """``attribute[filter]``: only a multi-valued attribute has one."""
        raise InvalidFilter(f"{node.attr_path} is not a multi-valued attribute.")

    def sort_key(self, attribute: str) -> Any:
        """What ``sortBy=<attribute>`` orders by."""
        raise InvalidFilter(f"Cannot sort by the multi-valued attribute {attribute!r}.")

    def unique_key(self, raw: Any) -> dict[str, str] | None:
        """``{"<folded key column>": fold(raw)}`` when ``<attribute> eq raw`` is a lookup
        through the unique index of the folded names (at most one row), else None."""
        return None


@dataclass(frozen=True, kw_only=True)
class ColumnTarget(Target):
    """An attribute with a column of its own (:mod:`scim_portal.models.indexed`)."""

    attribute: IndexedAttribute
    #: The column holds "" when the attribute is absent (a text field that is not NULL).
    empty_is_absent: bool = False

    def present(self) -> Q:
        return _present(self.attribute.field, self.is_text)

    def compare(self, op: CompareOperator, raw: Any) -> Q:
        value = coerce(self, op, raw)
        nullable, empty = not self.attribute.required, self.empty_is_absent
        key = self.attribute.folded_key
        if key and isinstance(value, str) and not self.case_exact:
            return _comparison(F(key), True, op, fold(value), nullable=nullable, empty=empty)
        return _comparison(
            F(self.attribute.field), self.case_exact, op, value, nullable=nullable, empty=empty
        )

    def sort_key(self, attribute: str) -> Any:
        if not self.is_text or self.case_exact:
            return F(self.attribute.field)
        if self.attribute.folded_key:
            return F(self.attribute.folded_key)
        return Lower(F(self.attribute.field))

    def unique_key(self, raw: Any) -> dict[str, str] | None:
        if not self.attribute.unique:
            return None
        value = coerce(self, CompareOperator.eq, raw)
        if self.case_exact or not isinstance(value, str) or not value:
            return None
        return {self.attribute.folded_key: fold(value)}


@dataclass(frozen=True, kw_only=True)
class IdTarget(ColumnTarget):
    """The SCIM ``id``: the primary key, a UUID (or the legacy id an import kept)."""

    def compare(self, op: CompareOperator, raw: Any) -> Q:
        return _compare_id(op, coerce(self, op, raw))


@dataclass(frozen=True, kw_only=True)
class JsonTarget(Target):
    """An attribute read from the stored document."""

    #: The lookup path into the JSON field: ``attributes__name__givenName``.
    path: str

    def present(self) -> Q:
        return _present(self.path, self.is_text)

    def compare(self, op: CompareOperator, raw: Any) -> Q:
        value = coerce(self, op, raw)
        if not self.is_text:
            return _json_compare(self.path, op, value)
        return _comparison(KT(self.path), self.case_exact, op, value, nullable=True)

    def sort_key(self, attribute: str) -> Any:
        expression = KT(self.path)
        return Lower(expression) if self.is_text and not self.case_exact else expression


@dataclass(frozen=True, kw_only=True)
class ValuesTarget(Target):
    """An item of a user's multi-valued attribute (``emails[type eq "work"].value``):
    an ``EXISTS`` over the items' rows (:class:`~scim_portal.models.DirectoryUserValue`)."""

    #: The rows' ``attribute``: ``emails``, or ``<extension urn>:<name>``, lower-cased.
    attribute: str

    def rows(self) -> Any:
        return DirectoryUserValue.objects.filter(
            user=OuterRef("pk"), connection=OuterRef("connection"), attribute=self.attribute
        )

    def present(self) -> Q:
        rows = self.rows()
        if self.sub_attribute:
            rows = rows.filter(ItemQueryBuilder.present_q(self.sub_attribute))
        return Q(Exists(rows))

    def compare(self, op: CompareOperator, raw: Any) -> Q:
        sub = self.sub_attribute or "value"
        if op == CompareOperator.ne:
            # "ne" on a multi-valued attribute: no value equals the operand (also when
            # there is no value at all), as scim2-models reads it.
            equal = ItemQueryBuilder.compare_q(sub, self, CompareOperator.eq, raw)
            return ~Q(Exists(self.rows().filter(equal)))
        return Q(Exists(self.rows().filter(ItemQueryBuilder.compare_q(sub, self, op, raw))))

    def value_path(self, builder: QueryBuilder, node: ValuePath) -> Q:
        inner = ItemQueryBuilder(builder, node.attr_path).visit(node.val_filter)
        return Q(Exists(self.rows().filter(inner)))


@dataclass(frozen=True, kw_only=True)
class MembershipTarget(Target):
    """A group's members or a user's groups: an ``EXISTS`` over memberships."""

    membership: Membership

    def present(self) -> Q:
        rows = GroupMembership.objects.filter(**{self.membership.owner: OuterRef("pk")})
        return Q(Exists(rows))

    def compare(self, op: CompareOperator, raw: Any) -> Q:
        if self.sub_attribute not in {"value", None} or op not in {
            CompareOperator.eq,
            CompareOperator.ne,
        }:
            raise InvalidFilter("Members can only be filtered by 'value eq' or 'value ne'.")
        values = raw if isinstance(raw, list) else [raw]
        ids, legacy = [], []
        for value in values:
            try:
                ids.append(uuid.UUID(str(value)))
            except ValueError:
                legacy.append(str(value))
        item = self.membership.item
        named = Q(**{f"{item}__in": ids})
        if legacy:  # ids another service provider served, kept by an import
            named |= Q(**{f"{item.removesuffix('_id')}__legacy_id__in": legacy})
        rows = GroupMembership.objects.filter(named, **{self.membership.owner: OuterRef("pk")})
        query = Q(Exists(rows))
        return ~query if op == CompareOperator.ne else query

    def value_path(self, builder: QueryBuilder, node: ValuePath) -> Q:
        """``members[value eq "…"]`` / ``groups[value eq "…"]``: ids joined by ``or``."""
        by_value = replace(self, sub_attribute="value")
        return by_value.compare(CompareOperator.eq, equal_values(node.val_filter))


class ItemQueryBuilder(LogicalVisitor):
    """The filter inside a valuePath, over the items' rows."""

    def __init__(self, parent: QueryBuilder, attr_path: AttrPath) -> None:
        self.parent = parent
        self.attr_path = attr_path

    def visit_value_path(self, node: ValuePath) -> Q:
        raise InvalidFilter("A valuePath cannot be nested in another.")

    def _target(self, attr_path: AttrPath) -> Target:
        return self.parent.target(attr_path, in_value_path=self.attr_path)

    def visit_present(self, node: Present) -> Q:
        target = self._target(node.attr_path)
        return self.present_q(target.sub_attribute or node.attr_path.attr)

    def visit_comparison(self, node: Comparison) -> Q:
        target = self._target(node.attr_path)
        return self.compare_q(target.sub_attribute or "value", target, node.op, node.value)

    @staticmethod
    def present_q(sub: str) -> Q:
        sub_lower = sub.lower()
        if sub_lower == "type":
            return Q(type__isnull=False) & ~Q(type="")
        if sub_lower == "primary":
            return Q(primary__isnull=False)
        return Q(**{f"item__{sub}__isnull": False}) & ~Q(**{f"item__{sub}": ""})

    @staticmethod
    def compare_q(sub: str, target: Target, op: CompareOperator, raw: Any) -> Q:
        value = coerce(target, op, raw)
        sub_lower = sub.lower()
        if sub_lower == "primary":
            if op not in {CompareOperator.eq, CompareOperator.ne}:
                raise InvalidFilter(f"{op} cannot compare a boolean.")
            query = Q(primary=value)
            return ~query if op == CompareOperator.ne else query
        if sub_lower == "type" and isinstance(value, str):
            return _comparison(F("type"), True, op, value.lower(), nullable=True)
        if sub_lower == "value" and isinstance(value, str) and not target.case_exact:
            key = fold(value)
            if len(key) <= VALUE_KEY_LENGTH or op in SUBSTRING:
                return _comparison(F("value_key"), True, op, key, nullable=True)
        if not target.is_text:
            return _json_compare(f"item__{sub}", op, value)
        return _comparison(KT(f"item__{sub}"), target.case_exact, op, value, nullable=True)


def equal_values(node: FilterNode) -> list[Any]:
    """Values of ``value eq "…"`` comparisons joined by ``or``; anything else is invalid."""
    if (
        isinstance(node, Comparison)
        and node.op == CompareOperator.eq
        and node.attr_path.attr.lower() == "value"
        and node.attr_path.sub_attr is None
    ):
        return [node.value]
    if isinstance(node, LogicalExpr) and node.op == LogicalOperator.or_:
        return [value for term in node.terms for value in equal_values(term)]
    raise InvalidFilter("Select members with 'value eq \"<id>\"', joined by 'or'.")


def _is_text(value_type: Any) -> bool:
    """Whether values of this type compare as strings (str, EmailStr, references…)."""
    return value_type not in (bool, datetime, int, float, Decimal, bytes)


def coerce(target: Target, op: CompareOperator, raw: Any) -> Any:
    """The filter literal as a value of the attribute's type."""
    value_type = target.value_type
    if raw is None:
        if op not in {CompareOperator.eq, CompareOperator.ne}:
            raise InvalidFilter(f"'{op}' cannot compare with null.")
        return None
    if value_type is bool:
        if op not in {CompareOperator.eq, CompareOperator.ne}:
            raise InvalidFilter(f"'{op}' cannot compare a boolean attribute.")
        if isinstance(raw, str) and raw.lower() in {"true", "false"}:
            return raw.lower() == "true"  # a string "True" (INTEROP.md, item 13)
        if not isinstance(raw, bool):
            raise InvalidFilter(f"{raw!r} is not a boolean.")
        return raw
    if value_type is datetime:
        if op in SUBSTRING:
            raise InvalidFilter(f"'{op}' cannot compare a dateTime attribute.")
        parsed = parse_datetime(str(raw)) if isinstance(raw, str) else None
        if parsed is None:
            raise InvalidFilter(f"{raw!r} is not a dateTime (ISO 8601).")
        return parsed
    if value_type in (int, float, Decimal):
        if op in SUBSTRING:
            raise InvalidFilter(f"'{op}' cannot compare a number.")
        if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal):
            raise InvalidFilter(f"{raw!r} is not a number.")
        return raw
    if isinstance(raw, bool | dict | list):
        raise InvalidFilter(f"{raw!r} is not a string.")
    text = str(raw)
    if found := unstorable(text):  # from a "\u0000" or "\ud800" escape
        raise InvalidFilter(f"A filter value cannot contain {found}.")
    return text


def _comparison(
    lhs: Any,
    case_exact: bool,
    op: CompareOperator,
    value: Any,
    *,
    nullable: bool,
    empty: bool = False,
) -> Q:
    absent = _is_null(lhs) | Q(Exact(lhs, Value(""))) if empty else _is_null(lhs)
    if value is None:
        return ~absent if op == CompareOperator.ne else absent
    rhs: Any = Value(value)
    if isinstance(value, str) and not case_exact:
        # Attributes with no folded key (kept in the JSON document): both sides through
        # the database's LOWER(), so they agree even where it folds only ASCII.
        lhs, rhs = Lower(lhs), Lower(rhs)
    # Two-valued logic: a missing value compares false (true for "ne"), never NULL,
    # so that "not (...)" around it selects what SCIM says it selects.
    if op == CompareOperator.ne:
        query = ~Q(Exact(lhs, rhs))
        return query | absent if nullable else query
    query = Q(LOOKUPS[op](lhs, rhs))
    return query & ~absent if nullable else query


def _present(lookup: str, text: bool) -> Q:
    """The value at ``lookup`` is there (and, for text, not empty)."""
    query = Q(**{f"{lookup}__isnull": False})
    return query & ~Q(**{lookup: ""}) if text else query


def _is_null(lhs: Any) -> Q:
    return Q(IsNull(lhs, True))


def _json_compare(path: str, op: CompareOperator, value: Any) -> Q:
    if value is None:
        query = Q(**{f"{path}__isnull": True})
        return ~query if op == CompareOperator.ne else query
    if isinstance(value, datetime):
        value = value.isoformat()
    if op == CompareOperator.ne:
        return ~Q(**{path: value}) | Q(**{f"{path}__isnull": True})
    lookup = {"eq": "", "gt": "__gt", "ge": "__gte", "lt": "__lt", "le": "__lte"}[op.value]
    return Q(**{f"{path}{lookup}": value}) & Q(**{f"{path}__isnull": False})


def _compare_id(op: CompareOperator, value: Any) -> Q:
    if op not in {CompareOperator.eq, CompareOperator.ne}:
        raise InvalidFilter("'id' can only be compared with 'eq' or 'ne'.")
    try:
        query = Q(**resource_key(value)) if value is not None else Q(pk__in=[])
    except ValueError:
        query = Q(pk__in=[])  # no resource has that id
    return ~query if op == CompareOperator.ne else query
