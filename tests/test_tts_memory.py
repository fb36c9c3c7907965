"""Piper's memory settings change nothing that is heard, and a derived speaker shares the loaded voice."""

from __future__ import annotations

import numpy as np
from piper import PiperVoice, SynthesisConfig

from hark.allocator import share_one_arena
from hark.evaluation.wer import word_error_rate
from voice.decode import resample, to_float32
from voice.stt import SAMPLE_RATE
from voice.synthesis_parts import MOST_PHONEMES
from voice.tts import Speaker, TtsConfig

LONG = "I can book a table for four people at seven tonight, inside or out on the terrace where it is cooler."
LONGEST = (  # 260 characters, a pause two thirds in, and a run of 140 characters without one
    "The nearest train station is often referred to as the Luxembourg in some parts of Europe and it is "
    "where most of the trains that run between the north and the south of the country stop for a while, "
    "before going on to the capital, which is a long way from here."
)


def test_the_voice_sounds_as_piper_loads_it(speaker):
    syn = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, normalize_audio=True, volume=0.8)
    theirs = PiperVoice.load(speaker.voice_path)
    for text in ("Hello.", LONG, "Bees make honey."):  # a long sentence between two short ones
        ours = [c.audio_int16_array for c in speaker._voice.synthesize(text, syn_config=syn)]
        plain = [c.audio_int16_array for c in theirs.synthesize(text, syn_config=syn)]
        assert np.array_equal(np.concatenate(ours), np.concatenate(plain))


def test_short_sentences_sound_as_piper_makes_them(speaker):
    deterministic = speaker.derive(TtsConfig(deterministic=True))
    syn = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, normalize_audio=True, volume=0.8)
    for text in ("Hello.", "What is the capital of France? Paris, I think."):
        plain = [c.audio_int16_array for c in speaker._voice.synthesize(text, syn_config=syn)]
        ours = list(deterministic.synthesize(text))
        assert len(ours) == len(plain) == text.count(".") + text.count("?")
        assert all(np.array_equal(a, b) for a, b in zip(ours, plain, strict=True))


def test_a_long_sentence_is_made_in_parts_and_heard_whole(speaker, transcriber, monkeypatch):
    """The model never sees more than a part, the sentence comes as one piece, and Whisper hears it all."""
    runs: list[int] = []
    make = speaker._voice.phoneme_ids_to_audio

    def counted(ids, *args, **kwargs):
        runs.append(len(ids))
        return make(ids, *args, **kwargs)

    monkeypatch.setattr(speaker._voice, "phoneme_ids_to_audio", counted)
    deterministic = speaker.derive(TtsConfig(deterministic=True))
    pieces = list(deterministic.synthesize(LONGEST))
    assert len(pieces) == 1 and len(runs) >= 3
    assert max(runs) <= 2 * MOST_PHONEMES + 1  # each phoneme and a pad, plus the start and end marks
    whole = np.concatenate([c.audio_int16_array for c in speaker._voice.synthesize(LONGEST)])
    assert abs(pieces[0].size - whole.size) / whole.size < 0.1  # no long gaps at the joins
    heard = transcriber.transcribe(to_float32(resample(pieces[0], speaker.sample_rate, SAMPLE_RATE))).text
    print("heard:", heard)
    assert word_error_rate(LONGEST, heard) <= 0.1, heard


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
