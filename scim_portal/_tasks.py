"""Django's tasks framework: ``django.tasks`` on Django 6, the ``django-tasks`` backport
on 5.2. The app enqueues on its own backend alias (``SCIM_PORTAL["TASK_BACKEND"]``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

try:  # Django 6
    from django.tasks import Task, task, task_backends
except ImportError:  # Django 5.2
    from django_tasks import task, task_backends  # type: ignore[no-redef,assignment]
    from django_tasks.base import Task  # type: ignore[no-redef,assignment]

from .conf import app_settings

__all__ = ["Task", "enqueue", "supports_defer", "task"]


def _backend() -> Any:
    return task_backends[app_settings.TASK_BACKEND]


def supports_defer() -> bool:
    """Whether the backend can hold a task until a time (the immediate one cannot)."""
    return bool(_backend().supports_defer)


def enqueue(task_: Task, *args: Any, run_after: datetime | None = None) -> None:
    """Enqueue ``task_`` on the app's backend; ``run_after`` where the backend can wait
    (elsewhere a deferred task is left to the next sweep)."""
    backend = app_settings.TASK_BACKEND
    if run_after is not None:
        if not supports_defer():
            return
        task_.using(backend=backend, run_after=run_after).enqueue(*args)
        return
    task_.using(backend=backend).enqueue(*args)
