"""How a connection is doing, at a glance: the status shown in the portal, admin and API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from .models import Connection, RequestLog

#: When every usable credential (of any kind: bearer token, Basic password, client
#: secret, federated issuer, authorisation) expires within this many days, the
#: connection is "expiring".
EXPIRY_WARNING = timedelta(days=14)
#: A connection that has had no request for this long is "unused".
UNUSED_AFTER = timedelta(days=7)
#: Statuses of a last request that mean the IdP cannot provision.
FAILING_STATUSES = frozenset({401, 403}) | frozenset(range(500, 600))


@dataclass(frozen=True)
class Health:
    key: str  # waiting | healthy | failing | expiring | unused
    label: str
    explanation: str


def with_last_status(connections: QuerySet[Connection]) -> QuerySet[Connection]:
    """Annotate ``last_status``: the HTTP status of each connection's latest request."""
    latest = RequestLog.objects.filter(connection=OuterRef("pk")).order_by("-created_at", "-id")
    return connections.annotate(last_status=Subquery(latest.values("status")[:1]))


def health(connection: Connection, credentials: list[Any] | None = None) -> Health:
    """The status of ``connection``; annotate ``last_status`` and prefetch its
    credentials first."""
    now = timezone.now()
    if credentials is None:
        credentials = list(connection.credentials.all())
    usable = [credential for credential in credentials if credential.is_usable]
    last_status = getattr(connection, "last_status", None)
    if not credentials:
        # Created for an authorisation the identity provider has yet to obtain (Okta's
        # OAuth 2): nothing has failed, nothing was ever revoked.
        return Health(
            "waiting",
            "Waiting for authorisation",
            "No credential yet: authorise the vendor's OAuth application for this connection "
            "from your identity provider, or issue a credential.",
        )
    if not usable:
        return Health(
            "failing",
            "No usable credential",
            "Every credential is revoked or expired: issue a new one.",
        )
    # Before "waiting": refused credentials never count as a first request.
    if last_status is not None and last_status in FAILING_STATUSES:
        what = "authentication fails" if last_status in (401, 403) else "the server fails"
        return Health(
            "failing", "Failing", f"The latest request was refused: {what} ({last_status})."
        )
    if connection.last_request_at is None:
        return Health(
            "waiting",
            "Waiting for the first request",
            "Nothing has called the SCIM URL yet: finish the setup in your identity provider.",
        )
    if all(c.expires_at is not None and c.expires_at - now < EXPIRY_WARNING for c in usable):
        last = max(c.expires_at for c in usable)
        return Health(
            "expiring",
            "Credential expiring",
            f"Provisioning stops on {last:%Y-%m-%d}, when the last usable credential "
            "expires: issue a new one and update the identity provider.",
        )
    if now - connection.last_request_at > UNUSED_AFTER:
        return Health(
            "unused",
            "Idle",
            f"No request for {(now - connection.last_request_at).days} days: is provisioning on?",
        )
    return Health("healthy", "Healthy", "The identity provider is provisioning normally.")
