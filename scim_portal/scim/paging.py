"""Pages of a directory (RFC 7644 section 3.4.2.4) at the same cost at any size.

A filtered or sorted list is one query for the page and, when the page is full,
``COUNT(*)`` for ``totalResults``. An unfiltered list in id order — how Okta imports
a directory, 100 users a page — also remembers, per connection and resource type,
the directory's size and the id at every ``step``-th position (*marks*), in Django's
cache, so that a page needs neither ``COUNT(*)`` over the whole directory nor a walk
of the index to its offset: it starts at the mark before it (``id >= mark``).

What is remembered belongs to one state of the directory, named by the connection's
event counter (``Connection.last_event_number``), which every create and delete
through :mod:`scim_portal.provisioning` raises in its own transaction: a request
uses it only when it was taken at the counter the request read with its token (or a
later one). Saves and deletes of directory rows that bypass the provisioning API
forget it through Django's ``post_save``/``post_delete`` signals once they commit;
writes that bypass signals too (``bulk_create``, raw SQL) show within
``LIST_CACHE_TIMEOUT`` seconds, or at once after :func:`forget_positions`. Inside a
transaction nothing is read from or written to the cache: the transaction may hold
writes that are not committed yet.
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.cache import caches
from django.db import connections, transaction
from django.db.models import F, Window
from django.db.models.functions import Mod, RowNumber
from django.db.models.signals import post_delete, post_save

from .._cache import guarded
from ..conf import app_settings
from ..models import Connection, DirectoryGroup, DirectoryUser
from .filters import parse

if TYPE_CHECKING:
    from scim2_models.path import FilterNode

    from .resources import ResourceKind
    from .views import SearchParameters

#: From this offset on, a page is read as a deferred join. Measured on PostgreSQL: at offset
#: 500 the plain OFFSET is ~1 ms cheaper (no subquery); at 50,000 the join is 3x cheaper.
DEFERRED_JOIN_OFFSET = 2000
#: Marks are at every ``MARK_STEP``-th position, or further apart so that there are at
#: most ``MAX_MARKS`` (16 bytes each) whatever the directory's size.
MARK_STEP = 100
MAX_MARKS = 1000
#: Deep pages read at one state of the directory before its marks are taken: taking them
#: costs about five deep pages (one pass over the index), so a directory that changes
#: between every two reads never pays for them.
DEEP_READS_BEFORE_MARKS = 2
CACHE_ALIAS = "default"

logger = logging.getLogger("scim_portal.scim")


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
    if not params.filter and not params.sort_by:
        return _read_directory(kind, connection, queryset, params.start - 1, params.count)
    builder = kind.query_builder()
    if params.filter:
        tree = parse(params.filter) if tree is None else tree
        queryset = queryset.filter(builder.visit(tree))
    if params.count == 0:
        return queryset.count(), []
    ordering = builder.order_by(params.sort_by, params.descending) if params.sort_by else ["id"]
    offset = params.start - 1
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


@dataclass
class Positions:
    """A directory's size and marks at one state (``version``) of its connection."""

    version: int
    total: int
    deep_reads: int = 0
    step: int = 0
    #: The ids at positions 0, step, 2 * step, … as 16 bytes each.
    marks: bytes = b""

    def mark(self, offset: int) -> tuple[uuid.UUID, int] | None:
        """The mark at or before ``offset`` and the distance from it, if marks are taken."""
        if not self.step:
            return None
        index = offset // self.step
        if (index + 1) * 16 > len(self.marks):
            return None
        return uuid.UUID(bytes=self.marks[index * 16 : index * 16 + 16]), offset - index * self.step

    def take_marks(self, queryset: Any) -> None:
        """Read the marks: one pass over the (connection, id) index, numbering its rows."""
        self.step = MARK_STEP * max(1, math.ceil(self.total / (MARK_STEP * MAX_MARKS)))
        numbered = queryset.annotate(position=Window(RowNumber(), order_by=F("pk").asc()))
        marked = numbered.annotate(off=Mod(F("position") - 1, self.step)).filter(off=0)
        ids = marked.order_by("pk").values_list("pk", flat=True)
        self.marks = b"".join(value.bytes for value in ids)


def cache_key(connection_pk: Any, model: type[Any]) -> str:
    return f"scim_portal:positions:1:{model._meta.model_name}:{connection_pk}"


class PositionStore:
    """Where a connection's :class:`Positions` of one resource type are kept."""

    def __init__(self, connection: Connection, model: type[Any]) -> None:
        self.version = connection.last_event_number
        self.key = cache_key(connection.pk, model)
        self.cache = caches[CACHE_ALIAS]
        self.timeout = app_settings.LIST_CACHE_TIMEOUT

    @classmethod
    def open(cls, connection: Connection, model: type[Any], using: str) -> PositionStore | None:
        """The store, or None when disabled or inside a transaction (see the module)."""
        if not app_settings.LIST_CACHE_TIMEOUT or connections[using].in_atomic_block:
            return None
        return cls(connection, model)

    def load(self) -> Positions | None:
        # An unreachable cache costs a COUNT(*), never the answer.
        value = guarded(lambda: self.cache.get(self.key), None, "list positions")
        if value is None or value[0] < self.version:
            return None
        return Positions(*value)

    def save(self, positions: Positions) -> None:
        value = (
            positions.version,
            positions.total,
            positions.deep_reads,
            positions.step,
            positions.marks,
        )
        guarded(lambda: self.cache.set(self.key, value, self.timeout), None, "list positions")


def _read_directory(
    kind: ResourceKind, connection: Connection, queryset: Any, offset: int, limit: int
) -> tuple[int, list[Any]]:
    """``run_query`` of an unfiltered list in id order, with the remembered positions."""
    store = PositionStore.open(connection, kind.model_class, queryset.db)
    known = store.load() if store else None
    if known is not None:
        if limit == 0 or offset >= known.total:
            return known.total, []
        start = known.mark(offset)
        if start is not None:
            mark, distance = start
            after = queryset.filter(pk__gte=mark)
            return known.total, read_page(kind, connection, after, ["id"], distance, limit)
    page = read_page(kind, connection, queryset, ["id"], offset, limit) if limit else []
    if limit and len(page) < limit and (page or offset == 0):
        return offset + len(page), page
    if store is None:
        return queryset.count(), page
    changed = known is None
    if known is None:
        known = Positions(store.version, queryset.count())
    if limit and offset >= DEFERRED_JOIN_OFFSET:
        known.deep_reads += 1
        if known.deep_reads >= DEEP_READS_BEFORE_MARKS:
            known.take_marks(queryset)
        changed = True
    if changed:
        store.save(known)
    return known.total, page


class _Forget:
    """Forget a connection's positions of one resource type (an on-commit callback)."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Forget) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __call__(self) -> None:
        try:
            caches[CACHE_ALIAS].delete(self.key)
        except Exception:  # the change is committed; what is kept expires with its timeout
            logger.warning("Could not forget list positions in the cache", exc_info=True)


def directory_changed(sender: type[Any], instance: Any, using: str, **kwargs: Any) -> None:
    """``post_save``/``post_delete`` of a directory row: forget its connection's positions
    once the change commits (one callback for a run of deletes in one transaction)."""
    if kwargs.get("created") is False or not app_settings.LIST_CACHE_TIMEOUT:
        return  # an update moves no row
    forget = _Forget(cache_key(instance.connection_id, sender))
    database = connections[using]
    if database.in_atomic_block and _last_on_commit(database) == forget:
        return
    transaction.on_commit(forget, using=using)


def _last_on_commit(database: Any) -> Any:
    """The callback registered last in the open transaction (Django keeps
    ``(savepoint ids, callback, robust)`` in ``run_on_commit``); None if unknown."""
    try:
        return database.run_on_commit[-1][1]
    except (AttributeError, IndexError, TypeError):
        return None


DIRECTORY_MODELS = (DirectoryUser, DirectoryGroup)
#: (signal, model, dispatch_uid) of every change of a directory row that is listened to.
RECEIVERS = [
    (signal, model, f"scim_portal.positions.{name}.{model._meta.model_name}")
    for model in DIRECTORY_MODELS
    for name, signal in (("saved", post_save), ("deleted", post_delete))
]


def listen() -> None:
    """Connect :func:`directory_changed` (from ``AppConfig.ready``)."""
    for signal, model, uid in RECEIVERS:
        signal.connect(directory_changed, sender=model, dispatch_uid=uid)


def forget_positions(connection: Connection) -> None:
    """Forget what is remembered of ``connection``'s lists. Call it after writing its
    directory rows without Django's signals (``bulk_create``, ``QuerySet.update`` of
    ``connection``, raw SQL); otherwise they show within ``LIST_CACHE_TIMEOUT``."""
    caches[CACHE_ALIAS].delete_many([cache_key(connection.pk, m) for m in DIRECTORY_MODELS])
