"""A webhook receiver for the tests: a real HTTP server on 127.0.0.1 that records what
it is sent and answers as told (fail, stall, succeed), and keeps the ids it has seen the
way a receiver honouring the idempotency key does."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """``answer(received) -> (status, body)`` decides each answer; the default is 204."""

    answer: Callable[[Received], tuple[int, bytes]] | None = None
    received: list[Received] = field(default_factory=list)
    #: Payloads applied once each, by webhook-id (what the receiver's effect is).
    applied: dict[str, Any] = field(default_factory=dict)
    duplicates: int = 0
    #: TCP connections the receiver accepted.
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keeps connections open, as most receivers do

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                item = Received(
                    self.path, {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )  # fmt: skip
                with receiver.lock:
                    receiver.received.append(item)
                status, body = receiver.answer(item) if receiver.answer else (204, b"")
                if 200 <= status < 300:
                    key = item.headers.get("webhook-id") or item.body.decode()
                    with receiver.lock:
                        if key in receiver.applied:
                            receiver.duplicates += 1
                        else:
                            receiver.applied[key] = item
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def setup(self) -> None:
                super().setup()
                with receiver.lock:
                    receiver.connections += 1

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def wait_for(self, count: int, seconds: float = 20.0) -> None:
        deadline = time.monotonic() + seconds
        while len(self.applied) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.applied)} of {count} events arrived")
            time.sleep(0.05)

    def applied_in_order(self) -> list[Received]:
        with self.lock:
            return list(self.applied.values())

    def sequences_of(self, connection_id: object) -> list[int]:
        """The ``sequence`` of each event of one connection, in the order applied."""
        return [
            item.json["sequence"]
            for item in self.applied_in_order()
            if item.json["connection_id"] == str(connection_id)
        ]
