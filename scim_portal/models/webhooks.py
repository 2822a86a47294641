"""Event delivery out of the process: webhook endpoints, their secrets, one ordered
stream per endpoint and connection, the delivery log, and the SET signing keys."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .._uuid import uuid7
from ..conf import get_account_model_label

#: Prefix of a Standard Webhooks secret (the form its libraries take).
WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105  (a prefix)
#: Characters of a response body kept in the delivery log.
RESPONSE_EXCERPT_LENGTH = 500


class EndpointFormat(models.TextChoices):
    STANDARD_WEBHOOKS = "standard-webhooks", _("Standard Webhooks (signed JSON)")
    SET = "set", _("Security Event Tokens (RFC 9967)")


class DeliveryMethod(models.TextChoices):
    PUSH = "push", _("Push to the URL")
    #: RFC 8936: the receiver polls; SET endpoints only.
    POLL = "poll", _("The receiver polls (RFC 8936)")


class EndpointState(models.TextChoices):
    ENABLED = "enabled", _("Enabled")
    PAUSED = "paused", _("Paused")
    #: Turned off after failing for ``WEBHOOK_DISABLE_AFTER_DAYS``.
    DISABLED = "disabled", _("Disabled (failing)")


class WebhookEndpoint(models.Model):
    """Where events go. The vendor's own services are the receivers, so endpoints are the
    vendor's (Django admin, the management API, the command line); one may be limited to
    one account. A receiver gets each event of every connection it covers, in order per
    connection, signed."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    #: Only this account's events (None: every account's).
    account = models.ForeignKey(
        get_account_model_label(),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="scim_webhook_endpoints",
    )
    description = models.CharField(max_length=200, blank=True)
    #: Where pushed events are POSTed (empty for a polled SET endpoint).
    url = models.URLField(max_length=2000, blank=True)
    format = models.CharField(
        max_length=20, choices=EndpointFormat.choices, default=EndpointFormat.STANDARD_WEBHOOKS
    )
    method = models.CharField(
        max_length=10, choices=DeliveryMethod.choices, default=DeliveryMethod.PUSH
    )
    #: Event types it receives ("user.created"…); empty: all of them.
    event_types = models.JSONField(default=list, blank=True)
    state = models.CharField(
        max_length=10, choices=EndpointState.choices, default=EndpointState.ENABLED
    )
    #: Since when every delivery to it failed (None while deliveries succeed).
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True, editable=False)

    class Meta:
        ordering = ("created_at",)
        verbose_name = _("webhook endpoint")
        constraints = [
            models.CheckConstraint(
                condition=Q(method="push", format__in=["standard-webhooks", "set"])
                | Q(method="poll", format="set"),
                name="scim_endpoint_poll_is_set",
            ),
        ]

    def __str__(self) -> str:
        return self.url or f"SET poll endpoint {self.pk}"

    @property
    def is_enabled(self) -> bool:
        return self.state == EndpointState.ENABLED

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class EndpointSecret(models.Model):
    """A secret of an endpoint: signs Standard Webhooks payloads, is the bearer token of
    pushed SETs and of the poll endpoint. Sealed at rest (the signer must read it back),
    its SHA-256 digest beside it for the poll endpoint's lookup; shown once. Rotation
    keeps the previous one valid until ``expires_at``, so receivers switch at leisure."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="secrets")
    sealed = models.TextField(editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=24, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.prefix}…"

    def is_active(self, now: Any = None) -> bool:
        return self.expires_at is None or self.expires_at > (now or timezone.now())


class DeliveryStream(models.Model):
    """The place of one endpoint in one connection's events: every event up to number
    ``position`` is done (delivered, dead-lettered, or not of a type the endpoint takes),
    the next one is being tried.

    A worker leases the stream while it delivers (``leased_until``), so one event at a
    time goes out per stream and a dead worker's lease runs out rather than blocking."""

    id = models.BigAutoField(primary_key=True)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="streams")
    #: The connection (no constraint: its last events outlive it).
    connection_id = models.UUIDField()
    account = models.ForeignKey(
        get_account_model_label(),
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    #: Number of the last event done.
    position = models.BigIntegerField(default=0)
    #: Attempts at the event after ``position``, since it first failed.
    attempts = models.PositiveIntegerField(default=0)
    first_failed_at = models.DateTimeField(null=True, blank=True)
    #: Not tried again before this (None: now).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=40, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "connection_id"], name="scim_stream_connection_unique"
            ),
        ]
        indexes = [models.Index(fields=["connection_id"], name="scim_stream_connection_idx")]

    def __str__(self) -> str:
        return f"{self.endpoint_id} / {self.connection_id} @ {self.position}"


class DeliveryOutcome(models.TextChoices):
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed (will retry)")
    #: Failed for the whole retry window: set aside, the stream went on.
    DEAD = "dead", _("Dead-lettered")
    #: A polled SET the receiver acknowledged.
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    #: A test event sent by hand.
    TEST = "test", _("Test")


class DeliveryAttempt(models.Model):
    """One try at delivering one event to one endpoint: the delivery log. Holds no
    secret and no signature; the response excerpt is the receiver's own words."""

    id = models.BigAutoField(primary_key=True)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="attempts")
    connection_id = models.UUIDField(null=True, blank=True)
    account = models.ForeignKey(
        get_account_model_label(),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    event = models.ForeignKey(
        "scim_portal.ProvisioningEvent",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    event_number = models.PositiveBigIntegerField(null=True, blank=True)
    event_type = models.CharField(max_length=40)
    attempt = models.PositiveIntegerField(default=1)
    outcome = models.CharField(max_length=14, choices=DeliveryOutcome.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    #: Milliseconds from sending to the end of the answer.
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    #: Why it failed, in words (a timeout, a refused address…).
    error = models.CharField(max_length=300, blank=True)
    response_excerpt = models.CharField(max_length=RESPONSE_EXCERPT_LENGTH, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="scim_attempt_endpoint_idx"),
            models.Index(fields=["outcome", "endpoint"], name="scim_attempt_outcome_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.event_number} → {self.outcome}"


class SigningKey(models.Model):
    """A key that signs Security Event Tokens; its public half is published as a JWKS.
    The private key is sealed at rest. A retired key stays published for a while, so
    receivers can still check what it signed."""

    kid = models.CharField(max_length=64, unique=True)
    algorithm = models.CharField(max_length=10, default="ES256")
    sealed_private_key = models.TextField(editable=False)
    public_jwk = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("SET signing key")

    def __str__(self) -> str:
        return self.kid


class NotificationKind(models.TextChoices):
    CREDENTIAL_EXPIRING = "credential_expiring", _("A credential expires within 14 days")
    CONNECTION_FAILING = "connection_failing", _("A connection is failing")
    CONNECTION_SILENT = "connection_silent", _("A connection has gone silent")
    DELIVERIES_FAILING = "deliveries_failing", _("Event deliveries to an endpoint are failing")
    REMOVALS_HELD = "removals_held", _("Mass removals are held for review")


class NotificationSent(models.Model):
    """One email about one condition (``key`` names the condition and when it began), so
    each condition is told once; the unique key is what makes it once."""

    kind = models.CharField(max_length=24, choices=NotificationKind.choices)
    key = models.CharField(max_length=200)
    account = models.ForeignKey(
        get_account_model_label(),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    recipients = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            models.UniqueConstraint(fields=["kind", "key"], name="scim_notification_once"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"


class NotificationOptOut(models.Model):
    """A person who does not want one kind of email about one account's provisioning."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(
        get_account_model_label(), on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=24, choices=NotificationKind.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "account", "kind"], name="scim_notification_optout_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.account_id} {self.kind}"
