"""A reply as speech: text pieces → speakable chunks → audio, with the stage times taken one way everywhere.

The voice loop, `hark ask --speak`, `hark say` and the evaluation runner all speak through `ReplySpeech`, so
"first token" and "first audio" mean the same in every report: `llm_first_token` is when the first piece of
text arrived, `tts_start` when the first chunk went to synthesis, `tts_first_audio` when its first audio came
back. Audio is synthesised lazily, chunk by chunk, so a caller can stop at any point.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from voice.clock import SYSTEM_CLOCK, Clock
from voice.ports import TextToSpeech
from voice.shaper import SentenceChunker

FIRST_CLAUSE_CHARS = 40
"""The first chunk is cut at a clause once it is this long, so the first audio comes early."""


class ReplySpeech:
    def __init__(
        self,
        speaker: TextToSpeech | None,
        first_clause_chars: int = FIRST_CLAUSE_CHARS,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.speaker = speaker
        self.first_clause_chars = first_clause_chars
        self.clock = clock
        self.marks: dict[str, float] = {}
        """Clock times of `llm_start`, `llm_first_token`, `tts_start`, `tts_first_audio` (once each)."""

    def _mark(self, name: str) -> None:
        self.marks.setdefault(name, self.clock.now())

    def chunks(self, pieces: Iterable[str]) -> Iterator[str]:
        """Speakable chunks of the streamed text, each as soon as it is complete."""
        self._mark("llm_start")
        chunker = SentenceChunker(self.first_clause_chars)
        for piece in pieces:
            self._mark("llm_first_token")
            yield from chunker.feed(piece)
        yield from chunker.flush()

    def audio(self, chunk: str) -> Iterator[np.ndarray]:
        """The chunk's audio (int16 at `speaker.sample_rate`), piece by piece."""
        assert self.speaker is not None, "a ReplySpeech without a speaker only chunks text"
        self._mark("tts_start")
        for audio in self.speaker.synthesize(chunk):
            self._mark("tts_first_audio")
            yield audio

    def seconds(self, start: str, end: str) -> float | None:
        """Seconds from one mark to another, or None when either did not happen."""
        if start not in self.marks or end not in self.marks:
            return None
        return round(max(0.0, self.marks[end] - self.marks[start]), 4)
