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
        self.sock = _open(self._address, self.port, self.timeout)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)  # type: ignore[attr-defined]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = _open(self._address, self.port, self.timeout)


def _open(address: str, port: int, timeout: float | None) -> socket.socket:
    """A TCP connection without Nagle's algorithm: http.client writes a request's headers
    and body separately, and on a kept-alive connection the body would otherwise wait for
    the receiver's delayed acknowledgement of the headers (40 ms a request on Linux)."""
    sock = socket.create_connection((address, port), timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


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
    target = parts.path + parts.query
    if not target.isascii() or any(not ch.isprintable() or ch.isspace() for ch in target):
        # http.client cannot send it (a UnicodeEncodeError, uncaught, would crash the task).
        raise OutboundError(f"{url!r} has characters a request line cannot carry: %-encode them.")
    return parts.hostname, port


class Session:
    """Requests over one kept-alive connection per origin (scheme, host, port): a worker
    delivering a stream's events pays one TCP (and TLS) handshake, not one per event.
    The host is resolved and checked when the connection is made, and every later request
    on it goes to that checked address. A kept-alive connection the server closed is made
    again once, at once; any other failure is the caller's. Use as a context manager."""

    def __init__(
        self, *, timeout: float, max_bytes: int, allow_http: bool, allow_private: bool
    ) -> None:
        self.timeout, self.max_bytes = timeout, max_bytes
        self.allow_http, self.allow_private = allow_http, allow_private
        self._connection: http.client.HTTPConnection | None = None
        self._origin: tuple[str, str, int] | None = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = self._origin = None

    def _connect(self, scheme: str, host: str, port: int) -> http.client.HTTPConnection:
        address = address_of(host, port, allow_private=self.allow_private)
        kind = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
        self._connection = kind(host, address, port, self.timeout)
        self._origin = (scheme, host, port)
        return self._connection

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> Response:
        """Send one request to ``url`` and read at most ``max_bytes + 1`` bytes of the
        answer; :class:`OutboundError` when the URL is refused, the host cannot be
        resolved or reached, or no answer came within the timeout."""
        host, port = check_url(url, allow_http=self.allow_http)
        parts = urlsplit(url)
        origin = (parts.scheme, host, port)
        reused = self._connection is not None and self._origin == origin
        if not reused:
            self.close()
            self._connect(*origin)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            return self._exchange(method, url, path, headers or {}, body)
        except _Closed:
            if not reused:
                raise OutboundError(f"Cannot reach {url}: the connection was closed.") from None
            self.close()
            self._connect(*origin)
            try:
                return self._exchange(method, url, path, headers or {}, body)
            except _Closed:
                raise OutboundError(f"Cannot reach {url}: the connection was closed.") from None

    def _exchange(
        self, method: str, url: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> Response:
        connection = self._connection
        assert connection is not None
        started = time.monotonic()
        deadline = _Deadline(connection, self.timeout)
        keep = False
        try:
            connection.request(method, path, body=body, headers=headers)
            answer = connection.getresponse()
            content = answer.read(self.max_bytes + 1)
            answer_headers = {key.lower(): value for key, value in answer.getheaders()}
            # Reusable only if the whole answer was read and the server keeps it open.
            keep = answer.isclosed() and not answer.will_close
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
            if not deadline.passed.is_set():
                raise _Closed() from exc
        except (OSError, http.client.HTTPException) as exc:
            if isinstance(exc, TimeoutError):
                # The socket's own timeout can fire a moment before the deadline's timer:
                # the same thing happened, and it gets the same answer.
                deadline.passed.set()
            if not deadline.passed.is_set():
                raise OutboundError(f"Cannot reach {url}: {exc}.") from None
        finally:
            deadline.cancel()
            if not keep or deadline.passed.is_set():
                self.close()
        if deadline.passed.is_set():  # the body may be cut short without an error
            raise OutboundError(f"{url} did not answer within {self.timeout:g} seconds.")
        return Response(answer.status, content, time.monotonic() - started, answer_headers)


class _Closed(Exception):
    """The server had closed the connection before answering."""


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
    """One request on a connection of its own (:meth:`Session.request`)."""
    with Session(
        timeout=timeout, max_bytes=max_bytes, allow_http=allow_http, allow_private=allow_private
    ) as session:
        return session.request(method, url, headers=headers, body=body)
