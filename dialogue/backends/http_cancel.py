"""An httpx transport whose requests a `Cancel` can cut off, also while no response has arrived yet.

A thread blocked reading a socket is only woken by shutting the socket down (closing the file descriptor
from another thread does not wake it on Linux). httpcore reports each new connection's network stream to a
request's `trace` extension, and the stream gives its socket; connections are not kept alive, so every
request gets a new connection that is reported, and shutting it down harms no other request.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

import httpx

from dialogue.backends.base import Cancel

CONNECTED = "connection.connect_tcp.complete"


def new_pool() -> httpx.HTTPTransport:
    """The connection pool the cancellable transports share: no connection outlives its request."""
    return httpx.HTTPTransport(limits=httpx.Limits(max_keepalive_connections=0))


class CancellableTransport(httpx.BaseTransport):
    """Sends requests through `pool`; when `cancel` is set, shuts down the socket of the request in flight."""

    def __init__(self, pool: httpx.HTTPTransport, cancel: Cancel) -> None:
        self._pool = pool
        self._cancel = cancel
        self._sockets: list[socket.socket] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._cancel.is_set():
            raise httpx.ReadError("cancelled before sending", request=request)
        request.extensions = {**request.extensions, "trace": self._trace}
        return self._pool.handle_request(request)

    def _trace(self, event: str, info: dict[str, Any]) -> None:
        if event != CONNECTED:
            return
        sock = info["return_value"].get_extra_info("socket")
        if sock is not None:
            self._sockets.append(sock)
            if self._cancel.is_set():
                self.shut()

    def shut(self) -> None:
        """Wake any read or write on this transport's sockets: they see the connection end."""
        for sock in self._sockets:
            with contextlib.suppress(OSError):  # already closed by httpx
                sock.shutdown(socket.SHUT_RDWR)
