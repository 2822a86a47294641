"""The example project's production profile and its SQLite configuration, as an operator
meets them: `check --deploy`, a styled site with DEBUG off behind gunicorn, log lines with
timestamps and request ids, and 16 simultaneous IdP writes on `make run`'s SQLite."""

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.test import override_settings

from scim_portal import checks
from tests import test_example_project
from tests.test_example_project import ROOT, free_port, manage, wait_until_answering

PARALLEL = 16
example_env = test_example_project.example_env  # the fixture: `make run`'s environment


@pytest.fixture
def production_env(example_env, tmp_path):
    return {
        **example_env,
        "DJANGO_PROFILE": "production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PUBLIC_URL": "https://scim.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        "STATIC_ROOT": str(tmp_path / "static"),
    }


def run_manage(env, *args):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_check_deploy_is_clean_under_the_production_profile(production_env):
    result = run_manage(production_env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_production_profile_refuses_to_start_without_a_secret_key(production_env):
    result = run_manage({**production_env, "SECRET_KEY": ""}, "check")
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_the_demo_profile_is_unchanged_and_passes_check_deploy_only_with_warnings(example_env):
    result = run_manage(example_env, "check", "--deploy")
    assert result.returncode == 0
    assert "security.W018" in result.stderr  # DEBUG on: the demo, not production


@pytest.mark.slow
def test_gunicorn_serves_a_styled_site_with_debug_off_and_logs_request_ids(production_env):
    env = {**production_env, "PUBLIC_URL": "http://127.0.0.1"}  # plain HTTP on loopback
    manage(env, "migrate", "--no-input", "--verbosity", "0")
    manage(env, "collectstatic", "--no-input", "--verbosity", "0")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "example_project/gunicorn.conf.py",
         "example_project.wsgi:application"],
        cwd=ROOT, env={**env, "PORT": str(port), "WEB_CONCURRENCY": "2"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_answering(f"{base}/login/", server)
        request = urllib.request.Request(f"{base}/login/", headers={"X-Request-ID": "lb-1234abcd"})
        with urllib.request.urlopen(request, timeout=10) as response:
            page = response.read().decode()
            assert response.headers["X-Request-ID"] == "lb-1234abcd"
        sheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page)
        assert sheets  # the site's own CSS, with a content hash in its name
        for sheet in [*sheets, "/static/admin/css/base.css"]:
            with urllib.request.urlopen(base + sheet, timeout=10) as response:
                assert response.status == 200
                assert response.headers["Content-Type"].startswith("text/css")
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{base}/no-such-page/", timeout=10)
        assert missing.value.code == 404
        body = missing.value.read().decode()
        assert "Traceback" not in body  # DEBUG is off: no technical page
        assert "Using the URLconf" not in body
        # A 4,084-character filter reaches the app (gunicorn's default request line, 4,094,
        # answered its own HTML 414): the app answers SCIM JSON (401: no token here).
        long_filter = urllib.parse.quote('userName eq "' + "a" * 4070 + '"')
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/scim/v2/{uuid.uuid4()}/Users?filter={long_filter}")
        assert refused.value.code in {401, 404}
        assert refused.value.headers["Content-Type"] == "application/scim+json"
    finally:
        server.terminate()
        output = server.communicate(timeout=15)[0]
    access = [line for line in output.splitlines() if "request_id=lb-1234abcd" in line]
    assert len(access) == 1 and '"GET /login/' in access[0]
    assert re.match(r"\[\d\d/\w+/\d{4}:\d\d:\d\d:\d\d", access[0])  # timestamped
    warning = [line for line in output.splitlines() if "Not Found: /no-such-page/" in line]
    assert warning and re.match(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ WARNING \[\w+\] django.request", warning[0]
    )


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_w006_warns_about_sqlite_without_immediate_transactions_or_a_timeout():
    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": "x.sqlite3"}
    with override_settings(DATABASES={"default": sqlite}):
        warnings = checks.check_sqlite_concurrency()
        assert [w.id for w in warnings] == ["scim_portal.W006"]
        assert '"transaction_mode": "IMMEDIATE"' in warnings[0].hint
    good = {**sqlite, "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20}}
    with override_settings(DATABASES={"default": good}):
        assert checks.check_sqlite_concurrency() == []
    postgres = {"ENGINE": "django.db.backends.postgresql", "NAME": "x"}
    with override_settings(DATABASES={"default": postgres}):
        assert checks.check_sqlite_concurrency() == []


@pytest.mark.slow
def test_simultaneous_member_adds_on_make_runs_sqlite_all_succeed(example_env):
    """`make run`'s configuration (a file SQLite database, the threaded runserver): an
    IdP's burst of 16 member adds to one group, and an add/remove race."""
    manage(example_env, "migrate", "--no-input", "--verbosity", "0")
    manage(example_env, "seed_demo")
    created = manage(
        example_env, "scim_portal", "create-connection", "--account", "acme",
        "--name", "Burst", "--provider", "okta", "--json",
    ).stdout  # fmt: skip
    connection = json.loads(created)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT, env={**example_env, "PORT": str(port)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/scim/v2/{connection['id']}"

    def send(method, path, body=None):
        request = urllib.request.Request(
            base + path, method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {connection['token']}",
                     "Content-Type": "application/scim+json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                text = response.read()
                return response.status, json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    try:
        wait_until_answering(f"{base}/", server)
        with ThreadPoolExecutor(PARALLEL) as pool:
            users = list(pool.map(
                lambda i: send("POST", "/Users", {"userName": f"b{i}@burst.example"}),
                range(PARALLEL),
            ))  # fmt: skip
        assert [status for status, _ in users] == [201] * PARALLEL, users
        ids = [body["id"] for _, body in users]
        status, group = send("POST", "/Groups", {"displayName": "Burst"})
        assert status == 201
        path = f"/Groups/{group['id']}"

        def add(user_id):
            operation = {"op": "add", "path": "members", "value": [{"value": user_id}]}
            return send("PATCH", path, {"Operations": [operation]})

        with ThreadPoolExecutor(PARALLEL) as pool:
            results = list(pool.map(add, ids))
        assert all(200 <= status < 300 for status, _ in results), results
        status, fetched = send("GET", path)
        assert sorted(member["value"] for member in fetched["members"]) == sorted(ids)

        flip = ids[0]
        remove = {"Operations": [{"op": "remove", "path": f'members[value eq "{flip}"]'}]}
        with ThreadPoolExecutor(PARALLEL) as pool:
            race = list(pool.map(
                lambda i: add(flip) if i % 2 else send("PATCH", path, remove),
                range(PARALLEL * 2),
            ))  # fmt: skip
        assert [status for status, _ in race if status >= 500] == [], race
        assert all(200 <= status < 300 for status, _ in race), race
        status, fetched = send("GET", path)
        assert len(fetched["members"]) in (PARALLEL - 1, PARALLEL)
    finally:
        server.terminate()
        server.wait(timeout=10)


def serve_manage(env, *args):
    return subprocess.run(
        ["scripts/serve-manage", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.postgresql  # once per `make test` (it starts its own PostgreSQL and Redis)
def test_make_serve_serves_the_production_profile_and_keeps_its_data_across_restarts():
    """The contract: `PORT=N make serve` (scripts/serve) and `make serve-manage ARGS=…`."""
    state = Path(tempfile.mkdtemp(prefix="scim-serve-", dir="/tmp"))
    state.chmod(0o755)  # PostgreSQL runs as the postgres user when we are root
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PG", "DJANGO", "TEST_"))},
        "SERVE_DIR": str(state / "serve"),
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
    }
    base = f"http://127.0.0.1:{port}"

    running: list[subprocess.Popen] = []

    def start():
        server = subprocess.Popen(
            ["scripts/serve"], cwd=ROOT, env=env, start_new_session=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        running.append(server)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and server.poll() is None:
            try:
                urllib.request.urlopen(f"{base}/login/", timeout=2)
                return server
            except OSError:
                time.sleep(0.5)
        raise AssertionError("make serve did not answer within 180 s")

    def stop(server):
        os.killpg(server.pid, signal.SIGINT)  # Ctrl-C
        running.remove(server)
        return server.communicate(timeout=60)[0]

    def leave_nothing_running():
        """What a failed start or stop would leave: its servers, stopped before the
        folder goes."""
        for server in running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=60)
        data = state / "serve" / "postgres" / "data"
        if (data / "postmaster.pid").exists():
            pg_bin = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
            command = [str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
            if os.getuid() == 0:
                command = ["runuser", "-u", "postgres", "--", *command]
            subprocess.run(command, check=False, capture_output=True, timeout=60)
        redis_pid = state / "serve" / "redis" / "redis.pid"
        if redis_pid.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(redis_pid.read_text().strip()), signal.SIGTERM)

    try:
        server = start()
        try:
            created = json.loads(serve_manage(
                env, "scim_portal", "create-connection", "--account", "acme", "--name", "Okta",
                "--provider", "okta", "--json",
            ).stdout)  # fmt: skip
            assert created["scim_url"] == f"{base}/scim/v2/{created['id']}"
            request = urllib.request.Request(
                f"{created['scim_url']}/Users", method="POST",
                data=json.dumps({"userName": "Zoë.Ωmega@acme.example"}).encode(),
                headers={"Authorization": f"Bearer {created['token']}",
                         "Content-Type": "application/scim+json"},
            )  # fmt: skip
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 201
            page = urllib.request.urlopen(f"{base}/login/", timeout=10).read().decode()
            sheet = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page)[0]
            assert urllib.request.urlopen(base + sheet, timeout=10).status == 200  # DEBUG off
        finally:
            output = stop(server)
        assert "acme-admin" in output and "serve: stopped" in output  # seeded, then stopped
        server = start()  # the same data after a restart
        try:
            listed = serve_manage(env, "scim_portal", "list-connections", "--json").stdout
            assert created["id"] in listed
        finally:
            stop(server)
    finally:
        leave_nothing_running()
        subprocess.run(["rm", "-rf", str(state)], check=False)
