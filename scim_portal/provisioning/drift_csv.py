"""The drift report (:mod:`.drift`) as CSV: every row of every kind, read a batch at a
time and written as it is read, for the portal's download and the API."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.utils import timezone
from django.utils.text import slugify

from ..models import Connection
from .drift import KINDS, Drift

HEADER = ["kind", "directory_id", "userName", "host_user_id", "host_user", "email",
              "directory", "host", "reason"]  # fmt: skip
#: A cell starting with one of these is a formula to a spreadsheet: it is quoted.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def records(connection: Connection) -> Iterator[list[str]]:
    """The header, then every row of every kind, read a batch at a time."""
    drift = Drift(connection)
    yield HEADER
    for kind in KINDS:
        for row in drift.rows(kind):
            yield [_cell(value) for value in (
                row.kind, row.directory_user_id or "", row.user_name,
                "" if row.host_user_id is None else str(row.host_user_id), row.host_username,
                row.email, row.directory, row.host, row.reason,
            )]  # fmt: skip


def filename(connection: Connection) -> str:
    """The export's file name: the connection's name and the time, in UTC."""
    name = slugify(connection.name) or "connection"
    return f"drift-{name}-{timezone.now():%Y%m%d-%H%M}.csv"


class _Line:
    """A file for ``csv.writer`` that hands back what it is given."""

    def write(self, value: str) -> str:
        return value


def lines(connection: Connection) -> Iterator[str]:
    """The CSV export line by line, for a streaming response."""
    writer = csv.writer(_Line())
    for record in records(connection):
        yield writer.writerow(record)


def write_csv(connection: Connection, file: Any) -> int:
    """Write every row of the drift report of ``connection`` to ``file`` as CSV; the
    number of rows written (without the header)."""
    writer = csv.writer(file)
    written = -1
    for record in records(connection):
        writer.writerow(record)
        written += 1
    return written


def _cell(value: str) -> str:
    value = str(value or "")
    return "'" + value if value.startswith(_FORMULA) else value
