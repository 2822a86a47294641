"""OAuth clients of the token endpoint: a connection's (its client secrets and federated
issuers, for ``client_credentials``) and the vendor's applications (authorization code
and refresh tokens), and RFC 7523 client assertions as a way of client authentication."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InvalidClientError,
)

from ..models import (
    Connection,
    Credential,
    CredentialKind,
    OAuthApplication,
)
from ..models.credentials import (
    CLIENT_SECRET_PREFIX,
)
from .federation import FederationError, issuer_named_by, verify_assertion

#: RFC 7523 client assertions, as RFC 7591 names the method.
ASSERTION_METHOD = "private_key_jwt"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SECRET_METHODS = ("client_secret_basic", "client_secret_post")

#: What a client whose secret, client id or Basic header is wrong is told: nothing that
#: tells an unknown client id from a wrong, expired or revoked secret.
CLIENT_AUTHENTICATION_FAILED = (
    "Client authentication failed: unknown client, or a wrong, expired or revoked secret."
)
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
