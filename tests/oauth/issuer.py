"""A federated issuer for the tests: a key pair made here, its JWKS (and OpenID
configuration) served over real HTTP on 127.0.0.1 by the standard library, and
assertions signed the way Microsoft Entra signs them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: The audience Entra's workload identity federation uses by default.
AUDIENCE = "api://AzureADTokenExchange"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class SigningKey:
    """An RSA key pair and the id it is published under."""

    key_id: str
    private: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwk(self) -> dict[str, Any]:
        document = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**document, "kid": self.key_id, "use": "sig", "alg": "RS256"}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.fetched.append(self.path)
        found = self.server.routes.get(self.path)
        if found is None:
            self.send_response(404)
            self.end_headers()
            return
        status, body = found
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, tuple[int, bytes]] = {}
        self.fetched: list[str] = []


class Issuer:
    """An identity provider's token issuer on ``http://127.0.0.1:<port>/<tenant>/v2.0``,
    publishing ``keys`` at ``/<tenant>/discovery/v2.0/keys`` and naming that URL in its
    OpenID configuration, as Entra does."""

    def __init__(self, *keys: SigningKey) -> None:
        self.keys = list(keys)
        self.server = _Server()
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        self.tenant = str(uuid.uuid4())
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.base}/{self.tenant}/v2.0"
        self.jwks_path = f"/{self.tenant}/discovery/v2.0/keys"
        self.jwks_url = self.base + self.jwks_path
        self.publish()

    def publish(self) -> None:
        """Serve the current keys and the OpenID configuration naming them."""
        self.serve(self.jwks_path, {"keys": [key.jwk() for key in self.keys]})
        self.serve(
            f"/{self.tenant}/v2.0/.well-known/openid-configuration",
            {"issuer": self.url, "jwks_uri": self.jwks_url},
        )

    def serve(self, path: str, document: Any, status: int = 200) -> None:
        body = document if isinstance(document, bytes) else json.dumps(document).encode()
        self.server.routes[path] = (status, body)

    @property
    def fetched(self) -> list[str]:
        return self.server.fetched

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def claims(self, subject: str, **overrides: Any) -> dict[str, Any]:
        """Claims of an Entra-shaped assertion: ``iss`` this issuer, ``sub`` an object id,
        ``aud`` the configured audience, a unique ``jti``, five minutes to live."""
        now = int(time.time())
        claims = {
            "iss": self.url,
            "sub": subject,
            "aud": AUDIENCE,
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def assertion(
        self, subject: str, *, key: SigningKey | None = None, kid: Any = "default", **claims: Any
    ) -> str:
        """A signed assertion (RS256) by ``key`` (the first published one by default)."""
        key = key or self.keys[0]
        headers = {"kid": key.key_id if kid == "default" else kid}
        if headers["kid"] is None:
            headers = {}
        return jwt.encode(
            self.claims(subject, **claims), key.private, algorithm="RS256", headers=headers
        )


def unsigned(claims: dict[str, Any], kid: str | None = None) -> str:
    """A JWT with ``alg: none`` and no signature."""
    header = {"alg": "none", "typ": "JWT", **({"kid": kid} if kid else {})}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."


def hs256(claims: dict[str, Any], secret: bytes, kid: str | None = None) -> str:
    """A JWT "signed" with HMAC-SHA256 keyed by ``secret`` (the algorithm-confusion attack
    keys it with the issuer's public key)."""
    header = {"alg": "HS256", "typ": "JWT", **({"kid": kid} if kid else {})}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


class SilentServer:
    """A TCP port that accepts connections (the kernel's backlog) and never answers."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}/keys"

    def stop(self) -> None:
        self.socket.close()


class DripServer:
    """A server that answers every request one byte at a time, ``interval`` seconds apart,
    for ever (a slow loris: each read gets a byte before any per-read timeout)."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.stopped = threading.Event()
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}/keys"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            threading.Thread(target=self._drip, args=(connection,), daemon=True).start()

    def _drip(self, connection: socket.socket) -> None:
        answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: " + b"a" * 10_000
        try:
            for byte in answer:
                if self.stopped.is_set():
                    break
                connection.sendall(bytes([byte]))
                time.sleep(self.interval)
        except OSError:
            pass
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopped.set()
        self.socket.close()
