"""Audio sinks: the speaker, a WAV file, or nothing (for benchmarks).

A sink plays one chunk at a time and can be stopped part-way (barge-in); it reports how many samples were
really played so the dialogue can keep only what the user heard. A sink on a real speaker has a `listener`
attribute: it says itself when each block reaches the air (echo cancelling needs that, not the write time).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import wave
from collections import deque
from collections.abc import Callable
from typing import Protocol

import numpy as np

from voice.clock import Signal
from voice.decode import resample
from voice.devices import close_stream, find_device, open_error
from voice.processors.timeline import SteadyTimeline

PLAYOUT_SETTLE_S = 0.25
"""How long every speaker block must be reported later than the steady timeline allows before it moves: a
callback that ran late catches up within a block or two (measured on PulseAudio: such blocks were reported
2-8 ms late, each one leaving a gap in the echo canceller's reference), an underrun does not."""
BLOCK_S = 0.04
"""Playback granularity: a stop request takes effect within one block."""


class AudioSink(Protocol):
    def play(self, samples: np.ndarray, rate: int, stop: Signal) -> int:
        """Play int16 mono `samples` at `rate`; block until done or `stop` is set. Return samples played."""
        ...

    def gap(self, seconds: float) -> None:
        """Mark the pause between two replies (a WAV file gets silence; a speaker needs nothing)."""
        ...

    def close(self) -> None: ...


class WavSink:
    """Writes every reply, in order, into one mono int16 WAV file at the voice's rate."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = str(path)
        self._wav: wave.Wave_write | None = None
        self._rate: int | None = None
        self._lock = threading.Lock()

    def _open(self, rate: int) -> wave.Wave_write:
        if self._wav is None:
            self._wav = wave.open(self.path, "wb")  # noqa: SIM115 - stays open across replies
            self._wav.setnchannels(1)
            self._wav.setsampwidth(2)
            self._wav.setframerate(rate)
            self._rate = rate
        return self._wav

    def play(self, samples: np.ndarray, rate: int, stop: Signal) -> int:
        with self._lock:
            self._open(rate)
            if rate != self._rate:
                samples = resample(samples, rate, self._rate)
            self._wav.writeframes(samples.astype(np.int16).tobytes())
        return int(samples.size)

    def gap(self, seconds: float) -> None:
        with self._lock:
            if self._wav is not None and self._rate:
                self._wav.writeframes(np.zeros(int(seconds * self._rate), dtype=np.int16).tobytes())

    def close(self) -> None:
        with self._lock:
            self._open(22_050).close()  # with no reply at all, still leave a valid (empty) WAV behind


class NullSink:
    """Discards audio instantly (benchmarks measure when audio reaches the sink, not how it sounds)."""

    def play(self, samples: np.ndarray, rate: int, stop: Signal) -> int:
        return int(samples.size)

    def gap(self, seconds: float) -> None:
        pass

    def close(self) -> None:
        pass


PlaybackListener = Callable[[np.ndarray, int, float], None]
"""Hears each block handed to the device: (int16 samples, rate, monotonic time its first sample is heard)."""

STALL_S = 2.0
"""A speaker whose stream takes nothing for this long while audio waits is taken for gone."""


class SpeakerSink:
    """A sounddevice output stream, opened lazily at a rate the device accepts.

    It plays through a callback rather than blocking writes, because only the callback learns when its audio
    reaches the speaker (PortAudio's DAC time, which through a sound server includes the server's buffer);
    the time of a write says nothing about how much is queued ahead of it, and an echo-cancelling reference
    dated by it was off by up to a quarter of a second on PulseAudio. `listener` hears every block with that
    time. Between replies the callback plays silence, so the stream's timing stays steady.
    """

    def __init__(self, device: str | int | None = None) -> None:
        import sounddevice as sd

        self._sd = sd
        self.device = find_device(device, kind="output")
        self.listener: PlaybackListener | None = None
        self.buffer_s: float | None = None
        """How far ahead of the speaker the stream's buffer runs (None: the host's default, 35 ms through
        PulseAudio). Set it before the first `play`. A callback late by more than this underruns, which is a
        click to the listener and moves the speaker's sound against the echo canceller's reference."""
        self._stream = None
        self._rate: int | None = None
        self._pending: deque[np.ndarray] = deque()
        self._queued = 0
        """Samples given to `play` since the stream opened."""
        self._handed = 0
        """Samples the callback has handed to the device since the stream opened."""
        self._cond = threading.Condition()
        self._last_call_s: float | None = None
        self._started_s: float | None = None
        """When the open stream began to call back at the device's pace (None until then)."""
        self._playout: SteadyTimeline | None = None
        """When each block the callback hands over plays, counted in samples since the stream's pace began."""

    def _open(self, rate: int) -> None:
        if self._stream is not None and self._rate == rate:
            return
        self.close()
        for candidate in (rate, 48_000, 44_100):
            try:
                self._sd.check_output_settings(
                    device=self.device, samplerate=candidate, channels=1, dtype="int16"
                )
            except Exception:
                continue
            with self._cond:
                self._pending.clear()
                self._queued = self._handed = 0
            self._last_call_s = self._started_s = None
            self._playout = SteadyTimeline(candidate, PLAYOUT_SETTLE_S)
            self._rate = candidate
            try:
                self._stream = self._sd.OutputStream(
                    device=self.device,
                    samplerate=candidate,
                    channels=1,
                    dtype="int16",
                    callback=self._callback,
                    latency=self.buffer_s or "high",
                )
                self._stream.start()
            except Exception as exc:
                self._stream = None
                raise open_error("speaker", self.device, exc) from exc
            return
        raise open_error("speaker", self.device, RuntimeError(f"no usable sample rate near {rate} Hz"))

    def _callback(self, outdata, frames: int, time_info, _status) -> None:
        if not self._paced(frames):
            outdata.fill(0)
            return
        block = self._take(frames)
        outdata[: block.size, 0] = block
        outdata[block.size :] = 0
        listener, stream, playout = self.listener, self._stream, self._playout
        if listener is not None and stream is not None and playout is not None:
            ahead = time_info.outputBufferDacTime - time_info.currentTime
            if not 0.0 <= ahead <= 2.0:  # a host API that does not fill in the times
                ahead = float(stream.latency)
            at_s = playout.time_of(time.monotonic() + ahead, frames)  # silent blocks keep the count too
            if block.size:
                listener(block, self._rate, at_s)

    def _paced(self, frames: int) -> bool:
        """Whether the device has begun to take audio at its own pace. A new stream first calls back several
        times at once to fill its buffer, and may then wait (0.9 s on a fresh PulseAudio sink) before it
        plays: the times it reports for those first blocks are wrong, so they are filled with silence."""
        if self._started_s is None:
            now = time.monotonic()
            last, self._last_call_s = self._last_call_s, now
            if last is None or now - last < 0.5 * frames / self._rate:
                return False
            self._started_s = now
        return True

    def _take(self, frames: int) -> np.ndarray:
        with self._cond:
            parts: list[np.ndarray] = []
            wanted = frames
            while wanted and self._pending:
                head = self._pending[0]
                parts.append(head[:wanted])
                if head.size <= wanted:
                    self._pending.popleft()
                else:
                    self._pending[0] = head[wanted:]
                wanted -= parts[-1].size
            taken = frames - wanted
            self._handed += taken
            if taken:
                self._cond.notify_all()
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)

    def play(self, samples: np.ndarray, rate: int, stop: Signal) -> int:
        self._open(rate)
        assert self._stream is not None and self._rate is not None
        out = resample(samples, rate, self._rate) if self._rate != rate else samples
        out = np.ascontiguousarray(out, dtype=np.int16)
        stalled = False
        with self._cond:  # never stop the stream while holding this: its callback may be waiting for it
            self._pending.append(out)
            self._queued += out.size
            end = self._queued
            lead = round(BLOCK_S * self._rate)  # returned this early, the next chunk follows without a gap
            handed, since = self._handed, time.monotonic()
            while self._handed < end - lead and not stop.is_set():
                self._cond.wait(BLOCK_S)
                if self._handed != handed:
                    handed, since = self._handed, time.monotonic()
                elif not self._stream.active or time.monotonic() - since > STALL_S:
                    stalled = True
                    break
            played = out.size - max(0, end - self._handed) if stop.is_set() else out.size
        if played < out.size:
            self._abort()
        if stalled:
            raise open_error("speaker", self.device, RuntimeError("the output stream stopped playing"))
        return int(played * rate / self._rate)

    def gap(self, seconds: float) -> None:
        pass

    def close(self) -> None:
        """Close the stream once the audio `play` left queued has been handed to it (within a second)."""
        stream = self._stream
        if stream is not None:
            with self._cond:
                self._cond.wait_for(lambda: self._handed >= self._queued or not stream.active, timeout=1.0)
        self._stream = None
        close_stream(stream)

    def _abort(self) -> None:
        """Close the stream without playing what the device still buffers: stop now (a barge-in)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):  # a device that is gone cannot be aborted either
                stream.abort()
            close_stream(stream)
