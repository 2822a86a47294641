"""Okta's import page at two directory sizes, in process, on PostgreSQL (not a test).

    scripts/with-postgres .venv/bin/python bench/paging.py [--sizes 1000 100000]

Each size is a connection with that many users, bulk-loaded into one fresh database.
Through Django's test client (authentication, the view, the request log; no HTTP
server), requests of every scenario and size take turns, so what else runs on the
machine weighs on all alike; the script prints the median and 90th percentile of each,
and the ratio of the medians at the largest size to the smallest:

- ``index``: ``GET /Users?startIndex=<random multiple of 100, + 1>&count=100``, as
  ``make bench`` draws Okta's import page;
- ``index, no kept total``: the same, with ``COUNT(*)`` on every page in place of the
  directory's size kept in the cache (what that cache saves);
- ``cursor``: ``GET /Users?cursor=<token>&count=100`` for pages drawn the same way.

The database is ``VACUUM ANALYZE``d twice (autovacuum's steady state; ``--first-vacuum-only``: once, as ``make bench`` does,
when PostgreSQL walks deep offsets on the primary key, reading every row it passes,
rather than on the ``(connection, id)`` index alone). ``--others N`` adds one more
connection of N users, not measured, as a table of many tenants holds.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATABASE = "bench_paging"


def setup() -> None:
    import psycopg

    with psycopg.connect(autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}"')
        admin.execute(f'CREATE DATABASE "{DATABASE}"')
    os.environ["PORTAL_DATABASE"] = DATABASE
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.portal_settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def load(size: int, name: str = "Paging") -> tuple[object, str]:
    """A connection with ``size`` users; its token."""
    from scim_portal.models import DirectoryUser
    from scim_portal.provisioning import create_connection
    from scim_portal.provisioning.documents import user_columns
    from tests.testapp.models import Organization

    account = Organization.objects.create(handle=f"{name.lower()}{size}", name=name)
    connection, issued = create_connection(account=account, name=name, provider="okta")
    for start in range(0, size, 5000):
        batch = []
        for i in range(start, min(size, start + 5000)):
            name = f"user{i:06d}@example.com"
            document = {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": name,
                "name": {"givenName": f"Given{i}", "familyName": f"Family{i}"},
                "emails": [{"value": name, "type": "work", "primary": True}],
                "active": True,
            }
            batch.append(
                DirectoryUser(connection=connection, attributes=document, **user_columns(document))
            )
        DirectoryUser.objects.bulk_create(batch)
    return connection, issued.raw


class Directory:
    """One loaded connection and the requests drawn for it."""

    def __init__(self, size: int, requests: int) -> None:
        self.size = size
        self.connection, self.token = load(size)
        self.base = f"/scim/v2/{self.connection.pk}/Users"  # type: ignore[attr-defined]
        pages = max(1, size // 100)
        self.starts = [random.randrange(pages) * 100 + 1 for _ in range(requests)]
        self.cursors: list[str] = []

    def get(self, client: object, url: str, samples: list[float] | None = None) -> dict[str, Any]:
        started = time.perf_counter()
        response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {self.token}")  # type: ignore[attr-defined]
        if samples is not None:
            samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content
        return response.json()

    def walk(self, client: object) -> None:
        """Every page's cursor (the first page's is empty)."""
        self.cursors = [""]
        body = self.get(client, f"{self.base}?cursor=&count=100")
        while "nextCursor" in body:
            self.cursors.append(body["nextCursor"])
            body = self.get(client, f"{self.base}?cursor={body['nextCursor']}&count=100")

    def index(self, client: object, start: int, samples: list[float]) -> None:
        body = self.get(client, f"{self.base}?startIndex={start}&count=100", samples)
        assert len(body["Resources"]) == min(100, self.size - start + 1)

    def cursor(self, client: object, start: int, samples: list[float]) -> None:
        body = self.get(
            client, f"{self.base}?cursor={self.cursors[start // 100]}&count=100", samples
        )
        assert len(body["Resources"]) == min(100, self.size - start + 1)


def measure(
    sizes: list[int], requests: int, others: int, first_vacuum_only: bool
) -> dict[int, dict[str, tuple[float, float]]]:
    """Every size's directory in one database; scenarios and sizes interleaved request by
    request, so that what else runs on the machine weighs on all of them alike."""
    import psycopg
    from django.test import Client

    from scim_portal.scim.paging import DirectoryTotal

    directories = [Directory(size, requests) for size in sizes]
    if others:  # another tenant's directory, as production tables hold many
        load(others, name="Other")
    with psycopg.connect(dbname=DATABASE, autocommit=True) as database:
        # Right after a bulk load one VACUUM leaves most pages not all-visible, and
        # PostgreSQL then walks the primary key (reading every row it passes) rather than
        # the (connection, id) index; the second is autovacuum's steady state.
        for _ in range(1 if first_vacuum_only else 2):
            database.execute("VACUUM ANALYZE")
    client = Client()
    kept_total = DirectoryTotal.known

    def index_without_kept_total(directory: Directory, start: int, samples: list[float]) -> None:
        DirectoryTotal.known = lambda self: None  # type: ignore[method-assign]
        try:
            directory.index(client, start, samples)
        finally:
            DirectoryTotal.known = kept_total  # type: ignore[method-assign]

    scenarios = {
        "index": lambda d, start, samples: d.index(client, start, samples),
        "index, no kept total": index_without_kept_total,
        "cursor": lambda d, start, samples: d.cursor(client, start, samples),
    }
    samples = {(d.size, name): [] for d in directories for name in scenarios}
    for directory in directories:
        directory.walk(client)
        for start in directory.starts[:20]:  # warm up
            for scenario in scenarios.values():
                scenario(directory, start, [])
    for i in range(requests):
        for directory in directories:
            for name, scenario in scenarios.items():
                scenario(directory, directory.starts[i], samples[directory.size, name])
    return {
        d.size: {name: summary(samples[d.size, name]) for name in scenarios} for d in directories
    }


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.9)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument(
        "--others", type=int, default=0, help="users of one more connection, not measured"
    )
    parser.add_argument(
        "--first-vacuum-only", action="store_true", help="measure right after the load"
    )
    args = parser.parse_args()
    setup()
    by_size = measure(args.sizes, args.requests, args.others, args.first_vacuum_only)
    smallest, largest = min(args.sizes), max(args.sizes)
    print(f"{'scenario':24} " + " ".join(f"{f'{size} p50/p90 ms':>20}" for size in args.sizes)
          + f" {'p50 ratio':>10}")  # fmt: skip
    for name in by_size[smallest]:
        cells = " ".join(
            f"{by_size[s][name][0]:9.2f} {by_size[s][name][1]:9.2f} " for s in args.sizes
        )
        ratio = by_size[largest][name][0] / by_size[smallest][name][0]
        print(f"{name:24} {cells} {ratio:10.2f}")


if __name__ == "__main__":
    main()
