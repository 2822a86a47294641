"""Users and Groups: list, search, read, create, replace, patch, delete."""

from __future__ import annotations

from collections.abc import Callable
from itertools import groupby
from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from ...conf import app_settings
from ...models.indexed import HOLDERS_READ, holders
from .. import exceptions
from ..cursors import Cursors, Part, Walk, parts
from ..exceptions import InvalidCount, InvalidCursor, InvalidValue
from ..filters import parse
from ..operations import ResourceOperations
from ..paging import count, read_page, run_query
from ..resources import GROUPS, USERS, ResourceKind, ResponseShape
from .base import LIST_RESPONSE, ScimView, integer_parameter, list_response


class SearchParameters:
    """filter, paging, sorting and attribute selection of a query (GET or .search).

    Index paging (``startIndex``) is the default; a ``cursor`` parameter, empty for the
    first page, asks for cursor paging (RFC 9865). A negative ``count`` is 0; above
    ``MAX_PAGE_SIZE`` it is capped for index paging and ``invalidCount`` for cursors.
    """

    def __init__(self, source: dict[str, Any]) -> None:
        def get(name: str) -> Any:
            return next((v for k, v in source.items() if k.lower() == name.lower()), None)

        self.filter = get("filter")
        if self.filter is not None and not isinstance(self.filter, str):
            raise exceptions.InvalidFilter("'filter' must be a string.")
        self.cursor: str | None = get("cursor")
        if self.cursor is not None and not isinstance(self.cursor, str):
            raise InvalidCursor("'cursor' must be a string.")
        start = integer_parameter(get("startIndex"), "startIndex")
        if start is not None and self.cursor is not None:
            raise InvalidValue(
                "Page with 'startIndex' (index paging) or with 'cursor' (cursor paging), not both."
            )
        self.start = max(1, start if start is not None else 1)
        size = integer_parameter(get("count"), "count")
        largest = app_settings.MAX_PAGE_SIZE
        if size is None:
            size = min(app_settings.DEFAULT_PAGE_SIZE, largest)
        elif size > largest and self.cursor is not None:
            raise InvalidCount(f"'count' may be at most {largest} (maxPageSize).")
        self.count = min(max(0, size), largest)
        self.sort_by = get("sortBy")
        sort_order = (get("sortOrder") or "ascending").lower()
        if sort_order not in {"ascending", "descending"}:
            raise InvalidValue("'sortOrder' must be 'ascending' or 'descending'.")
        self.descending = sort_order == "descending"

        def names(key: str) -> list[str]:
            value = get(key)
            if value is None:
                return []
            items = value if isinstance(value, list) else [value]
            return [part for item in items for part in str(item).split(",")]

        self.shape = ResponseShape(names("attributes"), names("excludedAttributes"))

    def query(self) -> list[Any]:
        """What a cursor is bound to: the filter and the order (not the attributes)."""
        sort_by = str(self.sort_by).lower() if self.sort_by else ""
        return [self.filter or "", sort_by, bool(sort_by) and self.descending]

    @classmethod
    def from_query(cls, query: Any) -> SearchParameters:
        flat: dict[str, Any] = {key: query.get(key) for key in query}
        for key in ("attributes", "excludedAttributes"):
            if key in query:
                flat[key] = query.getlist(key)
        return cls(flat)

    @classmethod
    def from_body(cls, body: Any) -> SearchParameters:
        if not isinstance(body, dict):
            raise exceptions.InvalidSyntax("A search request body must be a JSON object.")
        return cls(body)


class ResourceView(ScimView):
    kind: ResourceKind = USERS

    def operations(self) -> ResourceOperations:
        return ResourceOperations(
            self.kind, self.connection, self.base_url(), self.shape(), self.actor(), self.dialect()
        )

    def search(self, params: SearchParameters) -> Response:
        if params.cursor is not None:
            return Response(self.cursor_search(params))
        kind = self.kind
        tree = parse(params.filter, self.dialect()) if params.filter else None
        builder = kind.query_builder()
        key = builder.unique_key(tree) if tree is not None else None
        item = builder.item_key(tree) if tree is not None and kind.item_rows and not key else None
        if item is not None and params.start == 1 and not params.sort_by:
            # A lookup by work email: its users with their groups, in one statement through
            # the value rows' index; more than one holder is paged as any other filter.
            holding = holders(self.connection.pk, item)
            if len(holding) < HOLDERS_READ:
                for user, _groups in holding:
                    user.connection = self.connection
                groups = kind.items_by_owner(
                    [row for _user, rows in holding for row in rows], self.base_url()
                )
                users = [user for user, _rows in holding][: params.count]
                resources = kind.render_many(users, self.base_url(), params.shape, groups)
                return Response(list_response(resources, len(holding), params.start))
        if key is None:
            total, page = run_query(kind, self.connection, params, tree)
            resources = kind.render_many(page, self.base_url(), params.shape)
            return Response(list_response(resources, total, params.start))
        # A lookup by userName (or a group's displayName): at most one resource, read with
        # its groups in one statement through the unique index, no COUNT(*).
        found = self.operations().find(key, params.shape)
        total = 0 if found is None else 1
        resources = []
        if found is not None and params.start == 1 and params.count:
            obj, related = found
            resources = kind.render_many([obj], self.base_url(), params.shape, related)
        return Response(list_response(resources, total, params.start))

    def cursor_search(self, params: SearchParameters) -> dict[str, Any]:
        kind, connection = self.kind, self.connection
        builder = kind.query_builder()
        queryset = kind.queryset(connection)
        if params.filter:
            queryset = queryset.filter(builder.build(params.filter, self.dialect()))
        ordering = builder.order_by(params.sort_by, params.descending) if params.sort_by else None

        def total() -> int:
            return count(kind, connection, queryset, filtered=bool(params.filter))

        walk = Walk(parts(kind, queryset, ordering))
        return cursor_page(self, kind.endpoint, walk, params, total)


class ResourceListView(ResourceView):
    def get(self, request: Request, connection_id: Any) -> Response:
        return self.search(SearchParameters.from_query(request.query_params))

    def post(self, request: Request, connection_id: Any) -> Response:
        return self.answer(self.operations().create(request.data))


class ResourceSearchView(ResourceView):
    def post(self, request: Request, connection_id: Any) -> Response:
        return self.search(SearchParameters.from_body(request.data))


class RootSearchView(ScimView):
    """``POST /.search`` over users and groups (RFC 7644 section 3.4.3)."""

    def post(self, request: Request, connection_id: Any) -> Response:
        params = SearchParameters.from_body(request.data)
        results: list[tuple[ResourceKind, int, Any]] = []
        errors = []
        kinds: tuple[ResourceKind, ...] = (USERS, GROUPS)
        for kind in kinds:
            builder = kind.query_builder()
            queryset = kind.queryset(self.connection)
            if params.filter:
                try:
                    queryset = queryset.filter(builder.build(params.filter, self.dialect()))
                except exceptions.InvalidFilter as exc:
                    errors.append(exc)  # an attribute of the other type: false here
                    continue
            found = count(kind, self.connection, queryset, filtered=bool(params.filter))
            results.append((kind, found, queryset))
        if not results:
            raise errors[0]
        total = sum(found for _kind, found, _queryset in results)
        if params.cursor is not None:
            walk = Walk([Part(kind, queryset) for kind, _found, queryset in results])
            return Response(cursor_page(self, ".search", walk, params, lambda: total))
        resources: list[dict[str, Any]] = []
        skip, room = params.start - 1, params.count
        for kind, found, queryset in results:
            if skip >= found:
                skip -= found
                continue
            page = read_page(kind, self.connection, queryset, ["id"], skip, room) if room else []
            skip = 0
            resources += kind.render_many(page, self.base_url(), params.shape)
            room -= len(page)
        return Response(list_response(resources, total, params.start))


def cursor_page(
    view: ScimView, endpoint: str, walk: Walk, params: SearchParameters, total: Callable[[], int]
) -> dict[str, Any]:
    """The ListResponse of a cursor page (RFC 9865) of ``walk`` for ``params``: ``nextCursor``
    unless it is the last page, ``previousCursor`` unless it is the first, no
    ``startIndex``. ``total()`` is asked only when the page does not tell it."""
    cursors = Cursors(view.connection, endpoint, params.query(), walk)
    start = cursors.read(params.cursor, params.count) if params.cursor else None
    body: dict[str, Any] = {"schemas": [LIST_RESPONSE]}
    if params.count == 0:
        return {**body, "totalResults": total(), "itemsPerPage": 0, "Resources": []}
    page = walk.page(
        start.position if start else None, bool(start and start.backward), params.count
    )
    resources: list[dict[str, Any]] = []
    for kind, items in groupby(page.rows, key=lambda item: item[0].kind):
        rows = [row for _part, row in items]
        resources += kind.render_many(rows, view.base_url(), params.shape)
    whole = start is None and page.next is None
    body["totalResults"] = len(resources) if whole else total()
    body["itemsPerPage"] = len(resources)
    if page.next is not None:
        body["nextCursor"] = cursors.mint(page.next, backward=False, count=params.count)
    if page.previous is not None:
        body["previousCursor"] = cursors.mint(page.previous, backward=True, count=params.count)
    body["Resources"] = resources
    return body


class ResourceDetailView(ResourceView):
    def get(self, request: Request, connection_id: Any, resource_id: str) -> Response:
        operations = self.operations()
        obj, related = operations.read(resource_id)
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match and obj.etag in {tag.strip() for tag in if_none_match.split(",")}:
            return Response(status=304, headers={"ETag": obj.etag})
        return operations.single(obj, related=related).response()

    def put(self, request: Request, connection_id: Any, resource_id: str) -> Response:
        if_match = request.headers.get("If-Match")
        return self.answer(self.operations().replace(resource_id, request.data, if_match))

    def patch(self, request: Request, connection_id: Any, resource_id: str) -> Response:
        if_match = request.headers.get("If-Match")
        wants_body = any(
            key in request.query_params for key in ("attributes", "excludedAttributes")
        )
        outcome = self.operations().patch(resource_id, request.data, if_match, wants_body)
        return self.answer(outcome)

    def delete(self, request: Request, connection_id: Any, resource_id: str) -> Response:
        if_match = request.headers.get("If-Match")
        return self.operations().delete(resource_id, if_match).response()
