"""Each hand-written SQL statement against its ORM twin, in process, on PostgreSQL.

Run by hand (not part of ``make bench``)::

    scripts/with-postgres .venv/bin/python -m bench.sql_statements [--calls 2000] [--repeats 7]

It migrates the throwaway database, loads a small directory (500 users in 3 of 20
groups each), then for every statement times both variants call by call, alternating
them (so a busy neighbour slows both alike), ``--calls`` calls per repeat. It prints,
per variant, the median per-call time of each repeat, the median of those medians and
their spread (max - min): the run-to-run noise a gain must clear.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("TEST_DATABASE", "postgres")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection as db  # noqa: E402
from django.db import transaction  # noqa: E402
from django.db.models import F  # noqa: E402

from scim_portal.models import (  # noqa: E402
    Connection,
    ConnectionToken,
    DirectoryGroup,
    DirectoryUser,
    GroupMembership,
    RequestLog,
    _sql,
)
from scim_portal.models.connections import _token_by_digest  # noqa: E402
from scim_portal.provisioning.events import _reserve_numbers  # noqa: E402
from scim_portal.scim.resources import GROUPS, USERS  # noqa: E402
from tests.testapp.models import Organization  # noqa: E402

Variant = Callable[[], Any]


def load() -> dict[str, Any]:
    call_command("migrate", verbosity=0)
    account = Organization.objects.create(handle="bench", name="Bench")
    connection = Connection.objects.create(account=account, name="Okta", provider="okta")
    issued = ConnectionToken.build(connection)
    issued.token.save()
    users = DirectoryUser.objects.bulk_create(
        DirectoryUser(
            connection=connection,
            user_name=f"user{i:04}@example.com",
            display_name=f"User {i}",
            email=f"user{i:04}@example.com",
            attributes={"userName": f"user{i:04}@example.com", "active": True},
        )
        for i in range(500)
    )
    groups = DirectoryGroup.objects.bulk_create(
        DirectoryGroup(connection=connection, display_name=f"Group {i}", attributes={})
        for i in range(20)
    )
    GroupMembership.objects.bulk_create(
        GroupMembership(user=user, group=groups[(i + k) % 20])
        for i, user in enumerate(users)
        for k in range(3)
    )
    with db.cursor() as cursor:  # planner statistics, as autovacuum would give them
        cursor.execute("ANALYZE")
    return {
        "connection": connection,
        "digest": issued.token.digest,
        "user": users[250],
        "group": groups[7],
        "page_users": [u.pk for u in users[100:200]],
        "page_groups": [g.pk for g in groups],
    }


def orm_token(digest: str) -> ConnectionToken | None:
    try:
        return ConnectionToken.objects.select_related("connection").get(digest=digest)
    except ConnectionToken.DoesNotExist:
        return None


def orm_one(model: Any, where: dict[str, Any]) -> Any:
    try:
        return model.objects.get(**where)
    except model.DoesNotExist:
        return None


def orm_one_with_groups(where: dict[str, Any]) -> Any:
    rows = list(
        DirectoryUser.objects.filter(**where)
        .annotate(
            item_id=F("groupmembership__group_id"),
            item_display=F("groupmembership__group__display_name"),
        )
        .order_by("groupmembership__group_id")
    )
    if not rows:
        return None
    return rows[0], [(r.id, r.item_id, r.item_display) for r in rows if r.item_id is not None]


def orm_values(kind: Any, keys: list[Any]) -> list[tuple[Any, ...]]:
    return list(
        GroupMembership.objects.filter(**{f"{kind.owner_field}__in": keys})
        .values_list(*kind.related_names)
        .order_by(kind.item_fields[0])
    )


def log_fields(connection: Connection) -> dict[str, Any]:
    return {
        "connection_id": connection.pk,
        "method": "GET",
        "path": f"/scim/v2/{connection.pk}/Users/x",
        "query": "",
        "status": 200,
        "duration_ms": 1.5,
        "user_agent": "Okta SCIM Client 1.0.0",
        "idp": "okta",
        "token_prefix": "scimp_abc",
    }


def orm_reserve(pk: Any, count: int) -> int:
    rows = Connection.objects.filter(pk=pk)
    rows.update(last_event_number=F("last_event_number") + count)
    return rows.values_list("last_event_number", flat=True).get()


def in_transaction(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` in a transaction of its own, as a change runs it (the same row
    updated many times in one transaction would slow down with every row version)."""
    with transaction.atomic():
        return function(*args)


def statements(data: dict[str, Any]) -> dict[str, dict[str, Variant]]:
    connection, user, group = data["connection"], data["user"], data["group"]
    digest = data["digest"]
    user_where = {"connection": connection.pk, "id": str(user.pk)}
    group_where = {"connection": connection.pk, "id": str(group.pk)}
    names = USERS.related_names
    fields = log_fields(connection)
    return {
        "token lookup (token + connection)": {
            "sql": lambda: _token_by_digest(digest),
            "orm": lambda: orm_token(digest),
        },
        "one group by id": {
            "sql": lambda: _sql.one_by(DirectoryGroup, group_where),
            "orm": lambda: orm_one(DirectoryGroup, group_where),
        },
        "one user by id with its groups (one statement)": {
            "sql": lambda: _sql.one_with_values(
                DirectoryUser, user_where, GroupMembership, names, "user_id", "group_id"
            ),
            "orm": lambda: orm_one_with_groups(user_where),
        },
        "groups of a page of 100 users": {
            "sql": lambda: _sql.values_in(
                GroupMembership, names, "user_id", data["page_users"], "group_id"
            ),
            "orm": lambda: orm_values(USERS, data["page_users"]),
        },
        "members of a page of 20 groups (75 each)": {
            "sql": lambda: _sql.values_in(
                GroupMembership, GROUPS.related_names, "group_id", data["page_groups"], "user_id"
            ),
            "orm": lambda: orm_values(GROUPS, data["page_groups"]),
        },
        "request-log insert": {
            "sql": lambda: _sql.insert(RequestLog(**fields)),
            "orm": lambda: RequestLog.objects.create(**fields),
        },
        "event numbers (each in its transaction)": {
            "sql": lambda: in_transaction(_reserve_numbers, connection.pk, 1),
            "orm": lambda: in_transaction(orm_reserve, connection.pk, 1),
        },
    }


def measure(variants: dict[str, Variant], calls: int, repeats: int) -> dict[str, list[float]]:
    """Per variant, the median per-call µs of each repeat (variants alternate call by call)."""
    names = list(variants)
    medians: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(50):  # warm up: caches, prepared converters, the connection
        for name in names:
            variants[name]()
    for _repeat in range(repeats):
        gc.collect()
        times: dict[str, list[int]] = {name: [] for name in names}
        for call in range(calls):
            order = names if call % 2 == 0 else names[::-1]
            for name in order:
                start = time.perf_counter_ns()
                variants[name]()
                times[name].append(time.perf_counter_ns() - start)
        for name in names:
            medians[name].append(statistics.median(times[name]) / 1000)
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    data = load()
    print(f"{args.calls} calls x {args.repeats} repeats; µs per call (median of repeat medians)")
    print(
        "| statement | hand-written SQL | ORM | gain | noise (spread) | repeat medians sql / orm |"
    )
    print("|---|---|---|---|---|---|")
    for title, variants in statements(data).items():
        medians = measure(variants, args.calls, args.repeats)
        sql, orm = statistics.median(medians["sql"]), statistics.median(medians["orm"])
        noise = max(max(m) - min(m) for m in medians.values())
        shown = " / ".join(",".join(f"{v:.0f}" for v in medians[name]) for name in ("sql", "orm"))
        print(f"| {title} | {sql:.0f} | {orm:.0f} | {orm - sql:.0f} | {noise:.0f} | {shown} |")


if __name__ == "__main__":
    main()
