"""Deleting a connection with a large directory: seconds and peak memory (issue 17).

Run inside a throwaway PostgreSQL (scripts/with-postgres), by hand or by
``make bench-delete``:

    python bench/delete.py --users 100000 1000000

For each size it loads, into a database of its own, a connection whose directory users
each have a host user (created by the connection: ``managed``), an active membership of
the account, and a work email; 100 groups, one with min(10,000, users) members. Then a
fresh process deletes the connection with ``delete_connection`` ("also remove its users
and groups", the default) and reports the seconds it took and its peak resident set
(``ru_maxrss``) beside the resident set it had before the deletion started. The parent
checks the outcome (no directory left, every membership deactivated, every host user
deactivated, the ``connection.deleted`` event with the counts) and writes the numbers to
bench/results/delete-latest.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import ROOT, analyze, create_database, machine, run


def load(count: int) -> dict[str, Any]:
    """A connection with ``count`` directory users, each managing a host user who is an
    active member of the account (bench/load.py's directory, written with COPY)."""
    from bench.load import load_portal
    from scim_portal.models import Connection, DirectoryUser

    data = load_portal(count)
    connection_id = data["base"].rsplit("/", 1)[1]
    account = Connection.objects.get(pk=connection_id).account
    users = DirectoryUser.objects.filter(connection_id=connection_id)
    assert users.filter(host_user__isnull=False).count() == count
    return {"connection": connection_id, "account": account.pk}


def delete(connection_id: str) -> dict[str, Any]:
    """Delete the connection: seconds, and this process's resident set before and at peak."""
    from scim_portal.models import Connection
    from scim_portal.provisioning import delete_connection

    connection = Connection.objects.get(pk=connection_id)
    before = _rss_kib()
    started = time.monotonic()
    result = delete_connection(connection)
    seconds = time.monotonic() - started
    return {"seconds": round(seconds, 1), "rss_before_kib": before,
            "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "users": result.users, "groups": result.groups}  # fmt: skip


def check(info: dict[str, Any], count: int) -> list[str]:
    """What must be true after the deletion, and is not."""
    from django.contrib.auth.models import User

    from scim_portal.models import Connection, DirectoryGroup, DirectoryUser, ProvisioningEvent
    from tests.testapp.models import OrganizationMembership

    failed = []
    if Connection.objects.filter(pk=info["connection"]).exists():
        failed.append("the connection is still there")
    if DirectoryUser.objects.exists() or DirectoryGroup.objects.exists():
        failed.append("directory rows are left")
    memberships = OrganizationMembership.objects.filter(organization_id=info["account"])
    if memberships.count() != count or memberships.filter(is_active=True).exists():
        failed.append("memberships are not all deactivated")
    if User.objects.filter(username__startswith="user", is_active=True).exists():
        failed.append("host users are still active")
    event = ProvisioningEvent.objects.filter(
        connection_id=info["connection"], type="connection.deleted"
    ).first()
    if event is None or event.changes.get("users") != count:
        failed.append(f"no connection.deleted event with {count} users: {event and event.changes}")
    return failed


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    here = str(Path(__file__).resolve())
    results: dict[str, Any] = {"machine": machine(), "sizes": {}}
    failed = []
    for count in args.users:
        database = f"bench_delete_{count}"
        create_database(database)
        run(["manage.py", "migrate", "--no-input", "-v0"], "portal", database)
        started = time.monotonic()
        info = json.loads(run([here, "load", str(count)], "portal", database))
        analyze(database)
        loaded = round(time.monotonic() - started, 1)
        row = json.loads(run([here, "delete", info["connection"]], "portal", database))
        problems = json.loads(
            run([here, "check", json.dumps(info), str(count)], "portal", database)
        )
        row |= {"load_seconds": loaded, "failed_checks": problems}
        failed += [f"{count} users: {problem}" for problem in problems]
        results["sizes"][str(count)] = row
        print(f"  {count:8} users: deleted in {row['seconds']} s, RSS {row['rss_before_kib']} KiB "
              f"before, peak {row['peak_rss_kib']} KiB (loaded in {loaded} s) {problems or ''}",
              flush=True)  # fmt: skip
    results["failed_checks"] = failed
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "delete-latest.json").write_text(json.dumps(results, indent=2))
    if failed:
        raise SystemExit("bench-delete: failed:\n  " + "\n  ".join(failed))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in {"load", "delete", "check"}:
        import django

        django.setup()
        step, rest = sys.argv[1], sys.argv[2:]
        if step == "load":
            print(json.dumps(load(int(rest[0]))))
        elif step == "delete":
            print(json.dumps(delete(rest[0])))
        else:
            print(json.dumps(check(json.loads(rest[0]), int(rest[1]))))
    else:
        main()
