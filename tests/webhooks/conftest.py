"""A real HTTP server on 127.0.0.1 that records webhook requests and answers as told."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Receiver:
    def __init__(self):
        self.requests: list[dict] = []
        # Status codes to answer with, in order; the last one repeats.
        self.statuses = [200]
        self.location = ""
        self._lock = threading.Lock()
        self.server = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks/captions?source=test"

    def wait_for(self, count: int, timeout: float = 60) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} requests, got {len(self.requests)}")

    def _record(self, handler) -> int:
        length = int(handler.headers.get("Content-Length") or 0)
        with self._lock:
            self.requests.append(
                {"path": handler.path, "headers": dict(handler.headers),
                 "body": handler.rfile.read(length), "at": time.monotonic()}
            )
            index = min(len(self.requests) - 1, len(self.statuses) - 1)
            return self.statuses[index]


@pytest.fixture
def receiver():
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            status = state._record(self)
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", state.location)
            body = b"ok" if status < 300 else b"receiver says no"
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _customers_pay_for_webhooks(api_plan):
    """These tests are about webhooks themselves: their customers are on the plan that has
    them (plan gating is tested in tests/billing/test_plan_features.py)."""
