"""The receiving service of bench/event_delivery.py, in its own process: prints its port,
then takes webhook POSTs on /events (verifying each Standard Webhooks signature, checking
each connection's ``sequence`` goes 1, 2, 3…, applying each ``webhook-id`` once) and
answers the driver on /reset, /count and /stats. No Django: only the standardwebhooks
library a vendor's service would use."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

lock = threading.Lock()
state: dict[str, Any] = {}


def reset(secret: str, connection: str, first_sequence: int) -> None:
    with lock:
        state.update(
            webhook=Webhook(secret) if secret else None, seen=set(),
            next_sequence={connection: first_sequence}, arrivals=[],
            out_of_order=0, bad_signatures=0, duplicates=0,
        )  # fmt: skip


def take(body: bytes, headers: dict[str, str]) -> None:
    arrived = time.time()
    try:
        document = state["webhook"].verify(body, headers)
    except (WebhookVerificationError, AttributeError):
        with lock:
            state["bad_signatures"] += 1
        return
    with lock:
        if headers["webhook-id"] in state["seen"]:
            state["duplicates"] += 1
            return
        state["seen"].add(headers["webhook-id"])
        connection = str(document["connection_id"])
        if document["sequence"] != state["next_sequence"].get(connection, 1):
            state["out_of_order"] += 1
        state["next_sequence"][connection] = int(document["sequence"]) + 1
        committed = datetime.fromisoformat(document["timestamp"]).timestamp()
        state["arrivals"].append((arrived, committed))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self, status: int, payload: Any = None) -> None:
        body = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/reset":
            reset(**json.loads(body))
            self._answer(200, {})
            return
        take(body, {key.lower(): value for key, value in self.headers.items()})
        self._answer(204)

    def do_GET(self) -> None:
        with lock:
            if self.path == "/count":
                self._answer(200, {"delivered": len(state["arrivals"])})
            else:
                self._answer(200, {key: value for key, value in state.items()
                                   if key in ("arrivals", "out_of_order", "bad_signatures",
                                              "duplicates")})  # fmt: skip

    def log_message(self, *args: Any) -> None:
        pass


if __name__ == "__main__":
    reset("", "", 1)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()
