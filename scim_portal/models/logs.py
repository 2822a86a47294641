"""The request log: one row per SCIM request, for troubleshooting."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import connections, models, router
from django.utils import timezone

from . import _sql
from .connections import Connection

#: A request's outcome by its status, as the overview's chart and the staff dashboard
#: count them (bottom to top of a bar).
OUTCOMES: dict[str, models.Q] = {
    "success": models.Q(status__lt=400),
    "client_error": models.Q(status__gte=400, status__lt=500) & ~models.Q(status=429),
    "throttled": models.Q(status=429),
    "server_error": models.Q(status__gte=500),
}


class RequestLogManager(models.Manager["RequestLog"]):
    def insert(self, entry: RequestLog, using: str | None = None) -> None:
        """``bulk_create([entry])`` without reading the new id back: every SCIM request
        writes one, so its SQL is written once instead of compiled each time.

        Each field's ``pre_save`` runs, as in ``save()``; a value that is an expression
        (what a ``db_default`` gives a new instance, or an ``F()``) needs the compiler,
        and such an entry goes through ``bulk_create()`` itself. As there, no
        ``pre_save``/``post_save`` signal is sent.
        """
        using = using or self._db or router.db_for_write(self.model, instance=entry)
        fields = _inserted_fields(self.model)
        values = [field.pre_save(entry, add=True) for field in fields]
        if any(hasattr(value, "resolve_expression") for value in values):
            self.db_manager(using).bulk_create([entry])
            return
        database = connections[using]
        params = [
            field.get_db_prep_save(value, database)
            for field, value in zip(fields, values, strict=True)
        ]
        with database.cursor() as cursor:
            cursor.execute(_insert_sql(self.model, using), params)


@cache
def _inserted_fields(model: type[models.Model]) -> tuple[Any, ...]:
    """Every concrete field but the primary key, which the database assigns."""
    return tuple(field for field in model._meta.concrete_fields if not field.primary_key)


@cache
def _insert_sql(model: type[models.Model], using: str) -> str:
    fields = _inserted_fields(model)
    names = ", ".join(_sql.column(model, field.name, using) for field in fields)
    values = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {_sql.table(model, using)} ({names}) VALUES ({values})"  # noqa: S608


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
    #: The client's address as the host's proxies tell it (``TRUSTED_PROXY_COUNT``).
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    #: The identity provider the user agent indicates (a provider key), or "".
    idp = models.CharField(max_length=32, blank=True)
    #: The credential that acted: its kind and what tells it apart (a secret's first
    #: characters, a Basic username, an access token's first characters).
    credential_kind = models.CharField(max_length=20, blank=True)
    token_prefix = models.CharField(max_length=40, blank=True)
    #: The request's ``X-Request-ID`` (in error messages and the server's log lines too).
    request_id = models.CharField(max_length=128, blank=True)
    #: What was accepted but deserves a look (an email outside the verified domains).
    warning = models.TextField(blank=True)
    request_body = models.TextField(blank=True)
    response_body = models.TextField(blank=True)

    objects = RequestLogManager()

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=["connection", "-created_at"], name="scim_log_conn_time_idx"),
            models.Index(fields=["connection", "status"], name="scim_log_conn_status_idx"),
            # The staff dashboard's last 24 hours across connections, and the pruning.
            models.Index(fields=["created_at"], name="scim_log_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"

    @property
    def is_error(self) -> bool:
        return self.status >= 400
