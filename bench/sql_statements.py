"""Each hand-written SQL statement against its ORM twin, in process, on PostgreSQL.

Run by hand (not part of ``make bench``)::

    scripts/with-postgres .venv/bin/python -m bench.sql_statements [--calls 2000] [--repeats 7]
        [--only token Basic]

It migrates the throwaway database, loads a small directory (500 users in 3 of 20
groups each), then for every statement times both variants call by call, alternating
them (so a busy neighbour slows both alike), ``--calls`` calls per repeat. It prints,
per variant, the median of the repeats' median per-call times and their spread
(max - min: the run-to-run noise a gain must clear), and the gain of each repeat (the
two variants of a repeat ran side by side, so it moves less than either).

The statements are the model managers' (``DirectoryUser.objects.one()``, …; the Basic
lookup is ``Credential.objects.by_secret()``, the access-token lookup
``AccessToken.objects.by_value()``). At commit
8338f80 the same script timed the ``models/_sql.py`` of that time, including the
statements since given back to the ORM (docs/benchmarks.md has both tables).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("TEST_DATABASE", "postgres")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection as db  # noqa: E402
from django.db import transaction  # noqa: E402
from django.db.models import F, Q  # noqa: E402
from django.utils import timezone  # noqa: E402

from scim_portal.models import (  # noqa: E402
    AccessToken,
    Connection,
    Credential,
    CredentialKind,
    DirectoryGroup,
    DirectoryUser,
    GroupMembership,
    ProvisioningEvent,
    RequestLog,
)
from scim_portal.models.credentials import ACCESS_TOKEN_PREFIX  # noqa: E402
from scim_portal.models.events import _create_numbered_orm, _create_numbered_sql  # noqa: E402
from tests.testapp.models import Organization  # noqa: E402

Variant = Callable[[], Any]


def load() -> dict[str, Any]:
    call_command("migrate", verbosity=0)
    account = Organization.objects.create(handle="bench", name="Bench")
    connection = Connection.objects.create(account=account, name="Okta", provider="okta")
    issued = Credential.build(connection)
    issued.token.save()
    basic = Credential.build(connection, CredentialKind.BASIC)
    basic.credential.save()
    client_secret = Credential.build(connection, CredentialKind.CLIENT_SECRET)
    client_secret.credential.save()
    access = f"{ACCESS_TOKEN_PREFIX}{'b' * 43}"
    AccessToken.objects.create(
        credential=client_secret.credential,
        digest=Credential.digest_of(access),
        prefix=access[:15],
        expires_at=timezone.now() + timedelta(hours=1),
    )
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
        "user": users[250],
        "group": groups[7],
        "page_users": [u.pk for u in users[100:200]],
        "token": issued.raw,
        "basic": basic.raw,
        "access": access,
    }


def orm_token(raw: str) -> Any:
    """The token lookup as the ORM writes it (what a filtered queryset runs)."""
    return Credential.objects.filter(pk__isnull=False).by_value(raw)


def orm_basic(raw: str) -> Any:
    """The Basic password's lookup as the ORM writes it (a filtered queryset's path)."""
    return Credential.objects.filter(pk__isnull=False).by_secret(CredentialKind.BASIC, raw)


def orm_access_token(raw: str) -> Any:
    """``AccessToken.objects.by_value()`` as the ORM writes it: one statement joining the
    access token, its credential and the connection, both live."""
    now = timezone.now()
    return (
        AccessToken.objects.select_related("credential__connection")
        .filter(
            Q(credential__expires_at__isnull=True) | Q(credential__expires_at__gt=now),
            digest=Credential.digest_of(raw),
            revoked_at__isnull=True,
            expires_at__gt=now,
            credential__revoked_at__isnull=True,
        )
        .first()
    )


def orm_one(model: Any, where: dict[str, Any]) -> Any:
    try:
        return model.objects.get(**where)
    except model.DoesNotExist:
        return None


def orm_one_with_groups(where: dict[str, Any]) -> Any:
    """One statement, as ``one_with_groups``: the user's row once per group."""
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


def orm_groups_of(user_ids: list[Any]) -> list[tuple[Any, ...]]:
    return list(
        GroupMembership.objects.filter(user_id__in=user_ids)
        .values_list("user_id", "group_id", "group__display_name")
        .order_by("group_id")
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


def orm_reserve(connection: Connection, count: int) -> int:
    rows = Connection.objects.filter(pk=connection.pk)
    rows.update(last_event_number=F("last_event_number") + count)
    return rows.values_list("last_event_number", flat=True).get()


def in_transaction(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` in a transaction of its own, as a change runs it (the same row
    updated many times in one transaction would slow down with every row version)."""
    with transaction.atomic():
        return function(*args)


def event_of(connection: Connection) -> Callable[[], ProvisioningEvent]:
    """A new user.created event of ``connection``, as a create records it."""
    return lambda: ProvisioningEvent(
        connection_id=connection.pk, account_id=connection.account_id, type="user.created",
        resource_type="User", resource_id="0190b1a2-0000-7000-8000-000000000000",
        changes={"userName": "ada@example.com", "externalId": None, "role": "",
                 "host_link": "managed"},
        actor={"type": "token", "prefix": "scimp_abcd1234"},
    )  # fmt: skip


def statements(data: dict[str, Any]) -> dict[str, dict[str, Variant]]:
    connection, user, group = data["connection"], data["user"], data["group"]
    user_where = {"connection": connection.pk, "id": str(user.pk)}
    group_where = {"connection": connection.pk, "id": str(group.pk)}
    fields = log_fields(connection)
    event = event_of(connection)
    users, groups = DirectoryUser.objects, DirectoryGroup.objects
    tokens, token = Credential.objects, data["token"]
    basic, access = data["basic"], data["access"]
    return {
        "token lookup (token + connection)": {
            "sql": lambda: tokens.by_value(token),
            "orm": lambda: orm_token(token),
        },
        "Basic lookup (credential + connection)": {
            "sql": lambda: tokens.by_secret(CredentialKind.BASIC, basic),
            "orm": lambda: orm_basic(basic),
        },
        "access-token lookup (access token + credential + connection)": {
            "sql": lambda: AccessToken.objects.by_value(access),
            "orm": lambda: orm_access_token(access),
        },
        "one group by id": {
            "sql": lambda: groups.one(connection.pk, id=group.pk),
            "orm": lambda: orm_one(DirectoryGroup, group_where),
        },
        "one user by id with its groups (one statement)": {
            "sql": lambda: users.one_with_groups(connection.pk, id=user.pk),
            "orm": lambda: orm_one_with_groups(user_where),
        },
        "groups of a page of 100 users": {
            "sql": lambda: GroupMembership.objects.groups_of(data["page_users"]),
            "orm": lambda: orm_groups_of(data["page_users"]),
        },
        "request-log insert": {
            "sql": lambda: RequestLog.objects.insert(RequestLog(**fields)),
            "orm": lambda: RequestLog.objects.create(**fields),
        },
        "event numbers (each in its transaction)": {
            "sql": lambda: in_transaction(Connection.objects.reserve_event_numbers, connection, 1),
            "orm": lambda: in_transaction(orm_reserve, connection, 1),
        },
        # The hand-written variant is one statement; its twin is the counter's
        # UPDATE … RETURNING above, then the ORM's insert.
        "event numbered and inserted (each in its transaction)": {
            "sql": lambda: in_transaction(_create_numbered_sql, connection, [event()], "default"),
            "orm": lambda: in_transaction(_create_numbered_orm, connection, [event()], "default"),
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
    parser.add_argument(
        "--only", nargs="+", default=[], help="statements whose title has one of these words"
    )
    args = parser.parse_args()
    data = load()
    print(f"{args.calls} calls x {args.repeats} repeats; µs per call (median of repeat medians)")
    print("| statement | hand-written SQL | ORM | gain | gain per repeat | spread SQL / ORM |")
    print("|---|---|---|---|---|---|")
    for title, variants in statements(data).items():
        if args.only and not any(word.lower() in title.lower() for word in args.only):
            continue
        medians = measure(variants, args.calls, args.repeats)
        sql, orm = statistics.median(medians["sql"]), statistics.median(medians["orm"])
        gains = [o - s for s, o in zip(medians["sql"], medians["orm"], strict=True)]
        spread = " / ".join(f"{max(m) - min(m):.0f}" for m in (medians["sql"], medians["orm"]))
        print(
            f"| {title} | {sql:.0f} | {orm:.0f} | {orm - sql:.0f} "
            f"| {min(gains):.0f} to {max(gains):.0f} | {spread} |"
        )


if __name__ == "__main__":
    main()
