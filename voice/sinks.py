"""Audio sinks: the speaker, a WAV file, or nothing (for benchmarks).

A sink plays one chunk at a time and can be stopped part-way (barge-in); it reports how many samples were
really played so the dialogue can keep only what the user heard. A sink that knows how long its audio takes
to reach the air has a `latency_s` attribute (the player dates the echo-cancelling reference with it).
"""

from __future__ import annotations

import os
import threading
import wave
from typing import Protocol

import numpy as np

from voice.clock import Signal
from voice.decode import resample
from voice.devices import close_stream, find_device, open_error

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


class SpeakerSink:
    """A sounddevice output stream, opened lazily at a rate the device accepts."""

    def __init__(self, device: str | int | None = None) -> None:
        import sounddevice as sd

        self._sd = sd
        self.device = find_device(device, kind="output")
        self._stream = None
        self._rate: int | None = None

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
            try:
                self._stream = self._sd.OutputStream(
                    device=self.device, samplerate=candidate, channels=1, dtype="int16"
                )
                self._stream.start()
            except Exception as exc:
                raise open_error("speaker", self.device, exc) from exc
            self._rate = candidate
            return
        raise open_error("speaker", self.device, RuntimeError(f"no usable sample rate near {rate} Hz"))

    def play(self, samples: np.ndarray, rate: int, stop: Signal) -> int:
        self._open(rate)
        assert self._stream is not None and self._rate is not None
        out = resample(samples, rate, self._rate) if self._rate != rate else samples
        block = int(self._rate * BLOCK_S)
        played = 0
        try:
            for start in range(0, out.size, block):
                if stop.is_set():
                    self._stream.abort()  # drop what the device still buffers: stop now
                    self._stream.close()
                    self._stream = None
                    break
                self._stream.write(out[start : start + block].reshape(-1, 1))
                played = min(out.size, start + block)
        except Exception as exc:
            self._stream = None
            raise open_error("speaker", self.device, exc) from exc
        return int(played * rate / self._rate)

    @property
    def latency_s(self) -> float:
        """How long after a write its audio reaches the speaker (the device's output latency)."""
        stream = self._stream
        if stream is not None:
            return float(stream.latency)
        # not open yet (the first chunk opens it): what such a stream will have
        return float(self._sd.query_devices(self.device, "output")["default_high_output_latency"])

    def gap(self, seconds: float) -> None:
        pass

    def close(self) -> None:
        stream, self._stream = self._stream, None
        close_stream(stream)
