"""Band by band, what the echo cannot explain (pure logic on synthetic frames): the onset of a person's
speech that is too quiet over the echo for the broadband double-talk check."""

from __future__ import annotations

import numpy as np
import pytest

from voice import SAMPLE_RATE
from voice.processors.echo import EchoLevel
from voice.processors.echo_bands import (
    GAIN_FRAMES,
    GAP_FRAMES,
    HIDDEN_ONSET_MAX_S,
    RELEARN_FRAMES,
    EchoBands,
    hidden_onset_s,
)
from voice.vad import FRAME_S, FRAME_SAMPLES

ECHO_GAIN = 0.3


def band_noise(rng: np.random.Generator, lo_hz: float, hi_hz: float, rms: float) -> np.ndarray:
    """A frame of noise holding only `lo_hz`-`hi_hz`, at `rms`."""
    spectrum = np.fft.rfft(rng.normal(0.0, 1.0, FRAME_SAMPLES))
    freqs = np.fft.rfftfreq(FRAME_SAMPLES, 1.0 / SAMPLE_RATE)
    spectrum[(freqs < lo_hz) | (freqs > hi_hz)] = 0.0
    frame = np.fft.irfft(spectrum, FRAME_SAMPLES)
    return frame * rms / np.sqrt(np.mean(frame**2))


class Room:
    """A speaker playing voiced sounds (energy under 3 kHz, at a wandering level) whose echo reaches the
    microphone at `gain`, over a little room noise."""

    def __init__(self, seed: int = 0, gain: float = ECHO_GAIN) -> None:
        self.rng = np.random.default_rng(seed)
        self.gain = gain
        self.bands = EchoBands(FRAME_SAMPLES, SAMPLE_RATE)

    def played(self) -> np.ndarray:
        return band_noise(self.rng, 100, 3000, self.rng.uniform(1500, 6000))

    def frame(self, near: np.ndarray | None = None) -> bool:
        """One frame of the speaker playing (and `near`, someone else, heard with it)."""
        around = np.stack([self.played() for _ in range(3)])
        mic = self.gain * around[1] + self.rng.normal(0.0, 5.0, FRAME_SAMPLES)
        if near is not None:
            mic = mic + near
        return self.bands.hear(mic, around)

    def learnt(self) -> Room:
        for _ in range(GAIN_FRAMES + 20):
            self.frame()
        return self


def fricative(rng: np.random.Generator, rms: float = 100.0) -> np.ndarray:
    return band_noise(rng, 4000, 7500, rms)


def test_nothing_is_heard_over_the_echo_before_its_gains_are_learnt():
    early, learnt = Room(), Room()
    for _ in range(GAIN_FRAMES - 1):
        early.frame()
    for _ in range(GAIN_FRAMES):
        learnt.frame()
    assert not early.frame(fricative(early.rng))
    assert learnt.frame(fricative(learnt.rng))


def test_the_echo_alone_is_never_heard_over_itself():
    room = Room().learnt()
    assert not any(room.frame() for _ in range(500))
    assert room.bands.run_s == 0.0


def test_an_s_far_quieter_than_the_echo_is_heard_over_it_band_by_band():
    """The "S" of "Stop" under the reply's echo: 12 dB under it over the whole band, which the broadband
    double-talk check takes for the echo alone."""
    room = Room().learnt()
    level = EchoLevel()
    for _ in range(GAIN_FRAMES + 20):
        played = room.played()
        level.hear(float(np.mean((ECHO_GAIN * played) ** 2)), float(np.mean(played**2)))
    heard = []
    for _ in range(5):
        near = fricative(room.rng)
        played = room.played()
        echo = ECHO_GAIN * played
        assert np.sqrt(np.mean(near**2)) < 0.3 * np.sqrt(np.mean(echo**2))
        level.hear(float(np.mean((echo + near) ** 2)), float(np.mean(played**2)))
        heard.append(room.frame(near))
    assert all(heard) and room.bands.run_s == pytest.approx(5 * FRAME_S)
    assert not level.double_talk()


def test_a_short_gap_leaves_the_run_unbroken_and_a_longer_one_ends_it():
    room = Room().learnt()
    for _ in range(3):
        room.frame(fricative(room.rng))
    for _ in range(GAP_FRAMES):
        assert not room.frame()
    assert room.bands.run_s == pytest.approx((3 + GAP_FRAMES) * FRAME_S)
    room.frame(fricative(room.rng))
    assert room.bands.run_s == pytest.approx((4 + GAP_FRAMES) * FRAME_S)
    for _ in range(GAP_FRAMES + 1):
        room.frame()
    assert room.bands.run_s == 0.0
    room.frame(fricative(room.rng))
    assert room.bands.run_s == pytest.approx(FRAME_S)


def test_the_rooms_own_noise_in_high_bands_is_not_heard_over_the_echo():
    """A fan louder above 4 kHz than the echo gets there: learnt while the speaker is silent."""
    room = Room()
    fan = lambda: fricative(room.rng, 150.0)  # noqa: E731
    for _ in range(50):
        room.bands.hear(fan(), None)
    for _ in range(GAIN_FRAMES + 20):
        room.frame(fan())
    assert not any(room.frame(fan()) for _ in range(200))
    assert room.frame(fricative(room.rng, 1500.0))  # a person's "S", louder than the fan


def test_a_louder_echo_path_is_learnt_after_a_while():
    """The volume turned up: every band is over the old gains, longer than anyone talks over a reply."""
    room = Room().learnt()
    room.gain = 10 * ECHO_GAIN
    assert all(room.frame() for _ in range(RELEARN_FRAMES))
    for _ in range(200):
        room.frame()
    assert not any(room.frame() for _ in range(100))


def test_nothing_is_heard_over_the_echo_while_it_is_not_judged():
    """Before the canceller has earned trust the echo's place is not known: the gains are learnt only."""
    room = Room()
    for _ in range(GAIN_FRAMES + 20):
        around = np.stack([room.played() for _ in range(3)])
        room.bands.hear(ECHO_GAIN * around[1], around, judge=False)
    around = np.stack([room.played() for _ in range(3)])
    assert not room.bands.hear(ECHO_GAIN * around[1] + fricative(room.rng), around, judge=False)
    assert room.frame(fricative(room.rng))  # learnt meanwhile


@pytest.mark.parametrize(
    ("heard_over_echo_s", "vad_heard_s", "hidden_s"),
    [(0.0, 0.09, 0.0), (0.09, 0.09, 0.0), (0.18, 0.09, 0.09), (1.0, 0.09, HIDDEN_ONSET_MAX_S)],
)
def test_the_onset_hidden_from_the_vad_is_what_the_canceller_heard_before_it(
    heard_over_echo_s, vad_heard_s, hidden_s
):
    assert hidden_onset_s(heard_over_echo_s, vad_heard_s) == pytest.approx(hidden_s)
