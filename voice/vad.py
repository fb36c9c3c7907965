"""Per-frame voice activity detection.

`WebRtcVad` is the cheap default. `SileroConfirmedVad` (see `voice.silero`) wraps it for noisy rooms.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from voice import SAMPLE_RATE

FRAME_S = 0.03
FRAME_SAMPLES = int(SAMPLE_RATE * FRAME_S)


class FrameVad(Protocol):
    """Decides whether one 30 ms frame of 16 kHz mono int16 audio holds speech."""

    def is_speech(self, frame: np.ndarray) -> bool: ...


class WebRtcVad:
    """webrtcvad (from the `webrtcvad-wheels` distribution), aggressiveness 0 (lenient) to 3 (strict)."""

    def __init__(self, aggressiveness: int = 2) -> None:
        if aggressiveness not in (0, 1, 2, 3):
            raise ValueError("VAD aggressiveness must be 0, 1, 2 or 3")
        import webrtcvad

        self._vad = webrtcvad.Vad(aggressiveness)

    def is_speech(self, frame: np.ndarray) -> bool:
        if frame.size != FRAME_SAMPLES:
            raise ValueError(f"VAD frames must be {FRAME_SAMPLES} samples, got {frame.size}")
        return bool(self._vad.is_speech(frame.astype(np.int16).tobytes(), SAMPLE_RATE))
