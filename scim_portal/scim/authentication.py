"""Bearer-token authentication of identity providers, bound to the URL's connection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from ..conf import app_settings
from ..models import Connection, ConnectionToken


@dataclass
class ScimClient:
    """``request.user`` of a SCIM request: the IdP calling through one connection."""

    connection: Connection
    token: ConnectionToken

    is_authenticated = True
    is_anonymous = False


class BearerTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <token>`` of a usable token of the connection in the URL.

    A valid token of another connection is rejected like a wrong one. The token's
    ``last_used_at`` and the connection's ``last_request_at`` are written at most
    once per ``TOKEN_LAST_USED_RESOLUTION`` seconds, not on every request.
    """

    keyword = b"bearer"

    def authenticate(self, request: Any) -> tuple[ScimClient, ConnectionToken] | None:
        try:
            parts = get_authorization_header(request).split()
        except UnicodeError:
            raise AuthenticationFailed("The Authorization header is not valid.") from None
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Malformed Authorization header; use 'Bearer <token>'.")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("The bearer token is not valid.") from None
        token = ConnectionToken.objects.by_value(raw)
        connection_id = str(request.parser_context["kwargs"].get("connection_id", ""))
        if token is None or str(token.connection_id) != connection_id:
            raise AuthenticationFailed("The bearer token is not valid for this connection.")
        self._touch(token)
        return ScimClient(connection=token.connection, token=token), token

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="SCIM"'

    @staticmethod
    def _touch(token: ConnectionToken) -> None:
        now = timezone.now()
        stale = now - timedelta(seconds=app_settings.TOKEN_LAST_USED_RESOLUTION)
        if token.last_used_at is None or token.last_used_at < stale:
            token.last_used_at = now
            ConnectionToken.objects.filter(pk=token.pk).update(last_used_at=now)
        connection = token.connection
        if connection.last_request_at is None or connection.last_request_at < stale:
            connection.last_request_at = now
            Connection.objects.filter(pk=connection.pk).update(last_request_at=now)
