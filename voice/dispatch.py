"""Delivers the loop's events to its listener, in order, on a thread of their own.

Listeners print, log to disk and write analytics rows; none of that may run on the capture thread (a slow
disk would drop microphone frames) nor hold up a reply. Emitting is a queue put, never a wait.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from voice.clock import Clock, Mailbox
from voice.events import VoiceEvent

EventCallback = Callable[[VoiceEvent], None]

log = logging.getLogger(__name__)


class EventDispatcher:
    def __init__(self, clock: Clock, on_event: EventCallback) -> None:
        self._on_event = on_event
        self._box: Mailbox[VoiceEvent | None] = Mailbox(clock)
        self._done = clock.signal()
        self._clock = clock

    def start(self) -> None:
        self._clock.start_thread(self._run, "hark-events")

    def emit(self, event: VoiceEvent) -> None:
        """Queue `event` (delivered once `start()`ed); never waits."""
        self._box.put(event)

    def close(self, timeout_s: float) -> bool:
        """Deliver what is queued, then stop; False if the listener took longer than `timeout_s`."""
        self._box.put(None)
        return self._done.wait(timeout_s)

    def _run(self) -> None:
        try:
            while (event := self._box.get()) is not None:
                try:
                    self._on_event(event)
                except Exception:  # a broken listener must not silence the events after it
                    log.exception("event listener failed on %s", event.event)
        finally:
            self._done.set()
