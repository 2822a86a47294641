"""Authentication of identity providers, bound to the URL's connection.

One DRF authentication class takes every kind of credential a connection holds
(:class:`~scim_portal.models.CredentialKind`): ``Authorization: Bearer`` with a
bearer token or an access token from the token endpoint, or ``Authorization:
Basic`` with a Basic credential's username and password. Each is one indexed
lookup by the secret's digest. A credential of another connection is refused
like a wrong one; the ``WWW-Authenticate`` of a 401 lists what the URL's
connection accepts.
"""

from __future__ import annotations

import binascii
import hmac
from base64 import b64decode
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import DatabaseError
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from ..conf import app_settings
from ..models import AccessToken, Connection, Credential, CredentialKind
from ..models.credentials import ACCESS_TOKEN_PREFIX

#: The schemes a kind of credential is sent with.
BEARER_KINDS = frozenset(
    {
        CredentialKind.BEARER,
        CredentialKind.CLIENT_SECRET,
        CredentialKind.FEDERATED,
        CredentialKind.AUTHORIZATION,
    }
)


@dataclass
class ScimClient:
    """``request.user`` of a SCIM request: the IdP calling through one connection with
    one credential (and, through the token endpoint, one of its access tokens)."""

    connection: Connection
    credential: Credential
    access_token: AccessToken | None = None

    is_authenticated = True
    is_anonymous = False

    @property
    def display(self) -> str:
        """What the request log shows: the credential's prefix, or the access token's."""
        if self.access_token is not None:
            return self.access_token.prefix
        return self.credential.prefix


def usable_kinds(connection_id: Any) -> set[str]:
    """The kinds of the connection's usable credentials."""
    return set(
        Credential.objects.usable()
        .filter(connection_id=connection_id)
        .values_list("kind", flat=True)
        .distinct()
    )


def accepted_schemes(connection_id: Any) -> list[str]:
    """HTTP schemes the connection's usable credentials are sent with, Bearer first."""
    kinds = usable_kinds(connection_id)
    schemes = []
    if kinds & BEARER_KINDS:
        schemes.append("Bearer")
    if CredentialKind.BASIC in kinds:
        schemes.append("Basic")
    return schemes


class ScimAuthentication(BaseAuthentication):
    """A usable credential of the connection in the URL, in any scheme it is sent with.

    The credential's ``last_used_at`` and the connection's ``last_request_at`` are
    written at most once per ``TOKEN_LAST_USED_RESOLUTION`` seconds, not on every
    request.
    """

    def authenticate(self, request: Any) -> tuple[ScimClient, Credential] | None:
        try:
            parts = get_authorization_header(request).split()
        except UnicodeError:
            raise AuthenticationFailed("The Authorization header is not valid.") from None
        if not parts:
            return None
        scheme = parts[0].lower()
        if scheme not in (b"bearer", b"basic"):
            return None
        if len(parts) != 2:
            raise AuthenticationFailed(
                "Malformed Authorization header; use 'Bearer <token>' or 'Basic <credentials>'."
            )
        try:
            value = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("The credential is not valid.") from None
        client = self._bearer(value) if scheme == b"bearer" else self._basic(value)
        connection_id = str(request.parser_context["kwargs"].get("connection_id", ""))
        if client is None or str(client.connection.pk) != connection_id:
            raise AuthenticationFailed("The credential is not valid for this connection.")
        touch(client.credential)
        return client, client.credential

    @staticmethod
    def _bearer(raw: str) -> ScimClient | None:
        if raw.startswith(ACCESS_TOKEN_PREFIX):
            access = AccessToken.objects.by_value(raw)
            if access is None:
                return None
            credential = access.credential
            return ScimClient(credential.connection, credential, access)
        token = Credential.objects.by_secret(CredentialKind.BEARER, raw)
        return None if token is None else ScimClient(token.connection, token)

    @staticmethod
    def _basic(encoded: str) -> ScimClient | None:
        try:
            decoded = b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthenticationFailed("The Basic credentials are not valid base64.") from None
        username, colon, password = decoded.partition(":")
        if not colon:
            return None
        credential = Credential.objects.by_secret(CredentialKind.BASIC, password)
        if credential is None or not hmac.compare_digest(
            (credential.username or "").encode(), username.encode()
        ):
            return None
        return ScimClient(credential.connection, credential)

    def authenticate_header(self, request: Any) -> str:
        connection_id = request.parser_context["kwargs"].get("connection_id")
        try:
            schemes = accepted_schemes(connection_id) if connection_id else []
        except DatabaseError:
            schemes = []
        return ", ".join(f'{scheme} realm="SCIM"' for scheme in schemes or ["Bearer"])


def touch(credential: Credential) -> None:
    """Note that ``credential`` (and its connection) was just used: ``last_used_at`` and
    the connection's ``last_request_at`` are written at most once per
    ``TOKEN_LAST_USED_RESOLUTION`` seconds, not on every request."""
    now = timezone.now()
    stale = now - timedelta(seconds=app_settings.TOKEN_LAST_USED_RESOLUTION)
    if credential.last_used_at is None or credential.last_used_at < stale:
        credential.last_used_at = now
        Credential.objects.filter(pk=credential.pk).update(last_used_at=now)
    connection = credential.connection
    if connection.last_request_at is None or connection.last_request_at < stale:
        connection.last_request_at = now
        Connection.objects.filter(pk=connection.pk).update(last_request_at=now)
