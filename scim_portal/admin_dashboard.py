"""The staff dashboard in Django admin, and the Connection changelist's health filter.

Every account's connections at a glance: how many are in each health state, error rates
by provider, credentials expiring soon and the busiest connections, each number linking
to the admin list that shows exactly what it counts. Each panel is one or two aggregate
statements whatever the number of connections (the health of each is decided in SQL by
:func:`scim_portal.health.with_health`, never row by row), so the page costs the same
queries at ten connections as at ten thousand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.functional import Promise
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from ._formats import number
from .health import EXPIRY_WARNING, HEALTH_KEYS, UNUSED_AFTER, with_health
from .models import Connection, Credential, RequestLog
from .models.logs import OUTCOMES
from .providers import PROVIDERS

if TYPE_CHECKING:
    from .admin import ConnectionAdmin

#: The window of the error rates and the busiest connections.
RECENT = timedelta(hours=24)
#: Rows of the busiest connections, and of the expiring credentials shown.
BUSIEST_SHOWN = 10
EXPIRING_SHOWN = 25

#: The health filter's choices: each health key, and the connections being deleted.
HEALTH_CHOICES: dict[str, str | Promise] = {**HEALTH_KEYS, "deleting": _("Being deleted")}


def health_meaning(key: str) -> str:
    """What the state ``key`` means, in the active language."""
    return {
        "waiting": gettext("No credential yet, or no request yet."),
        "healthy": gettext("The identity provider is provisioning normally."),
        "failing": gettext("The latest request was refused, or no credential works."),
        "expiring": ngettext(
            "Every usable credential expires within %(days)s day.",
            "Every usable credential expires within %(days)s days.",
            EXPIRY_WARNING.days,
        )
        % {"days": EXPIRY_WARNING.days},
        "unused": ngettext(
            "No request for over %(days)s day.",
            "No request for over %(days)s days.",
            UNUSED_AFTER.days,
        )
        % {"days": UNUSED_AFTER.days},
        "deleting": gettext(
            "A deletion began and has not finished: delete the connection again to finish it."
        ),
    }[key]


class HealthFilter(admin.SimpleListFilter):
    """Connections by health, decided in SQL (the same for any number of connections)."""

    title = _("health")
    parameter_name = "health"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(HEALTH_CHOICES.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == "deleting":
            return queryset.filter(deleting_since__isnull=False)
        if value in HEALTH_KEYS:
            # The stubs do not see the annotation.
            return with_health(queryset).filter(health=value)  # type: ignore[misc]
        return queryset


def changelist(model: str, **params: Any) -> str:
    """The admin list of ``model`` filtered by ``params``."""
    url = reverse(f"admin:scim_portal_{model}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


@dataclass(frozen=True)
class HealthRow:
    key: str
    label: str | Promise
    meaning: str
    count: int
    url: str

    @property
    def count_shown(self) -> str:
        return number(self.count)


@dataclass(frozen=True)
class ProviderRow:
    key: str
    name: str
    connections: int
    requests: int
    client_errors: int
    server_errors: int
    throttled: int
    connections_url: str
    requests_url: str

    @property
    def shown(self) -> dict[str, str]:
        """The counts with the locale's digit grouping."""
        return {
            name: number(getattr(self, name))
            for name in ("connections", "requests", "client_errors", "server_errors", "throttled")
        }

    @property
    def error_rate(self) -> str:
        """Percent of the requests answered with an error (4xx, 429 or 5xx); "" for
        no request."""
        if not self.requests:
            return ""
        errors = self.client_errors + self.server_errors + self.throttled
        # number_format cuts the digits past decimal_pos off: round first.
        return formats.number_format(round(100 * errors / self.requests, 1), decimal_pos=1)


def health_rows(now: datetime) -> list[HealthRow]:
    """How many connections are in each state, and how many are being deleted (they
    are counted in their state too): one statement."""
    counted = (
        with_health(Connection.objects.all(), now)
        .order_by()
        .values("health")  # type: ignore[misc]
        .annotate(total=Count("pk"), deleting=Count("pk", filter=Q(deleting_since__isnull=False)))
    )
    totals = {key: 0 for key in HEALTH_CHOICES}
    for row in counted:
        totals[row["health"]] += row["total"]
        totals["deleting"] += row["deleting"]
    return [
        HealthRow(
            key, label, health_meaning(key), totals[key], changelist("connection", health=key)
        )
        for key, label in HEALTH_CHOICES.items()
    ]


def provider_rows(since: datetime) -> list[ProviderRow]:
    """Per provider: its connections, and its requests since ``since`` by outcome (two
    statements). Requests of deleted connections have no provider and are left out."""
    connections = dict(
        Connection.objects.order_by().values_list("provider").annotate(n=Count("pk"))
    )
    requests: dict[str, dict[str, Any]] = {
        row["connection__provider"]: dict(row)
        for row in RequestLog.objects.filter(created_at__gte=since)
        .order_by()
        .values("connection__provider")
        .annotate(
            requests=Count("pk"),
            client_errors=Count("pk", filter=OUTCOMES["client_error"]),
            server_errors=Count("pk", filter=OUTCOMES["server_error"]),
            throttled=Count("pk", filter=OUTCOMES["throttled"]),
        )
    }
    rows = []
    for key in connections.keys() | requests.keys():
        counts = requests.get(key, {})
        provider = PROVIDERS.get(key)
        rows.append(
            ProviderRow(
                key=key,
                name=provider.name if provider is not None else key,
                connections=connections.get(key, 0),
                requests=counts.get("requests", 0),
                client_errors=counts.get("client_errors", 0),
                server_errors=counts.get("server_errors", 0),
                throttled=counts.get("throttled", 0),
                connections_url=changelist("connection", provider__exact=key),
                requests_url=changelist(
                    "requestlog", connection__provider__exact=key, created_at__gte=since.isoformat()
                ),
            )
        )
    return sorted(rows, key=lambda row: (-row.requests, -row.connections, row.name))


def expiring_credentials(now: datetime) -> tuple[list[Any], int]:
    """The usable credentials that expire within ``EXPIRY_WARNING``, soonest first, each
    with its connection and account and ``replaced`` (whether a usable credential of the
    same connection outlasts the warning); and how many there are. Two statements."""
    outlasting = (
        Credential.objects.usable(now)
        .filter(connection=OuterRef("connection"))
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gte=now + EXPIRY_WARNING))
    )
    expiring = (
        Credential.objects.usable(now)
        .filter(expires_at__lt=now + EXPIRY_WARNING, connection__deleting_since__isnull=True)
        .order_by("expires_at", "pk")
    )
    shown = list(
        expiring.select_related("connection__account").annotate(replaced=Exists(outlasting))[
            :EXPIRING_SHOWN
        ]
    )
    return shown, expiring.count()


def busiest_connections(since: datetime) -> list[dict[str, Any]]:
    """The connections with the most requests since ``since``, with their error counts
    (two statements)."""
    counted = list(
        RequestLog.objects.filter(created_at__gte=since, connection__deleting_since__isnull=True)
        .order_by()
        .values("connection_id")
        .annotate(requests=Count("pk"), errors=Count("pk", filter=Q(status__gte=400)))
        .order_by("-requests", "connection_id")[:BUSIEST_SHOWN]
    )
    connections = Connection.objects.select_related("account").in_bulk(
        [row["connection_id"] for row in counted]
    )
    return [
        {
            **row,
            "requests_shown": number(row["requests"]),
            "errors_shown": number(row["errors"]),
            "connection": connections[row["connection_id"]],
            "requests_url": changelist(
                "requestlog", connection_id=row["connection_id"], created_at__gte=since.isoformat()
            ),
        }
        for row in counted
        if row["connection_id"] in connections
    ]


def dashboard_view(model_admin: ConnectionAdmin, request: HttpRequest) -> TemplateResponse:
    """The dashboard, for staff who may view connections."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    now = timezone.now()
    since = now - RECENT
    health = health_rows(now)
    total = sum(row.count for row in health if row.key != "deleting")
    expiring, expiring_count = expiring_credentials(now)
    return TemplateResponse(
        request,
        "admin/scim_portal/dashboard.html",
        {
            **model_admin.admin_site.each_context(request),
            "title": _("Provisioning dashboard"),
            "opts": Connection._meta,
            "now": now,
            "since": since,
            "health": health,
            "total_count": total,
            "total": number(total),
            "expiring_count_shown": number(expiring_count),
            "providers": provider_rows(since),
            "expiring": expiring,
            "expiring_count": expiring_count,
            "expiring_days": EXPIRY_WARNING.days,
            "busiest": busiest_connections(since),
            "changelist_url": changelist("connection"),
        },
    )
