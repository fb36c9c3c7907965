"""Piper's memory settings change nothing that is heard."""

from __future__ import annotations

import numpy as np
from piper import PiperVoice, SynthesisConfig

LONG = "I can book a table for four people at seven tonight, inside or out on the terrace where it is cooler."


def test_the_voice_sounds_as_piper_loads_it(speaker):
    syn = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, normalize_audio=True, volume=0.8)
    theirs = PiperVoice.load(speaker.voice_path)
    for text in ("Hello.", LONG, "Bees make honey."):  # a long sentence between two short ones
        ours = [c.audio_int16_array for c in speaker._voice.synthesize(text, syn_config=syn)]
        plain = [c.audio_int16_array for c in theirs.synthesize(text, syn_config=syn)]
        assert np.array_equal(np.concatenate(ours), np.concatenate(plain))
