"""The OAuth 2.0 authorization server of SCIM connections, on Authlib's Django server.

Authlib reads and answers the protocol (grant types, client authentication, RFC 6749
section 5.2 errors); our clients (``clients.py``) and grants (``grants.py``) map it onto
the credential models, and this module holds the server: what every token request must
be beyond what Authlib checks, and where issued tokens are stored.

- a connection's OAuth client (``Connection.oauth_client_id``) authenticates with any
  of its usable client secrets (``client_secret_basic`` or ``client_secret_post``)
  or with a federated issuer's signed assertion (RFC 7523, ``private_key_jwt``), and
  may use the ``client_credentials`` grant;
- an :class:`~scim_portal.models.OAuthApplication` of the vendor's uses the
  ``authorization_code`` and ``refresh_token`` grants: a tenant admin authorises it
  for one connection on the authorisation page.

Access tokens are opaque, random and stored as digests (docs/scim-authentication.md
argues why not signed JWTs); each hangs from the credential that obtained it, so
revoking the credential ends it at once.
"""

from __future__ import annotations

import contextvars
import logging
from datetime import timedelta
from typing import Any

from authlib.integrations.django_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnsupportedGrantTypeError,
)
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from django.db import transaction
from django.utils import timezone

from .. import _secrets
from ..models import AccessToken
from ..models.credentials import (
    ACCESS_TOKEN_PREFIX,
    DISPLAY_PREFIX_LENGTH,
    REFRESH_TOKEN_LIFETIME,
    REFRESH_TOKEN_PREFIX,
)
from ..scim.authentication import touch
from .clients import (
    ASSERTION_METHOD,
    CLIENT_AUTHENTICATION_FAILED,
    AssertionRefused,
    ConnectionClient,
    authenticate_assertion,
    query_client,
    safe_description,
)
from .grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
    authorization_credential,
)

#: The OAuth request being answered in this thread (what the token view logs).
current_request: contextvars.ContextVar[Any] = contextvars.ContextVar("scim_oauth_request")

#: Longest scope a token request may ask for (what an access token stores).
MAX_SCOPE_LENGTH = AccessToken._meta.get_field("scope").max_length or 200


def authentication_methods_used(request: Any) -> list[str]:
    """The ways of client authentication ``request`` attempts (RFC 6749 section 2.3
    allows one)."""
    form = request.form
    used = []
    if request.headers.get("Authorization"):
        used.append("the Authorization header")
    if "client_secret" in form:
        used.append("client_secret")
    if "client_assertion" in form or "client_assertion_type" in form:
        used.append("client_assertion")
    return used


def check_token_request(request: Any) -> None:
    """What RFC 6749 asks of every token request beyond what Authlib checks: parameters
    in the form body only (a secret in a URL ends up in access logs), each once, a
    ``grant_type``, and one way of client authentication."""
    if request.args:
        raise InvalidRequestError(
            description="Send the token request's parameters in the form body, not the URL."
        )
    form = request.form
    repeated = sorted(name for name in form if len(form.getlist(name)) > 1)
    if repeated:
        raise InvalidRequestError(
            description=safe_description(f"Parameters repeated: {', '.join(repeated)}.")
        )
    # PostgreSQL's text holds no NUL: looked up, one would fail as if the database were down.
    if any("\x00" in name or "\x00" in value for name, value in form.items()):
        raise InvalidRequestError(description="A parameter holds a NUL character.")
    if not form.get("grant_type"):
        raise InvalidRequestError(description="The grant_type parameter is missing.")
    if len(form.get("scope", "")) > MAX_SCOPE_LENGTH:
        raise InvalidScopeError(description=f"A scope is at most {MAX_SCOPE_LENGTH} characters.")
    try:
        basic = extract_basic_authorization(request.headers)
    except ValueError:
        basic = ("\x00", "")
    if any(part and "\x00" in part for part in basic):
        raise InvalidClientError(
            status_code=401, description="The Basic credentials are not UTF-8 text."
        )
    used = authentication_methods_used(request)
    if len(used) > 1:
        raise InvalidRequestError(
            description=f"Use one way of client authentication, not {' and '.join(used)}."
        )


class _RedactIssuedTokens(logging.Filter):
    """Authlib's grants log each token they issue, in full, at DEBUG ("Issue token
    %r to %r"): whoever turns that logger up would collect live tokens. Keep only each
    token's recognisable prefix."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and args and isinstance(args[0], dict):
            token = {
                name: (f"{str(value)[:DISPLAY_PREFIX_LENGTH]}…" if name in _TOKEN_FIELDS else value)
                for name, value in args[0].items()
            }
            record.args = (token, *args[1:])
        return True


_TOKEN_FIELDS = frozenset({"access_token", "refresh_token", "id_token"})
for _grant_logger in ("client_credentials", "authorization_code", "refresh_token"):
    logging.getLogger(f"authlib.oauth2.rfc6749.grants.{_grant_logger}").addFilter(
        _RedactIssuedTokens()
    )


def _generate(prefix: str) -> Any:
    def generate(*args: Any, **kwargs: Any) -> str:
        return _secrets.generate(prefix)

    return generate


class ScimAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    """Authlib's server over our clients and tokens (see the module's docstring)."""

    def __init__(self) -> None:
        super().__init__(client_model=None, token_model=None)
        self.register_grant(ClientCredentialsGrant)
        self.register_grant(AuthorizationCodeGrant, [CodeChallenge(required=False)])
        self.register_grant(RefreshTokenGrant)
        self.register_client_auth_method(ASSERTION_METHOD, authenticate_assertion)

    def load_config(self, config: dict[str, Any]) -> None:
        self.config = config
        self.scopes_supported = None
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=_generate(ACCESS_TOKEN_PREFIX),
                refresh_token_generator=_generate(REFRESH_TOKEN_PREFIX),
            ),
        )

    def query_client(self, client_id: str) -> Any:
        return query_client(client_id)

    def authenticate_client(self, request: Any, methods: list[str], endpoint: str = "token") -> Any:
        """Authlib's client authentication, its refusal told as RFC 6749 section 5.2
        says: ``401`` with a Basic challenge when the client sent an Authorization
        header, ``400`` otherwise; and the same words for every wrong secret."""
        try:
            return super().authenticate_client(request, methods, endpoint)
        except InvalidClientError as error:
            header = bool(request.headers.get("Authorization"))
            description = (
                error.description
                if isinstance(error, AssertionRefused)
                else CLIENT_AUTHENTICATION_FAILED
            )
            raise InvalidClientError(
                status_code=401 if header else 400, description=description
            ) from None

    def get_token_grant(self, request: Any) -> Any:
        try:
            return super().get_token_grant(request)
        except UnsupportedGrantTypeError as error:
            error.description = safe_description(
                f"The grant type {request.payload.grant_type} is not supported here; use "
                "client_credentials (or, for applications, authorization_code)."
            )
            raise

    def create_oauth2_request(self, request: Any) -> Any:
        oauth_request = super().create_oauth2_request(request)
        current_request.set(oauth_request)
        return oauth_request

    def save_token(self, token: dict[str, Any], request: Any) -> AccessToken:
        """Store the digests of the new tokens under the credential that obtained them;
        the answer's ``expires_in`` is the connection's access-token lifetime."""
        client = request.client
        now = timezone.now()
        if isinstance(client, ConnectionClient):
            credential = client.credential
        elif getattr(request, "refresh_token", None) is not None:
            credential = request.refresh_token.token.credential
        else:
            credential = authorization_credential(request)
        assert credential is not None
        touch(credential)  # obtaining a token is a use of the secret or issuer
        lifetime = credential.connection.access_token_lifetime
        token["expires_in"] = lifetime
        access = token["access_token"]
        refresh = token.get("refresh_token")
        return AccessToken.objects.create(
            credential=credential,
            digest=_secrets.digest(access),
            prefix=_secrets.display_prefix(access, ACCESS_TOKEN_PREFIX),
            scope=token.get("scope") or "",
            created_at=now,
            expires_at=now + timedelta(seconds=lifetime),
            refresh_digest=_secrets.digest(refresh) if refresh else None,
            refresh_expires_at=now + REFRESH_TOKEN_LIFETIME if refresh else None,
        )

    def create_token_response(self, request: Any = None) -> Any:
        """Authlib's token response, after :func:`check_token_request`, in one
        transaction."""
        with transaction.atomic():
            oauth_request = self.create_oauth2_request(request)
            try:
                check_token_request(oauth_request)
                grant = self.get_token_grant(oauth_request)
                grant.validate_token_request()
                return self.handle_response(*grant.create_token_response())
            except OAuth2Error as error:
                return self.handle_error_response(oauth_request, error)


server = ScimAuthorizationServer()
