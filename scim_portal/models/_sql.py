"""Names and parameters for the few statements the models' managers write by hand.

Every name comes from the models' metadata, quoted by the backend of the database
the router chose; the SQL text of a statement is built once per database. Which
statements are hand-written, and what each measured against its ORM twin:
docs/benchmarks.md, "Hand-written SQL, statement by statement". Only the model
managers import this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from django.conf import settings
from django.db import connections, models
from django.utils import timezone

M = TypeVar("M", bound=models.Model)


def table(model: type[models.Model], using: str) -> str:
    return connections[using].ops.quote_name(model._meta.db_table)


def column(model: type[models.Model], name: str, using: str) -> str:
    """The quoted column of field ``name`` of ``model``."""
    field = model._meta.get_field(name)
    return connections[using].ops.quote_name(str(field.column))  # type: ignore[union-attr]


@cache
def select_list(model: type[models.Model], alias: str, using: str) -> str:
    """Every concrete column of ``model`` under the table alias ``alias``, as a SELECT
    list (what :func:`build` reads back)."""
    quote = connections[using].ops.quote_name
    return ", ".join(f"{alias}.{quote(str(field.column))}" for field in model._meta.concrete_fields)


def prepared(model: type[models.Model], values: dict[str, Any], using: str) -> list[Any]:
    """``values`` of fields of ``model`` as the database takes them: what a queryset does
    to a filter's values."""
    database = connections[using]
    result = []
    for name, value in values.items():
        field: Any = model._meta.get_field(name)
        result.append(field.get_db_prep_value(field.to_python(value), database))
    return result


def python_value(field: Any, value: Any, using: str) -> Any:
    """A column's value as ``field`` holds it, through the field's public conversions:
    ``from_db_value`` (JSON text decoded; a foreign key converts as its target), then
    ``to_python`` (what SQLite returns as text or integers: dates, UUIDs, booleans); a
    naive datetime is in the database's time zone (``connection.timezone``: UTC unless
    ``DATABASES[...]["TIME_ZONE"]`` says otherwise), as Django's own converters read it.
    tests/test_sql.py compares the results with the ORM's."""
    if value is None:
        return None
    source = getattr(field, "target_field", None) if field.is_relation else field
    source = source or field
    from_db = getattr(source, "from_db_value", None)
    if from_db is not None:
        value = from_db(value, None, connections[using])
    value = source.to_python(value)
    if isinstance(value, datetime) and settings.USE_TZ and timezone.is_naive(value):
        value = timezone.make_aware(value, connections[using].timezone)
    return value


def build(model: type[M], row: Sequence[Any], using: str, start: int = 0) -> M:
    """The instance of ``model`` whose concrete columns, in :func:`select_list` order, are
    ``row[start:]``: each converted by :func:`python_value`, then ``Model.from_db`` (the
    ORM's documented way to make an instance of loaded values)."""
    fields = model._meta.concrete_fields
    values = [
        python_value(field, value, using)
        for field, value in zip(fields, row[start : start + len(fields)], strict=True)
    ]
    return model.from_db(using, [field.attname for field in fields], values)


def fetch(sql: str, params: Sequence[Any], using: str) -> list[tuple[Any, ...]]:
    """The rows of one statement on the database ``using``."""
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
