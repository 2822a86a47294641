"""docs/integration.md's quick start, followed literally in a brand-new project.

The blocks are read from the Markdown, so the docs and this test cannot drift apart: a block
titled with a file name is appended to that file; a shell block's commands run in order in
the project's directory (``python`` and ``django-admin`` with this interpreter); the JSON
block is what the IdP pushes. Only two lines are not run as written: ``pip install`` (the
app is already installed here, from this checkout) and the two long-running commands
(``runserver`` and the worker), which are started in the background on a free port.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "integration.md"
pytestmark = pytest.mark.slow

BLOCK = re.compile(r"^```(\w+)(?: title=\"([^\"]+)\")?\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def quick_start() -> list[tuple[str, str | None, str]]:
    """``(language, title, body)`` of the quick start's blocks, in order."""
    text = GUIDE.read_text()
    start = text.index("## Quick start")
    section = text[start : text.index("\n## ", start + 1)]
    return [(m.group(1), m.group(2), m.group(3)) for m in BLOCK.finditer(section)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def command(line: str) -> list[str]:
    argv = shlex.split(line)
    if argv[0] == "python":
        return [sys.executable, *argv[1:]]
    if argv[0] == "django-admin":
        return [sys.executable, "-m", "django", *argv[1:]]
    raise AssertionError(f"the quick start runs a command this test cannot: {line}")


def test_the_guide_has_the_steps_this_test_follows():
    blocks = quick_start()
    titles = [title for _, title, _ in blocks if title]
    assert titles == [
        "customers/models.py",
        "customers/provisioning.py",
        "mysite/settings.py",
        "mysite/urls.py",
        "templates/base.html",
        "a user, as an identity provider sends it",
    ]
    assert sum(language == "sh" for language, _, _ in blocks) == 5


def test_a_fresh_project_built_from_the_docs_provisions_a_user(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env["DJANGO_SUPERUSER_PASSWORD"] = "quick-start-password"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    port = free_port()
    servers: list[subprocess.Popen[bytes]] = []
    outputs: dict[str, str] = {}
    user: dict | None = None

    def run(argv: list[str]) -> str:
        result = subprocess.run(
            argv, cwd=project, env=env, capture_output=True, text=True, timeout=180
        )
        assert result.returncode == 0, f"{shlex.join(argv)}\n{result.stdout}\n{result.stderr}"
        return result.stdout

    try:
        for language, title, body in quick_start():
            if title and language != "json":
                path = project / title
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("a") as file:
                    file.write("\n" + body)
            elif language == "json":
                user = json.loads(body)
            elif language == "sh":
                for line in body.strip().splitlines():
                    if line.startswith("python -m pip install"):
                        continue
                    argv = command(line)
                    if argv[1:3] == ["manage.py", "runserver"]:
                        argv = [*argv, "--noreload", f"127.0.0.1:{port}"]
                    if argv[1:3] == ["manage.py", "runserver"] or argv[-1] == "worker":
                        servers.append(
                            subprocess.Popen(
                                argv,
                                cwd=project,
                                env=env,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE,
                            )
                        )
                        continue
                    outputs[line] = run(argv)

        created = json.loads(outputs[next(k for k in outputs if "create-connection" in k)])
        assert created["scim_url"].startswith("http://127.0.0.1:8000/identity/scim/v2/")
        assert created["scim_url"].endswith(created["id"])
        assert created["setup_url"] == created["scim_url"]  # not Entra: the same URL
        assert user is not None

        base = f"http://127.0.0.1:{port}"
        scim = base + urlsplit(created["scim_url"]).path
        request = urllib.request.Request(
            scim + "/Users",
            data=json.dumps(user).encode(),
            method="POST",
            headers={
                "Authorization": f"Bearer {created['token']}",
                "Content-Type": "application/scim+json",
            },
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    status, answer = response.status, json.loads(response.read())
                break
            except urllib.error.URLError as exc:
                if isinstance(exc, urllib.error.HTTPError) or time.monotonic() > deadline:
                    raise
                assert servers[0].poll() is None, servers[0].stderr.read().decode()
                time.sleep(0.3)
        assert status == 201
        assert answer["userName"] == "ada@acme.example"
        assert answer["meta"]["location"] == f"{scim}/Users/{answer['id']}"
        assert all(server.poll() is None for server in servers), "a server stopped"

        # What the tenant admin and the host then see.
        report = run(
            [
                sys.executable, "manage.py", "shell", "-c",
                "import json\n"
                "from django.contrib.auth import get_user_model\n"
                "from django.test import Client\n"
                "from customers.models import Membership\n"
                "ada = get_user_model().objects.get(email='ada@acme.example')\n"
                "membership = Membership.objects.get(user=ada, account__slug='acme')\n"
                "client = Client(SERVER_NAME='localhost')\n"
                "client.force_login(get_user_model().objects.get(username='admin'))\n"
                "tab = client.get('/identity/provisioning/acme/')\n"
                "users = client.get('/identity/provisioning/acme/"
                + created["id"] + "/users/')\n"
                "print(json.dumps({'name': ada.get_full_name(), 'active': membership.is_active,"
                " 'role': membership.role, 'tab': tab.status_code,"
                " 'lists_connection': 'Okta' in tab.content.decode(),"
                " 'users': users.status_code,"
                " 'lists_ada': 'ada@acme.example' in users.content.decode()}))",
            ]
        )  # fmt: skip
        seen = json.loads(report.strip().splitlines()[-1])
        assert seen == {
            "name": "Ada Lovelace",
            "active": True,
            "role": "",
            "tab": 200,
            "lists_connection": True,
            "users": 200,
            "lists_ada": True,
        }
    finally:
        for server in servers:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
            if server.stderr:
                server.stderr.close()
