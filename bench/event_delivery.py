"""Event delivery under an IdP's write load (issue 18), part of ``make bench``.

Inside a throwaway PostgreSQL (scripts/with-postgres) it serves django-scim-portal as
bench/run.py does (gunicorn, the test host) and runs ``--writes`` SCIM creates (8
keep-alive client threads) on a fresh connection in each phase (:data:`PHASES`):

- ``no_endpoint``: no webhook endpoint; the write rate without delivery;
- ``endpoint_write_path``: an endpoint enabled, no worker during the writes (what the
  write path itself pays), then one worker started to deliver them alone;
- ``one_worker`` and ``two_workers``: one and two ``manage.py scim_portal worker``
  processes delivering during the writes, on the same two cores;
- ``one_worker_nice``: one worker during the writes at ``nice 10``, below the web server.

The receiver (bench/event_receiver.py, its own process) checks every message: its
Standard Webhooks signature, and that each connection's ``sequence`` arrives 1, 2, 3…
with none missing (a message sent again under an id already seen is counted, not
applied twice). Reported per phase: writes/s, events/s delivered, the backlog left when
the writes end and the seconds to drain it, the lag from an event's commit (its
``timestamp``) to its arrival p50/p99, CPU milliseconds per event of the workers and of
the receiver. Checks: :func:`failed_checks`. Results: stdout and JSON in bench/results/
(``events-latest.json``); exit 1 on a failed check, after writing them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import PYTHON, ROOT, Server, create_database, create_users, env_for, machine, run

SETTINGS = "bench.events_settings"
#: scim_portal.delivery.engine.ENDPOINTS_CACHE_SECONDS (not imported: no Django here).
ENDPOINTS_CACHE_SECONDS = 5
#: Writes/s with an endpoint and its workers over writes/s without (issue 18).
THROUGHPUT_FLOOR = 0.9


class Receiver:
    """The vendor's service, in a process of its own (bench/event_receiver.py), as it
    would be on its own machine: it verifies, orders and acknowledges every message.
    This side starts it, resets it between phases and reads its counts."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [PYTHON, str(ROOT / "bench" / "event_receiver.py")], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        port = int(self.process.stdout.readline())
        self.base = f"http://127.0.0.1:{port}"
        self.url = f"{self.base}/events"
        self.arrivals: list[tuple[float, float]] = []
        self.out_of_order = self.bad_signatures = self.duplicates = 0

    def _call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        import urllib.request

        data = json.dumps(body).encode() if body is not None else None
        url = f"{self.base}{path}"  # the receiver this process started, on 127.0.0.1
        with urllib.request.urlopen(url, data=data, timeout=30) as answer:  # noqa: S310
            return json.loads(answer.read())

    def reset(self, secret: str, connection: str, first_sequence: int) -> None:
        self._call("/reset", {"secret": secret, "connection": connection,
                              "first_sequence": first_sequence})  # fmt: skip

    def delivered(self) -> int:
        return int(self._call("/count")["delivered"])

    def collect(self) -> None:
        stats = self._call("/stats")
        self.arrivals = [tuple(pair) for pair in stats["arrivals"]]
        self.out_of_order = stats["out_of_order"]
        self.bad_signatures = stats["bad_signatures"]
        self.duplicates = stats["duplicates"]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def setup(database: str, endpoint_url: str | None) -> dict[str, Any]:
    """A fresh account and connection (and an endpoint if given): what the driver needs."""
    code = (
        "import json\n"
        "from scim_portal.provisioning import create_connection\n"
        "from scim_portal.delivery import endpoints\n"
        "from scim_portal.models import WebhookEndpoint\n"
        "from tests.testapp.models import Organization\n"
        "import uuid\n"
        "org = Organization.objects.create(name='Bench', handle='b' + uuid.uuid4().hex[:12])\n"
        "connection, issued = create_connection(account=org, name='Bench', provider='okta')\n"
        "WebhookEndpoint.objects.all().delete()\n"
        "secret = ''\n"
        f"url = {endpoint_url!r}\n"
        "if url:\n"
        "    endpoint, made = endpoints.add_endpoint(url=url)\n"
        "    secret = made.raw\n"
        "connection.refresh_from_db()\n"
        "print(json.dumps({'base': f'/scim/v2/{connection.pk}', 'token': issued.raw,\n"
        "                  'connection': str(connection.pk), 'secret': secret,\n"
        "                  'events_before': connection.last_event_number}))\n"
    )
    out = run(["manage.py", "shell", "-c", code], "events", database)
    return json.loads(out.strip().splitlines()[-1])


def start_workers(
    count: int, database: str, log: Path, nice: int = 0
) -> list[subprocess.Popen[bytes]]:
    handle = log.open("ab")
    command = [PYTHON, "manage.py", "scim_portal", "worker", "--interval", "0.05"]
    if nice:
        command = ["nice", "-n", str(nice), *command]
    environment = env_for("events", database)
    return [
        subprocess.Popen(command, cwd=ROOT, env=environment, stdout=handle, stderr=handle)
        for _ in range(count)
    ]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()


def phase(
    name: str, port: int, database: str, receiver: Receiver, writes: int, concurrency: int,
    log: Path, *, endpoint: bool, workers: int, workers_after: int = 0, nice: int = 0,
) -> dict[str, Any]:  # fmt: skip
    """``writes`` creates on a fresh connection; with ``endpoint``, an endpoint at the
    receiver, ``workers`` task workers running during the writes and ``workers_after``
    started once they end (the write path alone, then one worker draining alone)."""
    data = setup(database, receiver.url if endpoint else None)
    receiver.reset(data["secret"], data["connection"], data["events_before"] + 1)
    running = start_workers(workers, database, log, nice)
    try:
        # The workers' start (imports), and the web workers' cached list of endpoints
        # (a per-process cache here, as the test host has no shared one) catching up.
        time.sleep(ENDPOINTS_CACHE_SECONDS + 1 if endpoint else 0)
        startup_cpu = sum(cpu_seconds(worker.pid) for worker in running)
        receiver_cpu = cpu_seconds(receiver.process.pid)
        started = time.monotonic()
        created, errors = create_users(port, data, range(writes), concurrency, name)
        write_seconds = time.monotonic() - started
        backlog_at_end = len(created) - receiver.delivered() if endpoint else 0
        drain_started, delivered_before = time.monotonic(), 0
        if workers_after:
            late = start_workers(workers_after, database, log, nice)
            running += late
            # Measured from the first event it delivers (its start, imports, is not).
            while receiver.delivered() == 0 and time.monotonic() - drain_started < 60:
                time.sleep(0.01)
            drain_started, delivered_before = time.monotonic(), receiver.delivered()
        drained = True
        if endpoint:
            deadline = time.monotonic() + 600
            while receiver.delivered() < len(created) and time.monotonic() < deadline:
                time.sleep(0.05)
            drained = receiver.delivered() >= len(created)
        finished = time.monotonic()
        worker_cpu = sum(cpu_seconds(worker.pid) for worker in running) - startup_cpu
        receiver_cpu = cpu_seconds(receiver.process.pid) - receiver_cpu
    finally:
        stop_workers(running)
    receiver.collect()
    row: dict[str, Any] = {
        "endpoint": endpoint,
        "workers_during_writes": workers,
        "workers_after_writes": workers_after,
        "writes": len(created),
        "write_errors": errors,
        "write_seconds": round(write_seconds, 1),
        "writes_per_second": round(len(created) / write_seconds, 1),
    }
    if endpoint:
        lags = sorted(arrived - committed for arrived, committed in receiver.arrivals)
        delivering = finished - (drain_started if workers_after else started)
        row |= {
            "worker_nice": nice,
            "delivered": receiver.delivered(),
            "drained": drained,
            "events_per_second": round((receiver.delivered() - delivered_before) / delivering, 1),
            "backlog_when_writes_ended": backlog_at_end,
            "seconds_from_last_write_to_last_event": round(finished - started - write_seconds, 1),
            "worker_cpu_ms_per_event": round(worker_cpu * 1000 / max(len(created), 1), 2),
            "receiver_cpu_ms_per_event": round(receiver_cpu * 1000 / max(len(created), 1), 2),
            "out_of_order": receiver.out_of_order,
            "bad_signatures": receiver.bad_signatures,
            "sent_again": receiver.duplicates,
        }
        if not workers_after:
            row |= {
                "lag_p50_ms": round(statistics.median(lags) * 1000, 1) if lags else None,
                "lag_p99_ms": round(lags[int(len(lags) * 0.99) - 1] * 1000, 1) if lags else None,
            }
    print(f"  {name:18} {json.dumps(row)}", flush=True)
    return row


#: The phases: name -> (endpoint, workers during the writes, workers after them, the
#: workers' ``nice``). ``one_worker_nice``: one worker at a lower priority than the web
#: server, as an operator may run it on cores the web workers use.
PHASES = {
    "no_endpoint": (False, 0, 0, 0),
    "endpoint_write_path": (True, 0, 1, 0),
    "one_worker": (True, 1, 0, 0),
    "two_workers": (True, 2, 0, 0),
    "one_worker_nice": (True, 1, 0, 10),
}


def failed_checks(phases: dict[str, Any]) -> list[str]:
    """The issue's targets: every event arrives, in order, signed; one worker keeps up
    with the writes (the backlog drains within seconds of the last write, and alone it
    delivers faster than the writes come); the write path with an endpoint enabled runs
    at 0.9x or more of without. (Writes with workers running beside them on the same two
    cores are reported, not checked: there the workers' CPU is the writes' CPU.)"""
    failed = []
    base = phases["no_endpoint"]["writes_per_second"]
    for name, row in phases.items():
        if not row["endpoint"]:
            continue
        if not row["drained"] or row["delivered"] != row["writes"]:
            failed.append(f"{name}: {row['delivered']} of {row['writes']} events arrived")
        if row["out_of_order"] or row["bad_signatures"]:
            failed.append(f"{name}: {row['out_of_order']} out of order, "
                          f"{row['bad_signatures']} bad signatures")  # fmt: skip
    ratio = phases["endpoint_write_path"]["writes_per_second"] / base
    if ratio < THROUGHPUT_FLOOR:
        failed.append(f"endpoint_write_path: writes/s {ratio:.2f}x of no_endpoint "
                      f"(< {THROUGHPUT_FLOOR})")  # fmt: skip
    if phases["one_worker"]["seconds_from_last_write_to_last_event"] > 10:
        failed.append("one_worker: the backlog took more than 10 s to drain after the writes")
    if phases["endpoint_write_path"]["events_per_second"] < base:
        failed.append("one worker alone delivers fewer events/s than the writes come")
    return failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writes", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    database = "bench_events"
    create_database(database)
    run(["manage.py", "migrate", "--no-input", "-v0"], "events", database)
    receiver = Receiver()
    log = args.out / "events-workers.log"
    args.out.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    server = Server("events", database, args.workers)
    phases: dict[str, Any] = {}
    try:
        create_users(server.port, setup(database, None), range(200), args.concurrency, "warm")
        for name, (endpoint, workers, workers_after, nice) in PHASES.items():
            phases[name] = phase(name, server.port, database, receiver, args.writes,
                                 args.concurrency, log, endpoint=endpoint, workers=workers,
                                 workers_after=workers_after, nice=nice)  # fmt: skip
    finally:
        server.stop()
        receiver.stop()
    results = {
        "machine": machine(),
        "parameters": vars(args) | {"out": str(args.out)},
        "phases": phases,
        "write_ratios": {
            name: round(row["writes_per_second"] / phases["no_endpoint"]["writes_per_second"], 2)
            for name, row in phases.items()
            if row["endpoint"]
        },
    }
    results["failed_checks"] = failed_checks(phases)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for name in (f"events-{stamp}.json", "events-latest.json"):
        (args.out / name).write_text(json.dumps(results, indent=2))
    print("  writes/s over no_endpoint:", json.dumps(results["write_ratios"]))
    if results["failed_checks"]:
        raise SystemExit("bench: failed:\n  " + "\n  ".join(results["failed_checks"]))


if __name__ == "__main__":
    main()
