"""`hark serve`'s web side: the page at `/`, its files under `/static/`, and the voice socket at `/ws`.

aiohttp, because one small, mature library gives the HTTP server, the WebSocket server (with a message
size limit and heartbeats) and the WebSocket client the benchmark and tests use; Starlette would need
uvicorn and a client library beside it. Audio rides the WebSocket as raw PCM rather than WebRTC (aiortc):
the browser already cleans the microphone (echo cancellation, noise suppression) before we see it, PCM at
16 kHz is 32 kB/s (nothing on a LAN), and a socket needs no ICE/STUN/DTLS, no Opus decoding on a
2-core server and no second event loop; WebRTC's jitter buffering pays off on lossy long-distance links,
which a local assistant does not have. The protocol is in `hark.serve.connection`.
"""

from __future__ import annotations

import hmac
import itertools
from importlib import resources
from typing import Any

from aiohttp import WSCloseCode, web

from hark.config import HarkConfig, ServeSettings
from hark.errors import UserError
from hark.report import Reporter
from hark.serve.connection import READ_WHOLE_FACTOR, Connection
from hark.serve.session import Session, SharedModels

STATIC = resources.files("hark.serve") / "static"
STATIC_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


def presented_token(request: web.Request) -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    return request.query.get("token", "")


class ServeApp:
    """The routes, the token and origin checks, and the sessions under way."""

    def __init__(self, config: HarkConfig, models: SharedModels, token: str, reporter: Reporter) -> None:
        if not token:
            raise UserError("hark serve needs a token")
        self.config = config
        self.settings: ServeSettings = config.serve
        self.models = models
        self.token = token
        self.reporter = reporter
        self.sessions: dict[int, Session] = {}
        self._open = 0
        """Sockets holding a session slot (counted from acceptance, before their session exists)."""
        self.ids = itertools.count(1)
        self._sockets: set[web.WebSocketResponse] = set()

    @property
    def in_use(self) -> int:
        """Session slots taken: a socket holds one until its session has fully ended."""
        return self._open

    def build(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/", self._page)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/ws", self._socket)
        app.on_shutdown.append(self._close_sockets)
        return app

    async def _close_sockets(self, _app: web.Application) -> None:
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"Hark is shutting down")

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/static/"):
            return await handler(request)  # the page's own code, no data: the page and socket need a token
        if not hmac.compare_digest(presented_token(request).encode(), self.token.encode()):
            raise web.HTTPUnauthorized(
                text="a valid token is needed: open the address `hark serve` printed (it ends in ?token=...)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return await handler(request)

    async def _page(self, _request: web.Request) -> web.Response:
        return web.Response(
            text=(STATIC / "index.html").read_text(encoding="utf-8"),
            content_type="text/html",
            headers={"Cache-Control": "no-store"},
        )

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        kind = next((t for ext, t in STATIC_TYPES.items() if name.endswith(ext)), None)
        path = STATIC / name
        if kind is None or "/" in name or name.startswith(".") or not path.is_file():
            raise web.HTTPNotFound()
        return web.Response(text=path.read_text(encoding="utf-8"), content_type=kind)

    def _origin_allowed(self, request: web.Request) -> bool:
        """No Origin: a program, not a page (browsers always send it on a WebSocket). Otherwise the page
        must be this server's own, or one configured in `serve.origins`."""
        origin = request.headers.get("Origin")
        if origin is None:
            return True
        return origin == f"{request.scheme}://{request.host}" or origin in self.settings.origins

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        if not self._origin_allowed(request):
            raise web.HTTPForbidden(text=f"pages from {request.headers['Origin']} may not talk to this Hark")
        max_msg_size = READ_WHOLE_FACTOR * self.settings.max_message_bytes
        ws = web.WebSocketResponse(max_msg_size=max_msg_size, heartbeat=20.0)
        await ws.prepare(request)
        if self._open >= self.settings.max_sessions:
            reason = f"Hark is busy: all {self._open} sessions are in use; try again later"
            await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=reason.encode())
            return ws
        self._open += 1
        self._sockets.add(ws)
        try:
            await Connection(self, ws).serve()
        finally:
            self._open -= 1
            self._sockets.discard(ws)
        return ws
