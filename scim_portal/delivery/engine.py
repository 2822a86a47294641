"""Pushing events to webhook endpoints, in order per connection, at least once.

The events table is the outbox: a change writes its events in its own transaction, and
each (endpoint, connection) pair has a :class:`~scim_portal.models.DeliveryStream`
holding the number of the last event done. Tasks only say "look at this stream now";
what is delivered is decided here, from the rows, so a lost, duplicated or repeated task
changes nothing:

- after a change commits, one task per connection is enqueued (:func:`events_committed`);
- a worker leases the stream (``leased_until``), sends the next event, and moves the
  position on once the receiver answered 2xx, in one transaction with the delivery log;
  one event at a time per stream, so a receiver sees a connection's events in order;
- a failure keeps the position, and the stream waits (exponential backoff with jitter);
  an event failing for ``WEBHOOK_RETRY_HOURS`` is dead-lettered and the stream goes on;
- a worker killed mid-delivery leaves its lease to run out; the next sweep
  (:func:`sweep`) hands the stream to another worker, which sends the event again with
  the same ``webhook-id``: a receiver that keeps the ids it has seen sees it once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, Max, Min, OuterRef, Q
from django.utils import timezone

from .. import _outbound, _tasks
from ..conf import app_settings
from ..models import (
    Connection,
    DeliveryAttempt,
    DeliveryMethod,
    DeliveryOutcome,
    DeliveryStream,
    EndpointState,
    ProvisioningEvent,
    WebhookEndpoint,
)
from ..models.webhooks import RESPONSE_EXCERPT_LENGTH
from . import payloads

logger = logging.getLogger("scim_portal.delivery")

#: The media type of a pushed SET (RFC 8935), whose error answers are read.
SET_MEDIA_TYPE = "application/secevent+jwt"
#: Events one task delivers on one stream before it makes way for the others, and
#: events read at a time.
BATCH = 200
PAGE = 50
#: Bytes of a receiver's answer read (the log keeps an excerpt).
MAX_RESPONSE_BYTES = 16_384
#: Seconds the list of enabled endpoints is cached between changes to them.
ENDPOINTS_CACHE_SECONDS = 5
ENDPOINTS_CACHE_KEY = "scim_portal:delivery:endpoints:v1"

_random = random.SystemRandom()


def now() -> datetime:
    """The clock of deliveries (tests replace it)."""
    return timezone.now()


# What is enabled


def enabled_endpoints() -> list[tuple[str, Any]]:
    """``(endpoint id, account id or None)`` of every enabled push endpoint, kept in the
    cache: a change's commit asks this, and most sites have a handful of endpoints."""
    try:
        found = cache.get(ENDPOINTS_CACHE_KEY)
    except Exception:  # the cache away: ask the database
        found = None
    if found is None:
        found = [
            (str(pk), account_id)
            for pk, account_id in WebhookEndpoint.objects.filter(
                state=EndpointState.ENABLED, method=DeliveryMethod.PUSH
            ).values_list("pk", "account_id")
        ]
        with contextlib.suppress(Exception):
            cache.set(ENDPOINTS_CACHE_KEY, found, ENDPOINTS_CACHE_SECONDS)
    return list(found)


def endpoints_changed() -> None:
    """Forget the cached endpoint list (after any endpoint is saved or deleted; with the
    cache away, workers see the change when the entry expires)."""
    with contextlib.suppress(Exception):
        cache.delete(ENDPOINTS_CACHE_KEY)


def events_committed(events: list[ProvisioningEvent]) -> None:
    """After a change commits: one delivery task for each connection it touched that an
    enabled endpoint covers. Nothing at all when no endpoint is enabled."""
    try:
        endpoints = enabled_endpoints()
    except Exception:  # the database away after the commit: the sweep finds the events
        logger.exception("Could not read the webhook endpoints")
        return
    if not endpoints:
        return
    seen: set[Any] = set()
    for event in events:
        if event.connection_id is None or event.connection_id in seen:
            continue
        seen.add(event.connection_id)
        if any(account is None or account == event.account_id for _, account in endpoints):
            try:
                kick(str(event.connection_id))
            except Exception:  # the change is committed; the sweep will find the events
                logger.exception("Could not enqueue the delivery of %s", event.connection_id)


#: A connection's changes within this many seconds share their delivery tasks.
KICK_WINDOW = 1


def kick(connection_id: str) -> None:
    """Make sure a task will look at the connection after this moment, with at most two
    tasks per connection per :data:`KICK_WINDOW` however many changes it commits (an
    IdP's burst would otherwise queue a task per change, each finding the work done):

    - the first change in a window enqueues a task now;
    - the next one enqueues one task for the window's end (``run_after``);
    - later ones in the window need none: that task runs after they committed.

    The marks live in Django's cache; with the cache away, or a backend that cannot
    wait (the immediate one), every change enqueues its task."""
    task = deliver_connection_task()
    if not _tasks.supports_defer():
        _tasks.enqueue(task, connection_id)
        return
    try:
        now_mark = cache.add(f"{KICK_KEY}:now:{connection_id}", 1, KICK_WINDOW)
        later_mark = not now_mark and cache.add(f"{KICK_KEY}:later:{connection_id}", 1, KICK_WINDOW)
    except Exception:
        _tasks.enqueue(task, connection_id)
        return
    if now_mark:
        _tasks.enqueue(task, connection_id)
    elif later_mark:
        # The backend's clock, not the deliveries' one (which tests move by hand).
        later = timezone.now() + timedelta(seconds=KICK_WINDOW)
        _tasks.enqueue(task, connection_id, run_after=later)


KICK_KEY = "scim_portal:delivery:kick"


# Streams


def streams_of(connection_id: Any) -> list[DeliveryStream]:
    """The streams of every enabled push endpoint covering the connection, made for the
    endpoints that have none yet: a new endpoint starts after the events written before
    it was created (replay reaches further back)."""
    connection = Connection.objects.filter(pk=connection_id).only("pk", "account_id").first()
    existing = {
        stream.endpoint_id: stream for stream in DeliveryStream.objects.filter(
            connection_id=connection_id,
            endpoint__state=EndpointState.ENABLED,
            endpoint__method=DeliveryMethod.PUSH,
        )
    }  # fmt: skip
    if connection is not None:
        missing = WebhookEndpoint.objects.filter(
            Q(account__isnull=True) | Q(account_id=connection.account_id),
            state=EndpointState.ENABLED,
            method=DeliveryMethod.PUSH,
        ).exclude(pk__in=list(existing))
        for endpoint in missing:
            start_stream(endpoint, connection_id, connection.account_id)
        if missing:
            return list(
                DeliveryStream.objects.filter(
                    connection_id=connection_id,
                    endpoint__state=EndpointState.ENABLED,
                    endpoint__method=DeliveryMethod.PUSH,
                )
            )
    return list(existing.values())


def start_stream(endpoint: WebhookEndpoint, connection_id: Any, account_id: Any) -> None:
    """Make the endpoint's stream of a connection unless it has one (pushed or polled):
    it starts at the first event written after the endpoint was created. (Not after the
    last one written before: an event's time is taken before its number, so an event
    stamped before may follow one stamped after.)"""
    events = ProvisioningEvent.objects.filter(connection_id=connection_id)
    after = events.filter(created_at__gte=endpoint.created_at)
    first_after = after.aggregate(first=Min("number"))["first"]
    if first_after is not None:
        position = first_after - 1
    else:
        position = events.aggregate(last=Max("number"))["last"] or 0
    DeliveryStream.objects.bulk_create(
        [
            DeliveryStream(
                endpoint=endpoint,
                connection_id=connection_id,
                account_id=account_id,
                position=position,
            )
        ],
        ignore_conflicts=True,
    )


def deliver_connection(connection_id: Any) -> None:
    """Deliver what is due on every stream of the connection. A task finding its work
    done by an earlier one (the common case in a burst) costs one query."""
    streams: list[DeliveryStream] = list(
        DeliveryStream.objects.filter(
            connection_id=connection_id,
            endpoint__state=EndpointState.ENABLED,
            endpoint__method=DeliveryMethod.PUSH,
        ).annotate(pending=_PENDING)
    )
    account = streams[0].account_id if streams else None
    covering = sum(1 for _, scope in enabled_endpoints() if scope is None or scope == account)
    if not streams or len(streams) < covering:  # an endpoint without its stream yet
        streams = streams_of(connection_id)
    else:
        streams = [stream for stream in streams if getattr(stream, "pending", True)]
    for stream in streams:
        drain(stream.pk)


# One stream


@dataclass
class Sent:
    ok: bool
    status: int | None = None
    latency_ms: int | None = None
    error: str = ""
    excerpt: str = ""
    #: Sending it again cannot help (a SET refused as ``invalid_request``): dead-letter it.
    permanent: bool = False


def _lease_seconds() -> float:
    """How long a lease lasts. It is renewed at every write, and a write comes at most a
    third of a lease plus one send after the last: at least three sends long, the lease
    never runs out while its worker is sending."""
    send = float(app_settings.WEBHOOK_TIMEOUT) + 1
    return max(float(app_settings.WEBHOOK_LEASE_SECONDS), 3 * send)


def _acquire(stream_id: int, owner: str) -> bool:
    moment = now()
    return (
        DeliveryStream.objects.filter(pk=stream_id)
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=moment))
        .update(
            leased_until=moment + timedelta(seconds=_lease_seconds()),
            lease_owner=owner,
        )
        == 1
    )


def _release(stream_id: int, owner: str) -> None:
    DeliveryStream.objects.filter(pk=stream_id, lease_owner=owner).update(
        leased_until=None, lease_owner=""
    )


def drain(stream_id: int) -> None:
    """Deliver the stream's due events, one at a time, under a lease. Returns when it is
    done, waiting for a retry, or held by another worker (which then delivers)."""
    owner = uuid.uuid4().hex
    while True:
        if not _acquire(stream_id, owner):
            return
        try:
            state = _deliver_due(stream_id, owner)
        finally:
            _release(stream_id, owner)
        if state == "more":
            _tasks.enqueue(deliver_stream_task(), stream_id)
            return
        if state != "idle":
            return
        # Events that committed while the lease was held were left to this worker by
        # the task that found the stream leased: look once more, the lease now released.
        if not DeliveryStream.objects.filter(pk=stream_id).filter(_PENDING).exists():
            return
        if _tasks.supports_defer():
            # Under a steady flow of changes, come back for what accumulated rather than
            # chase each event with a lease, a read and a write of its own.
            later = timezone.now() + timedelta(seconds=CATCH_UP_SECONDS)
            _tasks.enqueue(deliver_stream_task(), stream_id, run_after=later)
            return


#: A stream that received events while it was being delivered is looked at again this
#: many seconds later, with all that came meanwhile.
CATCH_UP_SECONDS = 0.25
#: A stream with events after its position.
_PENDING = Exists(
    ProvisioningEvent.objects.filter(
        connection_id=OuterRef("connection_id"), number__gt=OuterRef("position")
    )
)


def _deliver_due(stream_id: int, owner: str) -> str:
    stream = (
        DeliveryStream.objects.select_related("endpoint", "account")
        .prefetch_related("endpoint__secrets")
        .filter(pk=stream_id)
        .first()
    )
    if stream is None:
        return "gone"
    endpoint = stream.endpoint
    if not endpoint.is_enabled or endpoint.method != DeliveryMethod.PUSH:
        return "gone"
    log = _Log(stream, endpoint, owner)
    with http_session() as session:
        state = _deliver(stream, endpoint, log, session)
    if not log.write():
        return "lost"
    return state


def _deliver(
    stream: DeliveryStream, endpoint: WebhookEndpoint, log: _Log, session: _outbound.Session
) -> str:
    account_key = getattr(stream.account, app_settings.ACCOUNT_LOOKUP_FIELD, None)
    sent = 0
    while sent < BATCH:
        moment = now()
        if stream.next_attempt_at is not None and stream.next_attempt_at > moment:
            _tasks.enqueue(deliver_stream_task(), stream.pk, run_after=stream.next_attempt_at)
            return "waiting"
        events = list(
            ProvisioningEvent.objects.filter(
                connection_id=stream.connection_id, number__gt=stream.position
            ).order_by("number")[:PAGE]
        )
        if not events:
            return "idle"
        for event in events:
            assert event.number is not None
            if not endpoint.wants(event.type):
                stream.position = event.number
                log.skipped = True
                continue
            result = send(endpoint, event, account_key, session)
            sent += 1
            if not log.add(event, result):
                return "lost"
            if not endpoint.is_enabled:
                return "gone"
            if not result.ok and stream.next_attempt_at is not None:
                break  # waiting for the retry: the loop's head enqueues it
        else:
            if len(events) < PAGE:
                # Caught up: what commits from now on is taken together, a moment later
                # (drain), not chased one event at a time.
                return "idle"
    return "more"


#: Delivered events are written (the stream's position and their log rows, in one
#: transaction) every this many events, or sooner: before a failure is written, when a
#: third of the lease has passed, and when the task stops. A worker killed before the
#: write sends those events again (same ids): a receiver keeping ids sees them once.
WRITE_EVERY = 20


class _Log:
    """The attempts of one task on one stream, written with the stream's position."""

    def __init__(self, stream: DeliveryStream, endpoint: WebhookEndpoint, owner: str) -> None:
        self.stream, self.endpoint, self.owner = stream, endpoint, owner
        self.rows: list[DeliveryAttempt] = []
        self.skipped = False
        self.since = time.monotonic()

    def add(self, event: ProvisioningEvent, result: Sent) -> bool:
        """Log one attempt and move the stream (or set its retry); write at once unless it
        was delivered and the batch is young. False if the lease was lost."""
        stream, moment = self.stream, now()
        attempt = stream.attempts + 1
        if result.ok:
            outcome = DeliveryOutcome.DELIVERED
            stream.position, stream.attempts = event.number or 0, 0
            stream.first_failed_at = stream.next_attempt_at = None
        else:
            stream.first_failed_at = stream.first_failed_at or moment
            window = timedelta(hours=float(app_settings.WEBHOOK_RETRY_HOURS))
            if result.permanent or moment - stream.first_failed_at >= window:
                outcome = DeliveryOutcome.DEAD
                stream.position, stream.attempts = event.number or 0, 0
                stream.first_failed_at = stream.next_attempt_at = None
                logger.warning(
                    "Event %s #%s dead-lettered for endpoint %s after %s attempts",
                    event.connection_id, event.number, self.endpoint.pk, attempt,
                )  # fmt: skip
            else:
                outcome = DeliveryOutcome.FAILED
                stream.attempts = attempt
                stream.next_attempt_at = moment + timedelta(seconds=backoff(attempt))
        self.rows.append(
            DeliveryAttempt(
                endpoint_id=self.endpoint.pk,
                connection_id=stream.connection_id,
                account_id=stream.account_id,
                event_id=event.pk,
                event_number=event.number,
                event_type=event.type,
                attempt=attempt,
                outcome=outcome,
                status_code=result.status,
                latency_ms=result.latency_ms,
                error=result.error[:300],
                response_excerpt=result.excerpt,
                created_at=moment,
            )
        )
        young = time.monotonic() - self.since < _lease_seconds() / 3
        if result.ok and len(self.rows) < WRITE_EVERY and young:
            return True
        return self.write()

    def write(self) -> bool:
        """Write the stream's place and the pending rows in one transaction; False (and
        nothing written) if the lease was lost meanwhile (a replay, or it ran out)."""
        if not self.rows and not self.skipped:
            return True
        with transaction.atomic():
            fields = ["position", "attempts", "first_failed_at", "next_attempt_at"]
            if not _save(self.stream, self.owner, fields):
                return False
            DeliveryAttempt.objects.bulk_create(self.rows)
            if self.rows:
                last = self.rows[-1]
                _endpoint_health(
                    self.endpoint, last.outcome == DeliveryOutcome.DELIVERED, last.created_at
                )
        self.rows, self.skipped, self.since = [], False, time.monotonic()
        return True


def _save(stream: DeliveryStream, owner: str, fields: list[str]) -> bool:
    """Write ``fields`` of a stream still leased by ``owner`` whose endpoint is still
    enabled, extending the lease. False (nothing written) otherwise: a worker stops within
    :data:`WRITE_EVERY` events of a pause, and what it sent unwritten goes again (same ids)
    on resume."""
    moment = now()
    values = {name: getattr(stream, name) for name in fields}
    values["leased_until"] = moment + timedelta(seconds=_lease_seconds())
    values["updated_at"] = moment
    leased = DeliveryStream.objects.filter(
        pk=stream.pk, lease_owner=owner, endpoint__state=EndpointState.ENABLED
    )
    return leased.update(**values) == 1


def backoff(attempts: int) -> float:
    """Seconds before try ``attempts + 1``: doubling from ``WEBHOOK_RETRY_FIRST_SECONDS``
    up to ``WEBHOOK_RETRY_MAX_SECONDS``, then a random half of it taken off (jitter, so
    that receivers coming back are not hit by every stream at once)."""
    first = float(app_settings.WEBHOOK_RETRY_FIRST_SECONDS)
    ceiling = float(app_settings.WEBHOOK_RETRY_MAX_SECONDS)
    delay = min(first * 2 ** max(attempts - 1, 0), ceiling)
    return delay / 2 + _random.random() * delay / 2


def _endpoint_health(endpoint: WebhookEndpoint, ok: bool, moment: datetime) -> None:
    """Keep ``failing_since``; disable an endpoint failing for ``WEBHOOK_DISABLE_AFTER_DAYS``."""
    if ok:
        if endpoint.failing_since is not None:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
            endpoint.failing_since = None
        return
    if endpoint.failing_since is None:
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(
            failing_since=moment
        )
        endpoint.failing_since = moment
        return
    limit = timedelta(days=float(app_settings.WEBHOOK_DISABLE_AFTER_DAYS))
    if moment - endpoint.failing_since >= limit:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(state=EndpointState.DISABLED)
        endpoint.state = EndpointState.DISABLED
        endpoints_changed()
        logger.warning(
            "Endpoint %s disabled: failing since %s", endpoint.pk, endpoint.failing_since
        )


def send(
    endpoint: WebhookEndpoint,
    event: ProvisioningEvent,
    account_key: Any = None,
    session: _outbound.Session | None = None,
) -> Sent:
    """POST one event to the endpoint; never raises for what the receiver or the network
    did (that is the result)."""
    try:
        message = payloads.build(endpoint, event, now(), account_key)
    except ValueError as exc:  # a secret sealed under a SECRET_KEY no longer configured
        return Sent(ok=False, error=str(exc))
    return post(endpoint.url, message, session)


def http_session() -> _outbound.Session:
    """A kept-alive connection for one task's deliveries, guarded as the settings say."""
    insecure = bool(app_settings.WEBHOOK_ALLOW_INSECURE)
    return _outbound.Session(
        timeout=float(app_settings.WEBHOOK_TIMEOUT),
        max_bytes=MAX_RESPONSE_BYTES,
        allow_http=insecure,
        allow_private=insecure,
    )


def post(url: str, message: payloads.Message, session: _outbound.Session | None = None) -> Sent:
    try:
        if session is not None:
            response = session.request("POST", url, headers=message.headers, body=message.body)
        else:
            with http_session() as own:
                response = own.request("POST", url, headers=message.headers, body=message.body)
    except _outbound.OutboundError as exc:
        return Sent(ok=False, error=str(exc))
    excerpt = response.body[:RESPONSE_EXCERPT_LENGTH].decode("utf-8", "replace")
    excerpt = "".join(ch if ch.isprintable() or ch in "\n\t" else "?" for ch in excerpt)
    ok = 200 <= response.status < 300
    error, permanent = "" if ok else f"answered {response.status}", False
    if response.status == 400 and message.headers.get("Content-Type") == SET_MEDIA_TYPE:
        refusal = set_refusal(response.body)
        if refusal is not None:
            error = f"answered 400 {refusal[0]}" + (f": {refusal[1]}" if refusal[1] else "")
            permanent = refusal[0] == "invalid_request"
    return Sent(
        ok=ok,
        status=response.status,
        latency_ms=int(response.elapsed * 1000),
        error=error,
        excerpt=excerpt[:RESPONSE_EXCERPT_LENGTH],
        permanent=permanent,
    )


def set_refusal(body: bytes) -> tuple[str, str] | None:
    """``(err, description)`` of an RFC 8935 error answer (section 2.3: 400 with a JSON
    object). Only ``invalid_request`` (the SET itself is wrong) makes sending it again
    pointless; the others (keys, issuer, audience, authentication) are configuration a
    receiver can fix, so those SETs are tried again with backoff."""
    try:
        found = json.loads(body)
    except ValueError:
        return None
    if not isinstance(found, dict) or not isinstance(found.get("err"), str):
        return None
    description = found.get("description")
    return found["err"][:60], description[:200] if isinstance(description, str) else ""


# The sweep


def sweep() -> dict[str, int]:
    """What a worker does every ``SWEEP_INTERVAL_SECONDS``: hand every stream that has
    due events and no live lease to a task (retries that fell due, leases of dead
    workers, tasks lost with a backend), and start streams for connections that have
    events no stream covers yet. Safe to run anywhere, any number of times."""
    moment = now()
    due = (
        DeliveryStream.objects.filter(
            endpoint__state=EndpointState.ENABLED, endpoint__method=DeliveryMethod.PUSH
        )
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=moment))
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=moment))
        .filter(_PENDING)
        .values_list("pk", flat=True)
    )
    streams = 0
    for stream_id in due:
        _tasks.enqueue(deliver_stream_task(), stream_id)
        streams += 1
    connections = 0
    for endpoint in WebhookEndpoint.objects.filter(
        state=EndpointState.ENABLED, method=DeliveryMethod.PUSH
    ):
        uncovered = Connection.objects.filter(
            last_event_number__gt=0, deleting_since__isnull=True
        ).exclude(
            Exists(DeliveryStream.objects.filter(endpoint=endpoint, connection_id=OuterRef("pk")))
        )
        if endpoint.account_id is not None:
            uncovered = uncovered.filter(account_id=endpoint.account_id)
        for connection_id in uncovered.values_list("pk", flat=True):
            _tasks.enqueue(deliver_connection_task(), str(connection_id))
            connections += 1
    return {"streams": streams, "connections": connections}


def replay(endpoint: WebhookEndpoint, connection_id: Any, from_number: int) -> DeliveryStream:
    """Deliver the connection's events again from number ``from_number`` on (those still
    kept), in order, with their original ids; events after the stream's place that are
    not delivered yet stay due (a replay never skips). A worker delivering the stream now
    stops before writing anything, and the replay starts when its hold ends."""
    connection = Connection.objects.filter(pk=connection_id).only("account_id").first()
    account_id = connection.account_id if connection else endpoint.account_id
    if connection is None:
        found = ProvisioningEvent.objects.filter(connection_id=connection_id).first()
        account_id = found.account_id if found else account_id
    if account_id is None:
        raise ValueError("No such connection.")
    if endpoint.account_id is not None and endpoint.account_id != account_id:
        raise ValueError("This endpoint does not cover that connection's account.")
    start_stream(endpoint, connection_id, account_id)
    stream = DeliveryStream.objects.select_for_update().get(
        endpoint=endpoint, connection_id=connection_id
    )
    # Back, never forward: the events after the stream's place are not delivered yet, and
    # moving over them would lose them. A worker delivering the stream loses its lease
    # (owner) and stops at its next write, but its hold (leased_until) is kept, so that
    # no other worker sends the replayed events while it still sends its own.
    moment = now()
    held = stream.leased_until if stream.leased_until and stream.leased_until > moment else None
    DeliveryStream.objects.filter(pk=stream.pk).update(
        position=min(stream.position, max(from_number - 1, 0)),
        attempts=0,
        first_failed_at=None,
        next_attempt_at=None,
        lease_owner="",
        updated_at=moment,
    )
    stream.refresh_from_db()
    after = timezone.now() + (held - moment) if held else None
    transaction.on_commit(lambda: _tasks.enqueue(deliver_stream_task(), stream.pk, run_after=after))
    return stream


# Tasks (imported late: the tasks module imports this one)


def deliver_connection_task() -> Any:
    from .tasks import deliver_connection_events

    return deliver_connection_events


def deliver_stream_task() -> Any:
    from .tasks import deliver_stream_events

    return deliver_stream_events
