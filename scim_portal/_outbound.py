"""Outbound HTTP to addresses users typed: a federated issuer's keys, a webhook endpoint.

One guard for both (server-side request forgery): the host name is resolved when the
request is made, every address it resolves to must be public (unless private networks
are allowed), and the connection goes to the address that was checked, never to a
second lookup (DNS rebinding). No redirects are followed. One deadline bounds the whole
exchange, not each read, so that a server trickling a byte now and then cannot hold a
worker for longer than the timeout.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


class OutboundError(Exception):
    """Why a request was not made or got no answer, in words safe to show an operator."""


class RefusedAddress(OutboundError):
    """The URL's host resolves to an address requests may not go to."""


#: IPv6 prefixes whose last 32 bits are an IPv4 address a gateway reaches: NAT64's
#: well-known prefix (RFC 6052) and the deprecated IPv4-compatible addresses.
_IPV4_IN_LAST_32_BITS = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("::/96"),
)


def is_public(address: str) -> bool:
    """Whether ``address`` is a public one, the IPv4 address an IPv6 one carries too
    (IPv4-mapped, NAT64, 6to4, IPv4-compatible): Python's ``is_global`` calls
    ``64:ff9b::a9fe:a9fe`` public, yet a NAT64 gateway takes it to 169.254.169.254."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        carried = ip.ipv4_mapped or ip.sixtofour
        if carried is None and any(ip in network for network in _IPV4_IN_LAST_32_BITS):
            carried = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if carried is not None and not carried.is_global:
            return False
    return ip.is_global


def address_of(host: str, port: int, *, allow_private: bool) -> str:
    """The address to connect to: the first the name resolves to, each one checked."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:  # UnicodeError: a name IDNA cannot encode
        raise OutboundError(f"Cannot resolve {host}: {exc}.") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise OutboundError(f"Cannot resolve {host}.")
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise RefusedAddress(f"{host} resolves to a private address; not fetched.")
    return addresses[0]


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to an address chosen beforehand, verifying the host name."""

    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        # Kept before the handshake too, so that the deadline can cut a slow one short.
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)  # type: ignore[attr-defined]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _Deadline:
    """Cuts a connection ``seconds`` from now, from a timer thread, unless cancelled."""

    def __init__(self, connection: http.client.HTTPConnection, seconds: float) -> None:
        self.connection = connection
        self.passed = threading.Event()
        self.timer = threading.Timer(seconds, self._cut)
        self.timer.daemon = True
        self.timer.start()

    def _cut(self) -> None:
        self.passed.set()
        sock = self.connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self.timer.cancel()


@dataclass
class Response:
    status: int
    body: bytes
    #: Seconds from the first byte sent to the last read.
    elapsed: float
    headers: dict[str, str] = field(default_factory=dict)


def check_url(url: str, *, allow_http: bool) -> tuple[str, int]:
    """The host and port of ``url``, or :class:`OutboundError` if it is not an https URL
    (http too with ``allow_http``)."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # a port past 65535
        port = 0
    if parts.scheme not in ("https", "http") or not parts.hostname or not port:
        raise OutboundError(f"{url} is not an http(s) URL.")
    if parts.scheme == "http" and not allow_http:
        raise OutboundError(f"{url} is not an https URL.")
    return parts.hostname, port


def request(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float,
    max_bytes: int,
    allow_http: bool,
    allow_private: bool,
) -> Response:
    """Send one request to ``url`` and read at most ``max_bytes + 1`` bytes of the answer.

    Raises :class:`OutboundError` when the URL is refused, the host cannot be resolved
    or reached, or no answer came within ``timeout`` seconds."""
    host, port = check_url(url, allow_http=allow_http)
    parts = urlsplit(url)
    address = address_of(host, port, allow_private=allow_private)
    connection_class = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(host, address, port, timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    started = time.monotonic()
    deadline = _Deadline(connection, timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        content = answer.read(max_bytes + 1)
        answer_headers = {key.lower(): value for key, value in answer.getheaders()}
    except (OSError, http.client.HTTPException) as exc:
        if not deadline.passed.is_set():
            raise OutboundError(f"Cannot reach {url}: {exc}.") from None
    finally:
        deadline.cancel()
        connection.close()
    if deadline.passed.is_set():  # the body may be cut short without an error
        raise OutboundError(f"{url} did not answer within {timeout:g} seconds.")
    return Response(answer.status, content, time.monotonic() - started, answer_headers)
