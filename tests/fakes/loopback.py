"""What every loopback fake of a paid service shares: a threaded HTTP server on a free
port of 127.0.0.1, and a script of behaviours ("throttle", "500", …) a test queues for
the next requests (anything unscripted answers normally, "ok")."""

from __future__ import annotations

import threading
from collections import deque
from http.server import ThreadingHTTPServer


class ScriptedLoopbackServer:
    def _serve(self, handler) -> None:
        """Set up the server (call from ``__post_init__``); ``start`` runs it."""
        self._script: deque[str] = deque()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def script(self, *behaviours: str) -> None:
        with self._lock:
            self._script.extend(behaviours)

    def next_behaviour(self) -> str:
        with self._lock:
            return self._script.popleft() if self._script else "ok"
