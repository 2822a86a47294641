"""How ``simulate_idp`` authenticates to SCIM, one class per ``--auth`` method.

Each names the credential kind its connection is created with, and gives the
``Authorization`` header of each SCIM request, the way that identity provider does:
a bearer token (Okta's header token, Entra's long-lived token), HTTP Basic, OAuth 2.0
client credentials (Entra), or a signed JWT client assertion (Entra's workload identity
federation, RFC 7523) whose keys a small local server publishes. The OAuth methods get
access tokens from the connection's token endpoint, through the same Django test
client as the SCIM requests, and get a new one when it is about to expire.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client
from django.urls import reverse

from scim_portal.conf import app_settings
from scim_portal.models import Connection, CredentialKind, IssuedCredential

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: An access token is replaced this many seconds before it expires.
EXPIRY_MARGIN = 30


class AuthFailed(Exception):
    """The token endpoint refused; the message says what it answered."""


def basic_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def token_endpoint_path() -> str:
    return reverse("scim_portal:oauth-token")


def token_endpoint_url() -> str:
    """The token endpoint's absolute URL (an assertion's audience)."""
    return (app_settings.PUBLIC_URL or "http://127.0.0.1").rstrip("/") + token_endpoint_path()


class SimulatedAuth:
    """One ``--auth`` method: the kind of credential it needs, the header it sends."""

    name: ClassVar[str]
    kind: ClassVar[str]

    def __init__(self) -> None:
        self.issued: IssuedCredential | None = None
        self.connection: Connection | None = None
        self.client: Client | None = None

    def credential_fields(self) -> dict[str, Any]:
        """What the connection's first credential is issued with, beyond its kind."""
        return {}

    def start(self, connection: Connection, issued: IssuedCredential, client: Client) -> None:
        self.connection, self.issued, self.client = connection, issued, client

    def header(self) -> str:
        """The ``Authorization`` header of the next SCIM request."""
        raise NotImplementedError

    def describe(self) -> str:
        """How it authenticated, in a few words."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop what :meth:`__init__` started (nothing here)."""


class BearerAuth(SimulatedAuth):
    """A bearer token: the default, as identity providers have always done it."""

    name = "bearer"
    kind = CredentialKind.BEARER

    def header(self) -> str:
        assert self.issued is not None
        return f"Bearer {self.issued.raw}"

    def describe(self) -> str:
        assert self.issued is not None
        return f"bearer token {self.issued.credential.prefix}…"


class BasicAuth(SimulatedAuth):
    """HTTP Basic (Okta's and others' option): a generated username and password."""

    name = "basic"
    kind = CredentialKind.BASIC

    def header(self) -> str:
        assert self.issued is not None and self.issued.credential.username
        return basic_header(self.issued.credential.username, self.issued.raw)

    def describe(self) -> str:
        assert self.issued is not None
        return f"HTTP Basic as {self.issued.credential.username}"


class OAuthAuth(SimulatedAuth):
    """An access token from the token endpoint, replaced shortly before it expires."""

    def __init__(self) -> None:
        super().__init__()
        self.access_token = ""
        self.expires_at = 0.0
        self.tokens_obtained = 0

    def token_request(self) -> tuple[dict[str, str], dict[str, str]]:
        """The form and headers of a token request."""
        raise NotImplementedError

    def header(self) -> str:
        if not self.access_token or time.monotonic() >= self.expires_at - EXPIRY_MARGIN:
            self._obtain()
        return f"Bearer {self.access_token}"

    def _obtain(self) -> None:
        assert self.client is not None
        form, headers = self.token_request()
        response = self.client.post(token_endpoint_path(), form, **headers)
        body = response.json()
        if response.status_code != 200:
            raise AuthFailed(
                f"The token endpoint answered {response.status_code}: "
                f"{body.get('error')}: {body.get('error_description')}"
            )
        self.access_token = body["access_token"]
        self.expires_at = time.monotonic() + int(body["expires_in"])
        self.tokens_obtained += 1


class ClientCredentialsAuth(OAuthAuth):
    """Entra ID's OAuth 2.0 client credentials, with ``client_secret_basic``."""

    name = "client-credentials"
    kind = CredentialKind.CLIENT_SECRET

    def token_request(self) -> tuple[dict[str, str], dict[str, str]]:
        assert self.connection is not None and self.issued is not None
        client_id = str(self.connection.oauth_client_id)
        return (
            {"grant_type": "client_credentials", "scope": "scim"},
            {"HTTP_AUTHORIZATION": basic_header(client_id, self.issued.raw)},
        )

    def describe(self) -> str:
        assert self.connection is not None
        return (
            f"OAuth client credentials, client id {self.connection.oauth_client_id} "
            f"({self.tokens_obtained} access token(s) obtained)"
        )


class _KeysHandler(BaseHTTPRequestHandler):
    """Answers ``GET /jwks.json`` with the server's ``jwks`` document."""

    def do_GET(self) -> None:
        if self.path != "/jwks.json":
            self.send_error(404)
            return
        body = json.dumps(self.server.jwks).encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the command prints its own output."""


class JwtAssertionAuth(OAuthAuth):
    """Entra ID's workload identity federation: an RSA key pair made now, its public key
    published at ``http://127.0.0.1:<port>/jwks.json`` by a server in a thread, and RFC
    7523 client assertions signed with it (``iss`` that local issuer, ``aud`` the token
    endpoint, a fresh ``jti`` each time)."""

    name = "jwt"
    kind = CredentialKind.FEDERATED
    subject = "simulate-idp"
    key_id = "simulate-idp-1"

    def __init__(self) -> None:
        super().__init__()
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        public |= {"kid": self.key_id, "use": "sig", "alg": "RS256"}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _KeysHandler)
        self.server.jwks = {"keys": [public]}  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"

    def credential_fields(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "subject": self.subject,
            "audience": token_endpoint_url(),
            "jwks_url": f"{self.issuer}/jwks.json",
        }

    def assertion(self) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": self.subject,
            "aud": token_endpoint_url(),
            "iat": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.key_id})

    def token_request(self) -> tuple[dict[str, str], dict[str, str]]:
        assert self.connection is not None
        form = {
            "grant_type": "client_credentials",
            "client_id": str(self.connection.oauth_client_id),
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.assertion(),
        }
        return form, {}

    def describe(self) -> str:
        return (
            f"JWT client assertions from {self.issuer} "
            f"({self.tokens_obtained} access token(s) obtained)"
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


#: ``simulate_idp --auth`` choices.
METHODS: dict[str, type[SimulatedAuth]] = {
    auth.name: auth for auth in (BearerAuth, BasicAuth, ClientCredentialsAuth, JwtAssertionAuth)
}
