"""A backend that survives its server: bounded retries with backoff, then a fallback model.

Rules, in order:
- Text already produced is never thrown away or repeated: a failure mid-stream ends the reply there (the
  caller keeps what was said) and is not retried.
- A missing model (`ModelNotFound`) and a timeout (`BackendTimeout`, which already cost the whole timeout)
  are not retried; other failures before the first piece are retried with exponential backoff.
- A cancelled reply ends quietly: nothing is retried and no fallback is asked.
- A first piece later than `first_token_timeout_s` is a failure like a timeout: the request is abandoned
  (cancelled, never waited for) and the fallback answers, so a hung server costs a turn seconds, not minutes.
- Then the fallback answers (built on first need, e.g. the embedded model), and the primary is left alone
  for `cooldown_s`; after that one probe decides whether it is back. So an outage costs the retries once,
  not on every turn. Without a fallback, every turn of an outage makes that one probe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass

from dialogue.backends.base import (
    BackendError,
    BackendTimeout,
    Cancel,
    ChatBackend,
    GenerationOptions,
    ModelNotFound,
    Prepare,
    ReplyStream,
    StreamInfo,
    StreamItem,
    TextStreaming,
    open_stream,
)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    """Times the primary is asked per reply, the first included."""
    backoff_s: float = 0.25
    """Wait before the first retry; doubled for each further one."""
    max_backoff_s: float = 2.0
    cooldown_s: float = 30.0
    """After the primary failed, how long the fallback answers before the primary is probed again."""
    first_token_timeout_s: float | None = 8.0
    """The primary's first piece must come this soon (None: only the client's own timeout applies)."""

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.backoff_s < 0 or self.cooldown_s < 0:
            raise ValueError("retry attempts must be at least 1, and backoff and cooldown not negative")

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1-based)."""
        return min(self.max_backoff_s, self.backoff_s * 2 ** (retry - 1))


class ResilientBackend(TextStreaming):
    """Wraps `primary`; `fallback` builds the backend that answers when the primary cannot (or None).

    `sleep` replaces the wait between retries (for tests); by default a cancel ends that wait.
    """

    def __init__(
        self,
        primary: ChatBackend,
        fallback: Callable[[], ChatBackend] | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary = primary
        self.policy = policy or RetryPolicy()
        self._make_fallback = fallback
        self._fallback: ChatBackend | None = None
        self._fallback_error: BackendError | None = None
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._down_until: float | None = None
        """While set, the primary failed; until this clock time it is not asked at all."""
        self._last_error: BackendError | None = None

    @property
    def name(self) -> str:
        return self.primary.name

    @property
    def model(self) -> str:
        return self.primary.model

    @property
    def sees_images(self) -> bool:
        return self.primary.sees_images

    @property
    def context_length(self) -> int | None:
        return getattr(self.primary, "context_length", None)

    @property
    def degraded(self) -> bool:
        """The primary failed and has not answered since."""
        return self._down_until is not None

    def describe(self) -> str:
        return self.primary.describe()

    def open_stream(
        self, prepare: Prepare, options: GenerationOptions, info: StreamInfo, cancel: Cancel
    ) -> ReplyStream:
        return ReplyStream(self._items(prepare, options, info, cancel), info, cancel)

    def _items(
        self, prepare: Prepare, options: GenerationOptions, info: StreamInfo, cancel: Cancel
    ) -> Iterator[StreamItem]:
        with self._lock:
            down_until, error = self._down_until, self._last_error
            can_fall_back = self._make_fallback is not None and self._fallback_error is None
        if down_until is None or self._clock() >= down_until or not can_fall_back:
            attempts = self.policy.attempts if down_until is None else 1  # after an outage: one probe
            error = None
            for attempt in range(attempts):
                if attempt:
                    delay = self.policy.delay(attempt)
                    if self._sleep is not None:
                        self._sleep(delay)
                    elif cancel.wait(delay):
                        return
                if cancel.is_set():
                    return
                info.attempts += 1
                produced = False
                deadline = _FirstTokenDeadline(self.policy.first_token_timeout_s, cancel)
                try:
                    with (
                        deadline,
                        closing(open_stream(self.primary, prepare, options, info, deadline.cancel)) as stream,
                    ):
                        for item in stream:
                            produced = deadline.met = True
                            yield item
                    if expired := deadline.expired():
                        raise expired
                except BackendError as exc:
                    if produced:
                        raise
                    error = deadline.expired() or exc  # a cancelled request may fail in its own way
                    if isinstance(exc, (ModelNotFound, BackendTimeout)):
                        break
                else:
                    if not cancel.is_set():
                        with self._lock:
                            self._down_until = self._last_error = None
                    return
            with self._lock:
                self._down_until, self._last_error = self._clock() + self.policy.cooldown_s, error
        assert error is not None
        if cancel.is_set():
            return
        fallback = self._get_fallback(error)
        with closing(open_stream(fallback, prepare, options, info, cancel)) as stream:
            info.fallback_reason = error
            yield from stream

    def close(self) -> None:
        """Stop the generations in flight on the primary and the fallback."""
        for backend in (self.primary, self._fallback):
            if backend is not None:
                backend.close()

    def _get_fallback(self, error: BackendError) -> ChatBackend:
        """The fallback, built once; raises `error` when there is none or it cannot be built."""
        with self._lock:
            if self._fallback is None and self._fallback_error is None and self._make_fallback is not None:
                try:
                    self._fallback = self._make_fallback()
                except (BackendError, OSError) as exc:  # e.g. the GGUF file or llama.cpp is missing
                    self._fallback_error = BackendError(f"the fallback model cannot be loaded: {exc}")
            if self._fallback is not None:
                return self._fallback
        raise error.with_traceback(None) from self._fallback_error  # raised again on every turn of an outage


class _FirstTokenDeadline:
    """One attempt's own stop signal: given when the reply is cancelled, or when no first piece came within
    `seconds` (then `expired()` gives the `BackendTimeout` to report instead of a quiet end)."""

    def __init__(self, seconds: float | None, parent: Cancel) -> None:
        self.cancel = Cancel()
        self.met = False
        self._seconds = seconds
        self._parent = parent
        self._expired = False
        self._timer: threading.Timer | None = None
        self._link = parent.hook(self.cancel.set)

    def _expire(self) -> None:
        if not self.met:
            self._expired = True
            self.cancel.set()

    def __enter__(self) -> _FirstTokenDeadline:
        self._link.__enter__()
        if self._seconds is not None:
            self._timer = threading.Timer(self._seconds, self._expire)
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._link.__exit__(None, None, None)

    def expired(self) -> BackendTimeout | None:
        """The failure to report when the deadline, not the caller, stopped the attempt."""
        if self._expired and not self.met and not self._parent.is_set():
            return BackendTimeout(f"the model gave no first word within {self._seconds:g}s")
        return None
