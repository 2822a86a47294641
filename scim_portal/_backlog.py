"""How far behind a webhook endpoint is, for the faces that show it (admin, API)."""

from __future__ import annotations

from django.db.models import F, IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from .models import Connection, DeliveryStream, WebhookEndpoint


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
