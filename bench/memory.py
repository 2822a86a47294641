"""A gunicorn worker's memory through an IdP's first sync (issue 17).

Run by ``make bench-memory`` inside a throwaway PostgreSQL (scripts/with-postgres). It
serves django-scim-portal as bench/run.py does (gunicorn, the test host, PostgreSQL, a
connection with an empty directory), creates users as a first sync does (8 keep-alive
client threads, every answer a 201 with an id), and reads every worker's resident set
(``VmRSS`` in /proc/<pid>/status) after ``--baseline`` users and at each checkpoint up
to ``--users``. Results: stdout and JSON in bench/results/ (``memory-latest.json``). It
exits 1, after writing them, when a worker's RSS after ``--users`` users is more than
``GROWTH_LIMIT`` times its RSS after ``--baseline``, or a create failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import ROOT, Server, create_database, create_users, machine, run

#: A worker's RSS after the whole sync over its RSS after the baseline (issue 17: 10%).
GROWTH_LIMIT = 1.10


def worker_pids(master: int) -> list[int]:
    """The pids of the processes whose parent is ``master`` (gunicorn's workers)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == master:
            pids.append(int(stat.parent.name))
    return sorted(pids)


def rss_kib(pid: int) -> int:
    """The resident set of ``pid`` in KiB, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=100_000, help="users the sync creates")
    parser.add_argument("--baseline", type=int, default=1000, help="users before the first reading")
    parser.add_argument("--checkpoints", type=int, nargs="*", default=[10_000, 50_000],
                        help="further readings between the baseline and --users")  # fmt: skip
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    database = "bench_portal_memory"
    create_database(database)
    run(["manage.py", "migrate", "--no-input", "-v0"], "portal", database)
    data = json.loads(run([str(ROOT / "bench" / "load.py"), "portal", "0"], "portal", database))
    server = Server("portal", database, args.workers)
    readings: list[dict[str, Any]] = []
    errors = 0
    started = time.monotonic()
    try:
        deadline = time.monotonic() + 60
        while len(pids := worker_pids(server.process.pid)) < args.workers:
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: {len(pids)} of {args.workers} gunicorn workers started")
            time.sleep(0.2)
        done = 0
        stops = sorted({args.baseline, *args.checkpoints, args.users})
        for stop in (s for s in stops if s <= args.users):
            created, failed = create_users(server.port, data, range(done, stop),
                                           args.concurrency, "memory")  # fmt: skip
            errors += failed + (stop - done - len(created) - failed)
            done = stop
            if worker_pids(server.process.pid) != pids:
                raise SystemExit("bench: a gunicorn worker was replaced during the sync")
            reading = {"users": stop, "seconds": round(time.monotonic() - started, 1),
                       "rss_kib": {str(pid): rss_kib(pid) for pid in pids}}  # fmt: skip
            readings.append(reading)
            print(f"  {stop:7} users  {reading['seconds']:7.1f} s  worker RSS KiB "
                  f"{list(reading['rss_kib'].values())}", flush=True)  # fmt: skip
    finally:
        server.stop()

    first, last = readings[0], readings[-1]
    growth = {
        pid: round(last["rss_kib"][pid] / first["rss_kib"][pid], 3) for pid in first["rss_kib"]
    }
    failed_checks = [
        f"worker {pid}: RSS {last['rss_kib'][pid]} KiB after {last['users']} users is "
        f"{ratio}x its {first['rss_kib'][pid]} KiB after {first['users']} (at most {GROWTH_LIMIT}x)"
        for pid, ratio in growth.items()
        if ratio > GROWTH_LIMIT
    ]
    if errors:
        failed_checks.append(f"{errors} creates failed")
    results = {
        "machine": machine(),
        "parameters": vars(args) | {"out": str(args.out)},
        "readings": readings,
        "growth": growth,
        "errors": errors,
        "failed_checks": failed_checks,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for name in (f"memory-{stamp}.json", "memory-latest.json"):
        (args.out / name).write_text(json.dumps(results, indent=2))
    print(f"RSS after {last['users']} users / after {first['users']}, per worker: {growth}")
    if failed_checks:
        raise SystemExit("bench-memory: failed:\n  " + "\n  ".join(failed_checks))


if __name__ == "__main__":
    main()
