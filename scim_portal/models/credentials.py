"""How identity providers authenticate to a connection: its credentials, and the OAuth
access tokens, authorisation codes and applications of the token endpoint.

Every secret is random (256 bits), shown once and stored only as its SHA-256 digest:
a high-entropy secret needs no slow hash, so checking one is one indexed lookup on
the hot path (docs/scim-authentication.md says why). Each kind of secret starts with
its own recognisable prefix, so a value of one kind never opens another.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import _secrets
from . import _sql
from .connections import Connection


class CredentialKind(models.TextChoices):
    """What a credential is; each kind has its own fields and secret."""

    BEARER = "bearer", _("Bearer token")
    BASIC = "basic", _("HTTP Basic")
    CLIENT_SECRET = "client_secret", _("OAuth client secret")
    FEDERATED = "federated", _("Federated JWT issuer")
    AUTHORIZATION = "authorization", _("OAuth authorisation")


#: The recognisable start of each kind of secret (secret scanners and people know them).
TOKEN_PREFIX = "scimp_"  # noqa: S105  (a public prefix, not a secret)
PASSWORD_PREFIX = "scimpw_"  # noqa: S105
CLIENT_SECRET_PREFIX = "scimcs_"  # noqa: S105
ACCESS_TOKEN_PREFIX = "scimat_"  # noqa: S105
REFRESH_TOKEN_PREFIX = "scimrt_"  # noqa: S105
CODE_PREFIX = "scimac_"
CLIENT_ID_PREFIX = "scimc_"
APPLICATION_ID_PREFIX = "scima_"
USERNAME_PREFIX = "scimu_"
APPLICATION_SECRET_PREFIX = "scimas_"  # noqa: S105
#: The prefix of each kind whose secret is a value the caller presents.
SECRET_PREFIXES = {
    CredentialKind.BEARER: TOKEN_PREFIX,
    CredentialKind.BASIC: PASSWORD_PREFIX,
    CredentialKind.CLIENT_SECRET: CLIENT_SECRET_PREFIX,
}
#: Characters of a secret kept in clear to tell secrets apart in lists and logs.
DISPLAY_PREFIX_LENGTH = len(CLIENT_SECRET_PREFIX) + _secrets.DISPLAY_CHARACTERS
#: Longest secret looked up; anything longer is refused before hashing.
MAX_SECRET_LENGTH = 200
#: A refresh token (authorization code flow) lives this long and is replaced on each use.
REFRESH_TOKEN_LIFETIME = timedelta(days=90)
#: An authorisation code must be exchanged within this many seconds, once.
CODE_LIFETIME = 120


def _random_identifier(prefix: str, length: int = 16) -> str:
    """A public identifier: ``prefix`` and ``length`` lowercase letters and digits."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def new_client_id() -> str:
    return _random_identifier(CLIENT_ID_PREFIX, 20)


def new_application_client_id() -> str:
    return _random_identifier(APPLICATION_ID_PREFIX, 20)


class CredentialQuerySet(models.QuerySet["Credential"]):
    def usable(self, at: datetime | None = None) -> CredentialQuerySet:
        """Credentials that are neither revoked nor expired."""
        at = at or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=at)
        )

    def by_secret(self, kind: str, raw: str) -> Credential | None:
        """The usable credential of ``kind`` whose secret is ``raw``, with its connection.

        Every SCIM request with a bearer token or Basic asks this: from the unfiltered
        manager it is one statement written once (:func:`_usable_credential`, ~0.4 ms
        cheaper than the ORM's: docs/benchmarks.md); a filtered queryset keeps its
        filter through the ORM."""
        prefix = SECRET_PREFIXES.get(kind)  # type: ignore[call-overload]
        if not raw or prefix is None or not raw.startswith(prefix) or len(raw) > MAX_SECRET_LENGTH:
            return None
        digest = _secrets.digest(raw)
        credential: Credential | None
        if self.query.has_filters():
            found = self.select_related("connection").filter(digest=digest, kind=kind).first()
            credential = found if found is not None and found.is_usable else None
        else:
            credential = _usable_credential(digest, kind, self.db)
        # The lookup is by digest; compare again in constant time all the same.
        if credential is None or not hmac.compare_digest(credential.digest or "", digest):
            return None
        return credential

    def by_value(self, raw: str) -> Credential | None:
        """The usable bearer token whose value is ``raw``, or None."""
        return self.by_secret(CredentialKind.BEARER, raw)


def _usable_credential(digest: str, kind: str, using: str) -> Credential | None:
    """The credential of this digest and kind, neither revoked nor expired, with its
    connection: one row, the connection's columns then the credential's."""
    params = _sql.prepared(
        Credential, {"digest": digest, "kind": kind, "expires_at": timezone.now()}, using
    )
    rows = _sql.fetch(_credential_sql(using), params, using)
    if not rows:
        return None
    connection = _sql.build(Connection, rows[0], using)
    credential = _sql.build(Credential, rows[0], using, len(Connection._meta.concrete_fields))
    credential.connection = connection
    return credential


@cache
def _credential_sql(using: str) -> str:
    credential, connection = _sql.table(Credential, using), _sql.table(Connection, using)

    def column(name: str) -> str:
        return _sql.column(Credential, name, using)

    return (
        f"SELECT {_sql.select_list(Connection, 'c', using)}, "  # noqa: S608
        f"{_sql.select_list(Credential, 't', using)} "
        f"FROM {credential} t INNER JOIN {connection} c "
        f"ON c.{_sql.column(Connection, 'id', using)} = t.{column('connection')} "
        f"WHERE t.{column('digest')} = %s AND t.{column('kind')} = %s "
        f"AND t.{column('revoked_at')} IS NULL "
        f"AND (t.{column('expires_at')} IS NULL OR t.{column('expires_at')} > %s)"
    )


@dataclass(frozen=True)
class IssuedCredential:
    """A newly issued credential: the stored row and its secret, shown only once.

    ``raw`` is the bearer token, Basic password or client secret ("" for kinds
    without a secret); ``username`` and ``client_id`` are public and stay visible.
    """

    credential: Credential
    raw: str = ""

    @property
    def token(self) -> Credential:
        """The credential (the name the bearer-token API has always used)."""
        return self.credential


class Credential(models.Model):
    """One way an identity provider may authenticate to a connection.

    A connection may hold several usable credentials of any kinds at once, so each
    can be rotated without downtime: issue a new one, reconfigure the IdP, revoke the
    old. Revoking one (or deleting the connection) ends every access token it obtained.

    - ``bearer``: a token sent as ``Authorization: Bearer``.
    - ``basic``: ``username`` and a generated password, sent as HTTP Basic.
    - ``client_secret``: a secret of the connection's OAuth client (``Connection.
      oauth_client_id``), exchanged at the token endpoint for access tokens.
    - ``federated``: an issuer whose signed JWTs (RFC 7523 client assertions) with
      this ``subject`` and ``audience`` are exchanged for access tokens; its keys
      come from ``jwks_url``, or else from the issuer's OpenID configuration.
    - ``authorization``: a person's consent to an OAuth application (Okta's
      authorization code flow); its refresh and access tokens hang from it.
    """

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="credentials")
    kind = models.CharField(
        max_length=20, choices=CredentialKind.choices, default=CredentialKind.BEARER
    )
    #: SHA-256 of the secret (bearer token, Basic password, client secret); null for
    #: kinds without one.
    digest = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    #: What tells it apart in lists and logs: the secret's first characters, the Basic
    #: username, the issuer's subject or the application's name.
    prefix = models.CharField(max_length=100, blank=True, editable=False)
    label = models.CharField(max_length=100, blank=True)
    #: HTTP Basic: the generated username (public).
    username = models.CharField(max_length=40, unique=True, null=True, blank=True, editable=False)
    #: Federated issuer: the ``iss``, ``sub`` and ``aud`` its assertions must carry, and
    #: where its signing keys are published.
    issuer = models.URLField(max_length=500, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    audience = models.CharField(max_length=500, blank=True)
    jwks_url = models.URLField(max_length=500, blank=True)
    #: Authorisation: the OAuth application the person authorised.
    application = models.ForeignKey(
        "OAuthApplication",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="authorizations",
    )
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

    objects = CredentialQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)
        indexes = [
            models.Index(fields=["connection", "kind"], name="scim_credential_kind_idx"),
            models.Index(fields=["issuer", "subject"], name="scim_credential_issuer_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                name="scim_credential_secret_kinds",
                condition=(
                    Q(kind__in=list(SECRET_PREFIXES), digest__isnull=False)
                    | (~Q(kind__in=list(SECRET_PREFIXES)) & Q(digest__isnull=True))
                ),
            ),
            models.CheckConstraint(
                name="scim_credential_basic_username",
                condition=Q(kind=CredentialKind.BASIC, username__isnull=False)
                | (~Q(kind=CredentialKind.BASIC) & Q(username__isnull=True)),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.display}"

    @property
    def display(self) -> str:
        """The credential in a few characters: ``scimp_1a2b3c4d…``, a username, a subject."""
        if self.kind in SECRET_PREFIXES and self.kind != CredentialKind.BASIC:
            return f"{self.prefix}…"
        return self.prefix

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_usable(self) -> bool:
        return not self.is_revoked and not self.is_expired

    @property
    def state(self) -> str:
        """``"revoked"``, ``"expired"`` or ``"active"``."""
        if self.is_revoked:
            return "revoked"
        return "expired" if self.is_expired else "active"

    @staticmethod
    def digest_of(raw: str) -> str:
        """What is stored of the secret ``raw``."""
        return _secrets.digest(raw)

    @classmethod
    def build(
        cls, connection: Connection, kind: str = CredentialKind.BEARER, **fields: Any
    ) -> IssuedCredential:
        """An unsaved credential of ``kind`` for ``connection``, and its secret."""
        prefix = SECRET_PREFIXES.get(kind)  # type: ignore[call-overload]
        if prefix is None:
            display = fields.pop("prefix", "")
            prefix_field = display[:100]
            return IssuedCredential(
                cls(connection=connection, kind=kind, prefix=prefix_field, **fields)
            )
        raw = _secrets.generate(prefix)
        credential = cls(
            connection=connection,
            kind=kind,
            digest=_secrets.digest(raw),
            prefix=_secrets.display_prefix(raw, prefix),
            **fields,
        )
        if kind == CredentialKind.BASIC:
            credential.username = _random_identifier(USERNAME_PREFIX, 16)
            credential.prefix = credential.username
        return IssuedCredential(credential, raw)


class OAuthApplication(models.Model):
    """An OAuth client of the vendor's, registered by staff in Django admin: e.g. the
    app the vendor lists in Okta's integration network. A tenant admin authorises it
    for one connection (authorization code flow); its secret is shown once."""

    name = models.CharField(max_length=100)
    client_id = models.CharField(
        max_length=40, unique=True, default=new_application_client_id, editable=False
    )
    secret_digest = models.CharField(max_length=64, editable=False)
    secret_prefix = models.CharField(max_length=DISPLAY_PREFIX_LENGTH, editable=False)
    #: Where the authorisation page may send the code back, one URL per line.
    redirect_uris = models.TextField(
        help_text=_(
            "One URL per line, e.g. https://system-admin.okta.com/admin/app/cpc/"
            "yourapp/oauth/callback"
        )
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ("name",)
        verbose_name = _("OAuth application")

    def __str__(self) -> str:
        return self.name

    def set_secret(self) -> str:
        """Give the application a new secret; returns it (the only time it is available)."""
        raw = _secrets.generate(APPLICATION_SECRET_PREFIX)
        self.secret_digest = _secrets.digest(raw)
        self.secret_prefix = _secrets.display_prefix(raw, APPLICATION_SECRET_PREFIX)
        return raw

    def check_secret(self, raw: str) -> bool:
        if not raw or len(raw) > MAX_SECRET_LENGTH or self.revoked_at is not None:
            return False
        return hmac.compare_digest(self.secret_digest, _secrets.digest(raw))

    @property
    def redirect_uri_list(self) -> list[str]:
        return [line.strip() for line in self.redirect_uris.splitlines() if line.strip()]


class AuthorizationCode(models.Model):
    """A code the authorisation page gave, until it is exchanged (once) or expires."""

    digest = models.CharField(max_length=64, unique=True)
    application = models.ForeignKey(OAuthApplication, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    redirect_uri = models.URLField(max_length=500, blank=True)
    scope = models.CharField(max_length=200, blank=True)
    code_challenge = models.CharField(max_length=128, blank=True)
    code_challenge_method = models.CharField(max_length=10, blank=True)
    expires_at = models.DateTimeField()
    #: When it was exchanged, and the authorisation that exchange created: a code
    #: presented again revokes it (RFC 6749 section 4.1.2).
    used_at = models.DateTimeField(null=True, blank=True)
    credential = models.ForeignKey(
        Credential, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("OAuth authorisation code")

    def __str__(self) -> str:
        return f"code for {self.connection_id}"


class AccessTokenQuerySet(models.QuerySet["AccessToken"]):
    def by_value(self, raw: str) -> AccessToken | None:
        """The live access token whose value is ``raw`` (its credential usable too), with
        its credential and connection: one statement (:func:`_live_access_token`)."""
        if not raw.startswith(ACCESS_TOKEN_PREFIX) or len(raw) > MAX_SECRET_LENGTH:
            return None
        digest = _secrets.digest(raw)
        token: AccessToken | None
        if self.query.has_filters():
            # A filtered queryset keeps its filter, through the ORM.
            now = timezone.now()
            token = (
                self.select_related("credential__connection")
                .filter(digest=digest, revoked_at__isnull=True, expires_at__gt=now)
                .filter(credential__revoked_at__isnull=True)
                .filter(Q(credential__expires_at__isnull=True) | Q(credential__expires_at__gt=now))
                .first()
            )
        else:
            token = _live_access_token(digest, self.db)
        if token is None or not hmac.compare_digest(token.digest, digest):
            return None
        return token


def _live_access_token(digest: str, using: str) -> AccessToken | None:
    now = timezone.now()
    params = [
        *_sql.prepared(AccessToken, {"digest": digest, "expires_at": now}, using),
        *_sql.prepared(Credential, {"expires_at": now}, using),
    ]
    rows = _sql.fetch(_access_token_sql(using), params, using)
    if not rows:
        return None
    row = rows[0]
    connection = _sql.build(Connection, row, using)
    start = len(Connection._meta.concrete_fields)
    credential = _sql.build(Credential, row, using, start)
    token = _sql.build(AccessToken, row, using, start + len(Credential._meta.concrete_fields))
    credential.connection = connection
    token.credential = credential
    return token


@cache
def _access_token_sql(using: str) -> str:
    def column(model: type[models.Model], name: str) -> str:
        return _sql.column(model, name, using)

    return (
        f"SELECT {_sql.select_list(Connection, 'c', using)}, "  # noqa: S608
        f"{_sql.select_list(Credential, 'k', using)}, "
        f"{_sql.select_list(AccessToken, 'a', using)} "
        f"FROM {_sql.table(AccessToken, using)} a "
        f"INNER JOIN {_sql.table(Credential, using)} k "
        f"ON k.{column(Credential, 'id')} = a.{column(AccessToken, 'credential')} "
        f"INNER JOIN {_sql.table(Connection, using)} c "
        f"ON c.{column(Connection, 'id')} = k.{column(Credential, 'connection')} "
        f"WHERE a.{column(AccessToken, 'digest')} = %s "
        f"AND a.{column(AccessToken, 'revoked_at')} IS NULL "
        f"AND a.{column(AccessToken, 'expires_at')} > %s "
        f"AND k.{column(Credential, 'revoked_at')} IS NULL "
        f"AND (k.{column(Credential, 'expires_at')} IS NULL "
        f"OR k.{column(Credential, 'expires_at')} > %s)"
    )


class AccessToken(models.Model):
    """An access token the token endpoint issued (and, in the authorization code flow,
    its refresh token). Opaque and stored as digests: checking one costs what checking
    a bearer token does, and revoking its credential ends it at once."""

    credential = models.ForeignKey(
        Credential, on_delete=models.CASCADE, related_name="access_tokens"
    )
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=DISPLAY_PREFIX_LENGTH)
    scope = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    refresh_digest = models.CharField(max_length=64, unique=True, null=True, blank=True)
    refresh_expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = AccessTokenQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["expires_at"], name="scim_access_token_expiry_idx")]

    def __str__(self) -> str:
        return f"{self.prefix}…"

    @property
    def connection_id(self) -> Any:
        return self.credential.connection_id
