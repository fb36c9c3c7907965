"""Running the app: on its own thread with its own event loop, so `hark serve`, the benchmark and the tests
start and stop it the same way."""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web

from hark.errors import UserError

STOP_S = 10.0


class ServerThread:
    """Serves `app` on `host:port` (0: any free port) until `stop()`."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=2.0)
        self._thread = threading.Thread(target=self._loop.run_forever, name="hark-serve", daemon=True)

    def start(self) -> int:
        """Bind and serve; returns the port (raises `UserError` when it cannot listen)."""
        self._thread.start()
        try:
            self.port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result()
        except OSError as exc:
            self.stop()
            raise UserError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from exc
        return self.port

    async def _start(self) -> int:
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        return int(self._runner.addresses[0][1])

    def url(self, token: str) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}/?token={token}"

    def stop(self) -> None:
        """Close every socket (their sessions end) and the listener."""
        if self._loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
            future.result(STOP_S)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(STOP_S)
