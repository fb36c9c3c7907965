"""`hark say`: text with nothing to speak and a folder as --output are user errors; words make a real WAV."""

from __future__ import annotations

import wave

import pytest

from hark.cli import main


@pytest.mark.parametrize("text", ["😀", "😀 🎉", "** ## **", "..."])
def test_nothing_speakable_is_an_error_and_writes_no_file(text, tmp_path, capsys):
    out = tmp_path / "out.wav"
    assert main(["say", text, "--output", str(out)]) == 2
    assert "error: nothing speakable" in capsys.readouterr().err
    assert not out.exists()


def test_output_that_is_a_folder_is_an_error(tmp_path, capsys):
    assert main(["say", "hello", "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "is a directory" in err


def test_output_in_a_missing_folder_is_an_error(tmp_path, capsys):
    assert main(["say", "hello", "--output", str(tmp_path / "no" / "out.wav")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_words_with_an_emoji_are_spoken_by_piper(tmp_path):
    out = tmp_path / "out.wav"
    assert main(["say", "Hello there 😀", "--output", str(out)]) == 0
    with wave.open(str(out)) as wav:
        assert wav.getnframes() > wav.getframerate() // 4  # at least a quarter second of speech
