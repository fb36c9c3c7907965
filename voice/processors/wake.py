"""Wake-word detection with microWakeWord (through `pymicro-wakeword`) as a frame processor.

Why microWakeWord rather than openWakeWord (`pyopen-wakeword`): on Piper-spoken "hey jarvis, ..." clips
with room noise both detected every clip with no false trigger on Hark's own speech, but microWakeWord
used 0.3 % of a core against 21 % for openWakeWord's mel + embedding + classifier models, and its wheel
is half the size (5 MB against 11 MB).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from voice.vad import FRAME_S

BUILTIN_WAKE_WORDS = ("okay_nabu", "hey_jarvis", "hey_mycroft", "alexa")
TFLITE_IDENTIFIER = b"TFL3"
"""The flatbuffer file identifier every TFLite model carries at bytes 4-8."""


class WakeWordError(ValueError):
    """An unknown wake-word name or a file that is not a microWakeWord model."""


def _builtin_config(name: str) -> Path:
    import pymicro_wakeword

    return Path(pymicro_wakeword.__file__).parent / "models" / f"{name}.json"


def _config_path(spec: str) -> Path:
    """`NAME` of a built-in model, or a model file: its `.json` config or the `.tflite` beside one."""
    if spec in BUILTIN_WAKE_WORDS:
        return _builtin_config(spec)
    path = Path(os.path.expanduser(spec))
    if not path.is_file():
        if path.suffix or os.sep in spec:
            raise FileNotFoundError(f"wake word model not found: {spec}")
        raise WakeWordError(
            f"unknown wake word {spec!r}: choose one of {', '.join(BUILTIN_WAKE_WORDS)} "
            "or give a microWakeWord model file (.json with its .tflite)"
        )
    if path.suffix == ".tflite":
        path = path.with_suffix(".json")
        if not path.is_file():
            raise WakeWordError(f"{spec}: a microWakeWord model needs its .json config beside the .tflite")
    return path


def _model_file(config_path: Path, spec: str) -> Path:
    """The `.tflite` a microWakeWord config names, after checking the config has what loading needs."""
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WakeWordError(f"{spec} is not a microWakeWord model (not a JSON config: {exc})") from exc
    if not isinstance(config, dict):
        config = {}
    micro = config.get("micro")
    complete = isinstance(micro, dict) and "probability_cutoff" in micro
    if not (isinstance(config.get("model"), str) and complete):
        raise WakeWordError(f"{spec} is not a microWakeWord model config (no 'model' and 'micro' settings)")
    model_file = config_path.parent / config["model"]
    if not model_file.is_file():
        raise WakeWordError(f"{spec}: its model file {model_file.name} is missing")
    with model_file.open("rb") as f:
        header = f.read(8)
    if header[4:8] != TFLITE_IDENTIFIER:  # the TFLite C library crashes on a file that is not a model
        raise WakeWordError(f"{spec}: {model_file.name} is not a TFLite wake word model")
    return model_file


def check_wake_word(spec: str) -> tuple[Path, Path]:
    """The config and model files of `spec` (NAME or FILE), checked without loading the model, so a command
    can fail before it loads anything else. Raises `WakeWordError` or `FileNotFoundError`."""
    config_path = _config_path(spec)
    return config_path, _model_file(config_path, spec)


def load_wake_word(spec: str):
    """The `pymicro_wakeword.MicroWakeWord` model for `spec` (NAME or FILE); clear errors otherwise."""
    from pymicro_wakeword import MicroWakeWord

    config_path, model_file = check_wake_word(spec)
    try:
        return MicroWakeWord.from_config(config_path)
    except (RuntimeError, ValueError) as exc:  # e.g. a model with unexpected tensor types
        raise WakeWordError(f"{spec}: {model_file.name} is not a microWakeWord model ({exc})") from exc


class WakeWordDetector:
    """FrameProcessor that passes frames through unchanged and calls `on_wake(name, at_s)` on detection.

    `at_s` is the end of the frame in which the model's averaged probability crossed its cutoff. One
    detection per crossing: it re-arms when the probability falls back under the cutoff. `on_wake` runs
    on the capture thread, so it must only record or hand over the event.
    """

    def __init__(self, spec: str, on_wake: Callable[[str, float], None]) -> None:
        from pymicro_wakeword import MicroWakeWordFeatures

        self._model = load_wake_word(spec)
        self._features = MicroWakeWordFeatures()
        self.name: str = self._model.id
        self._on_wake = on_wake
        self._armed = True
        self._since_run = 0

    def process(self, frame: np.ndarray, at_s: float) -> np.ndarray:
        for features in self._features.process_streaming(np.asarray(frame, dtype=np.int16).tobytes()):
            detected = self._model.process_streaming(features)
            # The model runs once per `stride` feature windows and answers a placeholder in between.
            self._since_run = (self._since_run + 1) % self._model.stride
            if self._since_run:
                continue
            if detected and self._armed:
                self._armed = False
                self._on_wake(self.name, at_s + FRAME_S)
            elif not detected:
                self._armed = True
        return frame

    def playback(self, audio: np.ndarray, sample_rate: int, at_s: float) -> None:
        """The wake word listens to the microphone only."""


class _Debounced:
    """Passes on one wake per `window_s`: two detectors hearing the same utterance report it once."""

    def __init__(self, on_wake: Callable[[str, float], None], window_s: float) -> None:
        self._on_wake = on_wake
        self._window_s = window_s
        self._last_s = float("-inf")

    def __call__(self, name: str, at_s: float) -> None:
        if at_s - self._last_s >= self._window_s:
            self._on_wake(name, at_s)
        self._last_s = at_s


def wake_word_pair(
    spec: str, on_wake: Callable[[str, float], None], window_s: float = 1.5
) -> tuple[WakeWordDetector, WakeWordDetector]:
    """Two detectors for a chain with echo cancellation: put one before the canceller, one after.

    Why both: AEC3 attenuates the start of the user's words while it decides that this is double talk,
    which is exactly where a wake word sits. Measured on "hey jarvis, ..." spoken over a Piper reply in
    the same voice (4 runs x 8 trials, echo 80 ms late): echo 15 dB below the speaker, raw microphone 27
    of 32, cleaned 20, both 29; 10 dB: 16, 8, 18; 6 dB: 3, 3, 6. Hark never says its own wake word, so
    the raw detector does not fire on the echo (none in 14 minutes of Hark's speech with "Jarvis" in it).
    """
    debounced = _Debounced(on_wake, window_s)
    return WakeWordDetector(spec, debounced), WakeWordDetector(spec, debounced)
