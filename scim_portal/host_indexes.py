"""Indexes for the default adapter's lookups on the host's user table.

Every SCIM create asks the host's user table two case-insensitive questions: who
holds this email (``email__iexact``) and is this username free (``username__iexact``).
On PostgreSQL those are ``UPPER(column) = UPPER(value)``, which no index Django
creates can answer: each create scans the whole table, so a first sync of *n* people
costs O(n²). Add the two expression indexes in one of your own migrations::

    from django.db import migrations
    from scim_portal.host_indexes import add_user_lookup_indexes, remove_user_lookup_indexes

    class Migration(migrations.Migration):
        dependencies = [("auth", "0012_alter_user_first_name_max_length")]  # or your user app
        operations = [
            migrations.RunPython(add_user_lookup_indexes, remove_user_lookup_indexes),
        ]

They are created only on PostgreSQL (elsewhere the functions do nothing), and only
when missing. Building them locks the table against writes for as long as the build
takes (seconds for a million rows); docs/integration.md says how to build them
concurrently instead.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib.auth import get_user_model


def user_lookup_indexes() -> list[tuple[str, str, str]]:
    """``(index name, table, column)`` of the indexes the default adapter's lookups use."""
    model = get_user_model()
    table = model._meta.db_table
    columns: set[str] = set()
    for name in (model.USERNAME_FIELD, model.get_email_field_name()):
        field = model._meta.get_field(name)
        columns.add(str(getattr(field, "column", name)))
    return [(_index_name(table, column), table, column) for column in sorted(columns)]


def _index_name(table: str, column: str) -> str:
    """``<table>_<column>_upper_scim``, or where that passes PostgreSQL's 63 bytes, its
    start and a digest of the whole (cut alone, two long names would be one)."""
    name = f"{table}_{column}_upper_scim"
    if len(name.encode()) <= 63:
        return name
    digest = hashlib.md5(f"{table}.{column}".encode(), usedforsecurity=False).hexdigest()[:8]
    start = f"{table}_{column}".encode()[:40].decode(errors="ignore")
    return f"{start}_{digest}_upper_scim"


def add_user_lookup_indexes(apps: Any, schema_editor: Any) -> None:
    """``CREATE INDEX … (UPPER(column))`` on the username and email columns (PostgreSQL)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    for name, table, column in user_lookup_indexes():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(table)} (UPPER({quote(column)}))"
        )


def remove_user_lookup_indexes(apps: Any, schema_editor: Any) -> None:
    """Drop what :func:`add_user_lookup_indexes` created."""
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in user_lookup_indexes():
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")
