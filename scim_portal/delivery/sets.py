"""Events as RFC 9967 Security Event Tokens: signed JWTs (``typ: secevent+jwt``) in the
SCIM profile of RFC 8417, pushed (RFC 8935) or polled (RFC 8936, :mod:`.poll`).

Each event maps to one RFC 9967 event URI where one fits (:data:`EVENT_URIS`); the
events about a connection's configuration, its credentials and the host's roles have
none and are sent under this app's own ``urn:django-scim-portal:event:<type>``. The
``jti`` of an event's SET is the same on every attempt and replay (one per event and
receiver), ``txn`` is the event's id everywhere (the Standard Webhooks ``webhook-id``),
and ``connection_id`` with ``sequence`` let a receiver check the order. docs/events.md
has the format and the mapping."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import jwt
from django.utils.crypto import constant_time_compare

from ..conf import app_settings
from ..models import EventType, ProvisioningEvent, SigningKey, WebhookEndpoint
from . import keys
from .engine import SET_MEDIA_TYPE
from .payloads import USER_AGENT, Message, active_secrets

#: The JOSE ``typ`` of a SET (RFC 8417 section 2.3).
TOKEN_TYPE = "secevent+jwt"  # noqa: S105  (a media type)
MEDIA_TYPE = SET_MEDIA_TYPE
PROV = "urn:ietf:params:scim:event:prov:"
#: This app's own event URIs, for events RFC 9967 has no URI for.
PRIVATE = "urn:django-scim-portal:event:"
#: What each event is sent as: an RFC 9967 provisioning event, or None for this app's own.
#: ``create`` and ``patch`` choose ``notice`` or ``full`` by what the event records.
EVENT_URIS: dict[str, str | None] = {
    EventType.USER_CREATED: PROV + "create",
    EventType.GROUP_CREATED: PROV + "create",
    EventType.USER_UPDATED: PROV + "patch",
    EventType.GROUP_UPDATED: PROV + "patch",
    EventType.GROUP_MEMBERS_ADDED: PROV + "patch",
    EventType.GROUP_MEMBERS_REMOVED: PROV + "patch",
    EventType.USER_DEACTIVATED: PROV + "deactivate",
    EventType.USER_REACTIVATED: PROV + "activate",
    EventType.USER_DELETED: PROV + "delete",
    EventType.GROUP_DELETED: PROV + "delete",
}
RESOURCE_PATHS = {"User": "/Users/", "Group": "/Groups/"}
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def event_uri(event_type: str) -> str:
    """The event URI an event type is sent under (``create`` and ``patch`` without their
    ``:notice``/``:full``, which depend on the event)."""
    return EVENT_URIS.get(event_type) or PRIVATE + event_type


def issuer() -> str:
    found = app_settings.SET_ISSUER or app_settings.PUBLIC_URL
    if not found:
        raise ValueError(
            "SETs need an issuer: set SCIM_PORTAL['SET_ISSUER'] (or SCIM_PORTAL['PUBLIC_URL'])."
        )
    return str(found).rstrip("/")


def poll_audience(endpoint: WebhookEndpoint) -> str:
    """The ``aud`` of a polled endpoint's SETs (a pushed one's is its URL)."""
    return f"urn:uuid:{endpoint.pk}"


def audience_of(endpoint: WebhookEndpoint) -> str:
    return endpoint.url or poll_audience(endpoint)


def jti(event: ProvisioningEvent, audience: str) -> str:
    """The SET's id: the event's and the receiver's, so the same on every attempt and
    replay, and different for two receivers of one event (``txn`` is shared)."""
    receiver = hashlib.sha256(audience.encode()).hexdigest()[:12]
    return f"{event.pk}-{receiver}"


def event_pk(token_id: str, audience: str) -> int | None:
    """The event a ``jti`` this receiver was sent names (None if it names none)."""
    head, _, receiver = token_id.partition("-")
    # ASCII digits only ("²" is a digit int() refuses), and within the id column (bigint).
    if not (head.isascii() and head.isdigit()) or len(head) > 19 or int(head) >= 2**63:
        return None
    expected = hashlib.sha256(audience.encode()).hexdigest()[:12]
    return int(head) if constant_time_compare(receiver, expected) else None


def scim_path(path: str) -> str:
    """A flattened attribute path of the event's changes as a SCIM ``path``: an
    extension's attributes after a colon (``urn:…:User:manager.value``)."""
    if not path.startswith("urn:"):
        return path
    schema, _, rest = path[path.rfind(":") :].partition(".")
    return path[: path.rfind(":")] + schema + (":" + rest if rest else "")


def _subject(event: ProvisioningEvent) -> dict[str, Any]:
    """``sub_id`` (RFC 9493): SCIM resources by their path, everything else opaque."""
    changes = event.changes if isinstance(event.changes, dict) else {}
    base = RESOURCE_PATHS.get(event.resource_type)
    if base is None or not event.resource_id:
        return {"format": "opaque", "id": f"{event.resource_type}/{event.resource_id}"}
    subject = {"format": "scim", "uri": base + event.resource_id, "id": event.resource_id}
    for name in ("externalId", "userName"):
        if isinstance(changes.get(name), str) and changes[name]:
            subject[name] = changes[name]
    return subject


def _changes_payload(changes: dict[str, Any]) -> dict[str, Any]:
    """A document update as the PATCH that makes it (RFC 9967 ``patch:full``)."""
    operations = []
    for path, change in changes.items():
        if not (isinstance(change, dict) and set(change) == {"old", "new"}):
            return {"attributes": sorted({scim_path(name) for name in changes})}
        if change["new"] is None:
            operations.append({"op": "remove", "path": scim_path(path)})
        else:
            operations.append({"op": "replace", "path": scim_path(path), "value": change["new"]})
    return {"data": {"schemas": [PATCH_OP], "Operations": operations}}


def _members_payload(event: ProvisioningEvent) -> dict[str, Any]:
    changes = event.changes if isinstance(event.changes, dict) else {}
    ids = changes.get("ids")
    if changes.get("truncated") or not isinstance(ids, list):
        return {"attributes": ["members"]}
    if event.type == EventType.GROUP_MEMBERS_ADDED:
        members = [{"value": member, "$ref": "/Users/" + member} for member in ids]
        operations = [{"op": "add", "path": "members", "value": members}]
    else:
        operations = [{"op": "remove", "path": f'members[value eq "{member}"]'} for member in ids]
    return {"data": {"schemas": [PATCH_OP], "Operations": operations}}


def event_payload(event: ProvisioningEvent) -> tuple[str, dict[str, Any]]:
    """The event's URI and its payload in the ``events`` claim. ``full`` carries ``data``
    (the PATCH that makes the change), ``notice`` the changed ``attributes``: a created
    resource is a notice, since events record what identifies it, not its document."""
    changes = event.changes if isinstance(event.changes, dict) else {}
    uri = event_uri(event.type)
    if uri == PROV + "create":
        names = ["id"] + [
            name for name in ("userName", "externalId", "displayName") if changes.get(name)
        ]
        return uri + ":notice", {"attributes": names}
    if event.type in (EventType.GROUP_MEMBERS_ADDED, EventType.GROUP_MEMBERS_REMOVED):
        payload = _members_payload(event)
    elif uri == PROV + "patch":
        payload = _changes_payload(changes)
    elif uri.startswith(PROV):
        return uri, {}
    else:
        return uri, {"changes": changes}
    return uri + (":full" if "data" in payload else ":notice"), payload


def claims(
    event: ProvisioningEvent, *, audience: str, account_key: Any = None, now: float | None = None
) -> dict[str, Any]:
    """The SET's claims (RFC 8417, RFC 9967), before signing."""
    uri, payload = event_payload(event)
    return {
        "iss": issuer(),
        "aud": audience,
        "jti": jti(event, audience),
        "iat": int(time.time() if now is None else now),
        "toe": int(event.created_at.timestamp()),
        "txn": f"evt_{event.pk}",
        "sub_id": _subject(event),
        "events": {uri: payload},
        "connection_id": str(event.connection_id) if event.connection_id else None,
        "sequence": event.number,
        "event_type": event.type,
        "account": account_key,
    }


def signer(key: SigningKey | None = None) -> Callable[[dict[str, Any]], str]:
    """A function signing claims as a SET with ``key`` (the current signing key by
    default), its private key unsealed once for however many SETs it signs."""
    key = key or keys.current_key()
    pem, algorithm = keys.private_key_pem(key), key.algorithm
    header = {"typ": TOKEN_TYPE, "kid": key.kid}
    return lambda payload: jwt.encode(payload, pem, algorithm=algorithm, headers=header)


def encode(
    event: ProvisioningEvent,
    *,
    audience: str,
    account_key: Any = None,
    key: SigningKey | None = None,
) -> str:
    """The event as a signed SET for the receiver ``audience``. ``ValueError`` when it
    cannot be signed (no issuer configured, a key sealed under an old SECRET_KEY)."""
    return signer(key)(claims(event, audience=audience, account_key=account_key))


def headers(endpoint: WebhookEndpoint, now: datetime) -> dict[str, str]:
    """The headers of a pushed SET (RFC 8935 section 2): its media type, and the
    endpoint's secret as a bearer token the receiver may check."""
    found = {"Content-Type": MEDIA_TYPE, "Accept": "application/json", "User-Agent": USER_AGENT}
    secrets = active_secrets(endpoint, now)
    if secrets:
        found["Authorization"] = f"Bearer {secrets[0]}"
    return found


def test_message(endpoint: WebhookEndpoint, moment: datetime) -> Message:
    """A SET that says nothing happened (``urn:django-scim-portal:event:webhook.test``),
    for the "send test event" button: it checks the URL, the bearer token and the key."""
    token = signer()(
        {
            "iss": issuer(),
            "aud": audience_of(endpoint),
            "jti": f"test-{int(moment.timestamp() * 1000)}-{endpoint.pk}",
            "iat": int(moment.timestamp()),
            "sub_id": {"format": "opaque", "id": f"Endpoint/{endpoint.pk}"},
            "events": {PRIVATE + "webhook.test": {}},
            "connection_id": None,
            "sequence": None,
            "event_type": "webhook.test",
        }
    )
    return Message(token.encode(), headers(endpoint, moment))
