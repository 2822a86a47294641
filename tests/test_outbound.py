"""The outbound HTTP guard's kept-alive sessions: one handshake for many requests, and a
connection the server closed made again without the caller noticing."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from scim_portal import _outbound


@pytest.fixture
def server():
    state = {"connections": 0, "requests": 0, "close_after_answer": False}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            state["connections"] += 1

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            state["requests"] += 1
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            if state["close_after_answer"]:  # an idle timeout, without saying so
                self.close_connection = True

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{httpd.server_address[1]}/in"
    yield state
    httpd.shutdown()
    httpd.server_close()


def session():
    return _outbound.Session(timeout=5, max_bytes=1000, allow_http=True, allow_private=True)


def test_a_session_sends_many_requests_over_one_connection(server):
    with session() as requests:
        for _ in range(5):
            assert requests.request("POST", server["url"], body=b"{}").body == b"ok"
    assert (server["requests"], server["connections"]) == (5, 1)


def test_a_connection_the_server_closed_is_made_again(server):
    server["close_after_answer"] = True
    with session() as requests:
        for _ in range(3):
            assert requests.request("POST", server["url"], body=b"{}").status == 200
    assert (server["requests"], server["connections"]) == (3, 3)


def test_a_session_checks_the_address_of_every_connection_it_makes(server, monkeypatch):
    with (
        _outbound.Session(timeout=5, max_bytes=1000, allow_http=True, allow_private=False) as s,
        pytest.raises(_outbound.RefusedAddress),
    ):
        s.request("POST", server["url"], body=b"{}")
    assert server["connections"] == 0


@pytest.mark.parametrize("path", ["/caf\u00e9", "/in\x7f", "/in?q=\x01"])
def test_a_url_http_client_cannot_send_is_an_outbound_error(server, path):
    """http.client refuses a request line that is not printable ASCII with a ValueError;
    the caller (a delivery, a test event) must get an answer it logs, not a crash."""
    with session() as requests, pytest.raises(_outbound.OutboundError):
        requests.request("POST", server["url"] + path, body=b"{}")
    assert server["requests"] == 0


def test_the_sockets_timeout_firing_before_the_deadline_is_the_same_answer(monkeypatch):
    """Both clocks run out together; whichever the scheduler wakes first, the caller is told
    the request did not answer in time (it said "timed out" when the socket's came first)."""
    from tests.oauth.issuer import SilentServer

    real = _outbound._Deadline.__init__
    monkeypatch.setattr(
        _outbound._Deadline,
        "__init__",
        lambda self, connection, seconds: real(
            self, connection, seconds * 20
        ),  # the socket's first
    )
    silent = SilentServer()
    try:
        with (
            _outbound.Session(
                timeout=0.3, max_bytes=1000, allow_http=True, allow_private=True
            ) as requests,
            pytest.raises(_outbound.OutboundError, match=r"did not answer within 0\.3 seconds"),
        ):
            requests.request("GET", silent.url)
    finally:
        silent.stop()
