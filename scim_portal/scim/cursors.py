"""Cursor paging (RFC 9865): signed, opaque cursors over keyset reads.

A page continues from a row — after it (``nextCursor``) or before it (``previousCursor``)
— named by the row's id and, in a sorted list, its sort key. The page is read from there
through the index of its order, ``WHERE (key, id) > (its key, its id) ORDER BY key, id
LIMIT count + 1`` (one row more, to know whether a next page exists), so page 1,000
costs what page 1 costs; and rows created or deleted between pages move no other row,
so a walk sees once every row that stays in the list with the same sort key.

A list is read as *parts*, one after another, each in its own order: a sorted list's
rows that have a sort key, then those without it (RFC 7644 sorts them last either way)
in id order; ``/.search`` reads users, then groups.

A cursor is JSON encrypted and authenticated with Fernet (``cryptography``: AES-128-CBC
and HMAC-SHA256) under a key derived from ``SECRET_KEY`` (and each of
``SECRET_KEY_FALLBACKS``, so rotating the secret key keeps live cursors readable) and
the binding — the connection, the endpoint and the query (filter, sortBy and sortOrder;
``attributes`` may change between pages) — with the time it was made. Encrypted, a
cursor shows nothing of the row it continues from (a sort key is a userName or an email
address, and URLs end up in proxies' logs). A cursor changed in any way, or shown to
another connection, endpoint or query, fails its authentication: ``invalidCursor``, with
the same words whatever the reason. One older than ``CURSOR_TIMEOUT`` seconds is
``expiredCursor``. A cursor carries its page's ``count``; another ``count`` is
``invalidCount`` (RFC 9865 section 2.1). Nothing is kept on the server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db.models import F, OrderBy, Q
from django.utils.encoding import force_bytes

from ..conf import app_settings
from ..models import Connection
from .exceptions import ExpiredCursor, InvalidCount, InvalidCursor

if TYPE_CHECKING:
    from .resources import ResourceKind

#: The name of the sort key's annotation in a sorted part.
SORT_KEY = "scim_sort_key"
SALT = "scim_portal.scim.cursor"
#: RFC 3986 unreserved characters, the only ones a cursor may hold (RFC 9865 section 2).
UNRESERVED = re.compile(r"[A-Za-z0-9._~-]+")
#: Seconds a cursor's time may be ahead of this server's clock (another server made it).
CLOCK_SKEW = 60


@dataclass(frozen=True)
class Position:
    """A row a page starts after (or, going back, ends before): its part, id and sort key."""

    part: int
    id: uuid.UUID
    key: Any = None


@dataclass(frozen=True)
class Part:
    """Rows of one resource type in one order: by ``SORT_KEY`` when ``keyed``, then id."""

    kind: ResourceKind
    rows: Any
    keyed: bool = False
    descending: bool = False

    def read(self, boundary: Position | None, forward: bool, limit: int) -> list[Any]:
        """Up to ``limit`` rows beyond ``boundary`` in the reading direction; from the start
        (or, reading backward, the end) without one."""
        down = self.descending if forward else not self.descending
        rows = self.rows
        if boundary is not None:
            rows = rows.filter(self._beyond(boundary, down))
        order: list[Any] = []
        if self.keyed:
            order.append(F(SORT_KEY).desc() if down else F(SORT_KEY).asc())
        order.append("-id" if down else "id")
        return list(rows.order_by(*order)[:limit])

    def _beyond(self, boundary: Position, down: bool) -> Q:
        op = "lt" if down else "gt"
        beyond_id = Q(**{f"id__{op}": boundary.id})
        if not self.keyed:
            return beyond_id
        key = boundary.key
        # ``key >= k`` follows from the rest; it lets the database start its scan at ``k``.
        return Q(**{f"{SORT_KEY}__{op}e": key}) & (
            Q(**{f"{SORT_KEY}__{op}": key}) | (Q(**{SORT_KEY: key}) & beyond_id)
        )

    def position(self, index: int, row: Any) -> Position:
        return Position(index, row.id, _plain(getattr(row, SORT_KEY)) if self.keyed else None)


def parts(kind: ResourceKind, queryset: Any, ordering: Sequence[Any] | None = None) -> list[Part]:
    """The parts of ``queryset`` in ``ordering`` — what ``QueryBuilder.order_by`` gives for
    ``sortBy``: the sort key ascending or descending, nulls last, then id — or in id order."""
    if not ordering:
        return [Part(kind, queryset)]
    sort = ordering[0]
    if not isinstance(sort, OrderBy):
        raise TypeError(f"Expected the sort key's OrderBy first, not {sort!r}.")
    [key] = sort.get_source_expressions()
    annotated = queryset.annotate(**{SORT_KEY: key})
    return [
        Part(kind, annotated.filter(**{f"{SORT_KEY}__isnull": False}), True, sort.descending),
        Part(kind, annotated.filter(**{f"{SORT_KEY}__isnull": True}), False, sort.descending),
    ]


def _plain(value: Any) -> Any:
    """A sort key as JSON holds it; the database reads it back through the key's field."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


@dataclass
class Page:
    """Rows of a page with their parts, and the positions of the pages beside it."""

    rows: list[tuple[Part, Any]]
    next: Position | None = None
    previous: Position | None = None


class Walk:
    """Pages of a list read as ``parts``, one after another."""

    def __init__(self, parts: list[Part]) -> None:
        self.parts = parts

    def page(self, start: Position | None, backward: bool, limit: int) -> Page:
        """The ``limit`` rows after ``start`` (from the list's start without one) or, with
        ``backward``, before it. Less than a page before ``start`` is the first page."""
        if backward and start is not None:
            found = self._read(start, False, limit + 1)
            if len(found) > limit:
                rows = found[:limit][::-1]
                return Page(
                    [(self.parts[i], row) for i, row in rows],
                    next=self._position(rows[-1]),
                    previous=self._position(rows[0]),
                )
            start = None
        found = self._read(start, True, limit + 1)
        rows = found[:limit]
        return Page(
            [(self.parts[i], row) for i, row in rows],
            next=self._position(rows[-1]) if len(found) > limit else None,
            previous=self._position(rows[0]) if start is not None and rows else None,
        )

    def _read(self, start: Position | None, forward: bool, limit: int) -> list[tuple[int, Any]]:
        first = start.part if start is not None else 0  # backward reads always have a start
        indexes = range(first, len(self.parts)) if forward else range(first, -1, -1)
        found: list[tuple[int, Any]] = []
        for index in indexes:
            boundary = start if start is not None and index == start.part else None
            rows = self.parts[index].read(boundary, forward, limit - len(found))
            found += [(index, row) for row in rows]
            if len(found) >= limit:
                break
        return found

    def _position(self, item: tuple[int, Any]) -> Position:
        index, row = item
        return self.parts[index].position(index, row)


@dataclass(frozen=True)
class Cursor:
    """What a cursor says: where its page starts, which way, and the page size."""

    position: Position
    backward: bool
    count: int


def _fernet(context: str) -> MultiFernet:
    """Fernet keys for ``context``: one from ``SECRET_KEY`` (encrypting) and one from each
    of ``SECRET_KEY_FALLBACKS`` (still read), each an HMAC-SHA256 of the context."""
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet(
        [
            Fernet(
                base64.urlsafe_b64encode(
                    hmac.new(force_bytes(secret), context.encode(), hashlib.sha256).digest()
                )
            )
            for secret in secrets
        ]
    )


class Cursors:
    """Mint and read the cursors of one query of one connection's endpoint."""

    def __init__(
        self,
        connection: Connection,
        endpoint: str,
        query: Sequence[Any],
        walk: Walk,
    ) -> None:
        binding = json.dumps([str(connection.pk), endpoint, *query], separators=(",", ":"))
        self.fernet = _fernet(f"{SALT}:{binding}")
        self.walk = walk

    def mint(self, position: Position, *, backward: bool, count: int) -> str:
        data: dict[str, Any] = {"p": position.part, "i": str(position.id), "n": count}
        if self.walk.parts[position.part].keyed:
            data["k"] = position.key
        if backward:
            data["b"] = 1
        data["t"] = int(time.time())
        token = self.fernet.encrypt(json.dumps(data, separators=(",", ":")).encode())
        return token.decode("ascii").rstrip("=")  # unreserved characters only

    def read(self, value: str, count: int) -> Cursor:
        """The cursor ``value`` (not empty) says, for a page of ``count``; SCIM errors for
        one that is not ours for this query, expired, or of another ``count``."""
        if not UNRESERVED.fullmatch(value):
            raise InvalidCursor()
        token = (value + "=" * (-len(value) % 4)).encode("ascii")
        try:
            # One spelling per cursor: base64 skips other characters and unused bits.
            if base64.urlsafe_b64encode(base64.urlsafe_b64decode(token)) != token:
                raise ValueError
            data = json.loads(self.fernet.decrypt(token))
            if not _as_minted(data):
                raise ValueError
        except (InvalidToken, ValueError, RecursionError):
            raise InvalidCursor() from None
        now = time.time()
        if data["t"] > now + CLOCK_SKEW:  # made in the future: not by us
            raise InvalidCursor()
        if now > data["t"] + app_settings.CURSOR_TIMEOUT:
            raise ExpiredCursor()
        try:
            part = self.walk.parts[data["p"]]
            key = data.get("k") if part.keyed else None
            if part.keyed and not _sort_key(key):
                raise ValueError
            position = Position(data["p"], uuid.UUID(data["i"]), key)
        except (IndexError, ValueError):
            raise InvalidCursor() from None
        cursor = Cursor(position, bool(data.get("b")), data["n"])
        if cursor.count != count:
            raise InvalidCount(
                f"'count' must stay {cursor.count}, as in the first page's request, "
                "for every page of the query."
            )
        return cursor


def _as_minted(data: Any) -> bool:
    """Whether ``data`` has the fields :meth:`Cursors.mint` writes, of their types."""
    return (
        isinstance(data, dict)
        and all(type(data.get(name)) is int for name in ("t", "p", "n"))
        and data["p"] >= 0
        and isinstance(data.get("i"), str)
    )


def _sort_key(key: Any) -> bool:
    """Whether ``key`` is a sort key as :func:`_plain` writes it."""
    if isinstance(key, str):
        return "\x00" not in key
    return isinstance(key, int | float)
