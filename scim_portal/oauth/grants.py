"""The grants of the token endpoint on Authlib's classes: client credentials, and the
authorization code and refresh token grants of the vendor's applications (codes single
use, refresh tokens rotating, each tied to its application and connection)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    TokenMixin,
    grants,
)
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
    CODE_LIFETIME,
    CODE_PREFIX,
    MAX_SECRET_LENGTH,
    REFRESH_TOKEN_PREFIX,
)
from .clients import (
    ASSERTION_METHOD,
    CLIENT_AUTHENTICATION_FAILED,
    SECRET_METHODS,
    ApplicationClient,
    safe_description,
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
        # The application is locked, as revoke_application locks it, and read again: an
        # exchange ends before a revocation reads the authorisations to revoke, or it
        # sees the application revoked (its client was read before).
        live = (
            OAuthApplication.objects.select_for_update()
            .filter(pk=client.application.pk, revoked_at__isnull=True)
            .values_list("pk", flat=True)
            .first()
        )
        if live is None:
            header = bool(self.request.headers.get("Authorization"))
            raise InvalidClientError(
                status_code=401 if header else 400, description=CLIENT_AUTHENTICATION_FAILED
            )
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
        live = AccessToken.objects.filter(
            refresh_digest=_secrets.digest(refresh_token),
            credential__kind=CredentialKind.AUTHORIZATION,
            revoked_at__isnull=True,
            refresh_expires_at__gt=timezone.now(),
        )
        credential_id = live.values_list("credential_id", flat=True).first()
        if credential_id is None:
            return None
        # Locked as revoke_credential locks, the credential before its tokens: the other
        # order deadlocks with a revocation on PostgreSQL. Then the token, read again.
        list(Credential.objects.select_for_update(of=("self",)).filter(pk=credential_id))
        token = (
            live.select_for_update(of=("self",)).select_related("credential__connection").first()
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


def authorization_credential(request: Any) -> Credential:
    """The ``authorization`` credential a code's first exchange creates on its connection."""
    from ..provisioning.credentials import record_authorization

    row = request.authorization_code.row
    try:
        credential = record_authorization(row.connection, row.application, row.user)
    except ValueError as exc:  # the connection is being deleted
        raise InvalidGrantError(safe_description(str(exc))) from None
    row.credential = credential
    return credential
