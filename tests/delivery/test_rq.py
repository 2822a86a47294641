"""The distributed backend (docs/events.md, "RQ"): the app's tasks on RQ through
django-tasks-rq, over a real redis-server, run by ``manage.py rqworker --with-scheduler``
beside ``manage.py scim_portal worker --beat-only``, over PostgreSQL. Every event arrives
signed and in order per connection; an RQ worker killed with SIGKILL in the middle of a
delivery loses nothing and reorders nothing; deferred tasks run."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import django_rq
import pytest
from django.core.management import CommandError, call_command
from django.db import connection as db
from django.utils import timezone
from rq.job import Job
from standardwebhooks.webhooks import Webhook

from scim_portal.delivery import endpoints, tasks
from scim_portal.provisioning import create_connection, directory
from tests.delivery.receiver import Receiver
from tests.factories import OrganizationFactory
from tests.test_example_project import ROOT, free_port
from tests.test_many_nodes import stop, wait_for_port

RQ_TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}


@pytest.fixture
def redis_url():
    folder = Path(tempfile.mkdtemp(prefix="scim-portal-rq."))
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for_port(port, process)
    yield f"redis://127.0.0.1:{port}/0"
    stop(process)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def on_rq(settings, redis_url):
    """This process enqueues on the same RQ queue as the workers (tests/rq_settings.py)."""
    settings.RQ_QUEUES = {"default": {"URL": redis_url}}
    settings.TASKS = RQ_TASKS
    settings.SCIM_PORTAL = {**settings.SCIM_PORTAL, "WEBHOOK_ALLOW_INSECURE": True}
    return redis_url


def start(command, redis_url, log_path):
    """A process of the deployment, in its own session: SIGKILL to the group takes its
    children (RQ's work horse) with it, as a machine going down would."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.rq_settings",
        "PGDATABASE": db.settings_dict["NAME"],
        "PYTHONPATH": str(ROOT),
        "REDIS_URL": redis_url,
    }
    log = open(log_path, "ab")  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "manage.py", *command],
        cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True,
    )  # fmt: skip


def start_rq_worker(redis_url, log_path):
    return start(["rqworker", "default", "--with-scheduler"], redis_url, log_path)


def kill(process, sig=signal.SIGKILL):
    if process.poll() is None:
        os.killpg(process.pid, sig)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def sweeps_enqueued(leaving_out: str) -> list[datetime]:
    """When each sweep RQ ran was enqueued (RQ keeps finished jobs 500 s)."""
    queue = django_rq.get_queue("default")
    jobs = Job.fetch_many(queue.finished_job_registry.get_job_ids(), connection=queue.connection)
    return sorted(
        job.enqueued_at for job in jobs
        if job is not None and job.func_name.endswith(".sweep") and job.id != leaving_out
    )  # fmt: skip


def test_the_worker_command_refuses_a_backend_with_its_own_worker(settings):
    settings.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:9/0"}}
    settings.TASKS = RQ_TASKS
    with pytest.raises(CommandError, match="--beat-only"):
        call_command("scim_portal", "worker")


@pytest.mark.slow
@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_events_flow_through_rq_and_survive_a_killed_worker(tmp_path, on_rq):
    stalled = threading.Event()
    release = threading.Event()
    seen = {"count": 0}
    interrupted = {}

    def answer(item):
        seen["count"] += 1
        if seen["count"] == 7 and not stalled.is_set():
            interrupted["id"] = item.headers["webhook-id"]
            stalled.set()  # the work horse is now waiting for this answer: kill it here
            release.wait(10)
            return 500, b""
        return 204, b""

    log = tmp_path / "processes.log"
    receiver = Receiver(answer=answer).start()
    beats, worker = [], None
    try:
        _, issued = endpoints.add_endpoint(url=receiver.url)
        first, _ = create_connection(account=OrganizationFactory(), name="A", provider="okta")
        second, _ = create_connection(account=OrganizationFactory(), name="B", provider="entra")
        # Two beats (two machines) sharing the cache: still one sweep a second.
        beats = [start(["scim_portal", "worker", "--beat-only"], on_rq, log) for _ in "ab"]
        worker = start_rq_worker(on_rq, log)
        # A deferred task runs when due: RQ's scheduler (--with-scheduler) moves it to
        # the queue (the app defers the second task of a burst, and retries).
        deferred = tasks.sweep.using(
            backend="default", run_after=timezone.now() + timedelta(seconds=1)
        ).enqueue()
        deadline = time.monotonic() + 15
        while deferred.status != "SUCCESSFUL":
            assert time.monotonic() < deadline, (deferred.status, log.read_text())
            time.sleep(0.1)
            deferred.refresh()
        assert deferred.started_at >= deferred.task.run_after
        for i in range(10):
            directory.create_user(first, {"userName": f"a{i}@example.com"})
            directory.create_user(second, {"userName": f"b{i}@example.com"})
        assert stalled.wait(30), log.read_text()
        kill(worker)
        release.set()
        worker = start_rq_worker(on_rq, log)
        # The killed worker's scheduler keeps its lock in Redis for a minute and more:
        # the beat's sweep, not a deferred task, hands the stream on.
        receiver.wait_for(24, seconds=60)  # 2 x (connection.created, token.issued, 10 users)
    finally:
        release.set()
        for process in (worker, *beats):
            if process is not None:
                kill(process, signal.SIGTERM)
        receiver.stop()

    for connection in (first, second):
        numbers = receiver.sequences_of(connection.pk)
        assert numbers == list(range(1, 13)), numbers
    assert len(receiver.applied) == 24
    assert receiver.duplicates == 0
    webhook = Webhook(issued.raw)
    for item in receiver.received:
        assert webhook.verify(item.body, item.headers)["sequence"] == item.json["sequence"]
    # The interrupted event came again, from the second worker, under the same id.
    ids = [item.headers["webhook-id"] for item in receiver.received]
    assert ids.count(interrupted["id"]) == 2

    sweeps = sweeps_enqueued(leaving_out=deferred.id)
    assert len(sweeps) >= 2, sweeps
    gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(sweeps)]
    assert min(gaps) > 0.9, gaps
