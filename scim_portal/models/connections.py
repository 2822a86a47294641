"""SCIM connections of an account, and the bearer tokens that authenticate them."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connections, models, router
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from .. import _secrets
from .._uuid import uuid7
from ..conf import app_settings, get_account_model_label
from ..providers import Provider, get_provider, provider_choices
from . import _sql

if TYPE_CHECKING:
    from datetime import datetime

#: Every token starts with this, so secret scanners and humans recognise it.
TOKEN_PREFIX = "scimp_"  # noqa: S105  (a public prefix, not a secret)
#: Characters of the token kept (in clear) to tell tokens apart in lists and logs.
DISPLAY_PREFIX_LENGTH = len(TOKEN_PREFIX) + _secrets.DISPLAY_CHARACTERS


class ConnectionQuerySet(models.QuerySet["Connection"]):
    def with_counts(self) -> ConnectionQuerySet:
        """Annotate ``user_count`` and ``group_count`` (one query, no row multiplication)."""
        from .directory import DirectoryGroup, DirectoryUser

        def count_of(model: type[models.Model]) -> Coalesce:
            rows = (
                model._default_manager.filter(connection=OuterRef("pk"))
                .order_by()
                .values("connection")
                .annotate(n=Count("*"))
                .values("n")
            )
            return Coalesce(Subquery(rows, output_field=models.IntegerField()), 0)

        return self.annotate(
            user_count=count_of(DirectoryUser), group_count=count_of(DirectoryGroup)
        )


class ConnectionManager(models.Manager.from_queryset(ConnectionQuerySet)):  # type: ignore[misc]
    def reserve_event_numbers(self, connection: Connection, count: int) -> int:
        """Add ``count`` to ``connection``'s event counter and return the new value.

        One statement, ``UPDATE … RETURNING`` (PostgreSQL and SQLite both have it), that
        also locks the row until the transaction ends; the ORM needs two, as ``update()``
        cannot return the value (docs/benchmarks.md: ~0.7 ms saved on every change).
        """
        using = router.db_for_write(self.model, instance=connection)
        database = connections[using]
        pk = self.model._meta.pk
        assert pk is not None
        with database.cursor() as cursor:
            cursor.execute(
                _reserve_sql(using), [count, pk.get_db_prep_value(connection.pk, database)]
            )
            return int(cursor.fetchone()[0])


@cache
def _reserve_sql(using: str) -> str:
    table = _sql.table(Connection, using)
    pk, counter = (
        _sql.column(Connection, "id", using),
        _sql.column(Connection, "last_event_number", using),
    )
    return f"UPDATE {table} SET {counter} = {counter} + %s WHERE {pk} = %s RETURNING {counter}"  # noqa: S608


class LinkPolicy(models.TextChoices):
    """What becomes of a new directory user in the host application."""

    VERIFIED_EMAIL = "verified_email", "Claim the existing user on a verified domain, else create"
    ALWAYS_CREATE = "always_create", "Create a new user; never claim an existing one"
    NEVER = "never", "Do not create or link users (directory only)"


class DeprovisionPolicy(models.TextChoices):
    """What deleting a directory user does to its membership of the account."""

    DEACTIVATE = "deactivate", "Deactivate the membership and keep it"
    REMOVE = "remove", "Remove the membership"


class EmailDomainPolicy(models.TextChoices):
    """What happens to a user whose email is outside the account's verified domains."""

    ACCEPT = "accept", "Accept"
    FLAG = "flag", "Accept, and flag it in the request log and user list"
    REJECT = "reject", "Reject it (the identity provider gets an error)"


class Connection(models.Model):
    """One SCIM 2.0 connection: an identity provider provisioning into one account."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    account = models.ForeignKey(
        get_account_model_label(), on_delete=models.CASCADE, related_name="scim_connections"
    )
    name = models.CharField(max_length=200)
    provider = models.CharField(max_length=32, choices=provider_choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_request_at = models.DateTimeField(null=True, blank=True, editable=False)
    link_policy = models.CharField(
        max_length=20, choices=LinkPolicy.choices, default=LinkPolicy.VERIFIED_EMAIL
    )
    deprovision_policy = models.CharField(
        max_length=20, choices=DeprovisionPolicy.choices, default=DeprovisionPolicy.DEACTIVATE
    )
    out_of_domain_policy = models.CharField(
        max_length=10, choices=EmailDomainPolicy.choices, default=EmailDomainPolicy.FLAG
    )
    #: Role (a key the host's memberships hook lists) of users no mapped group gives one.
    default_role = models.CharField(max_length=100, blank=True)
    #: Number of the last provisioning event; events are numbered 1, 2, 3… per connection.
    last_event_number = models.PositiveBigIntegerField(default=0, editable=False)

    objects = ConnectionManager()

    class Meta:
        # Ordering by a foreign key would join the account table into every query.
        ordering = ("created_at",)
        indexes = [models.Index(fields=["account", "created_at"], name="scim_conn_account_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.provider_info.name})"

    @property
    def provider_info(self) -> Provider:
        return get_provider(self.provider)

    def scim_path(self) -> str:
        """Absolute path of the SCIM base URL, without a trailing slash."""
        return reverse("scim_portal:scim-root", kwargs={"connection_id": self.id}).rstrip("/")

    def scim_url(self, base_url: str | None = None) -> str:
        """The SCIM base URL to give the identity provider.

        ``base_url`` is the scheme and host (``request.build_absolute_uri("/")``
        in a view); without it ``SCIM_PORTAL["PUBLIC_URL"]`` is used, and
        without that the URL is relative.
        """
        base = base_url if base_url is not None else (app_settings.PUBLIC_URL or "")
        return base.rstrip("/") + self.scim_path()


class ConnectionTokenQuerySet(models.QuerySet["ConnectionToken"]):
    def usable(self, at: datetime | None = None) -> ConnectionTokenQuerySet:
        """Tokens that are neither revoked nor expired."""
        at = at or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=at)
        )

    def by_value(self, raw: str) -> ConnectionToken | None:
        """The usable token whose value is ``raw``, with its connection, or None.

        Every SCIM request asks this: from the unfiltered manager it is one statement
        written once (:func:`_usable_token`, ~0.4 ms cheaper than the ORM's: docs/
        benchmarks.md); a filtered queryset keeps its filter through the ORM."""
        if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
            return None
        digest = ConnectionToken.digest_of(raw)
        token: ConnectionToken | None
        if self.query.has_filters():
            # By the unique digest; revocation and expiry are checked on the row.
            found = self.select_related("connection").filter(digest=digest).first()
            token = found if found is not None and found.is_usable else None
        else:
            token = _usable_token(digest, self.db)
        # The lookup is by digest; compare again in constant time all the same.
        if token is None or not hmac.compare_digest(token.digest, digest):
            return None
        return token


def _usable_token(digest: str, using: str) -> ConnectionToken | None:
    """The token with this digest, neither revoked nor expired, with its connection:
    one row, the connection's columns then the token's."""
    params = _sql.prepared(ConnectionToken, {"digest": digest, "expires_at": timezone.now()}, using)
    rows = _sql.fetch(_token_sql(using), params, using)
    if not rows:
        return None
    connection = _sql.build(Connection, rows[0], using)
    token = _sql.build(ConnectionToken, rows[0], using, len(Connection._meta.concrete_fields))
    token.connection = connection
    return token


@cache
def _token_sql(using: str) -> str:
    token, connection = _sql.table(ConnectionToken, using), _sql.table(Connection, using)

    def column(name: str) -> str:
        return _sql.column(ConnectionToken, name, using)

    return (
        f"SELECT {_sql.select_list(Connection, 'c', using)}, "  # noqa: S608
        f"{_sql.select_list(ConnectionToken, 't', using)} "
        f"FROM {token} t INNER JOIN {connection} c "
        f"ON c.{_sql.column(Connection, 'id', using)} = t.{column('connection')} "
        f"WHERE t.{column('digest')} = %s AND t.{column('revoked_at')} IS NULL "
        f"AND (t.{column('expires_at')} IS NULL OR t.{column('expires_at')} > %s)"
    )


@dataclass(frozen=True)
class IssuedToken:
    """A newly issued token: the stored row and the raw value, shown only once."""

    token: ConnectionToken
    raw: str


class ConnectionToken(models.Model):
    """A bearer token of a connection. Only its SHA-256 digest is stored.

    A connection may hold several usable tokens at once, so a token can be
    rotated without downtime: issue a new one, reconfigure the IdP, revoke the old.
    """

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="tokens")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=DISPLAY_PREFIX_LENGTH, editable=False)
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ConnectionTokenQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.prefix}…"

    @staticmethod
    def generate() -> str:
        """A new raw token: the recognisable prefix and 256 random bits."""
        return _secrets.generate(TOKEN_PREFIX)

    @staticmethod
    def digest_of(raw: str) -> str:
        return _secrets.digest(raw)

    @classmethod
    def build(cls, connection: Connection, **fields: Any) -> IssuedToken:
        """An unsaved token for ``connection`` and its raw value."""
        raw = cls.generate()
        token = cls(
            connection=connection,
            digest=cls.digest_of(raw),
            prefix=_secrets.display_prefix(raw, TOKEN_PREFIX),
            **fields,
        )
        return IssuedToken(token=token, raw=raw)

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_usable(self) -> bool:
        return not self.is_revoked and not self.is_expired
