"""Audio sources: the microphone, or an audio file played as if it were the microphone.

Every source yields 30 ms frames of 16 kHz mono int16 audio.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np

from voice import SAMPLE_RATE
from voice.clock import SYSTEM_CLOCK, Clock
from voice.decode import decode_file, resample, to_int16
from voice.devices import close_stream, find_device, open_error
from voice.errors import AudioDeviceError
from voice.vad import FRAME_S, FRAME_SAMPLES


class AudioSource(Protocol):
    def frames(self) -> Iterator[np.ndarray]:
        """Yield int16 frames of `FRAME_SAMPLES` samples until the source ends or is closed."""
        ...

    def close(self) -> None: ...


class FileSource:
    """An audio file as the microphone: paced in real time by default, or as fast as it is read.

    Silence is appended (`tail_silence_s`) so that an utterance running to the end of the file still
    gets its end-of-speech detected.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        paced: bool = True,
        tail_silence_s: float = 1.5,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.path = str(path)
        self.paced = paced
        self.clock = clock
        audio = decode_file(path)
        self.duration_s = audio.size / SAMPLE_RATE
        tail = np.zeros(int(tail_silence_s * SAMPLE_RATE), dtype=np.float32)
        self._audio = to_int16(np.concatenate([audio, tail]))
        self._closed = clock.signal()
        self.started_at: float | None = None
        """Monotonic time at which stream time 0 began (for measuring against the recording)."""

    def frames(self) -> Iterator[np.ndarray]:
        n = self._audio.size // FRAME_SAMPLES
        start = self.started_at = self.clock.now()
        for k in range(n):
            if self._closed.is_set():
                return
            if self.paced:
                delay = start + (k + 1) * FRAME_S - self.clock.now()
                if delay > 0 and self._closed.wait(delay):
                    return
            yield self._audio[k * FRAME_SAMPLES : (k + 1) * FRAME_SAMPLES]

    def close(self) -> None:
        self._closed.set()


class MicSource:
    """A sounddevice input stream, resampled to 16 kHz when the device only runs at other rates."""

    def __init__(self, device: str | int | None = None) -> None:
        import sounddevice as sd

        self._sd = sd
        self.device = find_device(device, kind="input")
        self.rate = self._pick_rate()
        self._queue: queue.Queue[np.ndarray] = queue.Queue(maxsize=500)
        self._closed = threading.Event()
        self._stream = None

    def _pick_rate(self) -> int:
        for rate in (SAMPLE_RATE, 48_000, 44_100):
            try:
                self._sd.check_input_settings(device=self.device, samplerate=rate, channels=1, dtype="int16")
                return rate
            except Exception:
                continue
        info = self._sd.query_devices(self.device, "input")
        return int(info["default_samplerate"])

    def _callback(self, indata, _frames, _time, _status) -> None:
        if self._queue.full():  # the consumer stalled: drop the oldest audio, keep the newest
            with contextlib.suppress(queue.Empty):
                self._queue.get_nowait()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(indata[:, 0].copy())

    def frames(self) -> Iterator[np.ndarray]:
        try:
            self._stream = self._sd.InputStream(
                device=self.device,
                samplerate=self.rate,
                channels=1,
                dtype="int16",
                blocksize=int(self.rate * FRAME_S),
                callback=self._callback,
            )
            self._stream.start()
        except Exception as exc:
            raise open_error("microphone", self.device, exc) from exc
        pending = np.zeros(0, dtype=np.int16)
        try:
            while not self._closed.is_set():
                try:
                    block = self._queue.get(timeout=2.0)
                except queue.Empty:
                    if self._stream is None or not self._stream.active:
                        raise AudioDeviceError("the microphone stopped delivering audio") from None
                    continue
                if self.rate != SAMPLE_RATE:
                    block = resample(block, self.rate, SAMPLE_RATE)
                pending = np.concatenate([pending, block])
                while pending.size >= FRAME_SAMPLES:
                    yield pending[:FRAME_SAMPLES]
                    pending = pending[FRAME_SAMPLES:]
        finally:
            self._stop_stream()

    def _stop_stream(self) -> None:
        stream, self._stream = self._stream, None
        close_stream(stream)

    def close(self) -> None:
        self._closed.set()


class ReconnectingSource:
    """Reopens a device source that fails or disappears, with backoff, instead of ending the session.

    `open_source` builds a fresh source (e.g. `lambda: MicSource(spec)`); `on_error` hears each failure
    (to print it, or to mark the device down on a health endpoint) and `on_recovered` each reconnection.
    """

    def __init__(
        self,
        open_source: Callable[[], AudioSource],
        on_error: Callable[[AudioDeviceError, float], None] = lambda _e, _delay: None,
        on_recovered: Callable[[], None] = lambda: None,
        max_backoff_s: float = 10.0,
    ) -> None:
        self._open = open_source
        self._on_error = on_error
        self._on_recovered = on_recovered
        self._max_backoff = max_backoff_s
        self._closed = threading.Event()
        self._current: AudioSource | None = None

    def frames(self) -> Iterator[np.ndarray]:
        backoff = 0.5
        failed = False
        while not self._closed.is_set():
            try:
                self._current = self._open()
                for frame in self._current.frames():
                    if failed:
                        failed = False
                        backoff = 0.5
                        self._on_recovered()
                    yield frame
                return  # the source ended normally
            except AudioDeviceError as exc:
                failed = True
                self._on_error(exc, backoff)
                if self._closed.wait(backoff):
                    return
                backoff = min(self._max_backoff, backoff * 2)

    def close(self) -> None:
        self._closed.set()
        if self._current is not None:
            self._current.close()
