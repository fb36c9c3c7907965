"""The seams of the voice loop: what it needs of speech recognition, speech synthesis and frame processors.

An engine is anything with these methods (`voice.stt.Transcriber` and `voice.tts.Speaker` are the bundled
ones); nothing has to inherit from them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from voice.stt import Transcript


class SpeechToText(Protocol):
    def transcribe(self, audio: np.ndarray) -> Transcript:
        """The accurate transcript of float32 16 kHz mono `audio` (the final one of an utterance)."""
        ...

    def quick_transcribe(self, audio: np.ndarray) -> Transcript:
        """A cheaper pass for partial transcripts while the user is still speaking."""
        ...


class TextToSpeech(Protocol):
    sample_rate: int

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """int16 mono audio at `sample_rate`, in pieces, the first as early as possible."""
        ...


class FrameProcessor(Protocol):
    """Applied to each microphone frame before VAD, in chain order (echo cancel → noise → wake word)."""

    def process(self, frame: np.ndarray, at_s: float) -> np.ndarray:
        """One captured frame (int16, 480 samples) captured at monotonic time `at_s`; return the cleaned
        frame (same shape/dtype). Must not block on I/O or locks held during I/O."""
        ...

    def playback(self, audio: np.ndarray, sample_rate: int, at_s: float) -> None:
        """The far-end reference: `audio` (int16 mono, any rate) starts playing on the speaker at
        monotonic time `at_s`. Called from the player thread."""
        ...


@runtime_checkable
class EchoJudge(Protocol):
    """A frame processor that can tell when the microphone hears nothing but the speaker's echo."""

    def hears_only_echo(self) -> bool:
        """Whether all the microphone heard lately (about the speech that pauses a reply) is the echo."""
        ...

    def heard_over_echo_s(self) -> float:
        """How long, up to the latest frame, the microphone has heard what the echo cannot explain (0 when
        it does not now), speech whose onset the echo hid from the VAD among it."""
        ...


class ProcessorChain:
    """Frame processors applied in order; itself a `FrameProcessor`. Every one hears the playback."""

    def __init__(self, processors: Sequence[FrameProcessor] = ()) -> None:
        self.processors = tuple(processors)

    def process(self, frame: np.ndarray, at_s: float) -> np.ndarray:
        for processor in self.processors:
            frame = processor.process(frame, at_s)
        return frame

    def playback(self, audio: np.ndarray, sample_rate: int, at_s: float) -> None:
        for processor in self.processors:
            processor.playback(audio, sample_rate, at_s)

    def hears_only_echo(self) -> bool:
        return any(isinstance(p, EchoJudge) and p.hears_only_echo() for p in self.processors)

    def heard_over_echo_s(self) -> float:
        return max((p.heard_over_echo_s() for p in self.processors if isinstance(p, EchoJudge)), default=0.0)
