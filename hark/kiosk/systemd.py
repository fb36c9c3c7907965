"""systemd's notify protocol (`Type=notify`, `WatchdogSec=`): one datagram per message to $NOTIFY_SOCKET.

Without systemd (no $NOTIFY_SOCKET) every call does nothing.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


class Notifier:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        address = environ.get("NOTIFY_SOCKET", "")
        self._address = "\0" + address[1:] if address.startswith("@") else address  # "@": abstract socket
        usec = environ.get("WATCHDOG_USEC", "")
        self.watchdog_s: float | None = int(usec) / 1e6 if usec.isdigit() and int(usec) > 0 else None
        """How often systemd expects a sign of life (None: no watchdog)."""

    def notify(self, message: str) -> None:
        if not self._address:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.setblocking(False)  # a reader that does not keep up must not stall the kiosk
                sock.sendto(message.encode(), self._address)
        except OSError:
            pass  # systemd is gone, or its queue is full: this message is lost, the next one may pass

    def ready(self, status: str) -> None:
        self.notify(f"READY=1\nSTATUS={status}")

    def status(self, status: str) -> None:
        self.notify(f"STATUS={status}")

    def stopping(self) -> None:
        self.notify("STOPPING=1")

    def alive(self) -> None:
        self.notify("WATCHDOG=1")
