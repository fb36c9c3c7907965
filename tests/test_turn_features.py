"""Our log-mel features against the numpy extractor shipped in the pipecat-ai wheel.

That module imports nothing but numpy, so it is loaded straight from its file: Pipecat's package (and
its uninstalled dependencies) is never imported.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from voice.decode import to_float32
from voice.turn.features import N_FRAMES, N_MELS, WINDOW_SAMPLES, last_window, log_mel, mel_filterbank
from voice.turn.model import bundled_model_path


@pytest.fixture(scope="module")
def reference():
    path = bundled_model_path().parent.parent / "_whisper_features.py"
    spec = importlib.util.spec_from_file_location("smart_turn_reference_features", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def question(speaker):
    from audio_fixtures import spoken

    return to_float32(spoken(speaker, "Could you tell me what the weather will be like tomorrow?"))


def test_mel_filters_match_the_reference(reference):
    assert np.allclose(mel_filterbank(), reference._MEL_FILTERS.T, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seconds", [2.0, 8.0, 11.0])
def test_features_of_real_speech_match_the_reference(reference, question, seconds):
    n = round(seconds * 16000)
    audio = np.resize(question, n)  # repeated speech, to fill windows longer than the question
    ours = log_mel(audio)
    theirs = reference.compute_whisper_log_mel_features(last_window(audio))
    assert ours.shape == theirs.shape == (N_MELS, N_FRAMES)
    assert ours.dtype == np.float32
    assert np.max(np.abs(ours - theirs)) < 1e-6  # in practice bit-identical


def test_short_audio_is_padded_in_front_and_long_audio_keeps_its_end():
    audio = np.arange(1, 1001, dtype=np.float32)
    window = last_window(audio)
    assert window.size == WINDOW_SAMPLES
    assert np.all(window[:-1000] == 0) and np.array_equal(window[-1000:], audio)
    long = np.arange(WINDOW_SAMPLES + 500, dtype=np.float32)
    assert np.array_equal(last_window(long), long[500:])


def test_features_refuse_multichannel_audio():
    with pytest.raises(ValueError, match="mono"):
        log_mel(np.zeros((2, 16000), np.float32))
