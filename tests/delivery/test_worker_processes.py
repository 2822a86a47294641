"""Real worker processes (``manage.py scim_portal worker``) over PostgreSQL: a worker
killed with SIGKILL in the middle of a delivery loses nothing and reorders nothing; the
next worker sends the interrupted event again under the same ``webhook-id``."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from django.db import connection as db

from scim_portal.delivery import endpoints
from scim_portal.provisioning import create_connection, directory
from tests.delivery.receiver import Receiver
from tests.factories import OrganizationFactory
from tests.test_example_project import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]


def start_worker(log_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.worker_settings",
        "PGDATABASE": db.settings_dict["NAME"],
        "PYTHONPATH": str(ROOT),
    }
    log = open(log_path, "ab")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "manage.py", "scim_portal", "worker", "--interval", "0.1"],
        cwd=ROOT, env=env, stdout=log, stderr=log,
    )  # fmt: skip


def test_a_worker_killed_mid_delivery_loses_and_reorders_nothing(tmp_path, settings):
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "WEBHOOK_ALLOW_INSECURE": True}
    stalled = threading.Event()
    release = threading.Event()
    seen = {"count": 0}
    interrupted = {}

    def answer(item):
        seen["count"] += 1
        if seen["count"] == 7 and not stalled.is_set():
            interrupted["id"] = item.headers["webhook-id"]
            stalled.set()  # the worker is now waiting for this answer: kill it here
            release.wait(10)
            return 500, b""
        return 204, b""

    receiver = Receiver(answer=answer).start()
    try:
        endpoints.add_endpoint(url=receiver.url)
        first, _ = create_connection(account=OrganizationFactory(), name="A", provider="okta")
        second, _ = create_connection(account=OrganizationFactory(), name="B", provider="entra")
        worker = start_worker(tmp_path / "worker.log")
        try:
            for i in range(10):
                directory.create_user(first, {"userName": f"a{i}@example.com"})
                directory.create_user(second, {"userName": f"b{i}@example.com"})
            assert stalled.wait(30), (tmp_path / "worker.log").read_text()
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
            release.set()
            worker = start_worker(tmp_path / "worker.log")
            receiver.wait_for(24, seconds=60)  # 2 x (connection.created, token.issued, 10 users)
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()
        for connection in (first, second):
            numbers = receiver.sequences_of(connection.pk)
            assert numbers == list(range(1, 13)), numbers
        assert len(receiver.applied) == 24
        # The interrupted event came again, from the second worker, under the same id.
        ids = [item.headers["webhook-id"] for item in receiver.received]
        assert ids.count(interrupted["id"]) == 2
        time.sleep(0.5)
        assert len(receiver.applied) == 24  # and nothing applied twice
    finally:
        receiver.stop()
