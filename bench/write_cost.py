"""Where a SCIM write's time goes: create, PUT, PATCH (and GET by id) in process, with parts
switched off.

Run by hand (not part of ``make bench``)::

    scripts/with-postgres .venv/bin/python bench/write_cost.py [--calls 100] [--rounds 7]

For django-scim-portal (the test host, as ``make bench`` serves it) each write is timed
whole and with one part of its work switched off: the host provisioning (the default
adapter's host user and membership; the base adapter instead), the provisioning event,
the request log, and all three (the directory alone). django-scim2 is timed the same way
in a second process. Requests go through Django's test client, one at a time, on
PostgreSQL; variants take turns round by round, so a busy neighbour slows them alike.
It prints the median of the rounds' ms per request and their spread (max - min), and
checks every answer (201 or 200). The difference between two variants is what the part
costs; it is how docs/benchmarks.md explains the write rows django-scim2 is ahead on.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
POOL = 200  # users PUT and PATCH take turns on


def admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(dbname="postgres", autocommit=True) as connection:
        connection.execute(sql)


def setup(target: str) -> tuple[Any, dict[str, Any]]:
    """A fresh database for ``target``, migrated and loaded; the test client and data."""
    database = f"bench_write_cost_{target}"
    admin_sql(f'DROP DATABASE IF EXISTS "{database}"')
    admin_sql(f'CREATE DATABASE "{database}"')
    os.environ["PORTAL_DATABASE" if target == "portal" else "PEER_DATABASE"] = database
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    sys.path.insert(0, str(ROOT / "bench"))
    from load import load_peer, load_portal  # type: ignore[import-not-found]

    data = (load_portal if target == "portal" else load_peer)(POOL)
    return Client(HTTP_AUTHORIZATION=f"Bearer {data['token']}"), data


def operations(client: Any, data: dict[str, Any]) -> dict[str, Callable[[int], None]]:
    """Each write, as a function of the request number (it checks the answer)."""
    base, ids, names = data["base"], data["users"], data["user_names"]
    kind = "application/scim+json"
    stamp = time.time_ns()

    def send(method: str, path: str, body: dict[str, Any], status: int) -> None:
        response = getattr(client, method)(path, json.dumps(body), content_type=kind)
        if response.status_code != status:
            raise SystemExit(f"{method} {path}: {response.status_code} {response.content[:300]!r}")

    def create(i: int) -> None:
        name = f"cost-{stamp}-{i}@example.com"
        body = {"schemas": [USER], "userName": name, "name": {"givenName": "N", "familyName": "U"},
                "emails": [{"value": name, "type": "work", "primary": True}]}  # fmt: skip
        send("post", f"{base}/Users", body, 201)

    def put(i: int) -> None:
        n = i % len(ids)
        body = {"schemas": [USER], "userName": names[n], "active": True,
                "name": {"givenName": f"Put{i}", "familyName": "User"},
                "emails": [{"value": names[n], "type": "work", "primary": True}]}  # fmt: skip
        send("put", f"{base}/Users/{ids[n]}", body, 200)

    def patch(i: int) -> None:
        # Deactivate a user, then reactivate it: both are the write an IdP sends.
        n = (i // 2) % len(ids)
        body = {"schemas": [PATCH],
                "Operations": [{"op": "replace", "value": {"active": i % 2 == 1}}]}  # fmt: skip
        send("patch", f"{base}/Users/{ids[n]}", body, 200)

    def get(i: int) -> None:
        # Not a write: the read every write is measured against (and the request log's share).
        response = client.get(f"{base}/Users/{ids[i % len(ids)]}")
        if response.status_code != 200:
            raise SystemExit(f"GET: {response.status_code} {response.content[:300]!r}")

    return {"create": create, "PUT": put, "PATCH active": patch, "GET by id": get}


def portal_variants() -> dict[str, Callable[[], None]]:
    """Each variant switches parts off (and the others back on) when called."""
    from scim_portal.provisioning import documents
    from scim_portal.provisioning.adapter import ProvisioningAdapter
    from scim_portal.provisioning.events import EventRecorder
    from scim_portal.scim.views.base import ScimView

    real = (documents.get_adapter, EventRecorder.flush, ScimView._log)
    bare = ProvisioningAdapter()

    def variant(host: bool, events: bool, log: bool) -> Callable[[], None]:
        def switch() -> None:
            documents.get_adapter = real[0] if host else (lambda: bare)  # type: ignore[assignment]
            EventRecorder.flush = real[1] if events else (lambda self: None)  # type: ignore[method-assign]
            ScimView._log = real[2] if log else (lambda *args, **kwargs: None)  # type: ignore[method-assign]

        return switch

    return {
        "everything": variant(True, True, True),
        "no host provisioning": variant(False, True, True),
        "no event": variant(True, False, True),
        "no request log": variant(True, True, False),
        "directory only": variant(False, False, False),
    }


def measure(target: str, calls: int, rounds: int) -> dict[str, dict[str, list[float]]]:
    client, data = setup(target)
    ops = operations(client, data)
    variants = portal_variants() if target == "portal" else {"django-scim2": lambda: None}
    times: dict[str, dict[str, list[float]]] = {v: {op: [] for op in ops} for v in variants}
    counter = 0
    for round_ in range(rounds + 1):  # the first round warms up and is not kept
        for name, switch in variants.items():
            switch()
            for op, call in ops.items():
                started = time.perf_counter()
                for _ in range(calls):
                    counter += 1
                    call(counter)
                if round_:
                    times[name][op].append((time.perf_counter() - started) * 1000 / calls)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--peer", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        print(json.dumps(measure("peer", args.calls, args.rounds)))
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.portal_settings")
    sys.path.insert(0, str(ROOT))
    portal = measure("portal", args.calls, args.rounds)
    peer_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "peer.settings",
                "PYTHONPATH": os.pathsep.join([str(ROOT / "bench" / "peer"), str(ROOT)])}  # fmt: skip
    peer = json.loads(subprocess.run(
        [sys.executable, __file__, "--peer", "--calls", str(args.calls), "--rounds",
         str(args.rounds)], env=peer_env, capture_output=True, text=True, check=True,
    ).stdout)  # fmt: skip
    rows = {**portal, **peer}
    ops = list(next(iter(rows.values())))
    print(f"{args.calls} requests x {args.rounds} rounds; ms per request, median (spread)")
    print("| variant | " + " | ".join(ops) + " |")
    print("|---|" + "---|" * len(ops))
    for name, per_op in rows.items():
        cells = [f"{statistics.median(v):.2f} ({max(v) - min(v):.2f})" for v in per_op.values()]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
