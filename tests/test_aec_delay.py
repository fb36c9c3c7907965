"""The far-end reference buffer, the delay tracker and the steady playout times: pure logic on synthetic
signals."""

from __future__ import annotations

import numpy as np
import pytest

from voice import SAMPLE_RATE
from voice.processors.delay import DelayTracker, estimate_delay
from voice.processors.farend import FarEndBuffer
from voice.processors.timeline import SteadyTimeline
from voice.sinks import PLAYOUT_SETTLE_S

RNG = np.random.default_rng(7)


def noise(seconds: float, rms: float = 3000.0) -> np.ndarray:
    return RNG.normal(0.0, rms, int(seconds * SAMPLE_RATE))


def echoed(reference: np.ndarray, delay_s: float, gain: float = 0.3) -> np.ndarray:
    """`reference` delayed, coloured by a short filter, attenuated, over a noise floor."""
    coloured = np.convolve(reference, [1.0, 0.6, 0.2, -0.1])[: reference.size]
    shift = round(delay_s * SAMPLE_RATE)
    if shift >= 0:
        out = np.concatenate([np.zeros(shift), coloured])[: reference.size]
    else:
        out = np.concatenate([coloured[-shift:], np.zeros(-shift)])
    return gain * out + RNG.normal(0.0, 30.0, reference.size)


@pytest.mark.parametrize("delay_s", [0.0, 0.023, 0.087, 0.31])
def test_estimate_delay_finds_the_echo(delay_s):
    ref = noise(1.5)
    found = estimate_delay(ref, echoed(ref, delay_s), SAMPLE_RATE, max_delay_s=0.5)
    assert found is not None
    assert found.delay_s == pytest.approx(delay_s, abs=1 / SAMPLE_RATE)


def test_estimate_delay_reports_an_echo_that_comes_before_its_reference():
    ref = noise(1.5)
    found = estimate_delay(ref, echoed(ref, -0.04), SAMPLE_RATE, max_delay_s=0.5)
    assert found is not None and found.delay_s == pytest.approx(-0.04, abs=1 / SAMPLE_RATE)


def test_estimate_delay_gives_none_without_echo_or_reference():
    ref = noise(1.5)
    assert estimate_delay(ref, noise(1.5), SAMPLE_RATE, 0.5) is None  # unrelated microphone signal
    assert estimate_delay(np.zeros(ref.size), echoed(ref, 0.05), SAMPLE_RATE, 0.5) is None  # speaker silent


def test_estimate_delay_ignores_an_echo_beyond_the_search_range():
    ref = noise(1.5)
    found = estimate_delay(ref, echoed(ref, 0.3), SAMPLE_RATE, max_delay_s=0.1)
    assert found is None or abs(found.delay_s) <= 0.1


def test_estimate_delay_needs_equal_windows():
    with pytest.raises(ValueError, match="same length"):
        estimate_delay(noise(1.0), noise(0.5), SAMPLE_RATE, 0.2)


def feed(tracker: DelayTracker, ref: np.ndarray, mic: np.ndarray) -> None:
    for i in range(0, ref.size - 479, 480):
        tracker.push(ref[i : i + 480].astype(np.int16), mic[i : i + 480].astype(np.int16))


def test_tracker_starts_from_the_device_latency_and_follows_drift():
    tracker = DelayTracker(0.12, SAMPLE_RATE)
    assert tracker.delay_s == 0.12
    ref = noise(8.0)
    feed(tracker, ref, echoed(ref, 0.05))
    assert tracker.delay_s == pytest.approx(0.05, abs=1e-3)
    ref = noise(8.0)
    feed(tracker, ref, echoed(ref, 0.09))  # the sound server's buffering grew
    assert tracker.delay_s == pytest.approx(0.09, abs=1e-3)


def test_tracker_keeps_its_estimate_through_silence_and_a_stray_window():
    tracker = DelayTracker(0.0, SAMPLE_RATE)
    ref = noise(6.0)
    feed(tracker, ref, echoed(ref, 0.06))
    feed(tracker, np.zeros(3 * SAMPLE_RATE), RNG.normal(0, 30, 3 * SAMPLE_RATE))  # nothing played
    ref = noise(1.6)
    feed(tracker, ref, echoed(ref, 0.25))  # one window where something else correlates
    assert tracker.delay_s == pytest.approx(0.06, abs=1e-3)


def test_tracker_window_must_hold_the_largest_delay_twice():
    with pytest.raises(ValueError, match="window"):
        DelayTracker(0.0, SAMPLE_RATE, window_s=0.8, max_delay_s=0.5)


def test_far_end_buffer_reads_by_time_with_silence_around():
    buf = FarEndBuffer()
    audio = np.arange(1, 1601, dtype=np.int16)  # 100 ms at 16 kHz
    buf.add(audio, SAMPLE_RATE, at_s=10.0)
    before = buf.read(9.99, 480)
    assert not before[:160].any() and np.array_equal(before[160:], audio[:320])
    after = buf.read(10.05, 960)
    assert np.array_equal(after[:800], audio[800:]) and not after[800:].any()
    assert not buf.read(11.0, 480).any()


def test_far_end_buffer_resamples_and_mixes_overlaps():
    buf = FarEndBuffer()
    buf.add(np.full(2205, 1000, dtype=np.int16), 22050, at_s=0.0)  # 100 ms at the Piper rate
    buf.add(np.full(800, 500, dtype=np.int16), SAMPLE_RATE, at_s=0.05)
    got = buf.read(0.0, 2000)
    assert np.all(got[:800] == 1000) and np.all(got[800:1600] == 1500) and not got[1600:].any()


def test_far_end_buffer_forgets_audio_older_than_its_horizon():
    buf = FarEndBuffer(horizon_s=1.0)
    buf.add(np.full(1600, 1000, dtype=np.int16), SAMPLE_RATE, at_s=0.0)
    buf.add(np.full(1600, 1000, dtype=np.int16), SAMPLE_RATE, at_s=5.0)
    assert not buf.read(0.0, 1600).any()
    assert buf.read(5.0, 1600).all()


def playout_errors(rate: int, sizes: list[int], late_s: list[float]) -> list[float]:
    """How far from its true playout time the steady timeline puts each speaker block, when each block
    truly plays right after the last one but its callback reports it `late_s` late."""
    timeline, true_s, errors = SteadyTimeline(rate, PLAYOUT_SETTLE_S), 100.0, []
    for size, late in zip(sizes, late_s, strict=True):
        errors.append(timeline.time_of(true_s + late, size) - true_s)
        true_s += size / rate
    return errors


def test_playout_times_ignore_callbacks_that_ran_late():
    rng = np.random.default_rng(3)
    sizes = list(rng.integers(200, 900, 400))
    late = [float(rng.choice([0.0, 0.0, 0.0, rng.uniform(0.002, 0.008)])) for _ in sizes]
    errors = playout_errors(22_050, sizes, late)
    assert max(abs(e) for e in errors) < 1e-6  # every block right after the last, as the device plays it


def test_playout_times_follow_an_underrun_within_the_settling_time():
    late = [0.0] * 100 + [0.04] * 100  # from block 100 on, everything plays 40 ms later: an underrun
    errors = playout_errors(22_050, [441] * 200, late)  # 20 ms blocks
    assert max(abs(e) for e in errors[:100]) < 1e-6
    settled = 100 + round(PLAYOUT_SETTLE_S / 0.02) + 1
    assert max(abs(e - 0.04) for e in errors[settled:]) < 1e-6
