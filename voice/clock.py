"""Time for the voice loop: the monotonic clock in use, a virtual one in tests.

Every wait in the loop, its source, player and sinks goes through a `Clock` (sleeping, waiting on an event,
waiting on a `Mailbox`), and every thread they start is started by it. So a test can hand them a
`VirtualClock`, under which a scripted session runs as fast as the CPU allows and always the same way:
virtual time only moves when every thread of the session is waiting, and then jumps to the earliest
deadline — a discrete-event simulation of the real timeline.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")


class Signal(Protocol):
    """The part of `threading.Event` the loop uses; `wait` honours the clock it came from."""

    def set(self) -> None: ...
    def clear(self) -> None: ...
    def is_set(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool: ...


class Clock(Protocol):
    def now(self) -> float:
        """Seconds, monotonic."""
        ...

    def sleep(self, seconds: float) -> None: ...

    def signal(self) -> Signal:
        """A new event whose `wait` runs on this clock."""
        ...

    def start_thread(self, target: Callable[[], None], name: str) -> threading.Thread:
        """Start a daemon thread that takes part in this clock's timeline."""
        ...

    def attached(self) -> contextlib.AbstractContextManager[None]:
        """Make the calling thread take part in the timeline while inside the block."""
        ...


class MonotonicClock:
    """The real clock: `time.monotonic`, `threading.Event`, plain threads."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def signal(self) -> Signal:
        return threading.Event()

    def start_thread(self, target: Callable[[], None], name: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        return thread

    def attached(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


SYSTEM_CLOCK = MonotonicClock()


class Empty(Exception):
    """`Mailbox.get` timed out."""


class Mailbox(Generic[T]):
    """A FIFO queue with one consumer, whose `get` waits on a clock (so virtual time can see the wait)."""

    def __init__(self, clock: Clock) -> None:
        self._items: collections.deque[T] = collections.deque()
        self._lock = threading.Lock()
        self._ready = clock.signal()
        self._clock = clock

    def put(self, item: T) -> None:
        with self._lock:
            self._items.append(item)
            self._ready.set()

    def get(self, timeout: float | None = None) -> T:
        deadline = None if timeout is None else self._clock.now() + timeout
        while True:
            with self._lock:
                if self._items:
                    item = self._items.popleft()
                    if not self._items:
                        self._ready.clear()
                    return item
            remaining = None if deadline is None else deadline - self._clock.now()
            if remaining is not None and remaining <= 0:
                raise Empty
            self._ready.wait(remaining)

    def empty(self) -> bool:
        with self._lock:
            return not self._items


class VirtualClock:
    """Virtual time for tests: it advances only when every attached thread waits, to the next deadline.

    A thread that blocks outside the clock (a real lock held for long, a real sleep) stalls the timeline;
    `stall_limit_s` of real time later a thread waiting for a deadline raises instead of hanging the test.
    """

    def __init__(self, start_s: float = 0.0, stall_limit_s: float = 30.0) -> None:
        self._now = start_s
        self._cond = threading.Condition()
        self._members = 0
        self._waits: dict[int, tuple[_VirtualSignal | None, float | None]] = {}
        self._stall_limit_s = stall_limit_s

    def now(self) -> float:
        with self._cond:
            return self._now

    def sleep(self, seconds: float) -> None:
        self._wait(None, seconds)

    def signal(self) -> Signal:
        return _VirtualSignal(self)

    def start_thread(self, target: Callable[[], None], name: str) -> threading.Thread:
        def member() -> None:
            try:
                target()
            finally:
                self._leave()

        with self._cond:
            self._members += 1
        thread = threading.Thread(target=member, name=name, daemon=True)
        thread.start()
        return thread

    @contextlib.contextmanager
    def attached(self) -> Iterator[None]:
        with self._cond:
            self._members += 1
        try:
            yield
        finally:
            self._leave()

    def _leave(self) -> None:
        with self._cond:
            self._members -= 1
            self._advance_if_idle()

    def _notify(self) -> None:
        with self._cond:
            self._advance_if_idle()
            self._cond.notify_all()

    def _wait(self, signal: _VirtualSignal | None, timeout: float | None) -> bool:
        me = threading.get_ident()
        with self._cond:
            deadline = None if timeout is None else self._now + max(0.0, timeout)
            self._waits[me] = (signal, deadline)
            try:
                while not self._done(signal, deadline):
                    self._advance_if_idle()
                    if self._done(signal, deadline):
                        break
                    if not self._cond.wait(self._stall_limit_s) and deadline is not None:
                        raise RuntimeError("virtual clock stalled: a thread blocks outside the clock")
                return signal is not None and signal._flag
            finally:
                del self._waits[me]
                self._cond.notify_all()

    def _done(self, signal: _VirtualSignal | None, deadline: float | None) -> bool:
        return (signal is not None and signal._flag) or (deadline is not None and self._now >= deadline)

    def _advance_if_idle(self) -> None:
        """Jump to the earliest deadline when every member waits and none can go on (lock held)."""
        if len(self._waits) < self._members:
            return
        if any(self._done(signal, deadline) for signal, deadline in self._waits.values()):
            return
        deadlines = [deadline for _, deadline in self._waits.values() if deadline is not None]
        if deadlines:
            self._now = min(deadlines)
            self._cond.notify_all()


class _VirtualSignal:
    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock
        self._flag = False

    def set(self) -> None:
        with self._clock._cond:
            self._flag = True
        self._clock._notify()

    def clear(self) -> None:
        with self._clock._cond:
            self._flag = False

    def is_set(self) -> bool:
        return self._flag

    def wait(self, timeout: float | None = None) -> bool:
        return self._clock._wait(self, timeout)
