"""Recording provisioning events within the transaction of the change they describe."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from ..delivery.engine import events_committed
from ..models import Connection, Credential, EventType, ProvisioningEvent
from ..signals import provisioning_event

logger = logging.getLogger("scim_portal.provisioning")

SECRET_MARKERS = ("password", "secret", "token")
#: Member lists in an event are cut to this many ids (the count is always there).
MAX_IDS_IN_EVENT = 1000


@dataclass(frozen=True)
class Actor:
    """Who made a change: an IdP through a token, a person (in the portal, the API or
    Django admin), an environment key, a management command, or the system."""

    kind: str = "system"
    token_prefix: str = ""
    user: Any = None
    name: str = ""
    #: Where a person acted: "portal", "api" or "admin" ("" if not said).
    via: str = ""

    @classmethod
    def for_credential(cls, credential: Credential) -> Actor:
        """The identity provider, through ``credential`` (its kind and prefix recorded)."""
        return cls(kind="token", token_prefix=credential.prefix, name=credential.kind)

    @classmethod
    def for_environment_key(cls, key: Any) -> Actor:
        return cls(kind="environment_key", token_prefix=key.prefix, name=key.name)

    @classmethod
    def for_user(cls, user: Any, *, via: str = "") -> Actor:
        if user is None or not getattr(user, "is_authenticated", False):
            return SYSTEM
        return cls(kind="user", user=user, via=via)

    @classmethod
    def for_command(cls, name: str) -> Actor:
        """A management command, e.g. ``"scim_portal rotate-token"``."""
        return cls(kind="command", name=name)

    def as_json(self) -> dict[str, Any]:
        if self.kind == "token":
            return {"type": "token", "kind": self.name or "bearer", "prefix": self.token_prefix}
        if self.kind == "user":
            data = {"type": "user", "id": self.user.pk, "username": self.user.get_username()}
            if self.via:
                data["via"] = self.via
            if getattr(self.user, "is_staff", False):
                data["staff"] = True
            return data
        if self.kind == "environment_key":
            return {"type": "environment_key", "name": self.name, "prefix": self.token_prefix}
        if self.kind == "command":
            return {"type": "command", "name": self.name}
        return {"type": "system"}


SYSTEM = Actor()


@dataclass
class EventRecorder:
    """Collects a change's events; :meth:`flush` numbers and writes them."""

    connection: Connection
    actor: Actor
    pending: list[ProvisioningEvent] = field(default_factory=list)

    def add(
        self,
        type: EventType,
        resource_type: str,
        resource_id: Any = "",
        changes: dict[str, Any] | None = None,
    ) -> None:
        self.pending.append(
            ProvisioningEvent(
                connection_id=self.connection.pk,
                account_id=self.connection.account_id,
                type=type,
                resource_type=resource_type,
                resource_id=str(resource_id),
                changes=changes or {},
                actor=self.actor.as_json(),
                actor_user=self.actor.user if self.actor.kind == "user" else None,
            )
        )

    def flush(self) -> None:
        """Number and insert the events (inside the transaction), signal after commit.

        The connection row is locked only here, at the end of the change, so event
        numbers follow commit order: a reader paging with ``after=<number>`` never
        misses an event that commits later with a smaller number.
        """
        if not self.pending:
            return
        events = ProvisioningEvent.objects.create_numbered(self.connection, self.pending)
        self.pending = []
        transaction.on_commit(lambda: _send(events))


def record_account_event(
    account: Any,
    type: EventType,
    resource_type: str,
    resource_id: Any = "",
    changes: dict[str, Any] | None = None,
    *,
    actor: Actor = SYSTEM,
) -> ProvisioningEvent:
    """Write an event of the account itself (no connection, no number), in the caller's
    transaction; the signal is sent after commit."""
    event = ProvisioningEvent.objects.create(
        connection=None,
        account_id=account.pk,
        number=None,
        type=type,
        resource_type=resource_type,
        resource_id=str(resource_id),
        changes=changes or {},
        actor=actor.as_json(),
        actor_user=actor.user if actor.kind == "user" else None,
    )
    transaction.on_commit(lambda: _send([event]))
    return event


def _send(events: list[ProvisioningEvent]) -> None:
    """Send each event to every receiver. The change is committed: a receiver that raises
    is logged and the others still get the event, and the change's answer stands (an
    IdP told 500 for a committed create would create it again). Then hand the
    connections to event delivery (webhooks), which costs nothing with no endpoint."""
    for event in events:
        for receiver, result in provisioning_event.send_robust(
            sender=ProvisioningEvent, event=event
        ):
            if isinstance(result, Exception):
                logger.error(
                    "A provisioning_event receiver (%r) failed on event #%s %s",
                    receiver,
                    event.number,
                    event.type,
                    exc_info=result,
                )
    events_committed(events)


@contextmanager
def recording(connection: Connection, actor: Actor) -> Iterator[EventRecorder]:
    """Record events inside the caller's transaction; written when the block ends."""
    recorder = EventRecorder(connection, actor)
    yield recorder
    recorder.flush()


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Changed attributes as ``{"path": {"old": …, "new": …}}``; secrets left out."""
    before, after = _flatten(old), _flatten(new)
    changes = {}
    for path in sorted(set(before) | set(after)):
        if path == "schemas" or any(marker in path.lower() for marker in SECRET_MARKERS):
            continue
        if before.get(path) != after.get(path):
            changes[path] = {"old": before.get(path), "new": after.get(path)}
    return changes


def id_list(ids: Any) -> dict[str, Any]:
    """Ids for an event: the count, and the ids themselves up to a limit."""
    values = sorted(str(value) for value in ids)
    result: dict[str, Any] = {"count": len(values), "ids": values[:MAX_IDS_IN_EVENT]}
    if len(values) > MAX_IDS_IN_EVENT:
        result["truncated"] = True
    return result
