"""The app's background tasks (Django's tasks framework). Each only says "look now":
what to deliver is read from the database, so a task run twice, late or never (the
sweep covers for it) changes nothing but timing."""

from __future__ import annotations

from typing import Any

from .._tasks import task
from . import engine


@task()
def deliver_connection_events(connection_id: str) -> None:
    """Deliver what is due to every endpoint covering a connection."""
    engine.deliver_connection(connection_id)


@task()
def deliver_stream_events(stream_id: int) -> None:
    """Deliver what is due on one stream (one endpoint, one connection)."""
    engine.drain(stream_id)


@task()
def sweep() -> dict[str, Any]:
    """Hand due streams to tasks and send the notifications that are due."""
    from . import notifications

    found: dict[str, Any] = engine.sweep()
    found["notifications"] = notifications.send_due()
    return found
