"""The operator's endpoints: `GET /healthz` (JSON; 503 when the kiosk cannot serve) and `GET /metrics`
(Prometheus text format). A small threaded HTTP server, bound to 127.0.0.1 unless configured otherwise."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from hark.dashboard import dashboard
from hark.errors import UserError
from hark.kiosk.metrics import CONTENT_TYPE
from hark.paths import analytics_path

Health = Callable[[], tuple[bool, dict]]
"""Whether the kiosk can serve, and what to say about it."""


class HealthServer:
    def __init__(self, host: str, port: int, health: Health, metrics: Callable[[], bytes]) -> None:
        handler = _handler(health, metrics)
        try:
            self._server = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            reason = exc.strerror or exc
            raise UserError(f"cannot serve the health endpoints on {host}:{port}: {reason}") from exc
        self._server.daemon_threads = True
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


def _handler(health: Health, metrics: Callable[[], bytes]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "hark-kiosk"

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
            elif path == "/dashboard":  # the analytics dashboard, as `hark stats --html` writes it
                self._send(200, "text/html; charset=utf-8", dashboard(analytics_path()).encode())
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
