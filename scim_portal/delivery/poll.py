"""The SET receivers' side of this site: the JWKS that verifies every SET
(``scim/events/jwks.json``) and the RFC 8936 poll endpoint
(``scim/events/<endpoint-id>/poll``).

A poll serves the same SETs a push would, from the same streams: per connection, the
events after the stream's position, in order. An acknowledged SET (``ack``, or refused
in ``setErrs``) is recorded in the delivery log and never served again; the stream's
position moves over the acknowledged events that follow it without a gap. A SET served
and not acknowledged is served again by the next poll. Every answer is JSON."""

from __future__ import annotations

import json
from datetime import datetime
from functools import reduce
from operator import or_
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from .. import _secrets
from ..conf import app_settings, get_account_model
from ..models import (
    Connection,
    DeliveryAttempt,
    DeliveryMethod,
    DeliveryOutcome,
    DeliveryStream,
    EndpointSecret,
    ProvisioningEvent,
    WebhookEndpoint,
)
from . import engine, keys, sets

#: SETs one poll serves at most (and when ``maxEvents`` is not given).
MAX_EVENTS = 200
#: Seconds receivers may keep the JWKS.
JWKS_MAX_AGE = 300
#: Streams whose next events one query reads.
STREAMS_PER_QUERY = 100
#: Events one look at a stream's acknowledged run reads.
ADVANCE_BATCH = 500
#: Acknowledgements one poll takes at most.
MAX_ACKS = 10_000
#: What a poll acknowledges is done: it is not served again.
DONE = (DeliveryOutcome.ACKNOWLEDGED, DeliveryOutcome.FAILED)
REALM = 'Bearer realm="scim-portal-events"'


class PollError(Exception):
    """An RFC 8936 error answer: ``{"err": …, "description": …}`` with its status."""

    def __init__(self, status: int, err: str, description: str, **headers: str) -> None:
        super().__init__(description)
        self.status, self.err, self.description, self.headers = status, err, description, headers

    def response(self) -> JsonResponse:
        answer = JsonResponse(
            {"err": self.err, "description": self.description}, status=self.status
        )
        answer["Cache-Control"] = "no-store"
        for name, value in self.headers.items():
            answer[name] = value
        return answer


@method_decorator(csrf_exempt, name="dispatch")
class JwksView(View):
    """The public keys of the SET signing keys, current and recently retired (RFC 7517)."""

    http_method_names = ["get", "head", "options"]

    def get(self, request: HttpRequest) -> HttpResponse:
        answer = JsonResponse(keys.jwks())
        answer["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE}"
        return answer

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        return JsonResponse({"detail": "Method not allowed."}, status=405, headers={"Allow": "GET"})


@method_decorator(csrf_exempt, name="dispatch")
class PollView(View):
    """RFC 8936 poll-based SET delivery for a polled endpoint; the receiver authenticates
    with the endpoint's secret as a bearer token."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, endpoint_id: Any) -> HttpResponse:
        try:
            endpoint = authenticate(request, endpoint_id)
            try:
                body = request.body
            except RequestDataTooBig:
                raise PollError(413, "invalid_request", "The request body is too large.") from None
            poll = parse(body)
            answer = serve(endpoint, poll)
        except PollError as error:
            return error.response()
        response = JsonResponse(answer)
        response["Cache-Control"] = "no-store"
        return response

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        error = PollError(405, "invalid_request", "Poll with POST (RFC 8936).", Allow="POST")
        return error.response()


def authenticate(request: HttpRequest, endpoint_id: Any) -> WebhookEndpoint:
    """The polled endpoint whose active secret the request carries as a bearer token."""
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise PollError(
            401, "authentication_failed", "Send the endpoint's secret as a bearer token.",
            **{"WWW-Authenticate": REALM},
        )  # fmt: skip
    digest = _secrets.digest(raw.strip())
    secret = EndpointSecret.objects.select_related("endpoint").filter(digest=digest).first()
    if (
        secret is None
        or not constant_time_compare(secret.digest, digest)
        or not secret.is_active(engine.now())
        or str(secret.endpoint_id) != str(endpoint_id)
    ):
        raise PollError(
            401, "authentication_failed", "The token is not a current secret of this endpoint.",
            **{"WWW-Authenticate": REALM + ', error="invalid_token"'},
        )  # fmt: skip
    endpoint = secret.endpoint
    if endpoint.method != DeliveryMethod.POLL:
        raise PollError(404, "not_found", "This endpoint is pushed to, not polled.")
    if not endpoint.is_enabled:
        raise PollError(403, "access_denied", f"This endpoint is {endpoint.state}.")
    return endpoint


class Poll:
    """What a poll asks (RFC 8936 section 2.4)."""

    def __init__(self, max_events: int, ack: list[str], errors: dict[str, tuple[str, str]]) -> None:
        self.max_events, self.ack, self.errors = max_events, ack, errors


def parse(body: bytes) -> Poll:
    def invalid(description: str) -> PollError:
        return PollError(400, "invalid_request", description)

    try:
        request = json.loads(body or b"{}")
    except ValueError:
        raise invalid("The body is not JSON.") from None
    if not isinstance(request, dict):
        raise invalid("The body must be a JSON object.")
    max_events = request.get("maxEvents", MAX_EVENTS)
    if isinstance(max_events, bool) or not isinstance(max_events, int) or max_events < 0:
        raise invalid("maxEvents must be a whole number, 0 or more.")
    if not isinstance(request.get("returnImmediately", False), bool):
        raise invalid("returnImmediately must be true or false.")
    ack = request.get("ack", [])
    if not isinstance(ack, list) or not all(isinstance(item, str) for item in ack):
        raise invalid("ack must be a list of jti strings.")
    errors: dict[str, tuple[str, str]] = {}
    set_errs = request.get("setErrs", {})
    if not isinstance(set_errs, dict):
        raise invalid("setErrs must be an object of jti to {err, description}.")
    for token_id, error in set_errs.items():
        if not isinstance(error, dict) or not isinstance(error.get("err"), str):
            raise invalid(f"setErrs[{token_id!r}] must be an object with an err string.")
        description = error.get("description", "")
        errors[token_id] = (error["err"], description if isinstance(description, str) else "")
    if len(ack) + len(errors) > MAX_ACKS:
        raise invalid(f"Acknowledge at most {MAX_ACKS} SETs in one poll.")
    return Poll(min(max_events, MAX_EVENTS), ack, errors)


def serve(endpoint: WebhookEndpoint, poll: Poll) -> dict[str, Any]:
    """Take the poll's acknowledgements, then answer with the next unacknowledged SETs
    (``maxEvents`` of them at most) and whether more are waiting."""
    _cover_connections(endpoint)
    audience = sets.poll_audience(endpoint)
    if poll.ack or poll.errors:
        acknowledge(endpoint, audience, poll.ack, poll.errors)
    if poll.max_events == 0:
        return {"sets": {}, "moreAvailable": bool(pending(endpoint, 1))}
    events = pending(endpoint, poll.max_events + 1)
    more, events = len(events) > poll.max_events, events[: poll.max_events]
    if not events:
        return {"sets": {}, "moreAvailable": False}
    try:
        sign = sets.signer()
        issued = _account_keys(events)
        found = {
            sets.jti(event, audience): sign(
                sets.claims(event, audience=audience, account_key=issued.get(event.account_id))
            )
            for event in events
        }
    except ValueError as exc:  # no issuer configured, or a key sealed under an old SECRET_KEY
        raise PollError(503, "temporarily_unavailable", str(exc)) from None
    return {"sets": found, "moreAvailable": more}


def _cover_connections(endpoint: WebhookEndpoint) -> None:
    """Start the endpoint's stream of every connection it covers that has events and no
    stream yet (the streams a push endpoint gets as events commit)."""
    uncovered = Connection.objects.filter(last_event_number__gt=0).exclude(
        Exists(DeliveryStream.objects.filter(endpoint=endpoint, connection_id=OuterRef("pk")))
    )
    if endpoint.account_id is not None:
        uncovered = uncovered.filter(account_id=endpoint.account_id)
    for connection_id, account_id in uncovered.values_list("pk", "account_id"):
        engine.start_stream(endpoint, connection_id, account_id)


def pending(endpoint: WebhookEndpoint, limit: int) -> list[ProvisioningEvent]:
    """The next ``limit`` events of the endpoint's streams not yet acknowledged, in order
    per connection (connection after connection)."""
    wanted = Q(type__in=endpoint.event_types) if endpoint.event_types else Q()
    after = ProvisioningEvent.objects.filter(
        wanted, connection_id=OuterRef("connection_id"), number__gt=OuterRef("position")
    )
    streams = list(
        DeliveryStream.objects.filter(Exists(after), endpoint=endpoint)
        .order_by("connection_id")
        .values_list("connection_id", "position")
    )
    found: list[ProvisioningEvent] = []
    batch = max(limit * 2, 50)
    for start in range(0, len(streams), STREAMS_PER_QUERY):
        group = streams[start : start + STREAMS_PER_QUERY]
        following = reduce(or_, (Q(connection_id=c, number__gt=p) for c, p in group))
        candidates = ProvisioningEvent.objects.filter(wanted, following).order_by(
            "connection_id", "number"
        )
        offset = 0
        while len(found) < limit:
            window = list(candidates[offset : offset + batch])
            done = _done(endpoint, [event.pk for event in window])
            found += [event for event in window if event.pk not in done]
            if len(window) < batch:
                break
            offset += batch
        if len(found) >= limit:
            break
    return found[:limit]


def _done(endpoint: WebhookEndpoint, event_ids: list[int]) -> set[int]:
    """Which of the events the endpoint has acknowledged (or refused)."""
    if not event_ids:
        return set()
    return set(
        DeliveryAttempt.objects.filter(
            endpoint=endpoint, event_id__in=event_ids, outcome__in=DONE
        ).values_list("event_id", flat=True)
    )


def _account_keys(events: list[ProvisioningEvent]) -> dict[Any, Any]:
    field = app_settings.ACCOUNT_LOOKUP_FIELD
    ids = {event.account_id for event in events}
    return dict(get_account_model()._default_manager.filter(pk__in=ids).values_list("pk", field))


@transaction.atomic
def acknowledge(
    endpoint: WebhookEndpoint,
    audience: str,
    ack: list[str],
    errors: dict[str, tuple[str, str]],
) -> None:
    """Record the acknowledged SETs (``ack``: acknowledged; ``setErrs``: refused, logged
    as failed with the receiver's words) and move each stream over the acknowledged
    events that follow its position. SETs not of this endpoint, or acknowledged before,
    are ignored."""
    verdicts: dict[int, tuple[str, str]] = {}
    for token_id in ack:
        pk = sets.event_pk(token_id, audience)
        if pk is not None:
            verdicts[pk] = (DeliveryOutcome.ACKNOWLEDGED, "")
    for token_id, (err, description) in errors.items():
        pk = sets.event_pk(token_id, audience)
        if pk is not None:
            text = f"refused: {err}" + (f": {description}" if description else "")
            verdicts[pk] = (DeliveryOutcome.FAILED, text[:300])
    if not verdicts:
        return
    streams: dict[Any, DeliveryStream] = {
        stream.connection_id: stream
        for stream in DeliveryStream.objects.select_for_update()
        .filter(
            endpoint=endpoint,
            connection_id__in=ProvisioningEvent.objects.filter(pk__in=list(verdicts)).values(
                "connection_id"
            ),
        )
        .order_by("pk")
    }
    events = [
        event
        for event in ProvisioningEvent.objects.filter(
            pk__in=list(verdicts), connection_id__in=list(streams)
        )
        if event.number is not None and event.number > streams[event.connection_id].position
    ]
    already = _done(endpoint, [event.pk for event in events])
    moment = engine.now()
    DeliveryAttempt.objects.bulk_create(
        [
            DeliveryAttempt(
                endpoint=endpoint,
                connection_id=event.connection_id,
                account_id=event.account_id,
                event=event,
                event_number=event.number,
                event_type=event.type,
                outcome=verdicts[event.pk][0],
                error=verdicts[event.pk][1],
                created_at=moment,
            )
            for event in events
            if event.pk not in already
        ]
    )
    for connection_id in {event.connection_id for event in events}:
        _advance(endpoint, streams[connection_id], moment)


def _advance(endpoint: WebhookEndpoint, stream: DeliveryStream, moment: datetime) -> None:
    """Move the stream's position over the events after it that are acknowledged (or
    not of a type the endpoint takes), up to the first one still waiting."""
    position = stream.position
    while True:
        window = list(
            ProvisioningEvent.objects.filter(
                connection_id=stream.connection_id, number__gt=position
            )
            .order_by("number")
            .values_list("pk", "number", "type")[:ADVANCE_BATCH]
        )
        done = _done(endpoint, [pk for pk, _number, _type in window])
        for pk, number, event_type in window:
            if pk not in done and endpoint.wants(event_type):
                break
            position = number or position
        else:
            if len(window) == ADVANCE_BATCH:
                continue
        break
    if position != stream.position:
        DeliveryStream.objects.filter(pk=stream.pk).update(position=position, updated_at=moment)
