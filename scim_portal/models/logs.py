"""The request log: one row per SCIM request, for troubleshooting."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from .connections import Connection


class RequestLog(models.Model):
    """A SCIM request as the IdP sent it and as it was answered.

    Bodies are truncated and have secrets (passwords, tokens) redacted. The row
    outlives its connection (no database constraint) for the audit trail.
    """

    connection = models.ForeignKey(
        Connection,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="request_logs",
        db_index=False,
    )
    created_at = models.DateTimeField(default=timezone.now)
    method = models.CharField(max_length=10)
    path = models.TextField()
    query = models.TextField(blank=True)
    status = models.PositiveSmallIntegerField()
    duration_ms = models.FloatField()
    scim_type = models.CharField(max_length=32, blank=True)
    detail = models.TextField(blank=True)
    user_agent = models.TextField(blank=True)
    #: The identity provider the user agent indicates (a provider key), or "".
    idp = models.CharField(max_length=32, blank=True)
    token_prefix = models.CharField(max_length=20, blank=True)
    #: The request's ``X-Request-ID`` (in error messages and the server's log lines too).
    request_id = models.CharField(max_length=128, blank=True)
    #: What was accepted but deserves a look (an email outside the verified domains).
    warning = models.TextField(blank=True)
    request_body = models.TextField(blank=True)
    response_body = models.TextField(blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=["connection", "-created_at"], name="scim_log_conn_time_idx"),
            models.Index(fields=["connection", "status"], name="scim_log_conn_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"

    @property
    def is_error(self) -> bool:
        return self.status >= 400
