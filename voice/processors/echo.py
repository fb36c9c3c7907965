"""Acoustic echo cancellation with WebRTC's AEC3 (through `pywebrtc-audio`) as a frame processor.

Why this binding: on the same synthetic echo paths (Piper speech, 20-150 ms, 6-20 dB, coloured, noise)
LiveKit's `AudioProcessingModule` (the same WebRTC code) reached 0.6-3.5 dB more ERLE (28.0 against 27.2 dB
at 60 ms / 10 dB; both over 30 dB once converged on a quiet floor), both used under 1 % of a core, and
neither cared about a stream-delay hint 40-120 ms off. pywebrtc-audio is a 0.9 MB wheel needing only numpy,
against 30 MB plus protobuf for LiveKit, with a plain synchronous call per block.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from voice import SAMPLE_RATE
from voice.processors.delay import DelayTracker
from voice.processors.echo_bands import EchoBands
from voice.processors.farend import FarEndBuffer
from voice.processors.timeline import SteadyTimeline
from voice.vad import FRAME_S

BLOCK_SAMPLES = SAMPLE_RATE // 100
"""AEC3 works on 10 ms blocks."""
ERLE_REFERENCE_RMS = 300.0
"""Frames whose reference is quieter than this (about -40 dBFS) do not count towards ERLE."""
ERLE_DECAY = 0.995
"""Per-frame forgetting of the ERLE power sums: about 6 s of far-end audio."""
ECHO_TAIL_S = 0.1
"""Reverberation after the delayed echo: while untrusted, frames are muted this long after it too."""
UNTRUSTED_DELAY_S = 1.0
"""While a burst is untrusted, the echo may lag its reference by this much: underruns in a loaded sound
server push it later than tracking follows (measured on PulseAudio: the end of the greeting leaked with a
0.6 s window, not with 1 s)."""
NO_ECHO_LOSS_DB = 40.0
"""A burst is trusted too when the microphone hears this far less than the speaker plays: no echo reaches
it (a headset, or a speaker the microphone cannot hear), so there is nothing to cancel. Measured before
cancellation: a well-cancelled echo leaves as little, and must still be cancelled."""
NO_ECHO_AFTER_S = UNTRUSTED_DELAY_S + ECHO_TAIL_S
"""How much of a burst must be heard to tell that no echo reaches the microphone: the latest an echo may
arrive, so that the silence before a late echo is not taken for a microphone that cannot hear the speaker."""
ECHO_FOUND = 2
"""Confident delay estimates (one a second) that tell an echo has come where there was none: AEC3's
suppression cannot tell it, since it turns room noise down 30 dB whether or not there is an echo."""
JITTER_S = 0.002
"""How far the reported playout times of back-to-back blocks wander."""
ECHO_GONE_S = 0.4
"""Once the speaker is silent, this long a stillness of the microphone tells that the echo has died away:
what it hears next is not Hark's. Without it, the microphone stayed muted (before trust) for
`UNTRUSTED_DELAY_S` plus the tail after every reply, and on the PulseAudio echo path the first words of the
user's answer to the greeting ("What is the capital of France?" heard as "The capital of France.") and of a
quick question after a short reply were lost. An echo running late by underruns would have to fall into a
pause of the reply at least this long to pass for stillness; Piper's pauses at commas and between sentences
are 0.2-0.3 s."""
DOUBLE_TALK = 10 ** (3 / 10)
"""While the speaker plays, the microphone hears someone besides Hark only when, over the last
`DOUBLE_TALK_S`, it is this much (3 dB) louder than the echo alone would be: what was played at the tracked
delay times the echo path's gain. Measured on the peer benchmark's echo path (60 ms, 10 dB), where AEC3 left
2-19 dB of the echo in and webrtcvad took the rest for speech (81 barge-in pauses in 12 replies, all but
about 6 on Hark's own echo): Hark speaking alone gave -1.3 dB median, +0.8 dB at the 99th percentile; people
speaking over it, +5.6 to +73 dB."""
DOUBLE_TALK_S = 0.42
"""The window of the double-talk check: about the speech that pauses a reply (`barge_in_min_s`)."""
ECHO_GAIN_DECAY = 0.995
"""Per-frame forgetting of the echo path's gain: about 6 s of Hark speaking alone."""
ECHO_GAIN_FRAMES = 30
"""Frames with the speaker playing that the gain is learnt from before it is used (0.9 s)."""
ECHO_GAIN_RELEARN_S = 2.0
"""The microphone louder than the echo this long while the speaker plays is no person (a person's speech
pauses the reply within `barge_in_min_s`) but a louder echo path (the volume turned up): the gain is then
learnt from those frames too."""
STILL_OF_ECHO = 10 ** (-20 / 20)
"""The microphone is still when it hears 20 dB less than the echo does on average while the speaker plays
(a room whose own noise is louder than that never seems still: the window then ends as before)."""


RESIDUE_RATIO = 10 ** (-10 / 20)
RESIDUE_OF_REFERENCE = 10 ** (-25 / 20)
"""While the speaker may sound, a frame the canceller brought down by 10 dB or more, to 25 dB or more below
what the speaker played, holds only what is left of the echo (measured on PulseAudio: residues of 40-90 RMS
where the echo reached 500-2,000 were enough for webrtcvad to hear speech and Whisper to make up "Thank
you."). A person talking over a loud echo is brought down by 10 dB too, but stays louder than that."""


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


class EchoCancellerUnavailable(RuntimeError):
    """The WebRTC binding cannot be loaded; the message says why, for the caller to say once."""


@dataclass(frozen=True)
class EchoConfig:
    device_delay_s: float = 0.0
    """Output plus input latency that the playback and capture timestamps do not already account for
    (e.g. sounddevice's `stream.latency` when the timestamps are taken at the callbacks): the first guess
    of where the echo sits, refined by tracking when `track_delay` is on."""
    track_delay: bool = True
    max_delay_s: float = 0.5
    """The largest drift from the timestamps that tracking will follow."""
    noise_suppression: bool = False
    ns_level: int = 1
    """WebRTC NS strength 0-3 (6, 12, 18, 21 dB)."""
    auto_gain_control: bool = False
    trust_after_s: float = 2.0
    trust_erle_db: float = 15.0
    """Speaker audio begins muted: frames heard while the speaker plays, and its echo tail, are silenced as
    in half-duplex until the canceller has heard `trust_after_s` of it and removed at least `trust_erle_db`
    of its echo (or found no echo at all: a headset). AEC3 lets echo through while it converges (measured on
    PulseAudio: a leak 0.1 s after 0.8 s of good cancellation of the greeting made Whisper hear "Thank
    you."), so 2 s. The trust then holds for later replies, since the reference is dated by the device's
    own playout time and the echo stays where it was; `trust_after_s = 0` turns this off."""

    def __post_init__(self) -> None:
        if self.ns_level not in (0, 1, 2, 3):
            raise ValueError("ns_level must be 0, 1, 2 or 3")
        if not 0 < self.max_delay_s <= 1.0:
            raise ValueError("max_delay_s must be in (0, 1] s")
        if abs(self.device_delay_s) > 1.0:
            raise ValueError("device_delay_s must be within ±1 s")
        if not 0 <= self.trust_after_s <= 10:
            raise ValueError("trust_after_s must be in [0, 10] s")


def _load_processor(config: EchoConfig):
    try:
        from pywebrtc_audio import AudioProcessor
    except (ImportError, OSError) as exc:
        raise EchoCancellerUnavailable(
            f"echo cancellation is unavailable: pywebrtc-audio did not load ({exc}); "
            "install it with `pip install pywebrtc-audio`"
        ) from exc
    return AudioProcessor(
        sample_rate=SAMPLE_RATE,
        echo_cancellation=True,
        noise_suppression=config.noise_suppression,
        ns_level=config.ns_level,
        auto_gain_control=config.auto_gain_control,
        stream_delay_ms=max(0, round(config.device_delay_s * 1000)),
    )


class EchoCanceller:
    """FrameProcessor removing what the speaker played from each microphone frame.

    `playback` (player thread) stores the reference by time; `process` (capture thread) reads the
    reference played at the frame's time and runs AEC3 on three 10 ms blocks, with the tracked delay as
    AEC3's stream delay. The reference itself is not shifted by the delay: AEC3 aligns it internally,
    and re-aligning it under AEC3's feet each time the estimate moves makes it re-converge (measured:
    a self-interruption a second into the first reply, against none when AEC3 is only told the delay).
    Only a negative delay (echo before its reference: timestamps off) moves the reference, since AEC3
    cannot cancel an echo whose reference has not arrived yet.
    Raises `EchoCancellerUnavailable` at construction when the binding cannot load.
    """

    def __init__(self, config: EchoConfig | None = None) -> None:
        self.config = config or EchoConfig()
        self._apm = _load_processor(self.config)
        self._far = FarEndBuffer()
        self._timeline = SteadyTimeline(SAMPLE_RATE)
        self.cancelled = np.zeros(0, dtype=np.int16)
        """The last frame as AEC3 left it, before muting (what ERLE is measured on)."""
        self._tracker = DelayTracker(
            self.config.device_delay_s, SAMPLE_RATE, max_delay_s=self.config.max_delay_s
        )
        self._power_in = 0.0
        self._power_out = 0.0
        self._cpu_s = 0.0
        self._audio_s = 0.0
        self._burst = _Burst(self.config.trust_after_s)
        self._room = RoomTone()
        self._tail = _EchoTail()
        self._echo_level = EchoLevel()
        self._bands = EchoBands(round(FRAME_S * SAMPLE_RATE), SAMPLE_RATE)
        self._echo_heard = True
        """Whether trust was earned by cancelling an echo, not by hearing none (a headset). With no echo to
        cancel the microphone passes as it is: AEC3's suppressor still acts while the speaker plays, and
        took 20-40 dB off the onsets of a headset wearer's words (measured on Piper speech), enough for
        Whisper to miss a barge-in."""
        self._found_without_echo = 0
        """The delay tracker's confident estimates when no echo was heard: new ones mean one is now."""
        self._played_until_s = float("-inf")
        self._incoming: deque[tuple[np.ndarray, int, float]] = deque()
        """Blocks the speaker has played, not yet placed in the far end (appending is thread-safe)."""

    @property
    def delay_s(self) -> float:
        """Where the echo currently sits relative to the reference timestamps."""
        return self._tracker.delay_s

    @property
    def erle_db(self) -> float | None:
        """Echo return loss enhancement over recent frames with far-end audio (None before any)."""
        if self._power_out <= 0.0 or self._power_in <= 0.0:
            return None
        return 10.0 * float(np.log10(self._power_in / self._power_out))

    def hears_only_echo(self) -> bool:
        """Whether all the microphone heard lately is the speaker's echo (see `DOUBLE_TALK`): speech in
        what the canceller left is then what it could not remove, not a person talking over Hark."""
        return self._echo_level.only_echo()

    @property
    def cpu_fraction(self) -> float:
        """CPU time spent in `process` per second of audio processed (fraction of one core)."""
        return self._cpu_s / self._audio_s if self._audio_s else 0.0

    def playback(self, audio: np.ndarray, sample_rate: int, at_s: float) -> None:
        """Called from the speaker's audio callback, which must return within milliseconds or the stream
        underruns (and PulseAudio then raises its latency for good, measured: 1.5 s more to first audio):
        the block is only queued here, and placed by the capture thread."""
        self._incoming.append((audio, sample_rate, at_s))

    def _place(self, audio: np.ndarray, sample_rate: int, at_s: float) -> None:
        """A block that starts within `JITTER_S` of where the previous one ended (or before it: a speaker
        plays one thing at a time) follows it without a gap or an overlap, since a few milliseconds of
        jitter in the reported times would skip or repeat reference samples under AEC3. A later one is
        placed where its own time says: the stream underran and its audio really is late (snapped instead,
        each underrun on a busy machine left the reference further ahead of the echo, until AEC3 lost it)."""
        if at_s <= self._played_until_s + JITTER_S:
            at_s = self._played_until_s
        self._far.add(audio, sample_rate, at_s)
        self._played_until_s = at_s + audio.size / sample_rate

    def process(self, frame: np.ndarray, at_s: float) -> np.ndarray:
        started = time.thread_time()
        mic = np.asarray(frame, dtype=np.int16)
        at_s = self._timeline.time_of(at_s, mic.size)
        while self._incoming:
            self._place(*self._incoming.popleft())
        if self.config.track_delay:
            self._tracker.push(self._far.read(at_s, mic.size), mic)
        delay_s = self._tracker.delay_s
        reference = self._far.read(at_s + max(0.0, -delay_s), mic.size)
        self._apm.stream_delay_ms = max(0, round(delay_s * 1000))
        out = np.concatenate(
            [
                self._apm.process(mic[i : i + BLOCK_SAMPLES], reference[i : i + BLOCK_SAMPLES])
                for i in range(0, mic.size, BLOCK_SAMPLES)
            ]
        )
        self.cancelled = out
        active = self._update_erle(reference, mic, out)
        self._tail.hear(active, _rms(mic), STILL_OF_ECHO * self._burst.echo_rms, mic.size / SAMPLE_RATE)
        self._echo_level.hear(_rms(mic) ** 2, _rms(self._far.read(at_s - delay_s, mic.size)) ** 2)
        played = self._recently_played(at_s, mic.size)
        may_sound = bool(np.max(np.abs(played), initial=0) > ERLE_REFERENCE_RMS) and not self._tail.gone
        if not may_sound:
            self._room.hear(out)
        trusted = self._trusted(active, at_s, may_sound, reference, mic, out)
        self._judge_bands(mic, at_s, delay_s, may_sound)
        muted = not trusted or (may_sound and self._echo_heard and self._residue(mic, out, played))
        if muted and not self._echo_level.double_talk():  # a person over the echo is heard, trusted or not
            out = self._room.tone(out.size)
        elif not self._echo_heard:
            out = mic
        self._cpu_s += time.thread_time() - started
        self._audio_s += mic.size / SAMPLE_RATE
        return out

    def _trusted(
        self,
        active: bool,
        at_s: float,
        may_sound: bool,
        reference: np.ndarray,
        mic: np.ndarray,
        out: np.ndarray,
    ) -> bool:
        """Whether this frame may pass: no speaker audio can be in it, or the current burst earned trust."""
        config = self.config
        if config.trust_after_s <= 0:
            return True
        burst = self._burst
        if active:
            burst.add(reference, mic, out)
            converged = burst.heard_s >= config.trust_after_s and burst.erle_db >= config.trust_erle_db
            no_echo = burst.heard_s >= NO_ECHO_AFTER_S and burst.echo_loss_db >= NO_ECHO_LOSS_DB
            if (converged or no_echo) and not burst.trusted:
                burst.trusted = True  # for the rest of the burst: the user's voice must not revoke it
                self._echo_heard = converged
                self._found_without_echo = self._tracker.found
            elif not self._echo_heard and self._tracker.found >= self._found_without_echo + ECHO_FOUND:
                self._echo_heard = True  # an echo came after all (the headset was taken off, say)
                self._echo_level = EchoLevel()  # its gain is not the headset's
                self._bands = EchoBands(mic.size, SAMPLE_RATE)
        return burst.trusted or not may_sound

    def _judge_bands(self, mic: np.ndarray, at_s: float, delay_s: float, may_sound: bool) -> None:
        """Band by band, whether the frame holds more than the echo (see `EchoBands`) while the speaker may
        sound: judged once the canceller has earned trust on a real echo (its delay is known then), the
        gains learnt before."""
        n = mic.size
        if not may_sound:
            self._bands.hear(mic, None)
            return
        around = self._far.read(at_s - delay_s - n / SAMPLE_RATE, 3 * n).reshape(3, n)
        self._bands.hear(mic, around, judge=self._burst.trusted and self._echo_heard)

    def heard_over_echo_s(self) -> float:
        """How long the microphone has heard, up to its latest frame, what the echo cannot explain in some
        frequency bands (0 when it does not now): the onset of speech that AEC3 and webrtcvad lost under
        the echo."""
        return self._bands.run_s

    def _recently_played(self, at_s: float, n: int) -> np.ndarray:
        """What the speaker played that, delayed by up to `UNTRUSTED_DELAY_S` plus its tail, may be in this
        frame (the tracked delay is not to be trusted before convergence either)."""
        back_s = max(self.config.max_delay_s, UNTRUSTED_DELAY_S) + ECHO_TAIL_S
        return self._far.read(at_s - back_s, n + round(back_s * SAMPLE_RATE))

    @staticmethod
    def _residue(mic: np.ndarray, out: np.ndarray, played: np.ndarray) -> bool:
        """Whether `out` is only what the canceller left of the echo (see `RESIDUE_OF_REFERENCE`)."""
        left = _rms(out)
        return left < RESIDUE_RATIO * _rms(mic) and left < RESIDUE_OF_REFERENCE * _rms(played)

    def _update_erle(self, reference: np.ndarray, mic: np.ndarray, out: np.ndarray) -> bool:
        """Count the frame towards ERLE when the speaker plays in it; say whether it does."""
        if np.sqrt(np.mean(reference.astype(np.float64) ** 2)) < ERLE_REFERENCE_RMS:
            return False
        self._power_in = ERLE_DECAY * self._power_in + float(np.mean(mic.astype(np.float64) ** 2))
        self._power_out = ERLE_DECAY * self._power_out + float(np.mean(out.astype(np.float64) ** 2))
        return True


class RoomTone:
    """What the microphone hears while nobody speaks and the speaker is silent: muted frames are filled
    with it rather than with digital silence. webrtcvad adapts to silence and then takes the room's own
    noise, when it comes back, for three frames of speech: exactly what starts an utterance (measured on
    the peer benchmark: a wordless utterance began as each reply's echo window closed, waited for words,
    and swallowed the next question, which was answered 2.4-4.2 s after it ended instead of 0.8 s)."""

    FLOOR_RISE = 1.002
    """Per frame, how fast the noise floor may rise (about 6 % a second); it falls at once."""

    def __init__(self) -> None:
        self._floor = 0.0
        self._tone: np.ndarray | None = None
        self._rng = np.random.default_rng(0)

    def hear(self, frame: np.ndarray) -> None:
        """A frame heard while the speaker is silent: kept when it is as quiet as the room gets."""
        level = float(np.sqrt(np.mean(frame.astype(np.float64) ** 2)))
        if self._floor == 0.0 or level < self._floor:
            self._floor = level
        else:
            self._floor *= self.FLOOR_RISE
        if level <= 1.5 * self._floor:
            self._tone = frame.copy()

    def tone(self, n: int) -> np.ndarray:
        """`n` samples of room tone (silence until the room has been heard)."""
        if self._tone is None or self._tone.size < n:
            return np.zeros(n, dtype=np.int16)
        shifted = np.roll(self._tone, int(self._rng.integers(self._tone.size)))[:n]
        return shifted if self._rng.random() < 0.5 else -shifted


class EchoLevel:
    """How loud the speaker's echo is at the microphone, to tell Hark's own voice from double talk.

    The echo path's power gain (microphone over what was played, at the tracked delay) is learnt from
    frames where the speaker plays and the microphone is not clearly louder than the echo (someone talking
    over Hark does not teach it); the recent window is then compared with it. The check is on power alone,
    so it holds however little AEC3 removed; a person much quieter than the echo is not told apart by it
    (they are not by AEC3's leftovers either)."""

    def __init__(self) -> None:
        self._window: deque[tuple[float, float]] = deque(maxlen=round(DOUBLE_TALK_S / FRAME_S))
        self._mic = 0.0
        self._played = 0.0
        self._frames = 0
        self._unexplained = 0
        """Frames in a row, with the speaker playing, that were clearly louder than its echo."""

    @property
    def gain(self) -> float | None:
        """Microphone power per unit of played power (None until learnt)."""
        return self._mic / self._played if self._frames >= ECHO_GAIN_FRAMES and self._played > 0 else None

    def hear(self, mic_power: float, played_power: float) -> None:
        """One frame: the microphone's mean power and that of what was played an echo delay before."""
        self._window.append((mic_power, played_power))
        if played_power < ERLE_REFERENCE_RMS**2:
            return
        gain = self.gain
        if gain is not None and mic_power > 2 * DOUBLE_TALK * gain * played_power:
            self._unexplained += 1
            if self._unexplained * FRAME_S < ECHO_GAIN_RELEARN_S:
                return
        else:
            self._unexplained = 0
        self._mic = ECHO_GAIN_DECAY * self._mic + mic_power
        self._played = ECHO_GAIN_DECAY * self._played + played_power
        self._frames += 1

    def only_echo(self) -> bool:
        """The last `DOUBLE_TALK_S`: the speaker played in a third of it or more, and the microphone heard
        no more than its echo."""
        excess = self._excess()
        return excess is not None and excess <= DOUBLE_TALK

    def double_talk(self) -> bool:
        """The last `DOUBLE_TALK_S`: the speaker played in a third of it or more, and the microphone heard
        clearly more than its echo: someone is talking over it."""
        excess = self._excess()
        return excess is not None and excess > DOUBLE_TALK

    def _excess(self) -> float | None:
        """The microphone's power over the echo's over the window (None when the gain is not learnt yet, or
        the speaker was mostly silent: a late echo then looks like a person, and the tail rules decide)."""
        gain = self.gain
        played = [p for _, p in self._window]
        if gain is None or sum(p >= ERLE_REFERENCE_RMS**2 for p in played) * 3 < max(1, len(played)):
            return None
        return sum(m for m, _ in self._window) / max(gain * sum(played), 1e-9)


@dataclass
class _EchoTail:
    """Whether the echo of what the speaker last played has died away: once the speaker is silent, the
    microphone has been still for `ECHO_GONE_S` (see there). It stays so until the speaker plays again,
    whatever the microphone hears next."""

    still_s: float = 0.0
    gone: bool = False

    def hear(self, speaker_sounds: bool, mic_rms: float, still_rms: float, seconds: float) -> None:
        if speaker_sounds:
            self.still_s, self.gone = 0.0, False
        elif not self.gone:
            self.still_s = self.still_s + seconds if mic_rms <= still_rms else 0.0
            self.gone = self.still_s >= ECHO_GONE_S


@dataclass
class _Burst:
    """Speaker audio heard until trust is earned, gaps between replies included (a reply shorter than
    `trust_after_s` must not start the count again: each reply then began muted, and a person speaking
    1.5 s into the next one was not heard): how much echo the canceller removed in it."""

    window_s: float
    """ERLE is judged on the latest this many seconds of it: over the whole burst, the seconds before
    AEC3 converged kept it under 15 dB for good on the PulseAudio echo path (11-15 dB a reply, 0 of 10
    barge-ins heard), though it removed more than that once converged."""
    heard_s: float = 0.0
    frames: int = 0
    power_reference: float = 0.0
    power_in: float = 0.0
    trusted: bool = False
    recent: deque[tuple[float, float, float]] = field(default_factory=deque)
    """(seconds, power in, power out) of the latest frames, `window_s` of them."""

    def add(self, reference: np.ndarray, mic: np.ndarray, out: np.ndarray) -> None:
        seconds = mic.size / SAMPLE_RATE
        self.heard_s += seconds
        self.frames += 1
        self.power_reference += float(np.mean(reference.astype(np.float64) ** 2))
        power_in = float(np.mean(mic.astype(np.float64) ** 2))
        self.power_in += power_in
        self.recent.append((seconds, power_in, float(np.mean(out.astype(np.float64) ** 2))))
        while sum(r[0] for r in self.recent) - self.recent[0][0] >= self.window_s:
            self.recent.popleft()

    @property
    def echo_rms(self) -> float:
        """How loud the microphone is, on average, while the speaker plays (0 before it has played)."""
        return float(np.sqrt(self.power_in / self.frames)) if self.frames else 0.0

    @property
    def echo_loss_db(self) -> float:
        """How far below the speaker's sound what the microphone hears is."""
        return 10.0 * float(np.log10(max(self.power_reference, 1e-12) / max(self.power_in, 1e-12)))

    @property
    def erle_db(self) -> float:
        power_in = sum(r[1] for r in self.recent)
        power_out = sum(r[2] for r in self.recent)
        if power_out <= 0.0:
            return float("inf") if power_in > 0.0 else 0.0
        return 10.0 * float(np.log10(max(power_in, 1e-12) / power_out))
