"""GET by id with each authentication method, and the token endpoint, in process, on
PostgreSQL (not a test; ``make bench`` measures the same over HTTP).

    scripts/with-postgres .venv/bin/python bench/auth.py [--users 1000] [--requests 2000]

One connection of ``--users`` users (bench/load.py's directory) with a bearer token, a
Basic credential and an OAuth client secret; an access token obtained from the token
endpoint with ``client_credentials`` and ``client_secret_basic``. Through Django's test
client (the middleware, authentication, the view, the request log; no HTTP server),
``GET /Users/<id>`` with a bearer token, the access token and Basic take turns request
by request, so what else runs on the machine weighs on all three alike. It prints, per
method, the median and 90th percentile of the whole request and of
``ScimAuthentication.authenticate`` alone, and each median's ratio to the bearer
token's; then the same for ``POST /scim/oauth/token``.

``--profile`` adds a cProfile of ``--requests`` requests of each method (the functions
with the most cumulative time, so a difference between methods can be found).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATABASE = "bench_auth"
METHODS = ("bearer", "access_token", "basic")


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


class Timed:
    """Wraps ``ScimAuthentication.authenticate`` to record how long each call took."""

    def __init__(self) -> None:
        from scim_portal.scim.authentication import ScimAuthentication

        self.original = ScimAuthentication.authenticate
        self.last = 0.0

        def authenticate(auth: Any, request: Any) -> Any:
            started = time.perf_counter()
            try:
                return self.original(auth, request)
            finally:
                self.last = (time.perf_counter() - started) * 1000

        ScimAuthentication.authenticate = authenticate  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=2000, help="per method")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    setup()
    import psycopg
    from django.test import Client

    from bench.load import load_portal
    from bench.run import basic

    data = load_portal(args.users)
    with psycopg.connect(dbname=DATABASE, autocommit=True) as database:
        database.execute("VACUUM ANALYZE")
    client = Client()
    token_auth = basic(data["client"]["client_id"], data["client"]["client_secret"])

    def token_request() -> Any:
        response = client.post(
            data["token_endpoint"],
            "grant_type=client_credentials",
            content_type="application/x-www-form-urlencoded",
            HTTP_AUTHORIZATION=token_auth,
            secure=True,  # the test client's host is not a loopback address
        )
        assert response.status_code == 200, response.content
        body = json.loads(response.content)
        assert body["token_type"] == "Bearer" and body["access_token"].startswith("scimat_")
        return body

    authorization = {
        "bearer": f"Bearer {data['token']}",
        "access_token": f"Bearer {token_request()['access_token']}",
        "basic": basic(data["basic"]["username"], data["basic"]["password"]),
    }
    ids = data["users"]

    def get(method: str) -> Callable[[], None]:
        def call() -> None:
            wanted = random.choice(ids)
            response = client.get(
                f"{data['base']}/Users/{wanted}", HTTP_AUTHORIZATION=authorization[method]
            )
            assert response.status_code == 200, response.content
            assert json.loads(response.content)["id"] == wanted

        return call

    calls = {method: get(method) for method in METHODS}
    timed = Timed()
    for _ in range(100):  # warm up (and each credential's first last-used write)
        for method in METHODS:
            calls[method]()
        token_request()
    whole: dict[str, list[float]] = {method: [] for method in METHODS}
    auth: dict[str, list[float]] = {method: [] for method in METHODS}
    for i in range(args.requests):
        shift = i % len(METHODS)
        for method in METHODS[shift:] + METHODS[:shift]:
            started = time.perf_counter()
            calls[method]()
            whole[method].append((time.perf_counter() - started) * 1000)
            auth[method].append(timed.last)
    tokens = []
    for _ in range(max(1, args.requests // 4)):
        started = time.perf_counter()
        token_request()
        tokens.append((time.perf_counter() - started) * 1000)

    print(f"{args.users} users, {args.requests} requests per method, interleaved; ms")
    print("| request | p50 | p90 | p50 / bearer | authenticate() p50 | p90 | p50 / bearer |")
    print("|---|---|---|---|---|---|---|")
    base_whole = statistics.median(whole["bearer"])
    base_auth = statistics.median(auth["bearer"])
    for method in METHODS:
        w, a = sorted(whole[method]), sorted(auth[method])
        print(
            f"| GET by id, {method} | {statistics.median(w):.3f} | {w[int(len(w) * 0.9)]:.3f} "
            f"| {statistics.median(w) / base_whole:.3f} | {statistics.median(a):.3f} "
            f"| {a[int(len(a) * 0.9)]:.3f} | {statistics.median(a) / base_auth:.3f} |"
        )
    t = sorted(tokens)
    print(
        f"| token endpoint, client_secret_basic ({len(t)} requests) | {statistics.median(t):.3f} "
        f"| {t[int(len(t) * 0.9)]:.3f} | {statistics.median(t) / base_whole:.3f} | | | |"
    )
    if args.profile:
        for method in METHODS:
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(args.requests):
                calls[method]()
            profile.disable()
            out = io.StringIO()
            stats = pstats.Stats(profile, stream=out).sort_stats("cumulative")
            stats.print_stats(r"scim_portal|authentication|django/db", 25)
            print(f"\n== cProfile, {args.requests} x GET by id with {method} ==")
            print(out.getvalue())


if __name__ == "__main__":
    main()
