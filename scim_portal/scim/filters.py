"""SCIM filters (RFC 7644 section 3.4.2.2) translated to Django ``Q`` objects.

scim2-models parses the filter and resolves every attribute path (names are
case-insensitive, ``caseExact`` comes from the schema); :class:`QueryBuilder` turns the
tree into a query that runs in the database, always within one connection, by resolving
each attribute to a :mod:`~scim_portal.scim.targets` target that knows where it lives and
how to test, compare and sort it. The same resolution gives ``sortBy`` its order,
``userName eq`` its unique-index lookup and ``emails[type eq "work"].value eq`` its
lookup through the value rows' index (:meth:`QueryBuilder.item_key`).

Anything that cannot be translated raises :class:`InvalidFilter`: the list is
never returned unfiltered and nothing is filtered in Python.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from scim2_models import Extension, ScimFilter
from scim2_models import SCIMException as ModelsScimException
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)

from ..conf import app_settings
from ..models.directory import VALUE_KEY_LENGTH
from ..models.folding import fold
from ..models.indexed import ColumnType, IndexedColumns, ItemKey
from .exceptions import InvalidFilter
from .providers import TOLERANT, Dialect
from .targets import (
    ColumnTarget,
    IdTarget,
    JsonTarget,
    LogicalVisitor,
    Membership,
    MembershipTarget,
    Target,
    ValuesTarget,
    coerce,
)

__all__ = ["Membership", "QueryBuilder", "Target", "parse"]


def parse(text: str, dialect: Dialect = TOLERANT) -> FilterNode:
    """The syntax tree of ``text`` as ``dialect`` reads it; :class:`InvalidFilter` if it
    does not parse or is longer or deeper than the configured limits."""
    if len(text) > app_settings.MAX_FILTER_LENGTH:
        raise InvalidFilter(f"Filters may be at most {app_settings.MAX_FILTER_LENGTH} characters.")
    try:
        tree = ScimFilter(dialect.filter(text)).ast
    except RecursionError:
        raise InvalidFilter("The filter is nested too deeply.") from None
    except (ModelsScimException, ValueError, TypeError) as exc:
        raise InvalidFilter(f"The filter is not valid: {exc}") from exc
    if _depth(tree) > app_settings.MAX_FILTER_DEPTH:
        raise InvalidFilter(f"Filters may nest at most {app_settings.MAX_FILTER_DEPTH} levels.")
    return tree


def _depth(node: FilterNode) -> int:
    if isinstance(node, LogicalExpr):
        return 1 + max(_depth(term) for term in node.terms)
    if isinstance(node, Not):
        return 1 + _depth(node.expr)
    if isinstance(node, ValuePath):
        return 1 + _depth(node.val_filter)
    return 1


class QueryBuilder(LogicalVisitor):
    """Build the ``Q`` of a filter for one resource type: its indexed ``columns``, its
    ``membership`` attribute, and whether its multi-valued attributes have ``item_rows``
    (a user's do)."""

    def __init__(
        self,
        columns: IndexedColumns,
        membership: Membership,
        model: Any,
        *,
        item_rows: bool = False,
    ) -> None:
        self.columns = columns
        self.membership = membership
        self.item_rows = item_rows
        self.core_schema = str(model.__schema__)
        # A bound filter resolves any attribute path against the model's schema.
        self.resolver = ScimFilter[model]("id pr")  # type: ignore[index]

    # Entry points

    def build(self, text: str, dialect: Dialect = TOLERANT) -> Q:
        return self.visit(parse(text, dialect))

    def unique_key(self, tree: FilterNode) -> dict[str, str] | None:
        """``{"<folded key column>": fold(value)}`` when ``tree`` is ``<attribute> eq
        "<text>"`` on the column unique per connection (``userName``; a group's
        ``displayName``), compared as :meth:`build` compares it: a key that finds at most
        one row through the unique index. None for every other filter."""
        if not isinstance(tree, Comparison) or tree.op != CompareOperator.eq:
            return None
        return self.target(tree.attr_path).unique_key(tree.value)

    def item_key(self, tree: FilterNode) -> ItemKey | None:
        """The :class:`ItemKey` when ``tree`` is ``<attribute>.value eq "<text>"``,
        ``<attribute>[value eq "<text>"]`` or ``<attribute>[type eq "<type>" and value eq
        "<text>"]`` (either order) on a user's multi-valued attribute whose ``value`` is
        not ``caseExact``: what :meth:`build` selects, read through the value rows' index.
        None for every other filter."""
        if isinstance(tree, Comparison):
            target = self.target(tree.attr_path)
            if not isinstance(target, ValuesTarget) or target.sub_attribute is None:
                return None
            return self._item_key(target.attribute, [(target, tree)])
        if not isinstance(tree, ValuePath) or tree.sub_attr is not None:
            return None
        target = self.target(tree.attr_path)
        if not isinstance(target, ValuesTarget):
            return None
        inner = tree.val_filter
        terms = inner.terms if isinstance(inner, LogicalExpr) else (inner,)
        if isinstance(inner, LogicalExpr) and inner.op != LogicalOperator.and_:
            return None
        if not all(isinstance(term, Comparison) for term in terms):
            return None
        comparisons = [
            (self.target(term.attr_path, in_value_path=tree.attr_path), term)
            for term in terms
            if isinstance(term, Comparison)
        ]
        return self._item_key(target.attribute, comparisons)

    @staticmethod
    def _item_key(attribute: str, comparisons: list[tuple[Target, Comparison]]) -> ItemKey | None:
        """``value eq`` (and ``type eq``) as an :class:`ItemKey`, or None."""
        found: dict[str, str] = {}
        for target, node in comparisons:
            sub = (target.sub_attribute or "").lower()
            if node.op != CompareOperator.eq or sub not in {"value", "type"} or sub in found:
                return None
            if sub == "value" and (target.case_exact or not target.is_text):
                return None
            value = coerce(target, node.op, node.value)
            if not isinstance(value, str):
                return None
            found[sub] = fold(value) if sub == "value" else value.lower()
        key = found.get("value")
        if not key or len(key) > VALUE_KEY_LENGTH:
            return None
        return ItemKey(attribute, key, found.get("type"))

    def order_by(self, attribute: str, descending: bool) -> list[Any]:
        """Order-by expressions for ``sortBy`` (stable: ties broken by id)."""
        try:
            node = ScimFilter(f"{attribute} pr").ast
        except (ModelsScimException, ValueError) as exc:
            raise InvalidFilter(f"sortBy {attribute!r} is not an attribute path.") from exc
        assert isinstance(node, Present)
        expression = self.target(node.attr_path).sort_key(attribute)
        ordered = (
            expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True)
        )
        return [ordered, "-id" if descending else "id"]

    # Resolution

    def target(self, attr_path: AttrPath, *, in_value_path: AttrPath | None = None) -> Target:
        try:
            binding = self.resolver.resolve_comparison(
                AttrPath(in_value_path.attr, attr_path.attr, in_value_path.uri)
                if in_value_path
                else attr_path
            )
        except (ModelsScimException, ValueError) as exc:
            raise InvalidFilter(f"Unknown attribute {attr_path}: {exc}") from exc
        assert binding is not None
        value_type, case_exact = binding.target_type, binding.case_exact
        is_extension = isinstance(binding.model, type) and issubclass(binding.model, Extension)
        schema = str(getattr(binding.model, "__schema__", "")) if is_extension else self.core_schema
        names = binding.urn[len(schema) + 1 :].split(".")
        head = names[0].lower()
        if not is_extension:
            indexed = self.columns.by_path.get(".".join(names).lower())
            if indexed is not None:
                column = IdTarget if indexed.type is ColumnType.ID else ColumnTarget
                empty = self.columns.holds_empty(indexed)
                return column(
                    attribute=indexed,
                    value_type=value_type,
                    case_exact=case_exact,
                    empty_is_absent=empty,
                )
            if head == "meta":
                raise InvalidFilter(f"Filtering on {binding.urn} is not supported.")
            if head == self.membership.attribute:
                return MembershipTarget(
                    membership=self.membership,
                    value_type=value_type,
                    case_exact=True,
                    sub_attribute=names[-1].lower(),
                )
        if binding.is_multivalued:
            if not self.item_rows:
                raise InvalidFilter(f"Filtering on {binding.urn} is not supported.")
            return ValuesTarget(
                attribute=(f"{schema}:{names[0]}" if is_extension else names[0]).lower(),
                value_type=value_type,
                case_exact=case_exact,
                sub_attribute=names[1] if len(names) > 1 else None,
            )
        json_path = "__".join(["attributes", *([schema] if is_extension else []), *names])
        return JsonTarget(path=json_path, value_type=value_type, case_exact=case_exact)

    # Visitor

    def visit_present(self, node: Present) -> Q:
        return self.target(node.attr_path).present()

    def visit_comparison(self, node: Comparison) -> Q:
        return self.target(node.attr_path).compare(node.op, node.value)

    def visit_value_path(self, node: ValuePath) -> Q:
        return self.target(node.attr_path).value_path(self, node)
