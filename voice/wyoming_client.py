"""Speech recognition and synthesis by a remote Wyoming service (`wyoming-faster-whisper` on a machine with a
GPU, `wyoming-piper`, another Hark): `SpeechToText` and `TextToSpeech` engines for the voice loop.

Each call is one connection with the `wyoming` package's events over a plain blocking socket: the loop calls
engines from its own threads, and a blocking socket lets synthesized audio be yielded as it arrives (closing
the iterator closes the connection, which is how an interrupted reply stops the remote synthesis).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import BinaryIO
from urllib.parse import urlparse

import numpy as np
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, read_event, write_event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeVoice

from voice import SAMPLE_RATE
from voice.decode import resample, to_int16
from voice.stt import Transcript as HarkTranscript

CHUNK_SAMPLES = 8000
"""Samples per `audio-chunk` sent: half a second, as wyoming clients commonly send."""
PROBE_TEXT = "Hello."


class WyomingServiceError(RuntimeError):
    """The Wyoming service cannot be reached, refused the request, or broke the protocol."""


class Connection:
    """One request's connection to the service at `uri` (`tcp://host:port` or `unix:///path`)."""

    def __init__(self, uri: str, timeout_s: float) -> None:
        self.uri = uri
        parts = urlparse(uri)
        try:
            if parts.scheme == "tcp" and parts.hostname and parts.port:
                self._sock = socket.create_connection((parts.hostname, parts.port), timeout_s)
            elif parts.scheme == "unix" and parts.path:
                self._sock = socket.socket(socket.AF_UNIX)
                self._sock.settimeout(timeout_s)
                self._sock.connect(parts.path)
            else:
                raise WyomingServiceError(
                    f"a Wyoming address is tcp://HOST:PORT or unix:///PATH (got {uri!r})"
                )
        except OSError as exc:
            raise WyomingServiceError(f"the Wyoming service at {uri} is not reachable ({exc})") from exc
        self._in: BinaryIO = self._sock.makefile("rb")
        self._out: BinaryIO = self._sock.makefile("wb")

    def send(self, *events: Event) -> None:
        try:
            for event in events:
                write_event(event, self._out)
            self._out.flush()
        except OSError as exc:
            raise WyomingServiceError(f"the Wyoming service at {self.uri} failed ({exc})") from exc

    def receive(self) -> Event:
        """The next event; an `error` event or the end of the connection is a `WyomingServiceError`."""
        try:
            event = read_event(self._in)
        except OSError as exc:
            raise WyomingServiceError(f"the Wyoming service at {self.uri} failed ({exc})") from exc
        if event is None:
            raise WyomingServiceError(f"the Wyoming service at {self.uri} closed the connection")
        if Error.is_type(event.type):
            raise WyomingServiceError(
                f"the Wyoming service at {self.uri} refused: {Error.from_event(event).text}"
            )
        return event

    def receive_type(self, wanted: type) -> Event:
        """The next event of the `wanted` kind, skipping others (e.g. the streamed parts of a transcript)."""
        while not wanted.is_type((event := self.receive()).type):
            pass
        return event

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._in.close()
            self._out.close()
            self._sock.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def describe(uri: str, timeout_s: float) -> Info:
    with Connection(uri, timeout_s) as connection:
        connection.send(Describe().event())
        return Info.from_event(connection.receive_type(Info))


class WyomingTranscriber:
    """`SpeechToText` by a Wyoming `asr` service. The protocol gives no confidence: a transcript with words
    counts as sure (1.0), an empty one as no speech."""

    def __init__(self, uri: str, timeout_s: float = 30.0, language: str | None = "en") -> None:
        self.uri = uri
        self.timeout_s = timeout_s
        self.language = language
        if not describe(uri, timeout_s).asr:
            raise WyomingServiceError(f"the Wyoming service at {uri} offers no speech recognition (asr)")

    def transcribe(self, audio: np.ndarray) -> HarkTranscript:
        pcm = to_int16(np.asarray(audio, dtype=np.float32))
        chunk = {"rate": SAMPLE_RATE, "width": 2, "channels": 1}
        with Connection(self.uri, self.timeout_s) as connection:
            connection.send(
                Transcribe(language=self.language).event(),
                AudioStart(**chunk).event(),
                *(
                    AudioChunk(**chunk, audio=pcm[at : at + CHUNK_SAMPLES].tobytes()).event()
                    for at in range(0, pcm.size, CHUNK_SAMPLES)
                ),
                AudioStop().event(),
            )
            text = Transcript.from_event(connection.receive_type(Transcript)).text.strip()
        return HarkTranscript(text, confidence=1.0 if text else 0.0, no_speech_prob=0.0 if text else 1.0)

    def quick_transcribe(self, audio: np.ndarray) -> HarkTranscript:
        """The same request: the remote service has no cheaper pass to offer."""
        return self.transcribe(audio)


class WyomingSpeaker:
    """`TextToSpeech` by a Wyoming `tts` service, in its voice `voice` (None: the service's default).

    The loop needs the sample rate before the first reply, and the protocol tells it only with audio: one
    short phrase is synthesized at start (which also proves the service works). Audio at another rate later
    (a service that changed voice) is resampled to it."""

    def __init__(self, uri: str, voice: str | None = None, timeout_s: float = 30.0) -> None:
        self.uri = uri
        self.voice = voice
        self.timeout_s = timeout_s
        if not describe(uri, timeout_s).tts:
            raise WyomingServiceError(f"the Wyoming service at {uri} offers no speech synthesis (tts)")
        self.sample_rate = 0
        for _ in self._audio(PROBE_TEXT):
            break

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """int16 mono audio at `sample_rate`, each chunk as the service sends it."""
        if not text.strip():
            return
        yield from self._audio(text)

    def _audio(self, text: str) -> Iterator[np.ndarray]:
        voice = SynthesizeVoice(name=self.voice) if self.voice else None
        with Connection(self.uri, self.timeout_s) as connection:
            connection.send(Synthesize(text=text, voice=voice).event())
            start = AudioStart.from_event(connection.receive_type(AudioStart))
            if start.width != 2:
                raise WyomingServiceError(
                    f"the Wyoming service at {self.uri} sent {start.width * 8}-bit audio"
                )
            self.sample_rate = self.sample_rate or start.rate
            while not AudioStop.is_type((event := connection.receive()).type):
                if AudioChunk.is_type(event.type):
                    samples = np.frombuffer(AudioChunk.from_event(event).audio, dtype=np.int16)
                    if start.channels > 1:
                        samples = samples[: samples.size // start.channels * start.channels]
                        samples = samples.reshape(-1, start.channels).mean(axis=1).astype(np.int16)
                    yield resample(samples, start.rate, self.sample_rate)
