"""A real DNS server for the tests (dnslib), on 127.0.0.1 over UDP and TCP on one free
port, answering with the TXT records a test publishes."""

from __future__ import annotations

import socket
import threading

from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class Zone(BaseResolver):
    """What the server knows: TXT records by name, names without TXT, and whether it
    fails every query (SERVFAIL)."""

    def __init__(self) -> None:
        self.txt: dict[str, list[str]] = {}
        self.names: set[str] = set()
        self.failing = False
        self.queries: list[str] = []
        self.lock = threading.Lock()

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        with self.lock:
            self.queries.append(name)
            if self.failing:
                reply.header.rcode = RCODE.SERVFAIL
            elif name not in self.txt and name not in self.names:
                reply.header.rcode = RCODE.NXDOMAIN
            elif request.q.qtype == QTYPE.TXT:
                for value in self.txt.get(name, []):
                    reply.add_answer(RR(name, QTYPE.TXT, rdata=TXT(value), ttl=60))
        return reply  # a known name without TXT: NOERROR, no answer


class DnsServer:
    """Start with :meth:`start`; ``nameserver`` is what DNS_NAMESERVERS takes."""

    def __init__(self) -> None:
        self.zone = Zone()
        self.servers: list[DNSServer] = []
        self.port = 0

    @classmethod
    def start(cls) -> DnsServer:
        server = cls()
        quiet = DNSLogger(logf=lambda *args: None)
        for _attempt in range(20):
            udp = DNSServer(server.zone, address="127.0.0.1", port=0, logger=quiet)
            port = udp.server.server_address[1]
            try:
                tcp = DNSServer(server.zone, address="127.0.0.1", port=port, tcp=True, logger=quiet)
            except OSError:  # the TCP port of that number is taken: try another
                udp.server.server_close()
                continue
            server.port, server.servers = port, [udp, tcp]
            for each in server.servers:
                threading.Thread(
                    target=each.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
                ).start()
            return server
        raise RuntimeError("No free port for a test DNS server on 127.0.0.1.")

    def stop(self) -> None:
        for each in self.servers:
            each.server.shutdown()
            each.server.server_close()

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"

    def publish(self, name: str, *values: str) -> None:
        """TXT records at ``name`` (replacing those it had)."""
        with self.zone.lock:
            self.zone.txt[name.lower()] = list(values)

    def add_name(self, name: str) -> None:
        """``name`` exists but has no TXT record (it answers NOERROR, empty)."""
        with self.zone.lock:
            self.zone.names.add(name.lower())

    def fail(self, failing: bool = True) -> None:
        """Answer SERVFAIL to everything."""
        with self.zone.lock:
            self.zone.failing = failing


def silent_port() -> int:
    """A UDP port on 127.0.0.1 where nothing listens (DNS sent there goes unanswered)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
