"""Sounds the speaker's echo cannot explain, told band by band: the onset of a person speaking over Hark.

The double-talk check in `echo.EchoLevel` compares broadband power over 0.42 s. A fricative is too quiet for
that, and AEC3's suppressor removes it with the echo, so webrtcvad misses it: the "S" of "Stop" under a
reply's echo (60 ms, 10 dB; PulseAudio) was heard 0.12-0.15 s late, and the reply stopped that much later
(0.16-0.22 s after the barge-in length on the barge-in benchmark, where other words took 0.02-0.10 s).
Split into bands, that "S" stood 10-53 dB over the echo above 4 kHz, where Hark's vowels put little.
"""

from __future__ import annotations

import itertools

import numpy as np

from voice.vad import FRAME_S

BAND_EDGES_HZ = (0, 250, 500, 1000, 2000, 3000, 4000, 5000, 6000, 8001)
OVER_ECHO = 10.0
"""A band is over the echo when the microphone hears this much more in it (10 dB) than the echo and the
room's own noise would give."""
OVER_ECHO_BANDS = 2
"""Bands over the echo that make a frame heard over it. On the barge-in benchmark's recordings, Hark's echo
alone (with the delay tracked) gave no such frame; at 1 band, misalignments at the echo's onsets did."""
GAP_FRAMES = 3
"""Frames not over the echo that still leave a run unbroken: the "S" and the vowel of "Stop" were split by
up to three frames (the closure of its "t", under a loud echo) on the barge-in benchmark."""
GAIN_DECAY = 0.995
"""Per-frame forgetting of each band's echo gain: about 6 s of Hark speaking alone."""
GAIN_FRAMES = 30
"""Frames with the speaker playing that the gains are learnt from before any frame is judged (0.9 s)."""
RELEARN_FRAMES = round(2.0 / FRAME_S)
"""Frames in a row over the echo, while the speaker plays, after which they teach the gains too: no person
talks over a reply this long without pausing it, so the echo path got louder (the volume turned up)."""
FLOOR_RISE = 1.002
"""Per frame, how fast a band's noise floor may rise (about 6 % a second); it falls at once."""
HIDDEN_ONSET_MAX_S = 0.15
"""The most of a speech onset the echo may be taken to have hidden from the VAD: the "S" of "Stop" under a
reply's echo was 0.12-0.15 s on the barge-in benchmark."""
MIN_BAND_POWER = 1e5
"""A band quieter than this is silence, whatever its ratio (white noise of 5-10 RMS, out of 32,768, gives
about this much in one band)."""


class EchoBands:
    """Per frequency band: the echo path's gain (microphone over what was played at the echo's delay), learnt
    while the speaker plays and nothing else is heard, and the room's noise floor, learnt while it is
    silent. A frame is heard over the echo when `OVER_ECHO_BANDS` of its bands are `OVER_ECHO` louder than
    those two explain; `run_s` is how long that has gone on."""

    def __init__(self, frame_samples: int, sample_rate: int) -> None:
        self._window = np.hanning(frame_samples)
        freqs = np.fft.rfftfreq(frame_samples, 1.0 / sample_rate)
        self._bands = [(freqs >= lo) & (freqs < hi) for lo, hi in itertools.pairwise(BAND_EDGES_HZ)]
        n = len(self._bands)
        self._mic = np.zeros(n)
        self._played = np.zeros(n)
        self._floor = np.zeros(n)
        self._learnt = 0
        self._unexplained = 0
        self._run = 0
        self._gap = 0

    @property
    def run_s(self) -> float:
        """How long the microphone has been heard over the echo, up to the latest frame, without a break of
        more than `GAP_FRAMES` (0 once there was one)."""
        return (self._run + self._gap) * FRAME_S if self._run else 0.0

    def powers(self, samples: np.ndarray) -> np.ndarray:
        spectrum = np.abs(np.fft.rfft(self._window * samples.astype(np.float64))) ** 2
        return np.array([spectrum[band].sum() for band in self._bands])

    def hear(self, mic: np.ndarray, played: np.ndarray | None, judge: bool = True) -> bool:
        """One microphone frame, and what was played around its echo's delay as frames of the same size
        (the frame before, at and after it: the echo's place wanders by a few milliseconds), or None while
        the speaker is silent (the room's noise floor is learnt then). Returns whether it is heard over the
        echo; with `judge` off (the echo's place is not known well yet) the gains are only learnt."""
        heard = self.powers(mic)
        if played is None:
            self._floor = np.where(heard < self._floor, heard, self._floor * FLOOR_RISE)
            self._floor = np.where(self._floor > 0, self._floor, heard)
            self._count(False)
            return False
        echo = np.max([self.powers(block) for block in played], axis=0)
        over = judge and self._over(heard, echo)
        self._unexplained = self._unexplained + 1 if over else 0
        if not over or self._unexplained >= RELEARN_FRAMES:
            self._mic = GAIN_DECAY * self._mic + heard
            self._played = GAIN_DECAY * self._played + echo
            self._learnt += 1
        self._count(over)
        return over

    def _over(self, heard: np.ndarray, echo: np.ndarray) -> bool:
        if self._learnt < GAIN_FRAMES:
            return False
        gain = self._mic / np.maximum(self._played, 1e-9)
        expected = gain * echo + self._floor + MIN_BAND_POWER
        return int(np.sum(heard > OVER_ECHO * expected)) >= OVER_ECHO_BANDS

    def _count(self, over: bool) -> None:
        if over:
            self._run += self._gap + 1
            self._gap = 0
        elif self._run:
            self._gap += 1
            if self._gap > GAP_FRAMES:
                self._run = self._gap = 0


def hidden_onset_s(heard_over_echo_s: float, vad_heard_s: float) -> float:
    """How much of the onset of speech the VAD has heard for `vad_heard_s` the echo hid from it: the run of
    frames heard over the echo (`EchoBands.run_s`) that began before, up to `HIDDEN_ONSET_MAX_S`."""
    return min(max(0.0, heard_over_echo_s - vad_heard_s), HIDDEN_ONSET_MAX_S)
