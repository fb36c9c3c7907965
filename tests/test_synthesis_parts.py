"""Long sentences are cut into synthesis parts at their pauses, or between words only when they must be."""

from __future__ import annotations

import numpy as np

from voice.synthesis_parts import MOST_PHONEMES, PART_PHONEMES, join, split_phonemes


def phonemes(text: str) -> list[str]:
    return list(text)


def texts(parts) -> list[str]:
    return ["".join(p.phonemes) for p in parts]


def test_a_sentence_of_part_length_is_whole():
    text = "a" * (PART_PHONEMES - 5) + ", bc."
    assert texts(split_phonemes(phonemes(text))) == [text]


def test_a_long_sentence_is_cut_after_its_last_pause_within_a_part():
    text = "one two, " + "x" * 60 + ", " + "y" * 60 + "; end."
    parts = split_phonemes(phonemes(text))
    assert texts(parts) == ["one two, " + "x" * 60 + ",", "y" * 60 + "; end."]
    assert not any(p.joins_words for p in parts)


def test_a_pause_further_on_is_taken_before_any_word_cut():
    text = "w " * 60 + "far, " + "z" * 30 + "."
    assert texts(split_phonemes(phonemes(text))) == ["w " * 60 + "far,", "z" * 30 + "."]


def test_a_long_run_without_a_pause_is_cut_between_words_near_its_middle():
    words = ["word"] * 40  # 199 phonemes
    parts = split_phonemes(phonemes(" ".join(words) + "."))
    assert [p.joins_words for p in parts] == [True, False]
    assert all(len(p.phonemes) <= MOST_PHONEMES for p in parts)
    assert abs(len(parts[0].phonemes) - len(parts[1].phonemes)) <= 6
    assert " ".join(texts(parts)) == " ".join(words) + "."


def test_a_run_without_a_pause_up_to_the_limit_stays_whole():
    text = " ".join(["word"] * 30) + "."  # 150 phonemes
    assert texts(split_phonemes(phonemes(text))) == [text]


def test_the_final_punctuation_is_no_cut():
    text = "a" * (PART_PHONEMES + 20) + ","
    assert texts(split_phonemes(phonemes(text))) == [text]


def test_very_long_runs_give_parts_within_the_limit():
    text = " ".join(["syllable"] * 100)
    parts = split_phonemes(phonemes(text))
    assert len(parts) >= 6 and all(len(p.phonemes) <= MOST_PHONEMES for p in parts)
    assert " ".join(texts(parts)) == text


def voiced(silence_before: float, seconds: float, silence_after: float, rate: int = 1000) -> np.ndarray:
    tone = np.where(np.arange(int(seconds * rate)) % 2, 0.5, -0.5).astype(np.float32)
    return np.concatenate(
        [
            np.zeros(int(silence_before * rate), np.float32),
            tone,
            np.zeros(int(silence_after * rate), np.float32),
        ]
    )


def test_silence_is_trimmed_to_a_word_gap_only_where_words_were_cut():
    parts = split_phonemes(phonemes(" ".join(["word"] * 40) + ", " + "end " * 30 + "."))
    assert [p.joins_words for p in parts] == [True, False, False]
    audio = [voiced(0.05, 1.0, 0.2), voiced(0.05, 1.0, 0.2), voiced(0.05, 1.0, 0.2)]
    joined = join(parts, audio, rate=1000)
    # first join: 0.2 + 0.05 s of silence trimmed to 0.03 + 0.03; the pause join keeps its 0.25 s
    assert joined.size == sum(a.size for a in audio) - (250 - 60)
