"""Acoustic scenes for spoken eval turns, and playing one turn through the real voice loop.

A scene is what the room does to the user's voice: noise at a signal-to-noise ratio (white, babble made of
Piper voices, or a recording), reverberation (a synthetic exponentially decaying impulse response with a
given RT60), pauses inside the utterance, Hark's own voice leaking back from the speaker into the microphone
(echo, at a level relative to what is played), and the user talking over the reply at a set time.

The turn runs through `hark.assembly.build_loop` in real time: the microphone is a paced source of the mixed
audio, the speaker a sink that plays in real time (so a barge-in can stop it, and its sound can leak back as
echo). Real time and not a virtual clock, because what is measured — end-of-turn delay, first audio, whether
the reply got interrupted — depends on how long Whisper, the model and Piper really take while audio keeps
arriving; a virtual clock would freeze the room while they think.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from hark import assembly
from hark.benchmark.recording import AUDIBLE, last_audible_s
from hark.config import HarkConfig
from hark.conversation import VoiceConversation
from voice import SAMPLE_RATE
from voice.decode import decode_file, resample, to_int16
from voice.events import BargeIn, Reply, SpeechEnded, Transcript, VoiceEvent
from voice.reply import Turn
from voice.stt import Transcriber
from voice.stt import Transcript as SttTranscript
from voice.tts import Speaker, TtsConfig
from voice.vad import FRAME_S, FRAME_SAMPLES

SNR_RANGE_DB = (-10.0, 60.0)
ECHO_RANGE_DB = (-60.0, 0.0)
REVERB_RANGE_S = (0.05, 3.0)
ECHO_DELAY_S = 0.03
"""Speaker to microphone: the acoustic path plus the sound card's buffers."""
TAIL_S = 0.8
"""Silence kept after the reply ends, so the loop finishes the turn as it would in a room."""
MAX_S = 60.0
"""A turn never runs longer than this (a reply that never ends is a failure, not a hang)."""
UNHEARD_S = 5.0
"""When the loop has not ended any turn this long after the utterance, it heard nothing: stop listening."""
BABBLE = (
    "The train to the city leaves from the other platform in ten minutes.",
    "I told her the meeting was moved to Thursday afternoon at three.",
    "Could you pass me the menu, I think I will have the soup today.",
    "We walked along the river until it got dark and then took a taxi.",
    "My brother has been learning to play the piano for two years now.",
    "They say the weather will be better at the weekend than this week.",
)
"""Sentences of the babble: six voices talking at once, none of them to Hark."""


@dataclass(frozen=True)
class Noise:
    kind: str
    """`white`, `babble`, or a path to a recording."""
    snr_db: float


@dataclass(frozen=True)
class Scene:
    noise: Noise | None = None
    reverb_s: float | None = None
    """RT60 of the synthetic room, seconds."""
    echo_db: float | None = None
    """Hark's voice leaking into the microphone, relative to what is played."""
    barge_in_at_s: float | None = None
    """The user talks over the reply this long after its first audio."""
    barge_in_say: str = "Wait, stop, I have another question."


def _power(audio: np.ndarray) -> float:
    """Mean power over the active part (frames within 40 dB of the loudest), so leading and trailing
    silence do not flatter the SNR."""
    usable = audio[: audio.size // FRAME_SAMPLES * FRAME_SAMPLES].astype(np.float64)
    frames = usable.reshape(-1, FRAME_SAMPLES) if usable.size else usable.reshape(0, FRAME_SAMPLES)
    energy = (frames**2).mean(axis=1) if frames.size else np.zeros(1)
    active = energy[energy >= energy.max() * 1e-4]
    return float(active.mean()) if active.size else 0.0


def add_noise(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """`speech` (float32) plus `noise` looped to its length and scaled to `snr_db`."""
    reps = math.ceil(speech.size / max(noise.size, 1))
    bed = np.tile(noise, reps)[: speech.size].astype(np.float64)
    noise_power = _power(bed)
    if noise_power == 0.0:
        return speech
    gain = math.sqrt(_power(speech) / (noise_power * 10 ** (snr_db / 10)))
    return (speech + gain * bed).astype(np.float32)


def snr_db(speech: np.ndarray, noise: np.ndarray) -> float:
    """The SNR of `speech` over `noise` as `add_noise` defines it (for checking a mix)."""
    return 10 * math.log10(_power(speech) / _power(noise))


def impulse_response(rt60_s: float, rng: np.random.Generator) -> np.ndarray:
    """A direct path then exponentially decaying noise: energy falls 60 dB in `rt60_s`."""
    t = np.arange(int(rt60_s * SAMPLE_RATE)) / SAMPLE_RATE
    ir = rng.standard_normal(t.size) * np.exp(-6.9078 * t / rt60_s) * 0.3
    ir[0] = 1.0
    return (ir / np.sqrt((ir**2).sum())).astype(np.float32)


def reverberate(speech: np.ndarray, rt60_s: float, rng: np.random.Generator) -> np.ndarray:
    # Imported here: `hark.cli` imports every command, and scipy.signal costs each of them about 75 MB.
    from scipy.signal import fftconvolve

    wet = fftconvolve(speech, impulse_response(rt60_s, rng))[: speech.size]
    peak = np.abs(wet).max()
    return (wet * (np.abs(speech).max() / peak) if peak else wet).astype(np.float32)


def spoken(speaker: Speaker, text: str) -> np.ndarray:
    """`text` in the Piper voice, 16 kHz float32, the same on every run (see `user_voice`)."""
    voice = user_voice(speaker.config) if isinstance(speaker, Speaker) else speaker
    audio = voice.synthesize_all(text).astype(np.float32) / 32768.0
    return resample(audio, voice.sample_rate, SAMPLE_RATE).astype(np.float32)


@functools.lru_cache(maxsize=2)
def user_voice(config: TtsConfig) -> Speaker:
    """The user's words in a scene: Piper without its random noise, so a case sounds the same on every run
    and for both sides of an A/B comparison (the room is seeded too); what differs is what Hark does."""
    return Speaker(dataclasses.replace(config, deterministic=True))


def babble(speaker: Speaker, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Several sentences at once, each at a random offset and level, looped to `seconds`."""
    n = int(seconds * SAMPLE_RATE)
    mix = np.zeros(n, dtype=np.float32)
    for sentence in BABBLE:
        voice = spoken(speaker, sentence)
        start = int(rng.integers(0, max(voice.size, 1)))
        mix += np.tile(np.roll(voice, -start), math.ceil(n / voice.size))[:n] * float(rng.uniform(0.5, 1.0))
    return mix


def noise_audio(noise: Noise, speaker: Speaker, seconds: float, rng: np.random.Generator) -> np.ndarray:
    if noise.kind == "white":
        return rng.standard_normal(int(seconds * SAMPLE_RATE)).astype(np.float32) * 0.1
    if noise.kind == "babble":
        return babble(speaker, seconds, rng)
    return decode_file(noise.kind)


@dataclass(frozen=True)
class Utterance:
    """What the microphone gets for the user's turn, and where the user truly stopped speaking."""

    audio: np.ndarray
    """16 kHz float32, the room applied."""
    speech_end_s: float
    """The last audible sample of the clean utterance."""


def compose(
    clean: np.ndarray, scene: Scene, speaker: Speaker, rng: np.random.Generator, lead_s: float = 0.5
) -> Utterance:
    """The clean utterance (pauses already in it) after lead silence, reverberated, with the noise bed."""
    voice = np.concatenate([np.zeros(int(lead_s * SAMPLE_RATE), np.float32), clean.astype(np.float32)])
    end_s = last_audible_s(to_int16(voice))
    if scene.reverb_s:
        voice = reverberate(voice, scene.reverb_s, rng)
    if scene.noise is not None:
        voice = add_noise(
            voice, noise_audio(scene.noise, speaker, voice.size / SAMPLE_RATE, rng), scene.noise.snr_db
        )
    return Utterance(np.clip(voice, -1.0, 1.0), end_s)


class Room:
    """The microphone and the speaker of one turn, sharing one stream clock.

    The microphone (`frames()`) plays the user's utterance, then the barge-in when its time comes, plus
    the echo of whatever the speaker played `ECHO_DELAY_S` earlier; it keeps listening until the reply is
    over. The speaker (`play()`) plays in real time, notes when it made sound and when it was stopped.
    """

    def __init__(self, utterance: Utterance, scene: Scene, barge_in: np.ndarray | None) -> None:
        self.utterance = utterance
        self.scene = scene
        self._barge_in = barge_in
        total = int(MAX_S * SAMPLE_RATE)
        self._echo = np.zeros(total, dtype=np.float32)
        self._gain = 10 ** (scene.echo_db / 20) if scene.echo_db is not None else 0.0
        self._closed = threading.Event()
        self.reply_done = threading.Event()
        self.heard = threading.Event()
        """The loop ended a user turn (so a reply, or a reprompt, is coming)."""
        self.started_at: float | None = None
        self.sound_times: list[float] = []
        """Monotonic times at which audible reply audio reached the speaker."""
        self.stop_times: list[float] = []
        self.barge_in_start_s: float | None = None
        """Stream time at which the barge-in speech began (None: not yet or never)."""

    # the microphone
    def frames(self) -> Iterator[np.ndarray]:
        self.started_at = start = time.monotonic()
        user = self.utterance.audio
        end_k = int(MAX_S / FRAME_S)
        for k in range(end_k):
            if self._closed.is_set():
                return
            delay = start + (k + 1) * FRAME_S - time.monotonic()
            if delay > 0 and self._closed.wait(delay):
                return
            lo, hi = k * FRAME_SAMPLES, (k + 1) * FRAME_SAMPLES
            frame = np.zeros(FRAME_SAMPLES, dtype=np.float32)
            if lo < user.size:
                part = user[lo:hi]
                frame[: part.size] += part
            frame += self._barge_in_part(lo, hi)
            frame += self._echo[lo:hi]
            yield to_int16(np.clip(frame, -1.0, 1.0))
            if lo > user.size and self._finished(hi):
                return

    def _barge_in_part(self, lo: int, hi: int) -> np.ndarray:
        out = np.zeros(hi - lo, dtype=np.float32)
        if self._barge_in is None or self.scene.barge_in_at_s is None or not self.sound_times:
            return out
        if self.barge_in_start_s is None:
            assert self.started_at is not None
            self.barge_in_start_s = self.sound_times[0] - self.started_at + self.scene.barge_in_at_s
        start = int(self.barge_in_start_s * SAMPLE_RATE)
        a, b = max(lo, start), min(hi, start + self._barge_in.size)
        if a < b:
            out[a - lo : b - lo] = self._barge_in[a - start : b - start]
        return out

    def _finished(self, position: int) -> bool:
        if not self.heard.is_set():
            return position > self.utterance.audio.size + UNHEARD_S * SAMPLE_RATE
        barge_end = 0
        if self.barge_in_start_s is not None and self._barge_in is not None:
            barge_end = int(self.barge_in_start_s * SAMPLE_RATE) + self._barge_in.size
        waiting_for_barge = (
            self._barge_in is not None and self.barge_in_start_s is None and not self.reply_done.is_set()
        )
        if waiting_for_barge or position < barge_end:
            return False
        return self.reply_done.is_set() and position / SAMPLE_RATE > self._quiet_since() + TAIL_S

    def _quiet_since(self) -> float:
        assert self.started_at is not None
        last = max([*self.sound_times, *self.stop_times], default=self.started_at)
        return last - self.started_at

    def close(self) -> None:
        self._closed.set()

    # the speaker
    def play(self, samples: np.ndarray, rate: int, stop: threading.Event) -> int:
        block = int(rate * 0.02)
        for begin in range(0, samples.size, block):
            if stop.is_set():
                self.stop_times.append(time.monotonic())
                return begin
            chunk = samples[begin : begin + block]
            now = time.monotonic()
            if np.abs(chunk.astype(np.int32)).max(initial=0) > AUDIBLE:
                self.sound_times.append(now)
            if self._gain and self.started_at is not None:
                self._leak(chunk, rate, now)
            time.sleep(chunk.size / rate)
        return int(samples.size)

    def _leak(self, chunk: np.ndarray, rate: int, now: float) -> None:
        assert self.started_at is not None
        heard = resample(chunk.astype(np.float32) / 32768.0, rate, SAMPLE_RATE) * self._gain
        at = int((now - self.started_at + ECHO_DELAY_S) * SAMPLE_RATE)
        end = min(at + heard.size, self._echo.size)
        if at < end:
            self._echo[at:end] += heard[: end - at]

    def gap(self, seconds: float) -> None:
        pass  # a speaker needs nothing between replies


@dataclass
class LoopTurn:
    """What the voice loop did with one spoken turn, measured against the truth of the mix."""

    transcript: str
    speech_end_s: float
    """Stream time at which the user truly stopped (the clean utterance's last audible sample)."""
    ended_at_s: list[float] = field(default_factory=list)
    """Stream times at which the loop ended a user turn (received `speech_ended`), in order."""
    ended_speech_s: list[float] = field(default_factory=list)
    """The stream time of the last speech frame of each ended turn."""
    first_audio_s: float | None = None
    """From the true end of speech to the first audible reply sound."""
    interrupted: bool | None = None
    barge_ins_s: list[float] = field(default_factory=list)
    """Stream times at which the loop decided the user was talking over the reply."""
    barge_in_start_s: float | None = None
    """Stream time at which the scripted barge-in began (None: none)."""


class _Recorder:
    """Collects the loop's events against the room's stream clock, and passes them on to the conversation
    (as `hark talk` does) so the turn's record gets the loop's stage latencies."""

    def __init__(self, room: Room, turn: LoopTurn, conversation: VoiceConversation) -> None:
        self.room = room
        self.turn = turn
        self.texts: list[str] = []
        self._conversation = conversation

    def __call__(self, event: VoiceEvent) -> None:
        self._conversation.on_event(event)
        now = time.monotonic() - (self.room.started_at or time.monotonic())
        if isinstance(event, SpeechEnded):
            self.room.heard.set()
            self.turn.ended_at_s.append(now)
            self.turn.ended_speech_s.append(event.stream_s)
        elif isinstance(event, Transcript) and event.final and not event.ignored:
            self.texts.append(event.text)
        elif isinstance(event, BargeIn):
            self.turn.barge_ins_s.append(now)
        elif isinstance(event, Reply):
            if self.turn.interrupted is None:
                self.turn.interrupted = event.interrupted
            scripted = self.room.scene.barge_in_at_s is not None
            if not scripted or self.room.barge_in_start_s is not None or not self.room.sound_times:
                self.room.reply_done.set()  # (a reply that made no sound will not be talked over)


def play_in_loop(
    config: HarkConfig,
    utterance: Utterance,
    scene: Scene,
    conversation: VoiceConversation,
    transcriber: Transcriber,
    speaker: Speaker,
) -> LoopTurn:
    """Run the voice loop, built as `hark talk` builds it, over the room until the reply is over."""
    barge = spoken(speaker, scene.barge_in_say) if scene.barge_in_at_s is not None else None
    room = Room(utterance, scene, barge)
    turn = LoopTurn(transcript="", speech_end_s=utterance.speech_end_s)
    recorder = _Recorder(room, turn, conversation)
    loop, player = assembly.build_loop(
        config, room, room, transcriber, speaker, _FirstTurn(conversation), recorder, realtime=True
    )
    try:
        loop.run()
    finally:
        room.close()
        player.close()
    assert room.started_at is not None
    eos = room.started_at + utterance.speech_end_s
    first = next((t for t in room.sound_times if t >= eos), None)
    turn.first_audio_s = None if first is None else first - eos
    turn.transcript = recorder.texts[0] if recorder.texts else ""
    turn.barge_in_start_s = room.barge_in_start_s
    return turn


class _FirstTurn:
    """The loop's conversation for a scene: the user's turn goes to the case's conversation; what the user
    says over the reply (a scripted barge-in) only stops it and gets no reply of its own."""

    def __init__(self, conversation: VoiceConversation) -> None:
        self._conversation = conversation
        self._user_turn: int | None = None

    def begin_turn(self, transcript: SttTranscript, turn_id: int) -> Turn | None:
        """The first turn id is the user's (speculative starts of it included); later ones are talk-over."""
        if self._user_turn is None:
            self._user_turn = turn_id
        if turn_id == self._user_turn:
            return self._conversation.begin_turn(transcript, turn_id)
        return _Silent()


class _Silent:
    def pieces(self) -> Iterator[str]:
        return iter(())

    def cancel(self) -> None:
        pass

    def finish(self, heard: str, interrupted: bool) -> None:
        pass


def say_with_pauses(speaker: Speaker, parts: Sequence[str | float]) -> np.ndarray:
    """Texts in the Piper voice with silences (seconds) between them."""
    pieces = [
        np.zeros(int(p * SAMPLE_RATE), np.float32) if isinstance(p, float) else spoken(speaker, p)
        for p in parts
    ]
    return np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
