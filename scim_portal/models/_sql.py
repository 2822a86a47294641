"""SQL written once for the few statements every SCIM request runs.

Django compiles a queryset to SQL each time it is evaluated: ~0.25 ms a statement on
the benchmark machine, as long as PostgreSQL takes to answer a lookup by primary key.
The token lookup, the read of one resource, the memberships of the resources in a
response and the request-log insert run on (nearly) every request, so their SQL is
built once per database from the models' metadata (table and column names quoted by
the backend) and only the values change. Rows become
the instances the ORM would build: the backend's and the fields' converters, then
``Model.from_db`` (tests/test_sql.py compares both).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, Generic, TypeVar

from django.db import connections, models, router

M = TypeVar("M", bound=models.Model)


class Columns(Generic[M]):
    """The concrete columns of ``model`` under a table alias, as a SELECT list, and how
    a row of them becomes an instance."""

    def __init__(self, model: type[M], alias: str, using: str) -> None:
        connection = connections[using]
        quote = connection.ops.quote_name
        fields = model._meta.concrete_fields
        self.model = model
        self.using = using
        self.width = len(fields)
        self.names = [field.attname for field in fields]
        self.select = ", ".join(f"{quote(alias)}.{quote(str(field.column))}" for field in fields)
        self.converters = _converters([(field, alias) for field in fields], connection)

    def build(self, row: Sequence[Any], start: int = 0) -> M:
        """The instance in ``row[start:start + width]``."""
        values = _convert(row[start : start + self.width], self.converters, self.using)
        return self.model.from_db(self.using, self.names, values)


#: Per selected column that needs them: its index, its expression and its converters.
Converters = list[tuple[int, Any, list[Any]]]


def _converters(selected: list[tuple[Any, str]], connection: Any) -> Converters:
    """What Django's compiler applies to each ``(field, table alias)`` read: the backend's
    converters, then the column's (a foreign key converts as its target)."""
    found: Converters = []
    for index, (field, alias) in enumerate(selected):
        column = field.get_col(alias)
        functions = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if functions:
            found.append((index, column, functions))
    return found


def _convert(row: Sequence[Any], converters: Converters, using: str) -> list[Any]:
    values = list(row)
    connection = connections[using]
    for index, column, functions in converters:
        for function in functions:
            values[index] = function(values[index], column, connection)
    return values


@cache
def columns(model: type[M], alias: str, using: str) -> Columns[M]:
    return Columns(model, alias, using)


def table(model: type[models.Model], using: str) -> str:
    return connections[using].ops.quote_name(model._meta.db_table)


def column(model: type[models.Model], name: str, using: str) -> str:
    field = model._meta.get_field(name)
    return connections[using].ops.quote_name(str(field.column))  # type: ignore[union-attr]


def prepared(model: type[models.Model], name: str, value: Any, using: str) -> Any:
    """``value`` of field ``name`` as the database takes it (raises on a malformed one)."""
    field = model._meta.get_field(name)
    return field.get_db_prep_value(field.to_python(value), connections[using])  # type: ignore[union-attr]


def fetch_one(sql: str, params: Sequence[Any], using: str) -> tuple[Any, ...] | None:
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()  # type: ignore[no-any-return]


def one_by(model: type[M], where: dict[str, Any]) -> M | None:
    """The row of ``model`` whose fields equal ``where`` (a unique key), or None."""
    using = router.db_for_read(model)
    found = columns(model, "r", using)
    sql = _one_by_sql(model, tuple(where), using)
    row = fetch_one(sql, _where_params(model, where, using), using)
    return None if row is None else found.build(row)


@cache
def _one_by_sql(model: type[models.Model], names: tuple[str, ...], using: str) -> str:
    select = columns(model, "r", using).select
    return f"SELECT {select} FROM {table(model, using)} r WHERE {_where(model, names, using)}"  # noqa: S608


def _where(model: type[models.Model], names: tuple[str, ...], using: str) -> str:
    return " AND ".join(f"r.{column(model, name, using)} = %s" for name in names)


def _where_params(model: type[models.Model], where: dict[str, Any], using: str) -> list[Any]:
    return [prepared(model, name, value, using) for name, value in where.items()]


def values_in(
    model: type[models.Model],
    names: tuple[str, ...],
    key: str,
    keys: Sequence[Any],
    order_by: str,
) -> list[tuple[Any, ...]]:
    """``model.objects.filter(<key>__in=keys).values_list(*names).order_by(order_by)``.

    ``names`` are fields of ``model`` or ``<foreign key>__<field>`` of the model it
    points to (joined once each).
    """
    if not keys:
        return []
    using = router.db_for_read(model)
    connection = connections[using]
    head, converters = _values_sql(model, names, key, order_by, using)
    prepare = model._meta.get_field(key).get_db_prep_value  # type: ignore[union-attr]
    placeholders = ", ".join(["%s"] * len(keys))
    with connection.cursor() as cursor:
        cursor.execute(head.format(placeholders), [prepare(k, connection) for k in keys])
        rows = cursor.fetchall()
    return [tuple(_convert(row, converters, using)) for row in rows]


@cache
def _values_sql(
    model: type[models.Model], names: tuple[str, ...], key: str, order_by: str, using: str
) -> tuple[str, Converters]:
    selected, joins, read = _value_columns(model, names, "r", using)
    sql = (
        f"SELECT {selected} FROM {table(model, using)} r {joins} "  # noqa: S608
        f"WHERE r.{column(model, key, using)} IN ({{}}) ORDER BY r.{column(model, order_by, using)}"
    )
    return sql, _converters(read, connections[using])


def _value_columns(
    model: type[models.Model], names: tuple[str, ...], alias: str, using: str, join: str = "INNER"
) -> tuple[str, str, list[tuple[Any, str]]]:
    """SELECT list and joins for ``names`` of ``model`` (aliased ``alias``), and the
    ``(field, table alias)`` each column reads."""
    quote = connections[using].ops.quote_name
    selected, joins, read = [], {}, []
    for name in names:
        relation, _, attribute = name.rpartition("__")
        if relation:
            foreign = model._meta.get_field(relation)
            target: Any = foreign.related_model
            joined = f"j_{relation}"
            joins[joined] = (
                f"{join} JOIN {table(target, using)} {joined} ON {joined}."
                f"{quote(str(target._meta.pk.column))} = {alias}.{quote(str(foreign.column))}"  # type: ignore[union-attr]
            )
            field, at = target._meta.get_field(attribute), joined
        else:
            field, at = model._meta.get_field(name), alias
        selected.append(f"{at}.{quote(str(field.column))}")
        read.append((field, at))
    return ", ".join(selected), " ".join(joins.values()), read


def one_with_values(
    model: type[M],
    where: dict[str, Any],
    related: type[models.Model],
    names: tuple[str, ...],
    key: str,
    order_by: str,
) -> tuple[M, list[tuple[Any, ...]]] | None:
    """``one_by(model, where)`` and ``values_in(related, names, key, [its pk], order_by)``
    in one statement (a LEFT JOIN): one round trip to the database instead of two."""
    using = router.db_for_read(model)
    sql, converters, width = _one_with_values_sql(
        model, tuple(where), related, names, key, order_by, using
    )
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(sql, _where_params(model, where, using))
        rows = cursor.fetchall()
    if not rows:
        return None
    found = columns(model, "r", using).build(rows[0])
    values = [
        tuple(_convert(row[width:], converters, using)) for row in rows if row[width] is not None
    ]
    return found, values


@cache
def _one_with_values_sql(
    model: type[models.Model],
    names: tuple[str, ...],
    related: type[models.Model],
    value_names: tuple[str, ...],
    key: str,
    order_by: str,
    using: str,
) -> tuple[str, Converters, int]:
    base = columns(model, "r", using)
    selected, joins, read = _value_columns(related, value_names, "v", using, join="LEFT")
    condition = _where(model, names, using)
    pk = connections[using].ops.quote_name(str(model._meta.pk.column))  # type: ignore[union-attr]
    sql = (
        f"SELECT {base.select}, {selected} FROM {table(model, using)} r "  # noqa: S608
        f"LEFT JOIN {table(related, using)} v ON v.{column(related, key, using)} = r.{pk} "
        f"{joins} WHERE {condition} ORDER BY v.{column(related, order_by, using)}"
    )
    return sql, _converters(read, connections[using]), base.width


def insert(obj: models.Model) -> None:
    """INSERT ``obj`` (a model whose primary key the database assigns) without reading
    its new key back: what ``save()`` does for a log row, minus the compiler."""
    model = type(obj)
    using = router.db_for_write(model)
    connection = connections[using]
    sql, fields = _insert_sql(model, using)
    params = [field.get_db_prep_save(getattr(obj, field.attname), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@cache
def _insert_sql(model: type[models.Model], using: str) -> tuple[str, list[Any]]:
    if not getattr(model._meta.pk, "db_returning", False):
        raise ValueError(f"{model.__name__}'s primary key is not assigned by the database.")
    quote = connections[using].ops.quote_name
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    names = ", ".join(quote(str(field.column)) for field in fields)
    values = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {table(model, using)} ({names}) VALUES ({values})", fields  # noqa: S608
