"""How a connection is doing, at a glance: the status shown in the portal, admin and API.

:func:`health` decides it in Python for connections already loaded; :func:`with_health`
is its SQL twin, a ``health`` annotation for counting and filtering thousands of
connections in one statement (the staff dashboard, the admin's health filter).
``tests/test_health_sql.py`` checks that the two agree on every state and boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import models
from django.db.models import Case, Exists, OuterRef, Q, QuerySet, Subquery, Value, When
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from .models import Connection, Credential, RequestLog

#: When every usable credential (of any kind: bearer token, Basic password, client
#: secret, federated issuer, authorisation) expires within this many days, the
#: connection is "expiring".
EXPIRY_WARNING = timedelta(days=14)
#: A connection that has had no request for this long is "unused".
UNUSED_AFTER = timedelta(days=7)
#: Statuses of a last request that mean the IdP cannot provision.
FAILING_STATUSES = frozenset({401, 403}) | frozenset(range(500, 600))

#: Every key :func:`health` gives, with its name for lists and filters.
HEALTH_KEYS = {
    "waiting": gettext_lazy("Waiting"),
    "healthy": gettext_lazy("Healthy"),
    "failing": gettext_lazy("Failing"),
    "expiring": gettext_lazy("Credential expiring"),
    "unused": gettext_lazy("Idle"),
}


@dataclass(frozen=True)
class Health:
    key: str  # waiting | healthy | failing | expiring | unused
    label: str
    explanation: str


def with_last_status(connections: QuerySet[Connection]) -> QuerySet[Connection]:
    """Annotate ``last_status``: the HTTP status of each connection's latest request."""
    return connections.annotate(last_status=_last_status())


def _last_status() -> Subquery:
    latest = RequestLog.objects.filter(connection=OuterRef("pk")).order_by("-created_at", "-id")
    return Subquery(latest.values("status")[:1])


def with_health(
    connections: QuerySet[Connection], now: datetime | None = None
) -> QuerySet[Connection]:
    """Annotate ``health``: the key :func:`health` gives each connection at ``now``, in
    SQL (subqueries and ``EXISTS``, no query per row). Each ``When`` is one of
    :func:`health`'s branches, in the same order."""
    now = now or timezone.now()
    credentials = Credential.objects.filter(connection=OuterRef("pk"))
    usable = credentials.usable(now)
    lasting = usable.filter(Q(expires_at__isnull=True) | Q(expires_at__gte=now + EXPIRY_WARNING))
    # One IN list rather than ranges: each mention of the subquery is evaluated anew.
    refused = Q(health_last_status__in=sorted(FAILING_STATUSES))
    return connections.alias(health_last_status=_last_status()).annotate(
        health=Case(
            When(~Exists(credentials), then=Value("waiting")),
            When(~Exists(usable), then=Value("failing")),
            When(refused, then=Value("failing")),
            When(last_request_at__isnull=True, then=Value("waiting")),
            When(~Exists(lasting), then=Value("expiring")),
            When(last_request_at__lt=now - UNUSED_AFTER, then=Value("unused")),
            default=Value("healthy"),
            output_field=models.CharField(),
        )
    )


def health(
    connection: Connection, credentials: list[Any] | None = None, *, now: datetime | None = None
) -> Health:
    """The status of ``connection`` at ``now`` (default: now), its label and explanation
    in the active language; annotate ``last_status`` and prefetch its credentials first."""
    now = now or timezone.now()
    if credentials is None:
        credentials = list(connection.credentials.all())
    usable = [
        credential
        for credential in credentials
        if credential.revoked_at is None
        and (credential.expires_at is None or credential.expires_at > now)
    ]
    last_status = getattr(connection, "last_status", None)
    if not credentials:
        # Created for an authorisation the identity provider has yet to obtain (Okta's
        # OAuth 2): nothing has failed, nothing was ever revoked.
        return Health(
            "waiting",
            _("Waiting for authorisation"),
            _(
                "No credential yet: authorise the vendor's OAuth application for this "
                "connection from your identity provider, or issue a credential."
            ),
        )
    if not usable:
        return Health(
            "failing",
            _("No usable credential"),
            _("Every credential is revoked or expired: issue a new one."),
        )
    # Before "waiting": refused credentials never count as a first request.
    if last_status is not None and last_status in FAILING_STATUSES:
        if last_status in (401, 403):
            explanation = _(
                "The latest request was refused: authentication fails (%(status)s)."
            ) % {"status": last_status}
        else:
            explanation = _("The latest request was refused: the server fails (%(status)s).") % {
                "status": last_status
            }
        return Health("failing", _("Failing"), explanation)
    if connection.last_request_at is None:
        return Health(
            "waiting",
            _("Waiting for the first request"),
            _("Nothing has called the SCIM URL yet: finish the setup in your identity provider."),
        )
    if all(c.expires_at is not None and c.expires_at - now < EXPIRY_WARNING for c in usable):
        last = max(c.expires_at for c in usable)
        return Health(
            "expiring",
            _("Credential expiring"),
            _(
                "Provisioning stops on %(date)s, when the last usable credential expires: "
                "issue a new one and update the identity provider."
            )
            % {"date": formats.date_format(timezone.localtime(last), "DATE_FORMAT")},
        )
    if now - connection.last_request_at > UNUSED_AFTER:
        days = (now - connection.last_request_at).days
        return Health(
            "unused",
            _("Idle"),
            ngettext(
                "No request for %(days)s day: is provisioning on?",
                "No request for %(days)s days: is provisioning on?",
                days,
            )
            % {"days": days},
        )
    return Health("healthy", _("Healthy"), _("The identity provider is provisioning normally."))
