"""Service functions on webhook endpoints, for every face (admin, API, command line).

Each configuration change is one transaction and is written to the ``scim_portal.audit``
log with who made it; no secret is ever logged."""

from __future__ import annotations

import base64
import ipaddress
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import F, IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from .. import _outbound, _sealed, _secrets
from ..conf import app_settings
from ..models import (
    Connection,
    DeliveryAttempt,
    DeliveryMethod,
    DeliveryOutcome,
    DeliveryStream,
    EndpointFormat,
    EndpointSecret,
    EndpointState,
    EventType,
    WebhookEndpoint,
)
from ..models.webhooks import WEBHOOK_SECRET_PREFIX
from . import engine, payloads

audit = logging.getLogger("scim_portal.audit")

#: Event types an endpoint may ask for (the connection events).
EVENT_TYPES = tuple(choice.value for choice in EventType)


@dataclass(frozen=True)
class IssuedSecret:
    secret: EndpointSecret
    #: The secret itself (``whsec_…``): shown this once.
    raw: str


def _who(actor: Any) -> str:
    return str(actor) if actor else "the system"


def new_secret_value() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def validate_url(url: str) -> None:
    """An https URL whose host is not a loopback, private or link-local address written
    out (``WEBHOOK_ALLOW_INSECURE`` allows http and local addresses). Names are checked
    again, resolved, at every delivery."""
    try:
        URLValidator(schemes=["https", "http"])(url)
        host, _ = _outbound.check_url(url, allow_http=bool(app_settings.WEBHOOK_ALLOW_INSECURE))
    except (ValidationError, _outbound.OutboundError) as exc:
        message = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
        raise ValidationError(message) from None
    if app_settings.WEBHOOK_ALLOW_INSECURE:
        return
    if host.lower() in ("localhost", "localhost.") or host.lower().endswith(".localhost"):
        raise ValidationError("Endpoints may not be on this machine (localhost).")
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return
    if not _outbound.is_public(str(literal)):
        raise ValidationError(f"{host} is not a public address.")


def validate_event_types(event_types: list[str]) -> list[str]:
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        raise ValidationError(f"Unknown event types: {', '.join(unknown)}.")
    return sorted(set(event_types))


def _issue_secret(endpoint: WebhookEndpoint) -> IssuedSecret:
    raw = new_secret_value()
    secret = EndpointSecret.objects.create(
        endpoint=endpoint,
        sealed=_sealed.seal(raw),
        digest=_secrets.digest(raw),
        prefix=raw[: len(WEBHOOK_SECRET_PREFIX) + 6],
    )
    return IssuedSecret(secret, raw)


@transaction.atomic
def add_endpoint(
    *,
    url: str = "",
    format: str = EndpointFormat.STANDARD_WEBHOOKS,
    method: str = DeliveryMethod.PUSH,
    account: Any = None,
    event_types: list[str] | None = None,
    description: str = "",
    actor: Any = None,
) -> tuple[WebhookEndpoint, IssuedSecret]:
    """Create an endpoint and its first secret; the raw secret is returned this once."""
    if format not in EndpointFormat.values:
        raise ValidationError(f"Unknown format {format!r}: {', '.join(EndpointFormat.values)}.")
    if method not in DeliveryMethod.values:
        raise ValidationError(f"Unknown delivery method {method!r}.")
    if method == DeliveryMethod.POLL:
        if format != EndpointFormat.SET:
            raise ValidationError("Only SET endpoints can be polled (RFC 8936).")
        url = ""
    else:
        validate_url(url)
    endpoint = WebhookEndpoint.objects.create(
        url=url,
        format=format,
        method=method,
        account=account,
        event_types=validate_event_types(event_types or []),
        description=description,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    issued = _issue_secret(endpoint)
    audit.info(
        "Webhook endpoint %s (%s, %s) added by %s", endpoint.pk, endpoint.url or "poll",
        endpoint.format, _who(actor),
    )  # fmt: skip
    transaction.on_commit(engine.endpoints_changed)
    return endpoint, issued


@transaction.atomic
def rotate_secret(
    endpoint: WebhookEndpoint, *, overlap_hours: float | None = None, actor: Any = None
) -> IssuedSecret:
    """A new secret; the ones still active keep signing beside it for ``overlap_hours``
    (``WEBHOOK_SECRET_OVERLAP_HOURS``; 0 ends them now)."""
    hours = app_settings.WEBHOOK_SECRET_OVERLAP_HOURS if overlap_hours is None else overlap_hours
    moment = engine.now()
    ends = moment + timedelta(hours=float(hours))
    for old in endpoint.secrets.select_for_update():
        if old.is_active(moment) and (old.expires_at is None or old.expires_at > ends):
            old.expires_at = ends
            old.save(update_fields=["expires_at"])
    issued = _issue_secret(endpoint)
    audit.info(
        "Webhook endpoint %s: secret rotated by %s (old ones end %s)",
        endpoint.pk, _who(actor), ends.isoformat(),
    )  # fmt: skip
    return issued


@transaction.atomic
def update_endpoint(endpoint: WebhookEndpoint, *, actor: Any = None, **fields: Any) -> None:
    """Change ``url``, ``description``, ``event_types`` or ``state`` (pause, resume).
    Resuming a disabled endpoint forgets how long it was failing."""
    allowed = {"url", "description", "event_types", "state"}
    if set(fields) - allowed:
        raise ValidationError(f"Cannot change {', '.join(sorted(set(fields) - allowed))}.")
    if "url" in fields and endpoint.method == DeliveryMethod.PUSH:
        validate_url(fields["url"])
    if "event_types" in fields:
        fields["event_types"] = validate_event_types(list(fields["event_types"]))
    if "state" in fields:
        if fields["state"] not in EndpointState.values:
            raise ValidationError(f"Unknown state {fields['state']!r}.")
        if fields["state"] == EndpointState.ENABLED:
            endpoint.failing_since = None
    changed = {key: value for key, value in fields.items() if getattr(endpoint, key) != value}
    for key, value in fields.items():
        setattr(endpoint, key, value)
    endpoint.save()
    if changed:
        audit.info(
            "Webhook endpoint %s: %s changed by %s", endpoint.pk, ", ".join(sorted(changed)),
            _who(actor),
        )  # fmt: skip
    transaction.on_commit(engine.endpoints_changed)
    if fields.get("state") == EndpointState.ENABLED:
        transaction.on_commit(engine.sweep)


@transaction.atomic
def delete_endpoint(endpoint: WebhookEndpoint, *, actor: Any = None) -> None:
    audit.info("Webhook endpoint %s (%s) deleted by %s", endpoint.pk, endpoint.url, _who(actor))
    endpoint.delete()
    transaction.on_commit(engine.endpoints_changed)


def replay(
    endpoint: WebhookEndpoint, connection_id: Any, from_number: int, *, actor: Any = None
) -> None:
    """Deliver the connection's events again from ``from_number`` on, in order."""
    if endpoint.method != DeliveryMethod.PUSH:
        raise ValidationError("A polled endpoint reads the events itself.")
    if from_number < 1:
        raise ValidationError("Event numbers start at 1.")
    with transaction.atomic():
        try:
            engine.replay(endpoint, connection_id, from_number)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        audit.info(
            "Webhook endpoint %s: connection %s replayed from #%s by %s",
            endpoint.pk, connection_id, from_number, _who(actor),
        )  # fmt: skip


def send_test(endpoint: WebhookEndpoint, *, actor: Any = None) -> DeliveryAttempt:
    """Send a ``webhook.test`` message now (not an event: no stream moves); logged."""
    if endpoint.method != DeliveryMethod.PUSH:
        raise ValidationError("A polled endpoint cannot be sent a test event.")
    moment = engine.now()
    document = {
        "id": f"test_{secrets.token_hex(8)}",
        "type": "webhook.test",
        "timestamp": moment.isoformat(),
        "connection_id": None,
        "sequence": None,
        "data": {"endpoint_id": str(endpoint.pk)},
    }
    if endpoint.format == EndpointFormat.SET:
        from . import sets

        message = sets.test_message(endpoint, moment)
    else:
        message = payloads.standard_webhook(endpoint, document, moment)
    result = engine.post(endpoint.url, message)
    audit.info("Webhook endpoint %s: test event sent by %s", endpoint.pk, _who(actor))
    return DeliveryAttempt.objects.create(
        endpoint=endpoint,
        account_id=endpoint.account_id,
        event_type="webhook.test",
        outcome=DeliveryOutcome.TEST,
        status_code=result.status,
        latency_ms=result.latency_ms,
        error=result.error[:300] if not result.ok else "",
        response_excerpt=result.excerpt,
        created_at=moment,
    )


def with_backlog(queryset: QuerySet[WebhookEndpoint]) -> QuerySet[WebhookEndpoint]:
    """Annotate ``backlog``: events written and not yet done, over the endpoint's streams."""
    last = Connection.objects.filter(pk=OuterRef("connection_id")).values("last_event_number")
    behind = (
        DeliveryStream.objects.filter(endpoint=OuterRef("pk"))
        .annotate(behind=Subquery(last[:1]) - F("position"))
        .values("endpoint")
        .annotate(total=Sum("behind"))
        .values("total")
    )
    return queryset.annotate(
        backlog=Coalesce(Subquery(behind[:1], output_field=IntegerField()), Value(0))
    )
