"""Piper's memory settings change nothing that is heard, and a derived speaker shares the loaded voice."""

from __future__ import annotations

import numpy as np
from piper import PiperVoice, SynthesisConfig

from hark.allocator import share_one_arena
from voice.tts import Speaker, TtsConfig

LONG = "I can book a table for four people at seven tonight, inside or out on the terrace where it is cooler."


def test_the_voice_sounds_as_piper_loads_it(speaker):
    syn = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, normalize_audio=True, volume=0.8)
    theirs = PiperVoice.load(speaker.voice_path)
    for text in ("Hello.", LONG, "Bees make honey."):  # a long sentence between two short ones
        ours = [c.audio_int16_array for c in speaker._voice.synthesize(text, syn_config=syn)]
        plain = [c.audio_int16_array for c in theirs.synthesize(text, syn_config=syn)]
        assert np.array_equal(np.concatenate(ours), np.concatenate(plain))


def test_a_derived_speaker_shares_the_voice_and_speaks_with_its_own_settings(speaker):
    deterministic = speaker.derive(TtsConfig(deterministic=True))
    assert deterministic._voice is speaker._voice and deterministic.config.deterministic
    assert not speaker.config.deterministic
    first = deterministic.synthesize_all("What is the capital of France?")
    assert np.array_equal(first, deterministic.synthesize_all("What is the capital of France?"))


def test_another_voice_is_loaded_for_itself(speaker, tmp_path):
    voice = tmp_path / "copy.onnx"
    voice.symlink_to(speaker.voice_path)
    (tmp_path / "copy.onnx.json").symlink_to(f"{speaker.voice_path}.json")
    other = speaker.derive(TtsConfig(voice=str(voice)))
    assert isinstance(other, Speaker) and other._voice is not speaker._voice


def test_sharing_one_arena_is_harmless_to_repeat():
    share_one_arena()
    share_one_arena()
    assert np.ones(1 << 20).sum() == 1 << 20
