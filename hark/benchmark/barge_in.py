"""`hark bench barge-in`: a person talks over Hark's replies on an open speaker, through real audio devices.

A user-space PulseAudio server is the room. `hark talk --turn-taking barge-in` hears it through its
microphone together with its own speaker, 60 ms later and 10 dB down (a laptop hearing itself), with echo
cancellation on as it is by default. Each trial asks for a long story, waits a random 1.5–3.5 s into the
reply, and says "stop". A recording of the room and the speaker on one clock gives where each interruption
starts and when the speaker fell silent, so the numbers include every buffer on the way.
"""

from __future__ import annotations

import dataclasses
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from hark.benchmark.echo import BargeInDetector
from hark.benchmark.pulse import HarkSession, PulseServer, add_echo_path
from hark.benchmark.recording import make_recording
from voice import SAMPLE_RATE
from voice.tts import Speaker
from voice.vad import FRAME_SAMPLES

QUESTIONS = (
    "Tell me a long story about a friendly dragon.",
    "Tell me a long story about a brave little ship.",
    "Tell me a long story about a clever fox in the forest.",
)
INTERRUPTIONS = ("Wait, stop please.", "Stop, stop talking.", "Hold on, stop.")
ECHO_DELAY_MS = 60
ECHO_DB = 10.0
TRIALS_PER_SESSION = 5
"""A fresh `hark talk` (and conversation) every so many trials: SmolLM2 answers the later stories of one
conversation the way it answered the cut ones, in a line ("The tale of a brave little ship."), which is
over before anyone can talk over it."""
WAIT_S = (1.0, 2.0)
"""How far into the reply the person starts talking (uniform, seeded)."""
SETTLE_S = 2.0
"""After a trial: time for the interruption's own words to be transcribed and, if they were, answered;
once Hark is quiet again, half of it more before the next question."""
QUIET_WAIT_S = 90.0
QUIET_S = 1.0
"""Speaker silence that counts as stopped: longer than the pauses between Piper's sentences and chunks."""
TARGET_S = 0.15
"""The target: silent within this long of the person having said `barge_in_min_s` over the reply."""
OWN_END_S = TARGET_S
"""A reply that went silent on its own this soon after the person had said `barge_in_min_s` over it was over
before it could be stopped: the trial does not count."""
LEVEL = 600
"""int16 peak over 20 ms above which the speaker counts as sounding."""
WINDOW_S = 0.02
SEARCH_S = (-12.0, 2.0)
"""Where around its expected place in the recording an interruption is looked for. The recording runs
behind the wall clock (the sound server's sinks idle while Hark starts), so mostly earlier; the same
interruption is said again three trials later, well outside."""


@dataclass(frozen=True)
class Clip:
    path: Path
    audio: np.ndarray
    onset_s: float
    """Where its speech starts."""
    detectable_s: float | None = None
    """Seconds after its onset at which the barge-in rule (speech detection, `barge_in_min_s` of speech)
    fires on the clip alone, with no devices and no echo: later than `barge_in_min_s` when the person
    pauses ("Wait, | stop please.")."""


@dataclass(frozen=True)
class Trial:
    index: int
    turn_id: int
    played_at_s: float
    """When the interruption was handed to the room, on the recording's clock (roughly: the recording finds
    it exactly)."""
    detected: bool
    echo_barge_ins: int
    """Barge-ins during this reply before the person spoke: Hark hearing itself."""
    onset_s: float = 0.0
    """Where the interruption's speech starts in the recording."""
    silence_s: float | None = None
    """From when the person had said `barge_in_min_s` over the reply to when the speaker fell silent."""
    after_detectable_s: float | None = None
    """From when the barge-in rule could first fire on the interruption (`Clip.detectable_s`) to when the
    speaker fell silent: what the devices, the echo canceller and the loop add."""
    ended_before: bool = False
    """The reply was over before the person had said `barge_in_min_s` of speech over it (it ended, or
    its own echo cut it): not a trial of barge-in."""


def speech_onset_s(room: np.ndarray, clip: np.ndarray, expected_s: float, clip_onset_s: float) -> float:
    """Where the clip's first audible sample is in the room channel: the clip is found by cross-correlation
    near where it was expected (the room also carries Hark's echo)."""
    start = max(0, int((expected_s + SEARCH_S[0]) * SAMPLE_RATE))
    stop = min(room.size, int((expected_s + SEARCH_S[1]) * SAMPLE_RATE) + clip.size)
    segment = room[start:stop].astype(np.float64)
    template = clip.astype(np.float64)
    n = segment.size + template.size
    size = 1 << (n - 1).bit_length()
    score = np.fft.irfft(np.fft.rfft(segment, size) * np.conj(np.fft.rfft(template, size)), size)
    lag = int(np.argmax(score[: max(1, segment.size - template.size + 1)]))
    return (start + lag) / SAMPLE_RATE + clip_onset_s


def silent_from_s(speaker: np.ndarray, after_s: float) -> float | None:
    """When the speaker fell silent for at least `QUIET_S`, from `after_s` on (None: it never did)."""
    window = int(WINDOW_S * SAMPLE_RATE)
    first = int(after_s * SAMPLE_RATE)
    n = (speaker.size - first) // window
    if n <= 0:
        return None
    peaks = np.abs(speaker[first : first + n * window].astype(np.int32)).reshape(n, window).max(axis=1)
    needed = round(QUIET_S / WINDOW_S)
    quiet = 0
    for i, loud in enumerate(peaks > LEVEL):
        quiet = 0 if loud else quiet + 1
        if quiet == needed:
            return after_s + (i + 1 - needed) * WINDOW_S
    return None


def summarise(trials: list[Trial], barge_in_min_s: float, replies: int) -> dict:
    real = [t for t in trials if not t.ended_before]
    timed = [t for t in real if t.detected and t.silence_s is not None and t.silence_s >= 0]
    """A negative time to silence means the speaker was already silent (between two chunks) when the person
    had said enough, so there was nothing to time."""
    detected = [t.silence_s for t in timed if t.silence_s is not None]
    after_detectable = [t.after_detectable_s for t in timed if t.after_detectable_s is not None]
    stopped = [t for t in real if t.detected and t.silence_s is not None]
    """Trials already silent count as in time: the reply, paused or between two chunks, never sounded
    again."""

    def in_time(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return round(sum(v <= TARGET_S for v in known) / len(known), 3) if known else None

    def stat(values: list[float], q: float) -> float | None:
        if not values:
            return None
        ranked = sorted(values)
        return round(ranked[min(len(ranked) - 1, int(q * len(ranked)))], 3)

    return {
        "trials": len(real),
        "detected": sum(t.detected for t in real),
        "detection_rate": round(sum(t.detected for t in real) / len(real), 3) if real else None,
        "median_time_to_silence_s": round(statistics.median(detected), 3) if detected else None,
        "p90_time_to_silence_s": stat(detected, 0.9),
        "max_time_to_silence_s": round(max(detected), 3) if detected else None,
        "median_silence_after_detectable_s": (
            round(statistics.median(after_detectable), 3) if after_detectable else None
        ),
        "p90_silence_after_detectable_s": stat(after_detectable, 0.9),
        "timed": len(detected),
        "already_silent": len(stopped) - len(detected),
        "in_time_rate": in_time([t.silence_s for t in stopped]),
        "in_time_after_detectable_rate": in_time([t.after_detectable_s for t in stopped]),
        "barge_in_min_s": barge_in_min_s,
        "replies": replies,
        "self_interruptions": sum(t.echo_barge_ins for t in trials),
        "replies_over_before_interruption": sum(t.ended_before for t in trials),
        "echo_delay_ms": ECHO_DELAY_MS,
        "per_trial": [
            {
                "turn_id": t.turn_id,
                "recording_s": round(t.onset_s, 2),
                "detected": t.detected,
                "time_to_silence_s": None if t.silence_s is None else round(t.silence_s, 3),
                "silence_after_detectable_s": (
                    None if t.after_detectable_s is None else round(t.after_detectable_s, 3)
                ),
                "echo_barge_ins": t.echo_barge_ins,
                "reply_over_before": t.ended_before,
            }
            for t in trials
        ],
        "echo_db": ECHO_DB,
    }


def _clip(speaker: Speaker, folder: Path, name: str, text: str, barge_in_min_s: float | None = None) -> Clip:
    made = make_recording(speaker, folder / f"{name}.wav", [text], gap_s=0.2, lead_s=0.1)
    audio, _ = soundfile.read(made.path, dtype="int16")
    onset = made.speech_starts_s[0]
    detectable = None if barge_in_min_s is None else detectable_after_s(audio, onset, barge_in_min_s)
    return Clip(made.path, audio, onset, detectable)


def detectable_after_s(audio: np.ndarray, onset_s: float, barge_in_min_s: float) -> float | None:
    """Seconds after `onset_s` at which the loop's barge-in rule fires on `audio` (16 kHz int16) alone."""
    detector = BargeInDetector(barge_in_min_s)
    padded = np.concatenate([audio, np.zeros(SAMPLE_RATE, dtype=np.int16)])
    for i in range(padded.size // FRAME_SAMPLES):
        fired = detector.feed(padded[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES])
        if fired is not None:
            return fired - onset_s
    return None


def run(
    speaker: Speaker,
    trials: int,
    barge_in_min_s: float,
    say: Callable[[str], None],
    keep: Path | None = None,
    seed: int = 7,
) -> dict:
    """`keep`: a folder for the recording (`bus.wav`: left the room, right the speaker) and Hark's events."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="hark-barge-in-") as scratch:
        folder = Path(scratch) if keep is None else keep
        folder.mkdir(parents=True, exist_ok=True)
        questions = [_clip(speaker, folder, f"q{i}", text) for i, text in enumerate(QUESTIONS)]
        stops = [
            _clip(speaker, folder, f"s{i}", text, barge_in_min_s) for i, text in enumerate(INTERRUPTIONS)
        ]
        (folder / "pulse").mkdir(exist_ok=True)
        pulse = PulseServer(folder / "pulse")
        done: list[Trial] = []
        events: list[dict] = []
        try:
            add_echo_path(pulse, ECHO_DELAY_MS, ECHO_DB)
            recorder = pulse.record_bus(folder / "bus.wav")
            recording_from = time.monotonic()
            while len(done) < trials:
                session = _start(pulse, folder / "home")
                try:
                    for i in range(len(done), min(trials, len(done) + TRIALS_PER_SESSION)):
                        done.append(_trial(session, pulse, questions, stops, i, rng, recording_from))
                        say(f"trial {i + 1}: {'stopped' if done[-1].detected else 'not stopped'}")
                finally:
                    session.stop()
                    events += session.events
            recorder.send_signal(2)
            recorder.wait(10)
        finally:
            pulse.stop()
            (folder / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
        bus, _ = soundfile.read(folder / "bus.wav", dtype="int16")
    timed: list[Trial] = []
    behind_s = 0.0
    for trial in done:
        stop = stops[trial.index % len(stops)]
        timed.append(_timed(trial, bus, stop, barge_in_min_s, behind_s))
        behind_s = trial.played_at_s - (timed[-1].onset_s - stop.onset_s)
    return summarise(timed, barge_in_min_s, sum(e["event"] == "reply" for e in events))


def _start(pulse: PulseServer, home: Path) -> HarkSession:
    """`hark talk` in barge-in mode (echo cancellation on: the default), once it has greeted the room."""
    session = HarkSession(pulse, "--turn-taking", "barge-in", HARK_HOME=str(home))
    if not session.listening.wait(240):
        session.stop()
        raise RuntimeError(f"hark talk did not start: {''.join(session.stderr)[-2000:]}")
    session.wait_for("announcement", timeout=60)
    time.sleep(1.0)
    return session


def _timed(trial: Trial, bus: np.ndarray, stop: Clip, barge_in_min_s: float, behind_s: float) -> Trial:
    """The trial with its time to silence, from the recording (left: the room, right: the speaker), which
    ran `behind_s` behind the wall clock at the trial before."""
    start = speech_onset_s(bus[:, 0], stop.audio, trial.played_at_s - behind_s, stop.onset_s)
    silent = silent_from_s(bus[:, 1], start)
    silence_s = None if silent is None else float(silent - (start + barge_in_min_s))
    after = (
        None if silent is None or stop.detectable_s is None else float(silent - (start + stop.detectable_s))
    )
    over = silence_s is not None and silence_s < OWN_END_S and not trial.detected
    ended_before = trial.ended_before or over
    return dataclasses.replace(
        trial, onset_s=start, silence_s=silence_s, after_detectable_s=after, ended_before=ended_before
    )


def _trial(
    session: HarkSession,
    pulse: PulseServer,
    questions: list[Clip],
    stops: list[Clip],
    index: int,
    rng: random.Random,
    recording_from: float,
) -> Trial:
    started = len(session.events_of("reply_started"))
    pulse.play_into_room(questions[index % len(questions)].path)
    turn = session.wait_for("reply_started", count=started + 1, timeout=90)[-1]["turn_id"]
    time.sleep(rng.uniform(*WAIT_S))
    echo_barge_ins = len(session.events_of("barge_in", turn_id=turn))
    ended_before = bool(session.events_of("reply", turn_id=turn))
    played_at_s = time.monotonic() - recording_from
    pulse.play_into_room(stops[index % len(stops)].path)
    reply = session.wait_for("reply", turn_id=turn, timeout=60)[0]
    barged = len(session.events_of("barge_in", turn_id=turn)) > echo_barge_ins
    _wait_until_quiet(session)
    detected = bool(reply["interrupted"] and barged)
    return Trial(index, turn, played_at_s, detected, echo_barge_ins, ended_before=ended_before)


def _wait_until_quiet(session: HarkSession) -> None:
    """Until every reply Hark started has ended, then `SETTLE_S` more: words heard in an interruption
    ("Hold on, cut.") are answered, and the next question must not be taken for a barge-in on that."""
    time.sleep(SETTLE_S)
    deadline = time.monotonic() + QUIET_WAIT_S
    while time.monotonic() < deadline:
        finished = len(session.events_of("reply")) + len(session.events_of("announcement"))
        if finished >= len(session.events_of("reply_started")):
            break
        time.sleep(0.1)
    time.sleep(SETTLE_S / 2)
