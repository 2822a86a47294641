import pytest
from django.db import transaction


@pytest.fixture(autouse=True)
def _insecure_webhooks(insecure):
    """The receivers of these tests are on 127.0.0.1 over http (tests/conftest.py)."""


def run_tasks(limit: int = 10_000) -> int:
    """Run the database backend's ready tasks in this process, as its worker would (the
    worker's own loop closes connections, which a test's transaction cannot have); a
    task that raised fails the test."""
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult

    worker = Worker(
        queue_names=["*"], interval=0, batch=True, backend_name="default",
        startup_delay=False, max_tasks=None, worker_id="tests", excluded_queue_names=[],
    )  # fmt: skip
    ran = 0
    while ran < limit:
        with transaction.atomic():
            result = DBTaskResult.objects.ready().get_locked()
            if result is None:
                return ran
            result.claim("tests")
        worker.run_task(result)
        result.refresh_from_db()
        assert result.status != "FAILED", result.traceback
        ran += 1
    return ran
