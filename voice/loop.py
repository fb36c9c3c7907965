"""The audio loop: listen, endpoint, transcribe, ask the conversation, speak — with the stages overlapped.

Threads: the caller's thread captures frames (frame processors, VAD, endpointer), one STT thread decodes,
one reply thread (`voice.reply`) runs replies with the model's pieces read on a pump thread, one event thread
delivers events (`voice.dispatch`), the player plays. Everything that can start before the user has
finished does:

* while the user speaks, the growing utterance is re-transcribed every `partial_interval_s` (when the STT
  thread is free) and partial transcripts are reported (LocalAgreement-2 commits the stable words);
* after a short silence (`speculate_after_s`, well inside the hang time) the utterance is transcribed and
  the reply is started *speculatively*: the model generates and the first chunk is synthesised, but held;
* when the turn is over the held audio is released at once; if the user goes on speaking (RESUME) the
  speculative reply is dropped without trace and a new one starts at the next pause.

When is the turn over? With an end-of-turn model (`turn_model`), a `voice.turn.TurnDecider` judges each
pause from the model's answer (computed on the `hark-turn-model` thread, never on the capture thread) and
the words of the speculative transcript, up to its maximum wait; the endpointer's own hang is pushed past
that wait. Without a model, the endpointer's fixed hang (END) ends it.

In barge-in mode, speech over a reply pauses the player; the words of that speech decide: none, or only
acknowledgements, and the reply plays on from where it paused; a stop request stops it (at the first
partial transcript that has it) and is not answered; anything else stops it and is the next turn.
"""

from __future__ import annotations

import dataclasses
import enum
import threading
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from voice import events
from voice.agreement import PrefixAgreement
from voice.clock import SYSTEM_CLOCK, Clock, Mailbox
from voice.decode import to_float32
from voice.dispatch import EventCallback, EventDispatcher
from voice.endpointer import Endpointer, EndpointerConfig, EndpointEvent, EventKind
from voice.player import Player
from voice.ports import EchoJudge, FrameProcessor, ProcessorChain, SpeechToText, TextToSpeech
from voice.processors.echo_bands import hidden_onset_s
from voice.reply import Conversation, Decode, ReplyHandle, ReplyWorker, Turn
from voice.sources import AudioSource
from voice.speech import FIRST_CLAUSE_CHARS
from voice.stt import Transcript
from voice.turn.decider import TurnConfig, TurnDecider
from voice.turn.text import BargeIn, barge_in_kind, starts_with_stop
from voice.turn.worker import Prediction, TurnModelWorker, TurnPredictor
from voice.vad import FRAME_S, FrameVad

__all__ = ["Conversation", "LoopConfig", "LoopSummary", "ReplyHandle", "Turn", "TurnTaking", "VoiceLoop"]

UTTERANCE_TAIL_S = 0.2
"""Silence kept after the last speech frame: Whisper is more reliable with a little trailing room."""
STOP_GRACE_S = 0.5
"""After `stop()`, how long `run()` waits for the reply thread (a hung model call is not waited for)."""
SPEECH_DROPOUT_S = 0.06
"""Silence inside speech that still counts as hearing it: webrtcvad drops a frame or two inside words."""
STT_EXIT_S = 3.0
"""How long `run()` waits for a transcription under way to end: a process that exits while CTranslate2
decodes on another thread can abort in its finalisation ("terminate called without an active exception",
seen on the PulseAudio echo test at the end of a barge-in)."""
STOP_CHECK_S = 0.1
"""How often `run()`, waiting for the last replies, checks for `stop()`."""
DRAIN_S = 5.0
"""How long `run()` lets the event listener catch up with the queued events at the end."""


class TurnTaking(enum.Enum):
    HALF_DUPLEX = "half-duplex"
    """The microphone is ignored while Hark speaks (and a short tail after): safe without echo cancelling."""
    BARGE_IN = "barge-in"
    """The user may interrupt: enough speech during a reply stops it."""
    FULL_DUPLEX = "full-duplex"
    """Never gate, never interrupt (replies go to a file, so the microphone cannot hear them)."""


@dataclass(frozen=True)
class LoopConfig:
    endpointer: EndpointerConfig = field(default_factory=EndpointerConfig)
    turn_taking: TurnTaking = TurnTaking.HALF_DUPLEX
    gate_tail_s: float = 0.3
    barge_in_min_s: float = 0.3
    """In barge-in mode, speech over a reply this long pauses it. Through the echo canceller, the "Stop," of
    "Stop, stop talking." was 0.3 s of speech: with 0.4 s the reply paused only once "stop talking" began,
    0.4 s or more after the person had started (p90 0.3-0.44 s to silence after the barge-in length on the
    barge-in benchmark; with 0.3 s: 0.2 s, and 15 of 15 stopped). A cough this long pauses the reply for a
    moment, and it plays on (`no_words_wait_s`)."""
    overheard_min_confidence: float = 0.55
    """In barge-in mode, speech that began while Hark was speaking (or `gate_tail_s` after) counts as words
    only when Whisper is at least this sure of them (`Transcript.confidence`); below, it is taken for noise:
    a paused reply plays on and nothing is answered. What the echo canceller leaves of Hark's own voice
    came out as made-up words ("Thank you.", "Welcome.", "So,") at 0.37-0.50 in one run of the peer
    benchmark's echo path (10 of 11; one at 0.87), and at 0.62-0.72 in another, where the questions spoken
    over it scored 0.65-0.94: a floor above 0.55 would start to drop real words."""
    echo_after_pause_s: float = 0.35
    """After a barge-in pauses the reply, how long Hark's own voice may still reach the microphone: the
    speaker's buffer (0.1 s in barge-in mode), the sound server and the room (0.12 s measured on the test
    PulseAudio; the echo canceller tracks up to 0.2 s on it) and the echo's tail. Speech heard after that is
    nobody's but a person's."""
    person_after_pause_s: float = 0.15
    """Speech after `echo_after_pause_s` that proves a person spoke over the reply, whatever Whisper makes
    of the words: through the canceller, "Wait, stop please" came out as "point up, please." at 0.40 and
    "Stop, stop talking" as "thus, thus talking." at 0.26, while Hark's own echo stopped with the reply."""
    no_words_wait_s: float = 0.4
    """How long a barge-in whose words so far are none waits in silence before the paused reply plays on. A
    person's "Wait," through the echo canceller came out as nothing on the barge-in benchmark, and the
    "stop please" that followed 0.15 s later paused the reply again only after it had played on for 0.36 s;
    a cough or a door still lets the reply play on within half a second."""
    first_clause_chars: int = FIRST_CLAUSE_CHARS
    partial_interval_s: float | None = 0.5
    """Re-transcribe the utterance this often while it is spoken (None: no partial transcripts)."""
    speculate: bool = True
    speculate_after_s: float = 0.03
    """Silence after which the transcript and the reply start, before the hang is over. Long enough to
    skip the VAD's flicker between words, short enough that the reply is ready when the hang ends."""
    turn: TurnConfig = field(default_factory=TurnConfig)
    """The end-of-turn decision at pauses, used when the loop has an end-of-turn model."""


@dataclass
class _Utterance:
    turn_id: int
    start_stream_s: float
    speech_start_s: float
    frames: list[np.ndarray] = field(default_factory=list)
    walls: list[float] = field(default_factory=list)
    latest: Decode | None = None
    last_launch_s: float = 0.0
    agreement: PrefixAgreement = field(default_factory=PrefixAgreement)
    ended: bool = False
    """Set (under `lock`) at END: no partial transcript may follow the final one."""
    speech_end_s: float = 0.0
    """Stream time its speech ended (set at END)."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    job: ReplyHandle | None = None
    """The speculative reply started in the current pause, if any."""
    prediction: Prediction | None = None
    """The end-of-turn model's answer asked for in the current pause, if any."""
    barged: ReplyHandle | None = None
    """The reply this utterance spoke over (barge-in mode): paused until its words are known."""
    paused_at_s: float = 0.0
    """Stream time at which it paused the reply it spoke over."""
    speech_after_pause_s: float = 0.0
    """Speech heard once the paused reply's echo has died away (`LoopConfig.echo_after_pause_s`)."""
    speech_over_reply_s: float = 0.0
    echo_speech_s: float = 0.0
    """Of its speech while Hark spoke, how much the echo canceller found no louder than the reply's echo
    (`EchoJudge`): when that is most of it, it is not answered however sure Whisper is of its words (the
    canceller's leftovers came out as "Thank you." at 0.66-0.71 on the peer benchmark's echo path), unless
    it is a "stop" or proves to be a person's (it pauses the reply after all)."""

    @property
    def mostly_echo(self) -> bool:
        return self.echo_speech_s * 2 > self.speech_over_reply_s

    overheard: bool = False
    """Hark spoke during it (barge-in mode): it may be Hark's own echo, so its words decide whether it is
    answered at all. Not only from its start: the greeting may begin during a noise heard as the stream
    opens, which was then answered "Sorry, I didn't catch that" (peer benchmark, echo path)."""

    def audio(self, n_frames: int) -> np.ndarray:
        frames = self.frames[:n_frames]
        return to_float32(np.concatenate(frames)) if frames else np.zeros(0, np.float32)

    def frames_until(self, stream_s: float) -> int:
        return max(1, min(len(self.frames), round((stream_s - self.start_stream_s) / FRAME_S)))


@dataclass
class LoopSummary:
    utterances: int = 0
    turns: int = 0
    errors: int = 0
    speculative_hits: int = 0
    speculative_misses: int = 0


class VoiceLoop:
    """Threads: the caller's thread captures (processors, VAD, endpointer) and never waits on disk or on a
    model; `hark-stt` decodes; `hark-turns` runs replies (`voice.reply`); `hark-events` delivers events;
    the player plays. `clock` is the time they all share (a `VirtualClock` in tests)."""

    def __init__(
        self,
        source: AudioSource,
        player: Player,
        vad: FrameVad,
        transcriber: SpeechToText,
        speaker: TextToSpeech,
        conversation: Conversation,
        config: LoopConfig | None = None,
        on_event: EventCallback | None = None,
        processors: FrameProcessor | None = None,
        clock: Clock = SYSTEM_CLOCK,
        turn_model: TurnPredictor | None = None,
    ) -> None:
        """`turn_model`: with it, a `TurnDecider` ends each turn at a pause (the endpointer's hang only
        after its maximum wait); without it, the fixed hang does."""
        self.source = source
        self.player = player
        self.vad = vad
        self.transcriber = transcriber
        self.config = config or LoopConfig()
        self.clock = clock
        self.processors = processors or ProcessorChain()
        player.reference = self.processors  # echo cancelling hears what the speaker plays, and when
        self._turn_model = TurnModelWorker(turn_model, clock) if turn_model is not None else None
        self._decider: TurnDecider | None = None
        endpointing = self.config.endpointer
        if self._turn_model is not None:
            turn = self.config.turn
            if not self.config.speculate:  # the words of a pause are known only by speculating
                turn = dataclasses.replace(turn, use_text=False)
            self._decider = TurnDecider(turn)
            endpointing = dataclasses.replace(endpointing, hang_s=turn.max_wait_s + 2 * FRAME_S)
        self.endpointer = Endpointer(endpointing)
        self._paced = getattr(source, "paced", True)
        """False for a file read as fast as it can be: the capture thread then waits for the model and the
        transcript of each pause, so the decision depends on the audio alone, not on thread timing."""
        self._held: tuple[_Utterance, ReplyHandle, float, float] | None = None
        """An overheard utterance (a barge-in, say) that has ended, waiting for its transcript: (utterance,
        its reply, end of speech wall, end wall)."""
        self._events = EventDispatcher(clock, on_event or (lambda _e: None))
        self._replies = ReplyWorker(
            clock,
            player,
            speaker,
            transcriber,
            conversation,
            self.config.first_clause_chars,
            self._events.emit,
        )
        self._stt: Mailbox[tuple[_Utterance, Decode] | None] = Mailbox(clock)
        self._stt_ended = clock.signal()
        """Set when the transcription thread has ended."""
        self._decoding = 0
        self._decoding_lock = threading.Lock()
        self._turn_ids = 0
        self._turn_lock = threading.Lock()
        self._counts = LoopSummary()

    @property
    def summary(self) -> LoopSummary:
        counts = self._replies.counts
        return LoopSummary(
            utterances=self._counts.utterances,
            turns=counts.turns,
            errors=counts.errors,
            speculative_hits=self._counts.speculative_hits,
            speculative_misses=self._counts.speculative_misses,
        )

    @property
    def current_reply(self) -> ReplyHandle | None:
        """The reply being prepared or spoken, if any."""
        return self._replies.current

    def _next_turn_id(self) -> int:
        with self._turn_lock:
            self._turn_ids += 1
            return self._turn_ids

    # ---- capture side (caller's thread) -------------------------------------------------------------

    def run(self) -> LoopSummary:
        """Listen until the source ends (then finish the queued turns) or `stop()` is called."""
        with self.clock.attached():
            self._events.start()
            self.clock.start_thread(self._stt_worker, "hark-stt")
            self._replies.start()
            if self._turn_model is not None:
                self._turn_model.start()
            try:
                self._capture()
            finally:
                if self._turn_model is not None:
                    self._turn_model.close()
                self._replies.close()
                self._await_replies()
                self._stt.put(None)
                self._stt_ended.wait(STT_EXIT_S)
                self._events.close(STOP_GRACE_S if self._replies.stopping.is_set() else DRAIN_S)
        return self.summary

    def _await_replies(self) -> None:
        """Until the queued replies are done; after `stop()`, no longer than `STOP_GRACE_S`."""
        while not self._replies.done.wait(STOP_CHECK_S):
            if self._replies.stopping.is_set():
                self._replies.done.wait(STOP_GRACE_S)
                return

    def stop(self) -> None:
        """End `run()` promptly: stop listening, drop queued replies, abandon the one under way."""
        self._replies.stopping.set()
        self.source.close()
        self.interrupt()

    def say(self, text: str) -> None:
        """Speak `text` unprompted (a greeting or a notice), after any reply already under way."""
        done = self.clock.signal()
        decode = Decode(0, np.zeros(0, np.float32), quick=False, done=done, result=Transcript(text, 1.0, 0.0))
        done.set()
        handle = ReplyHandle(self._next_turn_id(), decode, self.clock, announcement=text)
        now = self.clock.now()
        handle.confirm(now, now)
        self._replies.submit(handle)

    def interrupt(self) -> None:
        """Stop the reply being generated and played, within 0.25 s, even inside a model call."""
        handle = self._replies.current
        if handle is not None:
            handle.interrupt()
        self.player.interrupt()

    def _gated(self) -> bool:
        if self.config.turn_taking is not TurnTaking.HALF_DUPLEX or not self.player.realtime:
            return False
        return self._speaker_sounds()

    def _speaker_sounds(self) -> bool:
        """Whether the speaker plays, or played a moment ago (its echo may still be in the room)."""
        return self.player.speaking or self.player.seconds_since_sound() < self.config.gate_tail_s

    def _hark_audible(self) -> bool:
        """Whether the microphone may be hearing Hark itself (barge-in mode, through a speaker)."""
        config = self.config
        return config.turn_taking is TurnTaking.BARGE_IN and self.player.realtime and self._speaker_sounds()

    def _capture(self) -> None:
        cfg = self.config.endpointer
        keep = int((cfg.pre_roll_s + cfg.start_s) / FRAME_S) + 2
        ring: deque[tuple[np.ndarray, float]] = deque(maxlen=keep)
        utt: _Utterance | None = None
        try:
            for frame in self.source.frames():
                utt = self._on_frame(frame, ring, utt)
            if utt is not None and self.endpointer.silence_s > 0 and not self._replies.stopping.is_set():
                # the source ended in a pause (a file's end): the speaker has finished
                end = self.endpointer.end_now()
                self._end_utterance(utt, end.speech_end_s or end.time_s, self.clock.now(), "source ended")
                utt = None
        finally:
            if utt is not None:
                self._abandon(utt)  # the source ended mid-utterance: nobody will confirm this reply
            if self._held is not None:  # a barge-in ended with the source: settle it, the reply waits
                self._settle_held(wait_s=STOP_GRACE_S)
                if self._held is not None:
                    self._held[1].drop()
                    self.player.resume()

    def _on_frame(
        self, frame: np.ndarray, ring: deque[tuple[np.ndarray, float]], utt: _Utterance | None
    ) -> _Utterance | None:
        """Process one captured frame; return the utterance in progress, if any."""
        wall = self.clock.now()
        frame = self.processors.process(frame, wall)
        if self._gated():
            if utt is not None:
                self._abandon(utt)
            self.endpointer.reset(self.endpointer.now_s + FRAME_S)
            ring.clear()
            return None
        ring.append((frame, wall))
        if utt is not None:
            utt.frames.append(frame)
            utt.walls.append(wall)
        if self._held is not None:
            self._settle_held()
        speech = self.vad.is_speech(frame)
        event = self.endpointer.process(speech, FRAME_S)
        kind = event.kind if event is not None else None
        if kind is EventKind.START:
            utt = self._start_utterance(event, ring)
        elif kind is EventKind.RESUME and utt is not None:
            self._resume_utterance(utt)
        elif kind is EventKind.END and utt is not None:
            self._end_utterance(utt, event.speech_end_s or event.time_s, wall, "hang")
            return None
        elif kind is EventKind.TIMEOUT:
            self._events.emit(events.NoSpeechTimeout(self._turn_ids))
        if utt is not None and self.endpointer.in_utterance:
            if speech and utt.barged is not None:
                after = self.endpointer.now_s - utt.paused_at_s >= self.config.echo_after_pause_s
                utt.speech_after_pause_s += FRAME_S if after else 0.0
            utt.overheard = utt.overheard or self._hark_audible()
            if speech and utt.overheard:
                utt.speech_over_reply_s += FRAME_S
                utt.echo_speech_s += FRAME_S if self._hears_only_echo() else 0.0
            if self.endpointer.silence_s <= SPEECH_DROPOUT_S:
                self._maybe_barge_in(utt)
            self._maybe_stop_at_once(utt)
            self._maybe_decode_ahead(utt)
            reason = self._turn_over(utt)
            if reason is not None:
                end = self.endpointer.end_now()
                self._end_utterance(utt, end.speech_end_s or end.time_s, wall, reason)
                return None
        return utt

    def _resume_utterance(self, utt: _Utterance) -> None:
        """Speech again after a pause: what was prepared for the pause is dropped."""
        if utt.job is not None:
            utt.job.drop()
            utt.job = None
            self._counts.speculative_misses += 1
        self._forget_prediction(utt)
        if self._decider is not None:
            self._decider.reset()

    def _forget_prediction(self, utt: _Utterance) -> None:
        if utt.prediction is not None:
            utt.prediction.abandoned = True
            utt.prediction = None

    # ---- end of turn ---------------------------------------------------------------------------------

    def _turn_over(self, utt: _Utterance) -> str | None:
        """Why this pause ends the turn, or None while it does not: a barge-in with no words at all yet ends
        after `LoopConfig.no_words_wait_s` (the paused reply should not wait for the end of a turn; one with
        an unsure word, the "Wait" of "Wait, stop", goes on); otherwise the end-of-turn model decides, if
        any."""
        heard = self._pause_transcript(utt) if utt.barged is not None else None
        if heard is not None and barge_in_kind(heard.text) is BargeIn.NOISE:
            return "no words" if self.endpointer.silence_s >= self.config.no_words_wait_s else None
        decider = self._decider
        silence = self.endpointer.silence_s
        if decider is None or silence == 0.0 or not decider.due(silence):
            return None
        probability = (lambda: self._probability(utt)) if self._turn_model is not None else None
        decision = decider.decide(silence, self._pause_transcript(utt), probability)
        return decision.reason if decision.release else None

    def _pause_transcript(self, utt: _Utterance) -> Transcript | None:
        """The speculative transcript of this pause (no words if it failed); None until it is ready."""
        job = utt.job
        if job is not None and not self._paced:
            job.decode.done.wait()
        if job is None or not job.decode.done.is_set():
            return None
        return job.decode.result or Transcript("", 0.0, 1.0)

    def _probability(self, utt: _Utterance) -> float | None:
        """The model's answer for this pause: asked for now (on the model's thread) if not yet, None
        until it is ready. A model that fails is dropped for the rest of the session: the hang decides."""
        assert self._turn_model is not None
        prediction = utt.prediction
        if prediction is None:
            utt.prediction = self._turn_model.ask(utt.audio(len(utt.frames)))
            return None
        if not self._paced:
            prediction.done.wait()
        if not prediction.done.is_set():
            return None
        utt.prediction = None
        if prediction.error is not None:
            self._turn_model.close()
            self._turn_model = None
            error = prediction.error
            self._events.emit(events.Error(utt.turn_id, "turn_model", f"{type(error).__name__}: {error}"))
            return None
        return prediction.value

    def _abandon(self, utt: _Utterance) -> None:
        """An utterance cut off (the microphone gated, the source ended): no reply, but its speech ended."""
        with utt.lock:
            utt.ended = True
        if utt.job is not None:
            utt.job.drop()
        self._forget_prediction(utt)
        if utt.barged is not None:
            self.player.resume()
        end_s = max(utt.speech_start_s, self.endpointer.last_speech_end_s)
        at_s = utt.walls[min(utt.frames_until(end_s), len(utt.walls)) - 1] if utt.walls else self.clock.now()
        self._events.emit(
            events.SpeechEnded(utt.turn_id, round(end_s, 3), round(utt.speech_start_s, 3), at_s, "cut off")
        )

    def _start_utterance(self, event: EndpointEvent, ring: deque[tuple[np.ndarray, float]]) -> _Utterance:
        """A new utterance (a new turn id), starting `pre_roll_s` before the detected speech start."""
        assert event.speech_start_s is not None
        pre_roll = self.config.endpointer.pre_roll_s
        back = min(len(ring), round((event.time_s - event.speech_start_s + pre_roll) / FRAME_S))
        speech_start_s = event.speech_start_s - self._onset_under_echo_s(event)
        utt = _Utterance(
            turn_id=self._next_turn_id(),
            start_stream_s=event.time_s - back * FRAME_S,
            speech_start_s=speech_start_s,
            last_launch_s=self.endpointer.now_s,
        )
        for frame, wall in list(ring)[-back:]:
            utt.frames.append(frame)
            utt.walls.append(wall)
        if self._decider is not None:
            self._decider.reset()
        at_s = ring[-1][1] - (event.time_s - speech_start_s)
        self._events.emit(events.SpeechStarted(utt.turn_id, round(speech_start_s, 3), at_s))
        return utt

    def _onset_under_echo_s(self, event: EndpointEvent) -> float:
        """How much of the speech's onset the echo hid from the VAD (barge-in mode, Hark audible): the echo
        canceller heard it over the echo in some bands before the VAD did (`hidden_onset_s`). It counts
        towards `barge_in_min_s`."""
        assert event.speech_start_s is not None
        if not self._hark_audible() or not isinstance(self.processors, EchoJudge):
            return 0.0
        return hidden_onset_s(self.processors.heard_over_echo_s(), event.time_s - event.speech_start_s)

    # ---- barge-in -------------------------------------------------------------------------------------

    def _maybe_barge_in(self, utt: _Utterance) -> None:
        """Speech over a reply (barge-in mode) pauses it; its words decide what happens next. Called while
        the speech is heard (`SPEECH_DROPOUT_S`): the echo check judges it then. In the silence after
        Hark's own echo, the check's window soon held more silence than speaker, and it let through, as a
        barge-in, the echo it had held back (2 pauses over 12 replies on the peer benchmark's echo path)."""
        handle = self._replies.active
        if (
            self.config.turn_taking is not TurnTaking.BARGE_IN
            or utt.barged is not None
            or handle is None
            or handle.stop.is_set()
        ):
            return
        speech_s = self.endpointer.last_speech_end_s - utt.speech_start_s
        if speech_s >= self.config.barge_in_min_s:
            if self._hears_only_echo():
                return  # what the canceller left of Hark's own voice: the reply plays on
            self._report_barge_in(speech_s)
            utt.barged = handle
            utt.paused_at_s = self.endpointer.now_s
            self.player.pause()

    def _maybe_stop_at_once(self, utt: _Utterance) -> None:
        """Speech over a reply whose latest transcript opens with "stop" stops it at once, though it is not
        `barge_in_min_s` long yet: through the echo canceller, the "Stop," of "Stop, stop talking." was
        0.3 s of speech, and the reply played on through the breath after it (silent 0.48 s after the
        barge-in length on the barge-in benchmark). Not when the canceller found it mostly no louder than
        the reply's echo: Hark's own "Stop by ..." must not stop it."""
        handle = self._replies.active
        if utt.barged is not None or not utt.overheard or utt.mostly_echo or handle is None:
            return
        heard = utt.latest
        if handle.stop.is_set() or heard is None or not heard.done.is_set() or heard.result is None:
            return
        if starts_with_stop(heard.result.text):
            self._report_barge_in(self.endpointer.last_speech_end_s - utt.speech_start_s)
            utt.barged = handle
            utt.paused_at_s = self.endpointer.now_s
            self._stop_barged(utt)

    def _hears_only_echo(self) -> bool:
        return isinstance(self.processors, EchoJudge) and self.processors.hears_only_echo()

    def _report_barge_in(self, speech_s: float) -> None:
        """A person's speech over the current reply is stopping or pausing it."""
        handle = self._replies.active
        if handle is not None:
            self._events.emit(events.BargeIn(handle.turn_id, round(speech_s, 3)))

    def _settle_held(self, wait_s: float = 0.0) -> None:
        """Once the transcript of an ended overheard utterance is known (waiting up to `wait_s` for it):
        no words, words Whisper is unsure of, or only "uh-huh": a paused reply plays on and nothing is
        answered. Otherwise a barge-in stops the reply (only "stop": nothing to answer) and the words are
        the next turn."""
        assert self._held is not None
        utt, job, eos_wall, wall = self._held
        done = job.decode.done
        if not (done.is_set() or (wait_s > 0 and done.wait(wait_s))):
            return
        self._held = None
        result = job.decode.result
        kind = self._overheard_kind(utt, result) if result is not None else BargeIn.NOISE
        if kind is BargeIn.NOISE:
            text, confidence = (result.text, result.confidence) if result is not None else ("", 0.0)
            self._events.emit(
                events.EchoSuspected(utt.turn_id, text, round(confidence, 3), utt.barged is not None)
            )
        if kind in (BargeIn.NOISE, BargeIn.BACKCHANNEL):
            job.drop()
            if utt.barged is not None:
                self.player.resume()
            return
        if utt.barged is None:
            if kind is BargeIn.STOP:  # "stop!" over the reply, too short to pause it: a barge-in all the same
                self._report_barge_in(utt.speech_end_s - utt.speech_start_s)
                self.interrupt()
                job.drop()
            else:
                job.confirm(eos_wall, wall)
            return
        self._stop_barged(utt)
        if kind is BargeIn.STOP:
            job.drop()
        else:
            job.confirm(eos_wall, wall)

    def _overheard_kind(self, utt: _Utterance, transcript: Transcript) -> BargeIn:
        """What speech heard over a reply was.

        "Stop" (or "wait", "hold on": nothing else) stops the reply however unsure Whisper is: the echo
        comes out as other words, and a person's short "Wait." through the canceller scored 0.51. Other
        speech that paused the reply is a person's only if it went on once the reply's echo had died away:
        then the reply stops, though words Whisper is unsure of are not answered (the user says them
        again, to a quiet room), and so does one in which Whisper found no words at all ("Stop, stop
        talking." through the canceller: "that was a fair talk." while it was said, or nothing, and
        nothing at its end; the reply played on to its end; a cough or a door is over before the echo has
        died away). Speech that ended with the pause was Hark's own echo: on the
        PulseAudio echo path the canceller let through whole words of Hark's replies ("I'm sorry." at
        0.88), which were answered, and each answer was cut by its own echo in turn. Speech too short to
        pause the reply (or kept from pausing it by the echo check) counts when Whisper is sure of its
        words and the echo canceller did not find most of it to be no louder than the reply's echo."""
        kind = barge_in_kind(transcript.text)
        sure = transcript.confidence >= self.config.overheard_min_confidence
        if kind is BargeIn.STOP:
            return kind
        if utt.barged is None:
            return kind if sure and not utt.mostly_echo else BargeIn.NOISE
        if utt.speech_after_pause_s >= self.config.person_after_pause_s:
            if kind is BargeIn.NOISE:
                return BargeIn.STOP
            return kind if sure or kind is not BargeIn.WORDS else BargeIn.STOP
        return BargeIn.NOISE

    def _stop_barged(self, utt: _Utterance) -> None:
        """Stop the reply `utt` spoke over, now."""
        if utt.barged is not None and not utt.barged.stop.is_set():
            utt.barged.interrupt()
            self.player.interrupt()

    def _maybe_decode_ahead(self, utt: _Utterance) -> None:
        cfg = self.config
        now = self.endpointer.now_s
        silence = self.endpointer.silence_s
        if silence == 0.0:
            interval = cfg.partial_interval_s
            if interval is not None and now - utt.last_launch_s >= interval and self._decoding == 0:
                self._launch_decode(utt, len(utt.frames), quick=True)
            return
        if cfg.speculate and utt.job is None and silence >= cfg.speculate_after_s:
            utt.job = ReplyHandle(utt.turn_id, self._decode_covering(utt), self.clock)
            self._replies.submit(utt.job)

    def _decode_covering(self, utt: _Utterance) -> Decode:
        """An accurate transcription of everything said so far: the latest one if it already is that."""
        needed = utt.frames_until(self.endpointer.last_speech_end_s)
        latest = utt.latest
        if latest is not None and not latest.quick and latest.frames >= needed:
            return latest
        return self._launch_decode(utt, len(utt.frames), quick=False)

    def _launch_decode(self, utt: _Utterance, n_frames: int, quick: bool) -> Decode:
        """Transcribe the first `n_frames` of the utterance on the STT thread; report it as a partial."""
        with self._decoding_lock:
            self._decoding += 1
        decode = Decode(n_frames, utt.audio(n_frames), quick, self.clock.signal())
        utt.latest = decode
        utt.last_launch_s = self.endpointer.now_s
        self._stt.put((utt, decode))
        return decode

    def _stt_worker(self) -> None:
        try:
            self._transcribe_queued()
        finally:
            self._stt_ended.set()

    def _transcribe_queued(self) -> None:
        while (item := self._stt.get()) is not None:
            utt, decode = item
            transcribe = self.transcriber.quick_transcribe if decode.quick else self.transcriber.transcribe
            try:
                decode.result = transcribe(decode.audio)
            except Exception as exc:  # the reply thread retries; a partial is simply skipped
                decode.error = exc
            with self._decoding_lock:
                self._decoding -= 1
            decode.done.set()
            if decode.result is not None:
                self._report_partial(utt, decode.result)

    def _report_partial(self, utt: _Utterance, transcript: Transcript) -> None:
        with utt.lock:
            if utt.ended:
                return
            if utt.barged is not None and starts_with_stop(transcript.text):
                self._stop_barged(utt)  # "stop" needs no end of turn
            committed, tentative = utt.agreement.update(transcript.text)
            if (committed or tentative) and self.config.partial_interval_s is not None:
                text = f"{committed} {tentative}".strip()  # reported only when partials are asked for
                self._events.emit(events.Transcript(utt.turn_id, final=False, text=text, committed=committed))

    def _end_utterance(self, utt: _Utterance, speech_end_s: float, wall: float, reason: str) -> None:
        with utt.lock:
            utt.ended = True
        utt.speech_end_s = speech_end_s
        keep = utt.frames_until(speech_end_s + UTTERANCE_TAIL_S)
        eos_index = utt.frames_until(speech_end_s) - 1
        eos_wall = utt.walls[min(eos_index, len(utt.walls) - 1)]
        self._events.emit(
            events.SpeechEnded(
                utt.turn_id, round(speech_end_s, 3), round(utt.speech_start_s, 3), eos_wall, reason
            )
        )
        job = utt.job
        usable = job is not None and job.turn_id == utt.turn_id and not job.stop.is_set()
        if job is None or not usable or job.decode.frames < utt.frames_until(speech_end_s):
            if job is not None:
                job.drop()
            job = ReplyHandle(utt.turn_id, self._launch_decode(utt, keep, quick=False), self.clock)
            self._replies.submit(job)
        else:
            self._counts.speculative_hits += 1
        self._counts.utterances += 1
        self._forget_prediction(utt)
        if utt.barged is not None or utt.overheard:
            if self._held is not None:  # one held before it: settled first, in order
                self._settle_held(wait_s=STOP_GRACE_S)
                if self._held is not None:
                    self._held[1].drop()
            self._held = (utt, job, eos_wall, wall)
            self._settle_held()
        else:
            job.confirm(eos_wall, wall)
