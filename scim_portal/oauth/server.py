"""The OAuth 2.0 authorization server of SCIM connections, on Authlib's Django server.

Authlib reads and answers the protocol (grant types, client authentication, RFC 6749
section 5.2 errors); this module maps its clients, codes and tokens onto our models:

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
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from authlib.integrations.django_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    TokenMixin,
    UnsupportedGrantTypeError,
    grants,
)
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from django.db import transaction
from django.utils import timezone

from .. import _secrets
from ..models import (
    AccessToken,
    AuthorizationCode,
    Connection,
    Credential,
    CredentialKind,
    OAuthApplication,
)
from ..models.credentials import (
    ACCESS_TOKEN_PREFIX,
    CLIENT_SECRET_PREFIX,
    CODE_LIFETIME,
    CODE_PREFIX,
    DISPLAY_PREFIX_LENGTH,
    MAX_SECRET_LENGTH,
    REFRESH_TOKEN_LIFETIME,
    REFRESH_TOKEN_PREFIX,
)
from ..scim.authentication import touch
from .federation import FederationError, issuer_named_by, verify_assertion

#: RFC 7523 client assertions, as RFC 7591 names the method.
ASSERTION_METHOD = "private_key_jwt"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SECRET_METHODS = ("client_secret_basic", "client_secret_post")

#: The OAuth request being answered in this thread (what the token view logs).
current_request: contextvars.ContextVar[Any] = contextvars.ContextVar("scim_oauth_request")

#: What a client whose secret, client id or Basic header is wrong is told: nothing that
#: tells an unknown client id from a wrong, expired or revoked secret.
CLIENT_AUTHENTICATION_FAILED = (
    "Client authentication failed: unknown client, or a wrong, expired or revoked secret."
)
#: Longest scope a token request may ask for (what an access token stores).
MAX_SCOPE_LENGTH = AccessToken._meta.get_field("scope").max_length or 200
#: Longest ``error_description`` sent.
MAX_DESCRIPTION = 300


def safe_description(text: str) -> str:
    """``text`` within the characters RFC 6749 section 5.2 allows in an
    ``error_description`` (printable ASCII without ``"`` and ``\\``): Authlib refuses
    any other, and an assertion or a parameter name may hold anything."""
    text = text.replace('"', "'").replace("\\", "/")
    return "".join(c if " " <= c <= "~" else "?" for c in text)[:MAX_DESCRIPTION]


class AssertionRefused(InvalidClientError):  # type: ignore[misc]
    """A client assertion refused for a reason worth telling its issuer's admin."""

    def __init__(self, description: str) -> None:
        super().__init__(description=safe_description(description))


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


class ConnectionClient(ClientMixin):  # type: ignore[misc]
    """A connection as an OAuth client: its client secrets and federated issuers.

    ``credential`` is the one that authenticated this request; the tokens issued hang
    from it."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.credential: Credential | None = None

    def get_client_id(self) -> str:
        return str(self.connection.oauth_client_id)

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return scope or ""

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        if not client_secret.startswith(CLIENT_SECRET_PREFIX):
            return False
        credential = Credential.objects.filter(connection=self.connection).by_secret(
            CredentialKind.CLIENT_SECRET, client_secret
        )
        if credential is None:
            return False
        self.credential = credential
        return True

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in (*SECRET_METHODS, ASSERTION_METHOD)

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class ApplicationClient(ClientMixin):  # type: ignore[misc]
    """An OAuth application of the vendor's (authorization code and refresh tokens)."""

    def __init__(self, application: OAuthApplication) -> None:
        self.application = application

    def get_client_id(self) -> str:
        return self.application.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = self.application.redirect_uri_list
        return uris[0] if uris else None

    def get_allowed_scope(self, scope: str) -> str:
        return scope or ""

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.application.redirect_uri_list

    def check_client_secret(self, client_secret: str) -> bool:
        return self.application.check_secret(client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in SECRET_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


def query_client(client_id: str) -> ConnectionClient | ApplicationClient | None:
    """The client ``client_id`` names: a connection's, or an unrevoked application."""
    if not client_id or len(client_id) > 40:
        return None
    connection = Connection.objects.filter(oauth_client_id=client_id).first()
    if connection is not None:
        return ConnectionClient(connection)
    application = OAuthApplication.objects.filter(
        client_id=client_id, revoked_at__isnull=True
    ).first()
    return ApplicationClient(application) if application is not None else None


def authenticate_assertion(query: Any, request: Any) -> ConnectionClient | None:
    """RFC 7523 client authentication: the federated issuer the assertion's ``iss`` and
    ``sub`` (and ``client_id``, when sent) name, its signature and claims checked."""
    form = request.form
    assertion = form.get("client_assertion")
    if not assertion:
        return None
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        raise AssertionRefused(f"The client_assertion_type must be {ASSERTION_TYPE}.")
    try:
        credential = issuer_named_by(assertion, form.get("client_id"))
        request.federated_issuer = credential  # the request log's, even if refused
        verify_assertion(credential, assertion)
    except FederationError as exc:
        raise AssertionRefused(str(exc)) from None
    client = ConnectionClient(credential.connection)
    client.credential = credential
    return client


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


class ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = [*SECRET_METHODS, ASSERTION_METHOD]


@dataclass(frozen=True)
class Consent:
    """Who authorised which connection on the authorisation page (Authlib's
    ``grant_user``)."""

    user: Any
    connection: Connection


#: Column lengths of :class:`AuthorizationCode` (longer values are refused, not cut).
_MAX_REDIRECT_URI_LENGTH = 500
_MAX_SCOPE_LENGTH = 200


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    """Okta's flow: a person authorises an application for one connection on the
    authorisation page; the application exchanges the code, once, within
    ``CODE_LIFETIME`` seconds, with its own secret and the same ``redirect_uri``.

    Stricter than RFC 6749 allows, never looser: a client that registered several
    redirect URIs must name one; PKCE, when used, is ``S256``; the person must still
    be active and hold the create permission on the connection's account when the
    code is exchanged.
    """

    TOKEN_ENDPOINT_AUTH_METHODS = list(SECRET_METHODS)

    @staticmethod
    def validate_authorization_redirect_uri(request: Any, client: Any) -> str:
        several = (
            isinstance(client, ApplicationClient) and len(client.application.redirect_uri_list) > 1
        )
        if several and not request.payload.redirect_uri:
            raise InvalidRequestError(
                "Missing 'redirect_uri': this application registered several."
            )
        redirect_uri: str = grants.AuthorizationCodeGrant.validate_authorization_redirect_uri(
            request, client
        )
        if len(redirect_uri) > _MAX_REDIRECT_URI_LENGTH:
            raise InvalidRequestError("The 'redirect_uri' is too long.")
        return redirect_uri

    def validate_authorization_request(self) -> str:
        redirect_uri: str = super().validate_authorization_request()
        payload = self.request.payload
        if payload.data.get("code_challenge") and (
            payload.data.get("code_challenge_method") != "S256"
        ):
            raise InvalidRequestError(
                "Only 'code_challenge_method=S256' is supported.",
                state=payload.state,
                redirect_uri=redirect_uri,
            )
        scope = self.request.scope or ""
        # PostgreSQL's text holds no NUL: the code's row could not be stored.
        if len(scope) > _MAX_SCOPE_LENGTH or "\x00" in scope:
            raise InvalidScopeError(
                "The scope is too long or holds a NUL character.",
                state=payload.state,
                redirect_uri=redirect_uri,
            )
        return redirect_uri

    def generate_authorization_code(self) -> str:
        return _secrets.generate(CODE_PREFIX)

    def save_authorization_code(self, code: str, request: Any) -> None:
        consent: Consent = request.user
        challenge = request.payload.data
        AuthorizationCode.objects.create(
            digest=_secrets.digest(code),
            application=request.client.application,
            connection=consent.connection,
            user=consent.user,
            redirect_uri=request.payload.redirect_uri or "",
            scope=request.scope or "",
            code_challenge=challenge.get("code_challenge") or "",
            code_challenge_method=challenge.get("code_challenge_method") or "",
            expires_at=timezone.now() + timedelta(seconds=CODE_LIFETIME),
        )

    def query_authorization_code(self, code: str, client: Any) -> _CodeView | None:
        """The unused, unexpired code of this client, locked until the exchange ends.

        A code presented again by its client revokes the authorisation its first
        exchange created, with every token it obtained (RFC 6749 section 4.1.2); the
        second exchange fails like any unknown code. Another client's attempt changes
        nothing and is not logged on the connection."""
        if not isinstance(client, ApplicationClient):
            return None
        if not code.startswith(CODE_PREFIX) or len(code) > MAX_SECRET_LENGTH:
            return None
        row = (
            AuthorizationCode.objects.select_for_update()
            .select_related("connection__account", "user")
            .filter(digest=_secrets.digest(code), application=client.application)
            .first()
        )
        if row is None:
            return None
        # Known from here on: a failure too goes into the connection's request log.
        self.request.client, self.request.authorization_code = client, _CodeView(row)
        if row.used_at is not None:
            if row.credential_id is not None:
                from ..provisioning.credentials import revoke_credential

                revoke_credential(Credential.objects.get(pk=row.credential_id))
            return None
        if row.expires_at <= timezone.now():
            return None
        return _CodeView(row)

    def delete_authorization_code(self, authorization_code: _CodeView) -> None:
        row = authorization_code.row
        row.used_at = timezone.now()
        row.save(update_fields=["used_at", "credential"])

    def authenticate_user(self, authorization_code: _CodeView) -> Any:
        """The person who consented, if they still may create provisioning there."""
        from ..permissions import CREATE, has_account_perm

        row = authorization_code.row
        if not row.user.is_active or not has_account_perm(row.user, CREATE, row.connection.account):
            raise InvalidGrantError(
                "The person who authorised may no longer change this connection."
            )
        return row.user


@dataclass
class _CodeView:
    """An :class:`AuthorizationCode` row as Authlib reads a code."""

    row: AuthorizationCode

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope

    def get_nonce(self) -> None:
        return None

    def get_auth_time(self) -> None:
        return None

    @property
    def code_challenge(self) -> str:
        return self.row.code_challenge

    @property
    def code_challenge_method(self) -> str:
        return self.row.code_challenge_method


class _RefreshView(TokenMixin):  # type: ignore[misc]
    """An :class:`AccessToken` row as Authlib reads its refresh token."""

    def __init__(self, token: AccessToken) -> None:
        self.token = token

    def check_client(self, client: Any) -> bool:
        return (
            isinstance(client, ApplicationClient)
            and self.token.credential.application_id == client.application.pk
        )

    def get_scope(self) -> str:
        return self.token.scope

    def get_expires_in(self) -> int:
        expires_at = self.token.refresh_expires_at
        if expires_at is None:
            return 0
        return max(0, int((expires_at - timezone.now()).total_seconds()))

    def is_expired(self) -> bool:
        return self.get_expires_in() == 0

    def is_revoked(self) -> bool:
        return self.token.revoked_at is not None or not self.token.credential.is_usable


class RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    """Refresh tokens of authorisations (Okta's flow), rotated on every use: the
    answer carries a new refresh token and the old one stops working at once. The
    access token issued with the old one lives on until its own expiry, so requests
    the client still has in flight are not cut; revoking the authorisation ends it
    at once."""

    TOKEN_ENDPOINT_AUTH_METHODS = list(SECRET_METHODS)
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> _RefreshView | None:
        if not refresh_token.startswith(REFRESH_TOKEN_PREFIX):
            return None
        if len(refresh_token) > MAX_SECRET_LENGTH:
            return None
        token = (
            AccessToken.objects.select_for_update()
            .select_related("credential__connection")
            .filter(
                refresh_digest=_secrets.digest(refresh_token),
                credential__kind=CredentialKind.AUTHORIZATION,
                revoked_at__isnull=True,
                refresh_expires_at__gt=timezone.now(),
            )
            .first()
        )
        if token is None:
            return None
        view = _RefreshView(token)
        return None if view.is_revoked() else view

    def authenticate_user(self, refresh_token: _RefreshView) -> Any:
        return refresh_token.token.credential

    def revoke_old_credential(self, refresh_token: _RefreshView) -> None:
        AccessToken.objects.filter(pk=refresh_token.token.pk).update(
            refresh_digest=None, refresh_expires_at=None
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
            credential = _authorization_credential(request)
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


def _authorization_credential(request: Any) -> Credential:
    """The ``authorization`` credential a code's first exchange creates on its connection."""
    from ..provisioning.credentials import record_authorization

    row = request.authorization_code.row
    credential = record_authorization(row.connection, row.application, row.user)
    row.credential = credential
    return credential


server = ScimAuthorizationServer()
