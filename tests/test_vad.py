"""VAD on real audio: Piper speech, silence, and loud white noise."""

import numpy as np
import pytest
from audio_fixtures import spoken

from voice.silero import SileroConfirmedVad, SileroVad
from voice.vad import FRAME_SAMPLES, WebRtcVad


def frames_of(audio: np.ndarray) -> list[np.ndarray]:
    n = audio.size // FRAME_SAMPLES
    return [audio[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES] for i in range(n)]


def noise(seconds: float, dbfs: float) -> np.ndarray:
    rng = np.random.default_rng(7)
    rms = 32768 * 10 ** (dbfs / 20)
    return np.clip(rng.normal(0, rms, int(seconds * 16_000)), -32768, 32767).astype(np.int16)


def speech_share(vad, audio: np.ndarray) -> float:
    decisions = [vad.is_speech(f) for f in frames_of(audio)]
    return sum(decisions) / len(decisions)


@pytest.fixture(scope="module")
def sentence(speaker):
    return spoken(speaker, "The quick brown fox jumps over the lazy dog near the river bank.")


def test_webrtc_hears_speech_but_also_calls_loud_noise_speech(sentence):
    assert speech_share(WebRtcVad(2), sentence) > 0.6
    assert speech_share(WebRtcVad(2), np.zeros(16_000, np.int16)) == 0.0
    assert speech_share(WebRtcVad(2), noise(2.0, -25)) > 0.8  # the known weakness


def test_silero_confirmation_rejects_noise_and_keeps_speech(sentence):
    vad = SileroConfirmedVad(WebRtcVad(2))
    assert speech_share(vad, noise(2.0, -25)) < 0.05
    assert speech_share(SileroConfirmedVad(WebRtcVad(2)), sentence) > 0.5


def test_silero_probability_tracks_speech_in_noise(sentence):
    mixed = np.clip(
        sentence.astype(np.int32) + noise(sentence.size / 16_000, -30)[: sentence.size], -32768, 32767
    )
    silero = SileroVad()
    probabilities = [silero.feed(f) for f in frames_of(mixed.astype(np.int16))]
    assert max(probabilities) > 0.8


def test_webrtc_rejects_bad_frames_and_levels():
    with pytest.raises(ValueError):
        WebRtcVad(5)
    with pytest.raises(ValueError):
        WebRtcVad(2).is_speech(np.zeros(100, np.int16))
