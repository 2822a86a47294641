"""Smoke test of the example project as `make run` starts it: migrate the SQLite
default, seed the demo, serve, and log in with a printed demo login."""

import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_answering(url: str, process: subprocess.Popen, seconds: float = 30) -> None:
    """Wait until the server ``process`` started answers ``url`` over HTTP (any status);
    kill it and raise if it has not within ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # answering, with an error status
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.2)


def example_environment(folder: Path, **extra: str) -> dict[str, str]:
    """`make run`'s environment on a fresh SQLite database in ``folder``: the example
    project's settings, not the test run's database; ``extra`` added."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PG", "DATABASE_ENGINE", "TEST_DATABASE", "DJANGO_SETTINGS"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="example_project.settings",
        SQLITE_PATH=str(folder / "demo.sqlite3"),
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


@pytest.fixture
def example_env(tmp_path):
    return example_environment(tmp_path)


def manage(env, *args, timeout=120):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=timeout,
    )  # fmt: skip


@contextmanager
def demo_site(folder: Path, *setups: tuple[str, ...], **extra: str) -> Iterator[tuple[str, Any]]:
    """The example project served by runserver on a free port, on a fresh SQLite database
    in ``folder``, migrated, with the demo data and then each management command of
    ``setups`` run: (its base URL, ``run(*args)`` giving a command's output) while it
    answers."""
    port = free_port()
    env = example_environment(folder, PORT=str(port), **extra)

    def run(*args: str) -> str:
        return manage(env, *args, timeout=180).stdout

    for command in (("migrate", "--no-input", "-v0"), ("seed_demo",), *setups):
        run(*command)
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_answering(f"{base}/login/", server)
        yield base, run
    finally:
        server.terminate()
        server.wait(timeout=10)


HOOK_STATEMENTS = """
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from example_project.accounts.models import Account, Membership
from example_project.accounts.scim import Memberships

account = Account.objects.get(slug="globex")
user = get_user_model().objects.create(username="hook-statements")
hook, counts = Memberships(), []
for call in (
    lambda: hook.add(account, user, role="admin", active=True),
    lambda: hook.set_role(account, user, "auditor"),
    lambda: hook.set_active(account, user, False),
    lambda: hook.set_active(account, user, True),
):
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        call()
    counts.append(len(queries))
membership = Membership.objects.get(account=account, user=user)
groups = sorted(user.groups.values_list("name", flat=True))
print(json.dumps([counts, membership.role.name, membership.is_active, groups]))
"""


def membership_hook_statements(env):
    """The example's memberships hook, as a SCIM change calls it: the statements of each
    call (inside the change's transaction) and what it leaves."""
    out = manage(env, "shell", "-c", "import json\n" + HOOK_STATEMENTS).stdout
    counts, role, active, groups = json.loads(out.strip().splitlines()[-1])
    return counts, role, active, groups


def test_example_project_migrates_seeds_and_serves_the_demo_login(example_env):
    manage(example_env, "migrate", "--no-input", "--verbosity", "0")
    seeded = manage(example_env, "seed_demo").stdout
    assert re.search(r"acme-admin\s+/\s+acme-admin-demo", seeded)
    assert manage(example_env, "seed_demo").stdout == seeded  # idempotent
    manage(example_env, "check", "--fail-level", "WARNING")
    assert membership_hook_statements(example_env) == (
        [4, 5, 4, 5],
        "globex:auditor",
        True,
        ["globex:auditor"],
    )
    for provider in ("okta", "entra"):
        table = manage(example_env, "simulate_idp", "--provider", provider).stdout
        assert re.search(rf"grace@{provider}\.acme\.example\.com\s+admin\s+active", table)
        assert re.search(rf"alan@{provider}\.acme\.example\.com\s+auditor\s+active", table)
        assert re.search(rf"edsger@{provider}\.acme\.example\.com\s+member\s+deactivated", table)

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT, env={**example_env, "PORT": str(port)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_answering(f"{base}/login/", server)
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(f"{base}/login/", timeout=5).read().decode()
        assert "Log in" in page
        csrf = next(cookie.value for cookie in jar if cookie.name == "csrftoken")
        form = urllib.parse.urlencode(
            {"username": "acme-admin", "password": "acme-admin-demo", "csrfmiddlewaretoken": csrf}
        ).encode()
        request = urllib.request.Request(f"{base}/login/", data=form, headers={"Referer": base})
        response = opener.open(request, timeout=10)
        assert response.url == f"{base}/a/acme/"
        dashboard = response.read().decode()
        assert "Acme Corporation" in dashboard
        assert "acme-auditor" in dashboard  # the members table

        # Globex's IdP sends acme's admin: not linked, not edited; she is invited instead,
        # and joining Globex gives her a membership there, nothing else.
        created = manage(
            example_env,
            "scim_portal",
            "create-connection",
            "--account",
            "globex",
            "--name",
            "Globex IdP",
            "--provider",
            "okta",
            "--json",
        ).stdout
        connection = json.loads(created)
        body = json.dumps(
            {
                "userName": "ada@globex",
                "name": {"givenName": "Mallory"},
                "emails": [{"value": "acme-admin@acme.example"}],
            }
        ).encode()
        scim = urllib.request.Request(
            f"{base}/scim/v2/{connection['id']}/Users", data=body, method="POST",
            headers={"Authorization": f"Bearer {connection['token']}",
                     "Content-Type": "application/scim+json"},
        )  # fmt: skip
        assert urllib.request.urlopen(scim, timeout=10).status == 201
        invitations = opener.open(f"{base}/invitations/", timeout=5).read().decode()
        assert "Globex Inc." in invitations
        accept = re.search(r'action="(/invitations/[^"]+/accept/)"', invitations)[1]
        csrf = next(cookie.value for cookie in jar if cookie.name == "csrftoken")
        joined = opener.open(urllib.request.Request(
            base + accept, data=urllib.parse.urlencode({"csrfmiddlewaretoken": csrf}).encode(),
            headers={"Referer": base},
        ), timeout=10)  # fmt: skip
        assert joined.url == f"{base}/a/globex/"
        assert "Mallory" not in joined.read().decode()
    finally:
        server.terminate()
        server.wait(timeout=10)
