"""Names and parameters for the few statements the models' managers write by hand.

Every name comes from the models' metadata, quoted by the backend of the database
the router chose; the SQL text of a statement is built once per database. Which
statements are hand-written, and what each measured against its ORM twin:
docs/benchmarks.md, "Hand-written SQL, statement by statement". Only the model
managers import this module.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from django.conf import settings
from django.db import connections, models
from django.utils import timezone


def table(model: type[models.Model], using: str) -> str:
    return connections[using].ops.quote_name(model._meta.db_table)


def column(model: type[models.Model], name: str, using: str) -> str:
    """The quoted column of field ``name`` of ``model``."""
    field = model._meta.get_field(name)
    return connections[using].ops.quote_name(str(field.column))  # type: ignore[union-attr]


@cache
def select_list(model: type[models.Model], alias: str, using: str) -> str:
    """Every concrete column of ``model`` under the table alias ``alias``, as a SELECT
    list (what ``Manager.raw()`` maps back to the fields)."""
    quote = connections[using].ops.quote_name
    return ", ".join(f"{alias}.{quote(str(field.column))}" for field in model._meta.concrete_fields)


def prepared(model: type[models.Model], values: dict[str, Any], using: str) -> list[Any]:
    """``values`` of fields of ``model`` as the database takes them: what a queryset does
    to a filter's values, and ``raw()`` does not."""
    database = connections[using]
    result = []
    for name, value in values.items():
        field: Any = model._meta.get_field(name)
        result.append(field.get_db_prep_value(field.to_python(value), database))
    return result


def python_value(field: Any, value: Any) -> Any:
    """A column read beside a ``raw()`` model, as ``field`` holds it: ``to_python``
    parses what SQLite returns as text (dates, UUIDs), and a naive datetime is UTC
    when ``USE_TZ`` (how Django stores it)."""
    value = field.to_python(value)
    if isinstance(value, datetime) and settings.USE_TZ and timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value
