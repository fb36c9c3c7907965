"""The operator's endpoints: `GET /healthz` (JSON; 503 when the kiosk cannot serve) and `GET /metrics`
(Prometheus text format). A small HTTP server, bound to 127.0.0.1 unless configured otherwise.

It must stay cheap whatever connects: at most `max_connections` are served at once, by a fixed pool of
threads (a connection beyond that gets `503` and is closed at once, so 300 idle connections cost no 300
threads); a connection that sends nothing for `idle_timeout_s` is closed, and one still open after
`deadline_s` (a client dripping a header byte at a time) is shut down by the accept loop.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer

from hark.errors import UserError
from hark.kiosk.metrics import CONTENT_TYPE

Health = Callable[[], tuple[bool, dict]]
"""Whether the kiosk can serve, and what to say about it."""

MAX_CONNECTIONS = 8
IDLE_TIMEOUT_S = 5.0
DEADLINE_S = 10.0
BUSY = b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class _BoundedServer(HTTPServer):
    """An HTTP server with a fixed worker pool, a connection limit and a deadline per connection."""

    request_queue_size = 128  # a burst of connections is accepted (and refused) rather than left waiting

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        max_connections: int,
        deadline_s: float,
    ) -> None:
        super().__init__(address, handler)
        self._pool = ThreadPoolExecutor(max_workers=max_connections, thread_name_prefix="hark-health")
        self._slots = threading.BoundedSemaphore(max_connections)
        self._deadline_s = deadline_s
        self._open: dict[socket.socket, float] = {}
        self._lock = threading.Lock()

    def process_request(self, request, client_address) -> None:  # type: ignore[override]
        if not self._slots.acquire(blocking=False):
            self._refuse(request)
            return
        with self._lock:
            self._open[request] = time.monotonic()
        self._pool.submit(self._serve, request, client_address)

    def _serve(self, request: socket.socket, client_address) -> None:
        try:
            self.finish_request(request, client_address)
        except OSError:
            pass  # the client went away, or the deadline shut the connection down
        finally:
            with self._lock:
                self._open.pop(request, None)
            self.shutdown_request(request)
            self._slots.release()

    def _refuse(self, request: socket.socket) -> None:
        try:
            request.setblocking(False)
            request.send(BUSY)
        except OSError:
            pass
        self.shutdown_request(request)

    def service_actions(self) -> None:
        """Called by the accept loop between polls: shut down connections past their deadline."""
        now = time.monotonic()
        with self._lock:
            overdue = [conn for conn, opened in self._open.items() if now - opened > self._deadline_s]
        for conn in overdue:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def server_close(self) -> None:
        super().server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)


class HealthServer:
    def __init__(
        self,
        host: str,
        port: int,
        health: Health,
        metrics: Callable[[], bytes],
        max_connections: int = MAX_CONNECTIONS,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        deadline_s: float = DEADLINE_S,
    ) -> None:
        handler = _handler(health, metrics, idle_timeout_s)
        try:
            self._server = _BoundedServer((host, port), handler, max_connections, deadline_s)
        except OSError as exc:
            reason = exc.strerror or exc
            raise UserError(f"cannot serve the health endpoints on {host}:{port}: {reason}") from exc
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.1,), name="hark-health", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()


def _handler(
    health: Health, metrics: Callable[[], bytes], idle_timeout_s: float
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "hark-kiosk"
        timeout = idle_timeout_s  # on the socket: a silent client is dropped after this long

        def log_message(self, *_args) -> None:  # requests are not worth a log line each
            pass

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                try:
                    ok, body = health()
                except Exception as exc:  # a bug in the report must not look like a healthy kiosk
                    ok, body = False, {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
                self._send(200 if ok else 503, "application/json", json.dumps(body).encode())
            elif path == "/metrics":
                self._send(200, CONTENT_TYPE, metrics())
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found: try /healthz or /metrics\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

    return Handler
