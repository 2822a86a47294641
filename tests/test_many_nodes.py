"""Many machines: two gunicorn instances ("nodes") on two ports over one PostgreSQL and
one Redis, requests alternating between them — directly, then through PgBouncer in
transaction-pooling mode. What an operator behind a load balancer would notice: one rate
limit for a connection whichever node answers, a write through one node in the next read
through the other, and no membership lost when an IdP's bursts land on both."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from itertools import cycle
from pathlib import Path

import pytest
from django.db import connection as db

from scim_portal.models import GroupMembership
from scim_portal.provisioning import create_connection, directory
from tests.factories import OrganizationFactory
from tests.test_example_project import ROOT, free_port, wait_until_answering

pytestmark = [pytest.mark.slow, pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]
RATE = 24  # SCIM requests per connection per minute, on every node
PARALLEL = 16


def wait_for_port(port, process, seconds=15.0):
    deadline = time.monotonic() + seconds
    while True:
        try:
            with __import__("socket").create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"nothing answers on port {port}") from None
            time.sleep(0.1)


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def workdir():
    """A folder the postgres user can read too (pytest's own tmp is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="scim-portal-nodes."))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def redis_url(workdir):
    """One real redis-server, the cache every node shares."""
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for_port(port, process)
    yield f"redis://127.0.0.1:{port}/0"
    stop(process)


@pytest.fixture(scope="module")
def pgbouncer(workdir, django_db_setup):
    """Debian's PgBouncer in transaction mode in front of the suite's PostgreSQL, with
    fewer server connections than the nodes have workers (so transactions of one Django
    connection do run on different server connections)."""
    port = free_port()
    folder = workdir / "pgbouncer"
    folder.mkdir()
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={os.environ['PGHOST']} port={os.environ['PGPORT']} user={os.environ['PGUSER']}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        "auth_type = any\npool_mode = transaction\n"
        "max_client_conn = 200\ndefault_pool_size = 4\nreserve_pool_size = 0\n"
        f"logfile = {folder}/pgbouncer.log\n"
    )
    as_postgres = {"user": "postgres", "group": "postgres"} if os.getuid() == 0 else {}
    if as_postgres:
        shutil.chown(folder, "postgres", "postgres")
    pgbouncer = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    process = subprocess.Popen([pgbouncer, str(folder / "pgbouncer.ini")], **as_postgres)
    wait_for_port(port, process)
    yield "127.0.0.1", str(port)
    stop(process)


@pytest.fixture(scope="module", params=["postgresql", "pgbouncer"])
def nodes(request, django_db_setup, redis_url, workdir):
    """Two gunicorn instances (3 workers each) on two ports: two machines behind a load
    balancer, sharing the database and Redis."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.node_settings",
        "PGDATABASE": db.settings_dict["NAME"],
        "PYTHONPATH": str(ROOT),
        "REDIS_URL": redis_url,
        "RATE_LIMIT_PER_MINUTE": str(RATE),
        "WEB_CONCURRENCY": "3",
        "CONN_MAX_AGE": "60",
        "GUNICORN_LOG_LEVEL": "warning",
    }
    if request.param == "pgbouncer":
        host, port = request.getfixturevalue("pgbouncer")
        env.update(PGHOST=host, PGPORT=port, DATABASE_TRANSACTION_POOLING="1")
    processes, bases = [], []
    for index in (1, 2):
        port = free_port()
        log = open(workdir / f"{request.param}-node{index}.log", "wb")  # noqa: SIM115
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "example_project/gunicorn.conf.py",
                 "tests.wsgi:application"],
                cwd=ROOT, env={**env, "BIND": f"127.0.0.1:{port}"}, stdout=log, stderr=log,
            )
        )  # fmt: skip
        bases.append(f"http://127.0.0.1:{port}")
    for base, process in zip(bases, processes, strict=True):
        wait_until_answering(f"{base}/scim/v2/", process)
    yield bases
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        stop(process)


@pytest.fixture
def idp(nodes):
    """A connection's IdP; ``send(..., node=i)`` goes to node ``i``, and without ``node``
    requests alternate between the two, as a round-robin load balancer sends them."""
    connection, issued = create_connection(
        account=OrganizationFactory(), name="Spread", provider="okta"
    )
    turns = cycle(range(len(nodes)))

    def send(method, path, body=None, node=None):
        node = next(turns) if node is None else node
        request = urllib.request.Request(
            f"{nodes[node]}/scim/v2/{connection.pk}{path}", method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {issued.raw}",
                     "Content-Type": "application/scim+json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read()
                return response.status, json.loads(text) if text else None, response.headers
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null"), error.headers

    send.connection = connection
    return send


def test_one_rate_limit_for_a_connection_across_both_nodes(idp):
    # The limit counts per clock minute: start well inside one.
    if time.time() % 60 > 50:
        time.sleep(61 - time.time() % 60)
    answers = [idp("GET", "/Users?count=1") for _ in range(RATE)]
    assert [status for status, _, _ in answers] == [200] * RATE  # RATE // 2 on each node
    for node in (0, 1):  # the next one is refused, whichever node gets it
        status, body, headers = idp("GET", "/Users?count=1", node=node)
        assert status == 429, body
        assert 1 <= int(headers["Retry-After"]) <= 61
        assert body["status"] == "429"


def test_a_user_created_through_one_node_is_in_the_next_page_read_through_the_other(idp):
    page = "/Users?startIndex=1&count=100"
    seen = set()
    for round_ in range(5):
        status, created, _ = idp("POST", "/Users", {"userName": f"n{round_}@example.com"}, node=0)
        assert status == 201
        seen.add(created["id"])
        status, listed, _ = idp("GET", page, node=1)
        assert status == 200
        assert listed["totalResults"] == round_ + 1
        assert {user["id"] for user in listed["Resources"]} == seen
        assert idp("GET", page, node=0)[1]["totalResults"] == round_ + 1
    # and the other way round: a delete through node 2, a read through node 1
    victim = sorted(seen)[0]
    assert idp("DELETE", f"/Users/{victim}", node=1)[0] == 204
    _, listed, _ = idp("GET", page, node=0)
    assert listed["totalResults"] == 4
    assert victim not in {user["id"] for user in listed["Resources"]}


def test_simultaneous_member_adds_split_across_both_nodes_all_survive(idp):
    connection = idp.connection
    members = [
        str(directory.create_user(connection, {"userName": f"m{i}@example.com"}).pk)
        for i in range(PARALLEL)
    ]
    group = str(directory.create_group(connection, {"displayName": "Crowd"}).pk)

    def add(item):
        index, user_id = item
        operation = {"op": "add", "path": "members", "value": [{"value": user_id}]}
        return idp("PATCH", f"/Groups/{group}", {"Operations": [operation]}, node=index % 2)[0]

    with ThreadPoolExecutor(PARALLEL) as pool:
        statuses = list(pool.map(add, enumerate(members)))
    assert statuses == [204] * PARALLEL
    assert GroupMembership.objects.filter(group_id=group).count() == PARALLEL
    for node in (0, 1):
        status, fetched, _ = idp("GET", f"/Groups/{group}", node=node)
        assert status == 200
        assert sorted(member["value"] for member in fetched["members"]) == sorted(members)
