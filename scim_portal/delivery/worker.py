"""``manage.py scim_portal worker``: the task worker of the database backend, with the
beat that enqueues the sweep every ``SWEEP_INTERVAL_SECONDS`` (due retries, leases of
dead workers, notifications). With another backend (RQ, Celery), run that backend's
worker and ``scim_portal worker --beat-only`` beside it."""

from __future__ import annotations

import logging
import threading
import time

from django.core.cache import cache
from django.db import close_old_connections, connections

from .. import _tasks
from ..conf import app_settings

logger = logging.getLogger("scim_portal.delivery")

BEAT_KEY = "scim_portal:delivery:beat"


def beat_once() -> bool:
    """Enqueue the sweep unless another process did within the interval (through the
    cache: with a shared cache, one sweep per interval however many workers run)."""
    interval = float(app_settings.SWEEP_INTERVAL_SECONDS)
    if not cache.add(BEAT_KEY, "1", timeout=max(int(interval) - 1, 1)):
        return False
    from .tasks import sweep

    _tasks.enqueue(sweep)
    return True


def beat_forever(stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            beat_once()
        except Exception:  # the database or cache away: try again next time
            logger.exception("The sweep could not be enqueued")
        finally:
            close_old_connections()
            connections.close_all()
        stop.wait(float(app_settings.SWEEP_INTERVAL_SECONDS))


def is_database_backend() -> bool:
    try:
        from django_tasks_db.backend import DatabaseBackend
    except ImportError:  # pragma: no cover - a dependency
        return False
    return isinstance(_tasks._backend(), DatabaseBackend)


def run(*, interval: float, queues: list[str], beat_only: bool, max_tasks: int | None) -> None:
    stop = threading.Event()
    if beat_only:
        try:
            beat_forever(stop)
        except KeyboardInterrupt:
            stop.set()
        return
    from django.utils.crypto import get_random_string
    from django_tasks_db.management.commands.db_worker import Worker

    # A first sweep now: after a crash, streams a dead worker held are picked up again
    # as soon as their lease runs out, not a whole interval later.
    cache.delete(BEAT_KEY)
    beat = threading.Thread(target=beat_forever, args=(stop,), name="scim-portal-beat")
    beat.daemon = True
    beat.start()
    worker = Worker(
        queue_names=queues,
        interval=interval,
        batch=False,
        backend_name=app_settings.TASK_BACKEND,
        startup_delay=False,
        max_tasks=max_tasks,
        worker_id=get_random_string(32),
        excluded_queue_names=[],
    )
    worker.configure_signals()
    try:
        worker.run()
    finally:
        stop.set()
        time.sleep(0)
