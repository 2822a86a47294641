"""Index paging (RFC 7644 section 3.4.2.4), at a cost that does not grow with the directory.

A page is one query. From offset :data:`DEFERRED_JOIN_OFFSET` on it is a deferred join:
the window of ids is found on the ``(connection, id)`` index alone, then only its rows
are read, so ``startIndex=99901`` reads 100 full rows, not 100,000. ``totalResults``
comes from the page when the page tells it (a short page), otherwise from ``COUNT(*)``
— but for an unfiltered list (Okta's import: ``count=100`` page after page, in id
order), whose total is the size of the directory, kept in Django's cache
(:class:`DirectoryTotal`). Beside the size, once the directory has been read at one
state, the id at every :data:`MARK_STEP`-th position is kept the same way, so a deep page
starts at the mark before it instead of walking the index to its offset (at 100,000
users the walk made a random page 1.6 times as slow as at 1,000).

That size (and the marks) is labelled with the connection's event sequence
(``Connection.last_event_number``). Every create and delete of a user or group goes
through :mod:`scim_portal.provisioning`, which raises the sequence in the same
transaction as the row (it numbers the change's event), and a request reads the sequence
with its token, before it counts: so a size is never older than its label. A request
uses only a size labelled with its own sequence or a later one, and counts again after
any create or delete has committed — no signals, nothing to forget. Writes that bypass
``provisioning/`` (``bulk_create``, ``QuerySet.delete()``, raw SQL) raise no sequence:
they show in ``totalResults`` and in the deep pages of a kept directory (read through
its marks) after the next write through ``provisioning/``, or within
:data:`TOTAL_TIMEOUT` seconds; in every other page at once. (With a read replica, read
the token from the database the directory is read from, or a lagging replica could
count an older state than the label says.)

Inside a transaction (``ATOMIC_REQUESTS``) the cache is neither read nor written: the
transaction may hold a write and a raised sequence that are not committed yet and may
roll back, after which another transaction commits the same sequence number. An
unreachable cache costs a ``COUNT(*)``, never the answer (:func:`.._cache.guarded`).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django.core.cache import caches
from django.db import transaction
from django.db.models import F, Window
from django.db.models.functions import Mod, RowNumber

from .._cache import guarded
from ..models import Connection
from .filters import parse

if TYPE_CHECKING:
    from scim2_models.path import FilterNode

    from .resources import ResourceKind
    from .views import SearchParameters

#: From this offset on, a page is read as a deferred join. Measured on PostgreSQL: at offset
#: 500 the plain OFFSET is ~1 ms cheaper (no subquery); at 50,000 the join is 3x cheaper.
DEFERRED_JOIN_OFFSET = 2000
#: Seconds a directory's size is kept: how long a write that bypasses ``provisioning/``
#: may leave ``totalResults`` behind.
TOTAL_TIMEOUT = 60
#: A deep page of an unfiltered list starts from the id at every ``MARK_STEP``-th position
#: (or further apart, so that there are at most ``MAX_MARKS``: 16 bytes each).
MARK_STEP = 1000
MAX_MARKS = 1000
CACHE_ALIAS = "default"


def run_query(
    kind: ResourceKind,
    connection: Connection,
    params: SearchParameters,
    tree: FilterNode | None = None,
) -> tuple[int, list[Any]]:
    """``(total, page)`` of ``kind`` in ``connection`` for ``params`` (``tree``: its filter,
    parsed). The total is counted only when the page does not tell it (a full page): a
    filter that selects less than a page needs no ``COUNT(*)``."""
    queryset = kind.queryset(connection)
    offset = params.start - 1
    if not params.filter and not params.sort_by:
        return _read_directory(kind, connection, queryset, offset, params.count)
    builder = kind.query_builder()
    if params.filter:
        tree = parse(params.filter) if tree is None else tree
        queryset = queryset.filter(builder.visit(tree))
    if params.count == 0:
        return queryset.count(), []
    ordering = builder.order_by(params.sort_by, params.descending) if params.sort_by else ["id"]
    page = read_page(kind, connection, queryset, ordering, offset, params.count)
    if len(page) < params.count and (page or offset == 0):
        return offset + len(page), page
    return queryset.count(), page


def read_page(
    kind: ResourceKind,
    connection: Connection,
    queryset: Any,
    ordering: list[Any],
    offset: int,
    limit: int,
) -> list[Any]:
    """Rows ``offset`` to ``offset + limit`` of ``queryset`` in ``ordering``, one query.

    A deep page is a deferred join: the window of ids is found on the index alone, then
    only its rows are read. A plain ``OFFSET`` reads every full row it skips (PostgreSQL,
    100,000 users, the rows of the page at offset 99,900: ~27 ms with OFFSET, ~4 ms so).
    """
    ordered = queryset.order_by(*ordering)
    if offset < DEFERRED_JOIN_OFFSET:
        return list(ordered[offset : offset + limit])
    window = ordered.values("pk")[offset : offset + limit]
    return list(kind.queryset(connection).filter(pk__in=window).order_by(*ordering))


def count(kind: ResourceKind, connection: Connection, queryset: Any, *, filtered: bool) -> int:
    """``queryset.count()``; the kept size of the directory when ``queryset`` is all of it."""
    if filtered:
        return int(queryset.count())
    return DirectoryTotal(kind, connection, queryset).count()


class DirectoryTotal:
    """How many resources of one type a connection has, kept in Django's cache under the
    connection's event sequence (see the module)."""

    def __init__(self, kind: ResourceKind, connection: Connection, queryset: Any) -> None:
        self.kind, self.connection = kind, connection
        self.sequence = connection.last_event_number
        name = f"{kind.model_class._meta.model_name}:{connection.pk}"
        self.key, self.marks_key = f"scim_portal:total:1:{name}", f"scim_portal:marks:1:{name}"
        self.queryset = queryset
        self.usable = not transaction.get_connection(queryset.db).in_atomic_block

    def _get(self, key: str) -> Any:
        """The value kept under ``key`` if it is labelled with this request's sequence or a
        later one, else None."""
        if not self.usable:
            return None
        value = guarded(lambda: caches[CACHE_ALIAS].get(key), None, "list totals")
        # The cache is shared: anything not of the shape written here is no entry.
        if not (isinstance(value, tuple) and len(value) == 2 and _is_count(value[0])):
            return None
        return value[1] if value[0] >= self.sequence else None

    def _set(self, key: str, value: Any) -> None:
        if self.usable:
            labelled = (self.sequence, value)
            cache = caches[CACHE_ALIAS]
            guarded(lambda: cache.set(key, labelled, TOTAL_TIMEOUT), None, "list totals")

    def known(self) -> int | None:
        """The kept size, if it is labelled with this request's sequence or a later one."""
        value = self._get(self.key)
        return value if _is_count(value) else None

    def keep(self, total: int) -> None:
        self._set(self.key, total)

    def page(self, total: int, offset: int, limit: int) -> list[Any]:
        """Rows ``offset`` to ``offset + limit`` in id order, from the id at the kept mark
        before ``offset`` (``id >= mark``, then an ``OFFSET`` below the marks' step). The
        marks are taken — one pass over the ``(connection, id)`` index — when none are kept
        at this sequence; the caller has a size kept at it, so the directory was read at
        this state before (a directory that changes between every two reads never pays)."""
        kept = self._get(self.marks_key)
        if not _are_marks(kept):
            step = max(MARK_STEP, -(-total // MAX_MARKS))
            numbered = self.queryset.order_by().annotate(
                position=Window(RowNumber(), order_by=F("id").asc())
            )
            # Kept as text: every deep page reads them back from the cache, and unpickling
            # 1,000 UUID objects cost ~2.9 ms a page at 1,000,000 users (1,000 strings: 0.2).
            marks = [
                str(mark)
                for mark in numbered.annotate(place=Mod(F("position") - 1, step))
                .filter(place=0)
                .order_by("id")
                .values_list("id", flat=True)
            ]
            kept = (step, marks)
            self._set(self.marks_key, kept)
        step, marks = kept
        if offset // step >= len(marks):
            return []
        skip = offset % step
        try:
            mark = uuid.UUID(marks[offset // step])
        except ValueError:
            self._set(self.marks_key, None)
            return read_page(self.kind, self.connection, self.queryset, ["id"], offset, limit)
        rows = self.queryset.filter(id__gte=mark).order_by("id")
        return list(rows[skip : skip + limit])

    def count(self) -> int:
        """The kept size, or ``COUNT(*)``, kept."""
        total = self.known()
        if total is None:
            total = int(self.queryset.count())
            self.keep(total)
        return total


def _is_count(value: Any) -> bool:
    return type(value) is int and value >= 0


def _are_marks(value: Any) -> bool:
    """Whether ``value`` is ``(step, marks)`` as :meth:`DirectoryTotal.page` keeps them."""
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and type(value[0]) is int
        and value[0] > 0
        and isinstance(value[1], list)
        and all(isinstance(mark, str) for mark in value[1])
    )


def _read_directory(
    kind: ResourceKind, connection: Connection, queryset: Any, offset: int, limit: int
) -> tuple[int, list[Any]]:
    """``run_query`` of an unfiltered list in id order: the page, and the kept size."""
    total = DirectoryTotal(kind, connection, queryset)
    known = total.known()
    if known is not None and (limit == 0 or offset >= known):
        return known, []
    if known is not None:
        if offset >= DEFERRED_JOIN_OFFSET:
            return known, total.page(known, offset, limit)
        return known, read_page(kind, connection, queryset, ["id"], offset, limit)
    page = read_page(kind, connection, queryset, ["id"], offset, limit) if limit else []
    if limit and len(page) < limit and (page or offset == 0):
        counted = offset + len(page)
    else:
        counted = int(queryset.count())
    total.keep(counted)
    return counted, page
