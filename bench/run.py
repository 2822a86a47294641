"""The benchmark: django-scim-portal against django-scim2 and a floor, over real HTTP.

Run by ``make bench`` inside a throwaway PostgreSQL (scripts/with-postgres). For each
directory size it creates two databases on the same server, loads the same data into
both, serves each with gunicorn, and drives every scenario with a concurrent client
for a fixed time: requests/s, p50/p95/p99 latency, SQL queries per request (from the
servers' X-Query-Count header), error rate, wrong answers. Results: a table on stdout
and JSON (with the machine's description) in bench/results/. It exits non-zero when a
check of :func:`failed_checks` fails (after writing the results).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"

TARGETS = {
    "portal": {"settings": "bench.portal_settings", "cwd": ROOT, "wsgi": "tests.wsgi:application",
               "db_env": "PORTAL_DATABASE", "path": [ROOT]},
    "peer": {"settings": "peer.settings", "cwd": ROOT / "bench" / "peer",
             "wsgi": "django.core.wsgi:get_wsgi_application()", "db_env": "PEER_DATABASE",
             "path": [ROOT / "bench" / "peer", ROOT]},
    "events": {"settings": "bench.events_settings", "cwd": ROOT, "wsgi": "tests.wsgi:application",
               "db_env": "PORTAL_DATABASE", "path": [ROOT]},
}  # fmt: skip
#: The servers the comparison runs (``events`` serves bench/event_delivery.py alone).
COMPARED = ("portal", "peer")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def env_for(target: str, database: str) -> dict[str, str]:
    spec = TARGETS[target]
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": str(spec["settings"]),
        str(spec["db_env"]): database,
        "PYTHONPATH": os.pathsep.join(str(p) for p in spec["path"]),
    }


def run(args: list[str], target: str, database: str) -> str:
    spec = TARGETS[target]
    result = subprocess.run(
        [PYTHON, *args], cwd=spec["cwd"], env=env_for(target, database),
        capture_output=True, text=True, check=False, timeout=1800,
    )  # fmt: skip
    if result.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def admin_sql(sql: str) -> str:
    """Run one statement on the server's default database (autocommit)."""
    import psycopg

    with psycopg.connect(autocommit=True) as connection:
        cursor = connection.execute(sql)
        row = cursor.fetchone() if cursor.description else None
        return str(row[0]) if row else ""


def analyze(database: str) -> None:
    """``VACUUM ANALYZE`` a freshly loaded database, as autovacuum would within a minute of
    the load: without statistics the planner guesses ~80 rows for any filter and sorts
    100,000 users to return the first 100 (80 ms instead of 0.2 ms)."""
    import psycopg

    with psycopg.connect(dbname=database, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def create_database(name: str) -> None:
    admin_sql(f'DROP DATABASE IF EXISTS "{name}"')
    admin_sql(f'CREATE DATABASE "{name}"')


class Server:
    def __init__(self, target: str, database: str, workers: int) -> None:
        spec = TARGETS[target]
        self.port = free_port()
        self.process = subprocess.Popen(
            [PYTHON, "-m", "gunicorn", str(spec["wsgi"]), "--workers", str(workers),
             "--bind", f"127.0.0.1:{self.port}", "--log-level", "error", "--keep-alive", "30"],
            cwd=spec["cwd"], env=env_for(target, database),
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


# Scenarios: each returns (method, path, body, check) for request number i. ``check``
# (status, parsed body) -> bool says whether a successful answer is the right one: a
# server that answers fast but wrong is counted in ``wrong_rate``, not praised.


def _total(expected: int) -> Any:
    return lambda status, doc: isinstance(doc, dict) and doc.get("totalResults") == expected


def _status(*accepted: int) -> Any:
    return lambda status, doc: status in accepted


def _scenarios(ctx: Any) -> dict[str, Any]:
    d, base = ctx["data"], ctx["data"]["base"]
    names, ids = d["user_names"], d["users"]
    int_members = d["member_ids"] == "int"

    def member(i: int) -> Any:
        value = d["non_members"][i % len(d["non_members"])]
        return int(value) if int_members else value

    def page(i: int) -> tuple[str, str, Any, Any]:
        start = random.randrange(0, max(1, ctx["users"] // 100)) * 100 + 1
        expected = min(100, ctx["users"] - start + 1)

        def check(status: int, doc: Any) -> bool:
            return isinstance(doc, dict) and len(doc.get("Resources", ())) == expected

        return "GET", f"{base}/Users?startIndex={start}&count=100", None, check

    def lookup_hit(i: int) -> tuple[str, str, Any, Any]:
        f = f'userName eq "{random.choice(names)}"'
        return "GET", f"{base}/Users?filter={quote(f)}", None, _total(1)

    def lookup_miss(i: int) -> tuple[str, str, Any, Any]:
        f = f'userName eq "nobody-{i}@example.com"'
        return "GET", f"{base}/Users?filter={quote(f)}", None, _total(0)

    def lookup_email(i: int) -> tuple[str, str, Any, Any]:
        f = f'emails[type eq "work"].value eq "{random.choice(names)}"'
        return "GET", f"{base}/Users?filter={quote(f)}", None, _total(1)

    def get_by_id(i: int) -> tuple[str, str, Any, Any]:
        wanted = random.choice(ids)

        def check(status: int, doc: Any) -> bool:
            return isinstance(doc, dict) and str(doc.get("id")) == str(wanted)

        return "GET", f"{base}/Users/{wanted}", None, check

    def create(i: int) -> tuple[str, str, Any, Any]:
        name = f"new-{ctx['tag']}-{i}-{random.randrange(10**9)}@example.com"
        return "POST", f"{base}/Users", {
            "schemas": [USER_SCHEMA], "userName": name, "active": True,
            "name": {"givenName": "New", "familyName": "User"},
            "emails": [{"value": name, "type": "work", "primary": True}],
        }, _status(201)  # fmt: skip

    def put(i: int) -> tuple[str, str, Any, Any]:
        index = random.randrange(len(ids))
        return "PUT", f"{base}/Users/{ids[index]}", {
            "schemas": [USER_SCHEMA], "userName": names[index], "active": True,
            "name": {"givenName": f"Put{i}", "familyName": "User"},
            "emails": [{"value": names[index], "type": "work", "primary": True}],
        }, _status(200)  # fmt: skip

    def deactivate(i: int) -> tuple[str, str, Any, Any]:
        body = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}
        return "PATCH", f"{base}/Users/{random.choice(ids)}", body, _status(200, 204)

    def group_member(i: int) -> tuple[str, str, Any, Any]:
        value = member(i // 2)
        if i % 2 == 0:
            op = {"op": "add", "path": "members", "value": [{"value": value}]}
        else:
            op = {"op": "remove", "path": f'members[value eq "{value}"]'}
        body = {"schemas": [PATCH], "Operations": [op]}
        return "PATCH", f"{base}/Groups/{d['big_group']}", body, _status(200, 204)

    def groups_excluded(i: int) -> tuple[str, str, Any, Any]:
        def check(status: int, doc: Any) -> bool:
            resources = doc.get("Resources", ()) if isinstance(doc, dict) else ()
            return len(resources) > 0 and not any("members" in r for r in resources)

        return "GET", f"{base}/Groups?excludedAttributes=members", None, check

    scenarios = {
        "okta_import_page": page,
        "lookup_username_hit": lookup_hit,
        "lookup_username_miss": lookup_miss,
        "lookup_work_email": lookup_email,
        "get_user_by_id": get_by_id,
        "create_user": create,
        "put_user": put,
        "patch_deactivate": deactivate,
        "group_member_add_remove_10k": group_member,
        "get_groups_excluding_members": groups_excluded,
    }
    mix = list(scenarios.values())

    def common_mix(i: int) -> tuple[str, str, Any, Any]:
        # Every scenario above in turn, one request each: equal weights, fixed here and
        # not tuned (no public figure says how real IdP traffic splits between them).
        return mix[i % len(mix)](i // len(mix))

    return {**scenarios, "common_mix": common_mix}


def drive(port: int, token: str, make: Any, duration: float, concurrency: int,
          headers: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    """Send requests from ``concurrency`` threads for ``duration`` seconds (with the
    bearer ``token``, or the ``headers`` given, e.g. another ``Authorization``)."""
    return summarize(*collect(port, token, make, duration, concurrency, headers))


def collect(port: int, token: str, make: Any, duration: float, concurrency: int,
            extra_headers: dict[str, str] | None = None) -> tuple[Any, ...]:  # fmt: skip
    """What :func:`drive` sums up: every latency and query count, errors, elapsed
    seconds, wrong answers. A ``str`` body is sent as it is, anything else as JSON."""
    latencies: list[float] = []
    queries: list[int] = []
    errors, wrong = [0], [0]
    lock = threading.Lock()
    counter = iter(range(10**9))
    stop_at = time.monotonic() + duration

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json",
                   "Accept": "application/scim+json", **(extra_headers or {})}  # fmt: skip
        local_lat, local_q, local_err, local_wrong = [], [], 0, 0
        while time.monotonic() < stop_at:
            with lock:
                i = next(counter)
            method, path, body, check = make(i)
            payload = body if isinstance(body, str) or body is None else json.dumps(body)
            started = time.perf_counter()
            try:
                connection.request(method, path, body=payload, headers=headers)
                response = connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                local_err += 1
                continue
            local_lat.append(time.perf_counter() - started)
            if response.status >= 400:
                local_err += 1
            elif check is not None:
                try:
                    document = json.loads(payload) if payload else None
                except ValueError:
                    document = None
                local_wrong += not check(response.status, document)
            count = response.getheader("X-Query-Count")
            if count is not None:
                local_q.append(int(count))
        with lock:
            latencies.extend(local_lat)
            queries.extend(local_q)
            errors[0] += local_err
            wrong[0] += local_wrong

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return latencies, queries, errors[0], elapsed, wrong[0]


def summarize(
    latencies: list[float], queries: list[int], errors: int, elapsed: float, wrong: int = 0
) -> dict[str, Any]:
    ordered = sorted(latencies)

    def pct(p: float) -> float | None:
        if not ordered:
            return None
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 2)

    total = len(latencies)
    return {
        "requests": total,
        "rps": round(total / elapsed, 1) if elapsed else 0,
        "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
        "queries_per_request": round(statistics.mean(queries), 1) if queries else None,
        "error_rate": round(errors / max(1, total + errors), 3),
        # Answered successfully, but not with what the request asked for (see the scenarios).
        "wrong_rate": round(wrong / max(1, total), 3),
    }  # fmt: skip


def create_users(port: int, data: dict[str, Any], names: range, concurrency: int,
                 tag: str) -> tuple[list[str], int]:  # fmt: skip
    """POST a user for each number in ``names`` from ``concurrency`` keep-alive threads, as
    an IdP's first sync does: the ids created (a 201 with an id) and the errors."""
    base, token = data["base"], data["token"]
    created: list[str] = []
    lock = threading.Lock()
    counter = iter(names)
    errors = [0]

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            name = f"sync-{tag}-{i}@example.com"
            body = {"schemas": [USER_SCHEMA], "userName": name,
                    "emails": [{"value": name, "type": "work"}]}  # fmt: skip
            connection.request("POST", f"{base}/Users", body=json.dumps(body), headers=headers)
            response = connection.getresponse()
            payload = response.read()
            document = json.loads(payload) if response.status == 201 else {}
            with lock:
                if document.get("id"):
                    created.append(str(document["id"]))
                else:
                    errors[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return created, errors[0]


#: Reads sent to a new server before anything is measured, for this many seconds.
WARM_UP_SECONDS = 3.0


def warm_up(port: int, data: dict[str, Any], scenarios: dict[str, Any], concurrency: int) -> None:
    """Send every read scenario in turn for :data:`WARM_UP_SECONDS`, unmeasured: each
    gunicorn worker imports its application on its first request (scim2-models and
    pydantic take ~1 s of it), which the first scenario measured would otherwise pay."""
    reads = [scenarios[name] for name in ("okta_import_page", "lookup_username_hit",
                                          "get_user_by_id", "get_groups_excluding_members")]  # fmt: skip
    drive(port, data["token"], lambda i: reads[i % len(reads)](i), WARM_UP_SECONDS, concurrency)


def first_sync(port: int, data: dict[str, Any], users: int, groups: int, concurrency: int,
               tag: str) -> dict[str, Any]:  # fmt: skip
    """An IdP's first sync: create ``users`` users, then ``groups`` groups with members."""
    base, token = data["base"], data["token"]
    started = time.monotonic()
    created, user_errors = create_users(port, data, range(users), concurrency, tag)
    errors = [user_errors]
    int_ids = data["member_ids"] == "int"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    per_group = max(1, len(created) // groups)
    for g in range(groups):
        connection.request("POST", f"{base}/Groups", body=json.dumps(
            {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
             "displayName": f"Sync {tag} {g}", "members": []}), headers=headers)  # fmt: skip
        response = connection.getresponse()
        group = json.loads(response.read() or b"{}")
        if response.status != 201:
            errors[0] += 1
            continue
        members = created[g * per_group : (g + 1) * per_group]
        if int_ids:
            # django-scim2 takes the users' database ids, not their SCIM ids, as member values.
            members = [str(m) for m in members]
        value = [{"value": m} for m in members]
        connection.request("PATCH", f"{base}/Groups/{group['id']}", body=json.dumps(
            {"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": value}]}
        ), headers=headers)  # fmt: skip
        response = connection.getresponse()
        response.read()
        if response.status >= 400:
            errors[0] += 1
    elapsed = time.monotonic() - started
    return {"users": users, "groups": groups, "seconds": round(elapsed, 1),
            "requests_per_second": round((users + 2 * groups) / elapsed, 1),
            "errors": errors[0]}  # fmt: skip


#: GET by id and the floor are measured in this many back-to-back pairs: on a shared
#: 2-core machine one run of either moves ±30% with its neighbours, a pair much less.
FLOOR_PAIRS = 3


def floor_pairs(port: int, data: dict[str, Any], get_by_id: Any, duration: float,
                concurrency: int) -> dict[str, Any]:  # fmt: skip
    """GET by id then the floor, ``FLOOR_PAIRS`` times, ``duration / FLOOR_PAIRS`` each:
    the floor run of the median pair, and every pair's ratio (the median is reported)."""
    pairs = []
    for _ in range(FLOOR_PAIRS):
        get = drive(port, data["token"], get_by_id, duration / FLOOR_PAIRS, concurrency)
        floor = drive(port, data["token"], lambda i: ("GET", data["floor"], None, None),
                      duration / FLOOR_PAIRS, concurrency)  # fmt: skip
        pairs.append((round(get["rps"] / floor["rps"], 2), floor))
    pairs.sort(key=lambda pair: pair[0])
    return {"floor_get": pairs[len(pairs) // 2][1],
            "get_by_id_vs_floor_pairs": [ratio for ratio, _ in pairs]}  # fmt: skip


#: How an IdP authenticates GET by id in the authentication scenario: the connection's
#: bearer token, an access token its token endpoint gave (client credentials), HTTP Basic.
AUTH_METHODS = ("bearer", "access_token", "basic")
#: A SCIM request with an access token or Basic costs at most this many times the same
#: request with a bearer token in the same run (issue 16); ``make bench`` fails past it.
#: Cost is the server's median time per request with the methods taking turns request
#: by request: separate runs of each move by more than 10% with the neighbours on a
#: shared machine (docs/benchmarks.md).
AUTH_COST_LIMIT = 1.1
#: For req/s, the three methods run alone in turn this many rounds, ``duration /
#: AUTH_ROUNDS`` each, the order rotating so each runs first, second and third once;
#: for the cost check, they take turns request by request this many times ``duration``
#: each, and the median of the runs' ratios is checked (one run moves by ±4% on a busy
#: machine, the access token's ratio sits near 1.05).
AUTH_ROUNDS = 3


def basic(user: str, password: str) -> str:
    """An ``Authorization: Basic`` value. Our usernames, client ids and secrets are
    URL-safe, so RFC 6749's form-encoding of client credentials changes nothing."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def token_headers(data: dict[str, Any]) -> dict[str, str]:
    """A token request's headers: the connection's client secret, ``client_secret_basic``."""
    client = data["client"]
    return {"Authorization": basic(client["client_id"], client["client_secret"]),
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json"}  # fmt: skip


def token_answer(status: int, doc: Any) -> bool:
    """An RFC 6749 access-token answer: an opaque ``Bearer`` token that expires."""
    return (
        isinstance(doc, dict) and doc.get("token_type") == "Bearer"
        and str(doc.get("access_token", "")).startswith("scimat_")
        and isinstance(doc.get("expires_in"), int) and doc["expires_in"] > 0
    )  # fmt: skip


def token_request(data: dict[str, Any]) -> Any:
    """The token endpoint scenario: ``client_credentials`` with ``client_secret_basic``."""
    return lambda i: ("POST", data["token_endpoint"], "grant_type=client_credentials",
                      token_answer)  # fmt: skip


def obtain_access_token(port: int, data: dict[str, Any]) -> str:
    """An access token for the connection from its token endpoint, as an IdP gets one."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        method, path, body, check = token_request(data)(0)
        connection.request(method, path, body=body, headers=token_headers(data))
        response = connection.getresponse()
        payload = response.read()
    finally:
        connection.close()
    try:
        document = json.loads(payload)
    except ValueError:
        document = None
    if response.status != 200 or not check(response.status, document):
        raise SystemExit(f"The token endpoint answered {response.status}: {payload[:500]!r}")
    return str(document["access_token"])


def interleaved(port: int, get_by_id: Any, duration: float,
                headers: dict[str, dict[str, str]], concurrency: int = 1) -> dict[str, Any]:  # fmt: skip
    """GET by id for ``duration``, the methods of ``headers`` taking turns request by
    request, so a busy neighbour weighs on all of them alike: per method, the server's
    own time of each request (``X-Server-Ms``), errors and wrong answers. One request at
    a time by default: with several, a request's time on the server is mostly its wait
    for a CPU that the others hold, and the median moves by more than 10% between runs."""
    methods = list(headers)
    times: dict[str, list[float]] = {method: [] for method in methods}
    errors = dict.fromkeys(methods, 0)
    wrong = dict.fromkeys(methods, 0)
    lock = threading.Lock()
    counter = iter(range(10**9))
    stop_at = time.monotonic() + duration

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.monotonic() < stop_at:
            with lock:
                i = next(counter)
            method = methods[i % len(methods)]
            _, path, _, check = get_by_id(i)
            try:
                connection.request("GET", path, headers={
                    **headers[method], "Accept": "application/scim+json"})  # fmt: skip
                response = connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                with lock:
                    errors[method] += 1
                continue
            try:
                document = json.loads(payload) if payload else None
            except ValueError:
                document = None
            with lock:
                if response.status >= 400:
                    errors[method] += 1
                elif not check(response.status, document):
                    wrong[method] += 1
                else:
                    times[method].append(float(response.getheader("X-Server-Ms", "nan")))

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out = {}
    for method in methods:
        ordered = sorted(times[method])
        out[method] = {
            "answered": len(ordered), "errors": errors[method], "wrong": wrong[method],
            "server_p10_ms": round(ordered[int(0.10 * len(ordered))], 3) if ordered else None,
            "server_p25_ms": round(ordered[int(0.25 * len(ordered))], 3) if ordered else None,
            "server_p50_ms": round(statistics.median(ordered), 3) if ordered else None,
            "server_p95_ms": round(ordered[int(0.95 * len(ordered))], 3) if ordered else None,
        }  # fmt: skip
    return out


def auth_scenarios(port: int, data: dict[str, Any], get_by_id: Any, duration: float,
                   concurrency: int) -> dict[str, Any]:  # fmt: skip
    """GET by id with each of ``AUTH_METHODS``: alone, in ``AUTH_ROUNDS`` rotating rounds
    pooled into one row per method (req/s, latency; each round's bearer req/s over the
    method's); then the token endpoint for ``duration``; then taking turns request by
    request, ``AUTH_ROUNDS`` runs of ``duration`` (the server's time per request: what
    the cost check reads)."""
    headers = {
        "bearer": {"Authorization": f"Bearer {data['token']}"},
        "access_token": {"Authorization": f"Bearer {obtain_access_token(port, data)}"},
        "basic": {"Authorization": basic(data["basic"]["username"], data["basic"]["password"])},
    }
    pooled: dict[str, list[Any]] = {method: [[], [], 0, 0.0, 0] for method in AUTH_METHODS}
    costs: dict[str, list[float]] = {method: [] for method in AUTH_METHODS if method != "bearer"}
    for round_number in range(AUTH_ROUNDS):
        shift = round_number % len(AUTH_METHODS)
        rps = {}
        for method in AUTH_METHODS[shift:] + AUTH_METHODS[:shift]:
            latencies, queries, errors, elapsed, wrong = collect(
                port, data["token"], get_by_id, duration / AUTH_ROUNDS, concurrency,
                headers[method],
            )  # fmt: skip
            row = pooled[method]
            row[0] += latencies
            row[1] += queries
            row[2] += errors
            row[3] += elapsed
            row[4] += wrong
            rps[method] = len(latencies) / elapsed if elapsed else 0.0
        for method in costs:
            costs[method].append(round(rps["bearer"] / rps[method], 3) if rps[method] else 0.0)
    out: dict[str, Any] = {f"get_user_by_id_{m}": summarize(*pooled[m]) for m in AUTH_METHODS}
    out["oauth_token_client_credentials"] = drive(
        port, data["token"], token_request(data), duration, concurrency, token_headers(data)
    )
    out["auth_throughput_cost_vs_bearer_rounds"] = costs
    out["auth_interleaved_runs"] = [
        interleaved(port, get_by_id, duration, headers) for _ in range(AUTH_ROUNDS)
    ]
    return out


def machine() -> dict[str, Any]:
    cpu = memory = ""
    with contextlib.suppress(OSError):
        models = [line for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")]  # fmt: skip
        cpu = models[0].split(":", 1)[1].strip() if models else ""
    with contextlib.suppress(OSError):
        memory = Path("/proc/meminfo").read_text().splitlines()[0].split(":", 1)[1].strip()
    postgres = admin_sql("SHOW server_version")
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory": memory, "python": platform.python_version(),
            "platform": platform.platform(), "postgresql": postgres}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000],
                        help="directory sizes; add 1000000 for the 1,000,000-user run "
                             "(checked against the smallest size; not in the default run)")  # fmt: skip
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per scenario")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers per server")
    parser.add_argument("--first-sync-users", type=int, default=10_000)
    parser.add_argument("--first-sync-groups", type=int, default=100)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    results: dict[str, Any] = {"machine": machine(), "parameters": vars(args) | {"out": str(args.out)},
                               "sizes": {}, "load_seconds": {}}  # fmt: skip
    for size in args.sizes:
        print(f"\n== {size} users ==", flush=True)
        per_target: dict[str, Any] = {}
        for target in COMPARED:
            database = f"bench_{target}_{size}"
            create_database(database)
            run(["manage.py", "migrate", "--no-input", "-v0"], target, database)
            started = time.monotonic()
            data = json.loads(
                run([str(ROOT / "bench" / "load.py"), target, str(size)], target, database)
            )
            analyze(database)
            loaded = round(time.monotonic() - started, 1)
            results["load_seconds"].setdefault(str(size), {})[target] = loaded
            print(f"  loaded {target} in {loaded}s (with VACUUM ANALYZE)", flush=True)
            server = Server(target, database, args.workers)
            try:
                ctx = {"data": data, "users": size, "tag": f"{target}{size}"}
                warm_up(server.port, data, _scenarios(ctx), args.concurrency)
                scenarios = {}
                for name, make in _scenarios(ctx).items():
                    scenarios[name] = drive(server.port, data["token"], make, args.duration,
                                            args.concurrency)  # fmt: skip
                    print(f"  {target:6} {name:32} {scenarios[name]['rps']:8.1f} req/s "
                          f"p95 {scenarios[name]['p95_ms']} ms  q/req "
                          f"{scenarios[name]['queries_per_request']}  "
                          f"errors {scenarios[name]['error_rate']}  "
                          f"wrong {scenarios[name]['wrong_rate']}", flush=True)  # fmt: skip
                if target == "portal":
                    scenarios.update(floor_pairs(server.port, data, _scenarios(ctx)["get_user_by_id"],
                                                 args.duration, args.concurrency))  # fmt: skip
                    print(f"  floor  get {scenarios['floor_get']['rps']:8.1f} req/s; GET by id / floor "
                          f"per pair {scenarios['get_by_id_vs_floor_pairs']}", flush=True)  # fmt: skip
                    auth = auth_scenarios(server.port, data, _scenarios(ctx)["get_user_by_id"],
                                          args.duration, args.concurrency)  # fmt: skip
                    scenarios.update(auth)
                    for name, row in auth.items():
                        if "rps" in row:
                            print(f"  {target:6} {name:32} {row['rps']:8.1f} req/s p50/p95 "
                                  f"{row['p50_ms']}/{row['p95_ms']} ms  q/req "
                                  f"{row['queries_per_request']}  errors {row['error_rate']}  "
                                  f"wrong {row['wrong_rate']}", flush=True)  # fmt: skip
                    print(f"  auth   bearer req/s / method req/s per round "
                          f"{auth['auth_throughput_cost_vs_bearer_rounds']}", flush=True)  # fmt: skip
                    turns = [{m: run[m]["server_p50_ms"] for m in run}
                             for run in auth["auth_interleaved_runs"]]  # fmt: skip
                    print(f"  auth   taking turns, server p50 ms per run {turns}", flush=True)
                if size == max(args.sizes) or len(args.sizes) == 1:
                    scenarios["first_sync"] = first_sync(
                        server.port, data, args.first_sync_users, args.first_sync_groups,
                        args.concurrency, f"{target}{size}",
                    )  # fmt: skip
                    scenarios["first_sync"]["verified"] = json.loads(run(
                        [str(ROOT / "bench" / "verify_sync.py"), target, f"{target}{size}",
                         str(args.first_sync_users), str(args.first_sync_groups)],
                        target, database,
                    ))  # fmt: skip
                    print(f"  {target:6} first_sync {scenarios['first_sync']}", flush=True)
            finally:
                server.stop()
            per_target[target] = scenarios
        results["sizes"][str(size)] = per_target

    results["ratios"] = ratios(results, args.sizes)
    results["failed_checks"] = failed_checks(results, args.sizes)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for name in (f"bench-{stamp}.json", "latest.json"):
        (args.out / name).write_text(json.dumps(results, indent=2))
    print_table(results, args.sizes)
    if results["failed_checks"]:
        raise SystemExit("bench: failed:\n  " + "\n  ".join(results["failed_checks"]))


#: The scenarios whose p50 must not grow with the directory: at ``SCALE_CHECKED_FROM``
#: users or more each stays within ``SCALE_LIMIT`` times its p50 at the run's smallest
#: size (issue 17), measured in the same run.
SCALE_SCENARIOS = ("okta_import_page", "lookup_username_hit", "lookup_username_miss",
                   "lookup_work_email", "get_user_by_id", "group_member_add_remove_10k")  # fmt: skip
SCALE_LIMIT = 1.5
SCALE_CHECKED_FROM = 1_000_000


def failed_checks(results: dict[str, Any], sizes: list[int]) -> list[str]:
    """What the run must show, and did not: each server's first sync answered every request
    and left every user, host user, membership, role and group member in place
    (bench/verify_sync.py); each authentication method answers every
    GET by id, and the token endpoint every request, rightly; with the methods taking
    turns, the server's median time for GET by id with an access token or Basic is at
    most ``AUTH_COST_LIMIT`` times its median with a bearer token (the median run); at
    ``SCALE_CHECKED_FROM`` users or more, each of ``SCALE_SCENARIOS`` answers rightly
    with a p50 at most ``SCALE_LIMIT`` times its p50 at the smallest size."""
    failed = []
    for size in sizes:
        growth = results["ratios"].get(f"p50_latency_{size}_vs_{min(sizes)}")
        if size < SCALE_CHECKED_FROM or growth is None:
            continue
        portal = results["sizes"][str(size)]["portal"]
        for name in SCALE_SCENARIOS:
            row = portal[name]
            if row["requests"] == 0 or row["error_rate"] or row["wrong_rate"]:
                failed.append(f"{size} users: {name}: {row['requests']} requests, error rate "
                              f"{row['error_rate']}, wrong answers {row['wrong_rate']}")  # fmt: skip
            if growth[name] is None or growth[name] > SCALE_LIMIT:
                failed.append(f"{size} users: {name} p50 is {growth[name]}x its p50 at "
                              f"{min(sizes)} users (at most {SCALE_LIMIT}x)")  # fmt: skip
    for size in sizes:
        portal = results["sizes"][str(size)]["portal"]
        names = [f"get_user_by_id_{m}" for m in AUTH_METHODS] + ["oauth_token_client_credentials"]
        for name in names:
            row = portal[name]
            if row["requests"] == 0 or row["error_rate"] or row["wrong_rate"]:
                failed.append(f"{size} users: {name}: {row['requests']} requests, error rate "
                              f"{row['error_rate']}, wrong answers {row['wrong_rate']}")  # fmt: skip
        for run in portal["auth_interleaved_runs"]:
            for method, turn in run.items():
                if not turn["answered"] or turn["errors"] or turn["wrong"]:
                    failed.append(f"{size} users: GET by id with {method}, taking turns: {turn}")
        costs = results["ratios"][f"auth_cost_vs_bearer_{size}"]
        for method in AUTH_METHODS[1:]:
            cost = costs.get(method)
            if cost is None or cost > AUTH_COST_LIMIT:
                failed.append(f"{size} users: GET by id with {method} costs {cost}x the same with "
                              f"a bearer token (at most {AUTH_COST_LIMIT}x)")  # fmt: skip
        for target in COMPARED:
            sync = results["sizes"][str(size)][target].get("first_sync")
            if sync and (sync["errors"] or sync["verified"]["problem_count"]):
                failed.append(f"{size} users: {target} first sync: {sync['errors']} errors, "
                              f"afterwards {sync['verified']['problems']}")  # fmt: skip
    return failed


def auth_costs(portal: dict[str, Any], method: str) -> list[float]:
    """Per run taking turns, the server's median time for GET by id with ``method`` over
    its median with a bearer token."""
    return [
        round(run[method]["server_p50_ms"] / run["bearer"]["server_p50_ms"], 3)
        for run in portal["auth_interleaved_runs"]
        if run[method]["server_p50_ms"] and run["bearer"]["server_p50_ms"]
    ]


def ratios(results: dict[str, Any], sizes: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for size in sizes:
        portal, peer = results["sizes"][str(size)]["portal"], results["sizes"][str(size)]["peer"]
        out[f"throughput_vs_django_scim2_{size}"] = {
            name: round(portal[name]["rps"] / peer[name]["rps"], 2) if peer[name]["rps"] else None
            for name in portal
            if name in peer and "rps" in portal[name]
        }
        pairs = portal["get_by_id_vs_floor_pairs"]
        out[f"get_by_id_vs_floor_{size}"] = pairs[len(pairs) // 2]
        out[f"auth_cost_vs_bearer_{size}"] = {
            method: statistics.median(costs) if (costs := auth_costs(portal, method)) else None
            for method in AUTH_METHODS[1:]
        }
        out[f"auth_throughput_cost_vs_bearer_{size}"] = {
            method: statistics.median(rounds)
            for method, rounds in portal["auth_throughput_cost_vs_bearer_rounds"].items()
        }
    if len(sizes) > 1:
        small = results["sizes"][str(min(sizes))]["portal"]
        for size in sizes:
            if size == min(sizes):
                continue
            large = results["sizes"][str(size)]["portal"]
            out[f"p50_latency_{size}_vs_{min(sizes)}"] = {
                name: round(large[name]["p50_ms"] / small[name]["p50_ms"], 2)
                if large[name]["p50_ms"] and small[name]["p50_ms"] else None
                for name in SCALE_SCENARIOS
            }  # fmt: skip
        out["p50_latency_largest_vs_smallest"] = out[f"p50_latency_{max(sizes)}_vs_{min(sizes)}"]
    return out


def print_table(results: dict[str, Any], sizes: list[int]) -> None:
    print(
        "\n| users | scenario | portal req/s | django-scim2 req/s | ratio | portal p50/p95/p99 ms | "
        "django-scim2 p50/p95/p99 ms | queries portal/peer | errors portal/peer | "
        "wrong answers portal/peer |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for size in sizes:
        portal, peer = results["sizes"][str(size)]["portal"], results["sizes"][str(size)]["peer"]
        for name, ours in portal.items():
            if "rps" not in ours:
                continue
            theirs = peer.get(name, {})
            ratio = round(ours["rps"] / theirs["rps"], 2) if theirs.get("rps") else "—"
            print(f"| {size} | {name} | {ours['rps']} | {theirs.get('rps', '—')} | {ratio} | "
                  f"{ours['p50_ms']}/{ours['p95_ms']}/{ours['p99_ms']} | "
                  f"{theirs.get('p50_ms', '—')}/{theirs.get('p95_ms', '—')}/{theirs.get('p99_ms', '—')} | "
                  f"{ours['queries_per_request']}/{theirs.get('queries_per_request', '—')} | "
                  f"{ours['error_rate']}/{theirs.get('error_rate', '—')} | "
                  f"{ours['wrong_rate']}/{theirs.get('wrong_rate', '—')} |")  # fmt: skip
    print("\nRatios:", json.dumps(results["ratios"], indent=2))


if __name__ == "__main__":
    main()
