"""Regenerate the spoken clips the suites in `evals/` use, with the bundled Piper voice, as 16 kHz WAV.

    .venv/bin/python evals/make_clips.py

Each clip has a little silence around the speech, as a microphone recording would.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

from voice import SAMPLE_RATE
from voice.decode import resample
from voice.tts import Speaker

CLIPS = {"capital.wav": "What is the capital of France?"}
PAD_S = 0.3


def main() -> None:
    speaker = Speaker()
    pad = np.zeros(int(PAD_S * SAMPLE_RATE), dtype=np.int16)
    for name, text in CLIPS.items():
        speech = resample(speaker.synthesize_all(text), speaker.sample_rate, SAMPLE_RATE)
        path = Path(__file__).resolve().parent / "clips" / name
        soundfile.write(path, np.concatenate([pad, speech, pad]), SAMPLE_RATE, subtype="PCM_16")
        print(f"{path}: {text!r}")


if __name__ == "__main__":
    main()
