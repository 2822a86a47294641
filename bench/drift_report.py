"""The drift report at 100,000 directory users (issue 19): its counts, the first page of
each kind, and the whole CSV export, timed on the database the environment names.

    scripts/with-postgres .venv/bin/python bench/drift_report.py     (PostgreSQL)
    .venv/bin/python bench/drift_report.py                           (SQLite, a file)

It makes a fresh database (PostgreSQL: ``bench_drift`` on the server; SQLite: a file in
a temporary directory), migrates it with the test host's settings (tests/settings.py),
and seeds, in bulk: an account whose connection has USERS directory users, each managing
a host user who is an active member with the connection's default role, as a first sync
leaves them; a few hundred disagreements of each kind (members no directory user stands
for, a membership missing, inactive or active against the directory, another role,
removals held and rejected); applied removals that agree (history the rejected rows'
"latest" test reads past); a sibling connection of the account and another account,
whose people must not be counted. Then it times ``Drift.counts()`` (best of three, with
its statement count), the first page of every kind, and ``write_csv`` of every row, and
asserts that the numbers found are the numbers seeded.

It prints JSON and keeps it in bench/results/issue19-drift.json, under the database's
name (PostgreSQL and SQLite results side by side).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BATCH = 5000


def configure(sqlite_path: str) -> str:
    """Point the test settings at a fresh database of this bench's own; its vendor."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    from tests import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("postgresql"):
        import psycopg

        with psycopg.connect(autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS bench_drift")
            admin.execute("CREATE DATABASE bench_drift")
        database["NAME"] = "bench_drift"
        return "postgresql"
    database["NAME"] = sqlite_path
    return "sqlite"


def bulk(model: Any, rows: list[Any]) -> list[Any]:
    return model.objects.bulk_create(rows, batch_size=BATCH)


def seed(users: int, each: int) -> dict[str, Any]:
    """The directory and the host, with ``each`` disagreements of every kind; what the
    report must find."""
    from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
    from django.contrib.auth.models import User

    from scim_portal.models import DirectoryUser, HostLink, Removal
    from scim_portal.provisioning import create_connection
    from scim_portal.provisioning.documents import user_columns
    from tests.testapp.models import Organization, OrganizationMembership

    account = Organization.objects.create(handle="acme", name="Acme")
    other_account = Organization.objects.create(handle="globex", name="Globex")
    connection, _ = create_connection(account=account, name="Okta", provider="okta")
    connection.default_role = "viewer"
    connection.save(update_fields=["default_role"])
    sibling, _ = create_connection(account=account, name="Entra", provider="entra")
    other, _ = create_connection(account=other_account, name="Theirs", provider="okta")

    def people(prefix: str, count: int, organization: Any, **membership: Any) -> list[Any]:
        hosts = []
        for start in range(0, count, BATCH):
            made = bulk(User, [
                User(username=f"{prefix}{i:07d}", email=f"{prefix}{i:07d}@acme.test",
                     password=UNUSABLE_PASSWORD_PREFIX)
                for i in range(start, min(count, start + BATCH))
            ])  # fmt: skip
            bulk(OrganizationMembership, [
                OrganizationMembership(organization=organization, user=host,
                                       **{"role": "viewer", "is_active": True, **membership})
                for host in made
            ])  # fmt: skip
            hosts += made
        return hosts

    def directory(target: Any, hosts: list[Any], link: str = HostLink.MANAGED) -> list[Any]:
        rows = []
        for host in hosts:
            document = {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": host.email,
                "emails": [{"value": host.email, "type": "work", "primary": True}],
                "active": True,
            }
            rows.append(DirectoryUser(
                connection=target, attributes=document, host_user=host, host_link=link,
                role="viewer", **user_columns(document),
            ))  # fmt: skip
        return bulk(DirectoryUser, rows)

    started = time.monotonic()
    ours = directory(connection, people("user", users, account))
    unmanaged = people("stray", each, account)  # members no directory user stands for
    people("gone", each, account, is_active=False)  # former members: no drift
    directory(sibling, people("sibling", each, account))  # managed by the sibling: no drift
    directory(other, people("theirs", each, other_account))
    people("outsider", each, other_account)  # unmanaged in another account: not acme's

    step = max(1, len(ours) // (5 * each + 1000))
    picked = iter(ours[::step])

    def take(count: int) -> list[Any]:
        return [next(picked) for _ in range(count)]

    missing, inactive, lingering = take(each // 3), take(each // 3), take(each - 2 * (each // 3))
    promoted, held, rejected, agreed = take(each), take(each), take(each), take(1000)

    def memberships(rows: list[Any]) -> Any:
        return OrganizationMembership.objects.filter(
            organization=account, user_id__in=[row.host_user_id for row in rows]
        )

    memberships(missing).delete()
    memberships(inactive).update(is_active=False)
    memberships(promoted).update(role="admin")
    memberships(agreed).update(is_active=False)
    DirectoryUser.objects.filter(
        pk__in=[r.pk for r in lingering + held + rejected + agreed]
    ).update(active=False)

    def removals(rows: list[Any], state: str, reason: str = "") -> None:
        bulk(Removal, [
            Removal(connection=connection, user_id=row.pk, user_name=row.user_name,
                    kind="deactivate", state=state, reason=reason)
            for row in rows
        ])  # fmt: skip

    removals(agreed, "applied")
    removals(rejected, "rejected")
    removals(held, "held", "Removals are held for review on this connection.")
    return {
        "connection": connection,
        "seed_seconds": round(time.monotonic() - started, 1),
        "expected": {
            "unmanaged": len(unmanaged),
            "membership": len(missing) + len(inactive) + len(lingering),
            "role": len(promoted),
            "held": len(held),
            "rejected": len(rejected),
        },
    }


def analyze(vendor: str) -> None:
    """Statistics, as autovacuum (PostgreSQL) would have them a minute after the load."""
    from django.db import connection

    if vendor == "postgresql":
        connection.close()
        import psycopg

        with psycopg.connect(dbname="bench_drift", autocommit=True) as database:
            database.execute("VACUUM ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def timed(function: Any, repeat: int = 1) -> tuple[float, Any, int]:
    """Best seconds of ``repeat`` calls, the last result, and its statement count."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    best, result, statements = float("inf"), None, 0
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            result = function()
            best = min(best, time.perf_counter() - started)
        statements = len(queries)
    return round(best, 4), result, statements


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--each", type=int, default=300, help="disagreements of each kind")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        vendor = configure(str(Path(scratch) / "drift.sqlite3"))
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        seeded = seed(args.users, args.each)
        analyze(vendor)
        result = measure(seeded, vendor, args)
    print(json.dumps(result, indent=2))
    path = args.out / "issue19-drift.json"
    kept: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        kept = json.loads(path.read_text())
    kept[vendor] = result
    args.out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(kept, indent=2) + "\n")
    failed = [kind for kind, n in seeded["expected"].items() if result["found"][kind] != n]
    assert not failed, f"found {result['found']}, seeded {seeded['expected']}"
    assert result["csv_rows"] == sum(seeded["expected"].values()), result["csv_rows"]


def measure(seeded: dict[str, Any], vendor: str, args: Any) -> dict[str, Any]:
    from django.db import connection as database

    from scim_portal.models import Connection
    from scim_portal.provisioning.drift import KINDS, Drift
    from scim_portal.provisioning.drift_csv import write_csv

    connection = Connection.objects.select_related("account").get(pk=seeded["connection"].pk)
    counts_seconds, found, counts_statements = timed(lambda: Drift(connection).counts(), 3)
    pages = {}
    for kind in KINDS:
        seconds, page, statements = timed(lambda kind=kind: Drift(connection).page(kind))
        pages[kind] = {"seconds": seconds, "rows": len(page.rows), "statements": statements}
    csv_seconds, csv_rows, csv_statements = timed(lambda: write_csv(connection, io.StringIO()))
    server = database.cursor().connection
    version = (
        server.info.server_version if vendor == "postgresql" else database.Database.sqlite_version
    )
    return {
        "database": vendor,
        "database_version": str(version),
        "users": args.users,
        "each": args.each,
        "seed_seconds": seeded["seed_seconds"],
        "seeded": seeded["expected"],
        "found": found,
        "counts_seconds": counts_seconds,
        "counts_statements": counts_statements,
        "first_page": pages,
        "csv_seconds": csv_seconds,
        "csv_rows": csv_rows,
        "csv_statements": csv_statements,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }


if __name__ == "__main__":
    main()
