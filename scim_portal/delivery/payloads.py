"""What goes on the wire: an event as a Standard Webhooks message (signed JSON) or as an
RFC 9967 Security Event Token (:mod:`.sets`), with its headers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from standardwebhooks.webhooks import Webhook

from .. import _sealed
from ..models import EndpointFormat, EndpointSecret, ProvisioningEvent, WebhookEndpoint

USER_AGENT = "django-scim-portal"


@dataclass(frozen=True)
class Message:
    body: bytes
    headers: dict[str, str]


def message_id(event: ProvisioningEvent) -> str:
    """The idempotency key of an event: the same on every attempt and every replay."""
    return f"evt_{event.pk}"


def event_document(event: ProvisioningEvent, account_key: Any = None) -> dict[str, Any]:
    """The JSON a receiver gets: the event's ``type``, its connection and its number in
    that connection (``sequence``, to check order), and what changed (``data``)."""
    connection_id = str(event.connection_id) if event.connection_id else None
    return {
        "id": message_id(event),
        "type": event.type,
        "timestamp": event.created_at.isoformat(),
        "connection_id": connection_id,
        "sequence": event.number,
        "account": account_key,
        "data": {
            "connection_id": connection_id,
            "sequence": event.number,
            "resource_type": event.resource_type,
            "resource_id": event.resource_id,
            "changes": event.changes,
            "actor": event.actor,
        },
    }


def active_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The endpoint's secrets that still sign, newest first (two during a rotation);
    each unsealed once per loaded endpoint (a task signs many events with it)."""
    opened: dict[int, str] = endpoint.__dict__.setdefault("_unsealed_secrets", {})
    found = []
    for secret in _secrets_of(endpoint):
        if secret.is_active(now):
            if secret.pk not in opened:
                opened[secret.pk] = _sealed.unseal(secret.sealed)
            found.append(opened[secret.pk])
    return found


def _secrets_of(endpoint: WebhookEndpoint) -> list[EndpointSecret]:
    cached = getattr(endpoint, "_prefetched_objects_cache", {}).get("secrets")
    if cached is not None:
        return sorted(cached, key=lambda secret: secret.created_at, reverse=True)
    return list(endpoint.secrets.order_by("-created_at"))


def standard_webhook(endpoint: WebhookEndpoint, document: dict[str, Any], now: datetime) -> Message:
    """``document`` signed per the Standard Webhooks specification with every active
    secret (``webhook-signature`` lists one ``v1,…`` per secret)."""
    data = json.dumps(document, cls=DjangoJSONEncoder, separators=(",", ":"))
    msg_id = str(document["id"])
    signatures = [
        Webhook(secret).sign(msg_id=msg_id, timestamp=now, data=data)
        for secret in active_secrets(endpoint, now)
    ]
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
    return Message(data.encode(), headers)


def build(
    endpoint: WebhookEndpoint, event: ProvisioningEvent, now: datetime, account_key: Any = None
) -> Message:
    """The message that delivers ``event`` to ``endpoint``, in the endpoint's format."""
    if endpoint.format == EndpointFormat.SET:
        from . import sets

        token = sets.encode(event, audience=endpoint.url, account_key=account_key)
        headers = {
            "Content-Type": "application/secevent+jwt",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        secrets = active_secrets(endpoint, now)
        if secrets:  # RFC 8935 section 2: the receiver may require a bearer token
            headers["Authorization"] = f"Bearer {secrets[0]}"
        return Message(token.encode(), headers)
    return standard_webhook(endpoint, event_document(event, account_key), now)
