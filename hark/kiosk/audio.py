"""Audio for an unattended box: devices that may be missing at boot or unplugged, watched for the operator.

PortAudio reads its device list once, when it is initialised: a USB microphone plugged in later, or a sound
server started after Hark, is never seen unless PortAudio is re-initialised (the way the sounddevice
maintainers recommend: `sd._terminate(); sd._initialize()`). That closes every open stream, so it is done
only when the microphone is being (re)opened — no input stream is open then — and after closing the speaker
stream, which `SpeakerOutput` holds only while it plays.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import numpy as np

from voice.errors import AudioDeviceError
from voice.sinks import PlaybackListener, SpeakerSink
from voice.sources import AudioSource, MicSource

EventCallback = Callable[[dict], None]


class PortAudio:
    """Shared by the microphone and the speaker of a process: rescans and playback exclude each other."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._outputs: list[SpeakerOutput] = []

    def rescan(self) -> None:
        """Re-read the device list (closing the speaker stream first; it reopens on the next reply)."""
        try:
            import sounddevice as sd
        except OSError as exc:  # the PortAudio library itself is missing
            raise AudioDeviceError(f"PortAudio is not usable: {exc}") from exc
        with self.lock:
            for output in self._outputs:
                output.release()
            sd._terminate()
            sd._initialize()

    def microphone(self, device: str) -> MicSource:
        """A freshly found microphone (`device`: index or name part; empty for the default)."""
        self.rescan()
        return MicSource(device or None)

    def speaker(self, device: str, on_event: EventCallback) -> SpeakerOutput:
        output = SpeakerOutput(self, device, on_event)
        self._outputs.append(output)
        return output


class SpeakerOutput:
    """An `AudioSink` on the speaker that opens it when there is something to play, so a speaker missing at
    start or lost mid-reply costs that reply (reported), not the kiosk."""

    def __init__(self, audio: PortAudio, device: str, on_event: EventCallback) -> None:
        self._audio = audio
        self._device = device
        self._on_event = on_event
        self._sink: SpeakerSink | None = None
        self.listener: PlaybackListener | None = None
        """Given to each speaker stream opened: it dates the echo-cancelling reference."""
        self.buffer_s: float | None = None
        """Given to each speaker stream opened (see `SpeakerSink.buffer_s`)."""
        self.description = f"speaker {device or '(default)'}"
        self.status = "unknown"
        self.error: str | None = None

    def play(self, samples: np.ndarray, rate: int, stop: threading.Event) -> int:
        with self._audio.lock:
            try:
                if self._sink is None:
                    self._sink = SpeakerSink(self._device or None)
                    self._sink.buffer_s = self.buffer_s
                self._sink.listener = self.listener
                played = self._sink.play(samples, rate, stop)
            except (AudioDeviceError, OSError) as exc:
                self.release()
                if self.status != "down":
                    self._on_event({"event": "audio_output", "status": "down", "error": str(exc)})
                self.status, self.error = "down", str(exc)
                raise
        if self.status != "ok":
            self.status, self.error = "ok", None
            self._on_event({"event": "audio_output", "status": "ok"})
        return played

    def gap(self, seconds: float) -> None:
        pass

    def release(self) -> None:
        """Close the stream (call with the `PortAudio` lock held)."""
        sink, self._sink = self._sink, None
        if sink is not None:
            sink.close()

    def close(self) -> None:
        with self._audio.lock:
            self.release()


class MonitoredInput:
    """An audio source whose state the operator can see: `starting`, `ok` once frames flow, `down` while a
    failed device is being reopened with backoff.

    `make_source` builds the source given the callback to report failures with, e.g.
    `lambda lost: ReconnectingSource(open_microphone, lost)`.
    """

    def __init__(
        self,
        make_source: Callable[[Callable[[Exception, float], None]], AudioSource],
        on_event: EventCallback,
        description: str,
    ) -> None:
        self._on_event = on_event
        self.description = description
        self.status = "starting"
        self.error: str | None = None
        self.retry_in_s: float | None = None
        self.last_frame = time.monotonic()
        self._source = make_source(self.lost)

    def frames(self) -> Iterator[np.ndarray]:
        for frame in self._source.frames():
            self.last_frame = time.monotonic()
            if self.status != "ok":
                self.status, self.error, self.retry_in_s = "ok", None, None
                self._on_event({"event": "audio_input", "status": "ok", "device": self.description})
            yield frame

    def close(self) -> None:
        self._source.close()

    def lost(self, exc: Exception, retry_in_s: float) -> None:
        self.status, self.error, self.retry_in_s = "down", str(exc), retry_in_s
        event = {"event": "audio_input", "status": "down", "error": str(exc), "retry_in_s": retry_in_s}
        self._on_event(event)
