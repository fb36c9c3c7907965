"""The audio loop: listen, endpoint, transcribe, ask the conversation, speak — with the stages overlapped.

Threads: the caller's thread captures frames (VAD + endpointer), one STT thread decodes, one worker runs
replies, the player plays. Everything that can start before the user has finished does:

* while the user speaks, the growing utterance is re-transcribed every `partial_interval_s` (when the STT
  thread is free) and partial transcripts are reported (LocalAgreement-2 commits the stable words);
* after a short silence (`speculate_after_s`, well inside the hang time) the utterance is transcribed and
  the reply is started *speculatively*: the model generates and the first chunk is synthesised, but held;
* when the hang time is over (END) the held audio is released at once; if the user goes on speaking
  (RESUME) the speculative reply is dropped without trace and a new one starts at the next pause.

So the end of speech to first audio is about the hang time plus a few tens of milliseconds.
"""

from __future__ import annotations

import enum
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from voice.agreement import PrefixAgreement
from voice.decode import to_float32
from voice.endpointer import Endpointer, EndpointerConfig, EndpointEvent, EventKind
from voice.player import Player
from voice.shaper import SentenceChunker
from voice.sources import AudioSource
from voice.stt import Transcriber, Transcript
from voice.tts import Speaker
from voice.vad import FRAME_S, FrameVad

EventCallback = Callable[[dict], None]

UTTERANCE_TAIL_S = 0.2
"""Silence kept after the last speech frame: Whisper is more reliable with a little trailing room."""


class TurnTaking(enum.Enum):
    HALF_DUPLEX = "half-duplex"
    """The microphone is ignored while Hark speaks (and a short tail after): safe without echo cancelling."""
    BARGE_IN = "barge-in"
    """The user may interrupt: enough speech during a reply stops it."""
    FULL_DUPLEX = "full-duplex"
    """Never gate, never interrupt (replies go to a file, so the microphone cannot hear them)."""


class Turn(Protocol):
    """One reply in the making, as the conversation hands it to the loop."""

    def pieces(self) -> Iterator[str]:
        """The reply text, streamed. Closing the iterator early cancels the generation."""
        ...

    def finish(self, heard: str, interrupted: bool) -> None:
        """Called once with the part of the reply the user heard. A turn never finished leaves no trace."""
        ...


class Conversation(Protocol):
    def begin_turn(self, transcript: Transcript) -> Turn | None:
        """The reply to an utterance, or None when it was not meant for the assistant (no wake phrase)."""
        ...


class _Announcement:
    """Something the assistant says on its own (a greeting): no user turn, nothing to remember."""

    def __init__(self, text: str) -> None:
        self.text = text

    def pieces(self) -> Iterator[str]:
        yield self.text

    def finish(self, heard: str, interrupted: bool) -> None:
        pass


@dataclass(frozen=True)
class LoopConfig:
    endpointer: EndpointerConfig = field(default_factory=EndpointerConfig)
    turn_taking: TurnTaking = TurnTaking.HALF_DUPLEX
    gate_tail_s: float = 0.3
    barge_in_min_s: float = 0.4
    first_clause_chars: int = 40
    partial_interval_s: float | None = 0.5
    """Re-transcribe the utterance this often while it is spoken (None: no partial transcripts)."""
    speculate: bool = True
    speculate_after_s: float = 0.03
    """Silence after which the transcript and the reply start, before the hang is over. Long enough to
    skip the VAD's flicker between words, short enough that the reply is ready when the hang ends."""


@dataclass
class _Decode:
    frames: int
    """How many frames of the utterance this transcription covers."""
    future: Future
    quick: bool
    """A rough pass for partial transcripts, never used as the final transcript."""


@dataclass
class _Utterance:
    start_stream_s: float
    frames: list[np.ndarray] = field(default_factory=list)
    walls: list[float] = field(default_factory=list)
    latest: _Decode | None = None
    last_launch_s: float = 0.0
    agreement: PrefixAgreement = field(default_factory=PrefixAgreement)
    ended: bool = False
    job: _Job | None = None

    def audio(self, n_frames: int) -> np.ndarray:
        frames = self.frames[:n_frames]
        return to_float32(np.concatenate(frames)) if frames else np.zeros(0, np.float32)

    def frames_until(self, stream_s: float) -> int:
        return max(1, min(len(self.frames), round((stream_s - self.start_stream_s) / FRAME_S)))


@dataclass
class _Job:
    """One reply to one utterance: speculative until `confirm()` (END), dropped on `cancel()` (RESUME)."""

    utt: _Utterance
    decode: _Decode
    decided: threading.Event = field(default_factory=threading.Event)
    confirmed: bool = False
    stop: threading.Event = field(default_factory=threading.Event)
    eos_wall: float = 0.0
    end_wall: float = 0.0
    announcement: str | None = None
    """Set for `say()`: speak this, there is no utterance behind it."""

    def confirm(self, eos_wall: float, end_wall: float) -> None:
        self.eos_wall, self.end_wall = eos_wall, end_wall
        self.confirmed = True
        self.decided.set()

    def cancel(self) -> None:
        self.stop.set()
        self.decided.set()

    @property
    def cancelled(self) -> bool:
        return self.decided.is_set() and not self.confirmed


class _Cancelled(Exception):
    pass


@dataclass
class LoopSummary:
    utterances: int = 0
    turns: int = 0
    errors: int = 0
    speculative_hits: int = 0
    speculative_misses: int = 0


class VoiceLoop:
    def __init__(
        self,
        source: AudioSource,
        player: Player,
        vad: FrameVad,
        transcriber: Transcriber,
        speaker: Speaker,
        conversation: Conversation,
        config: LoopConfig | None = None,
        on_event: EventCallback | None = None,
    ) -> None:
        self.source = source
        self.player = player
        self.vad = vad
        self.transcriber = transcriber
        self.speaker = speaker
        self.conversation = conversation
        self.config = config or LoopConfig()
        self.on_event = on_event or (lambda _e: None)
        self.endpointer = Endpointer(self.config.endpointer)
        self.summary = LoopSummary()
        self._stt_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hark-stt")
        self._decoding = 0
        self._decoding_lock = threading.Lock()
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._active: _Job | None = None
        self._worker = threading.Thread(target=self._job_worker, name="hark-turns", daemon=True)

    # ---- capture side (caller's thread) -------------------------------------------------------------

    def run(self) -> LoopSummary:
        """Listen until the source ends (then finish the queued turns) or `stop()` is called."""
        self._worker.start()
        try:
            self._capture()
        finally:
            self._jobs.put(None)
            self._worker.join()
            self._stt_pool.shutdown(wait=True)
        return self.summary

    def stop(self) -> None:
        self.source.close()
        self.interrupt()

    def say(self, text: str) -> None:
        """Speak `text` unprompted (a greeting or a notice), after any reply already under way."""
        done: Future = Future()
        done.set_result(Transcript(text, 1.0, 0.0))
        job = _Job(_Utterance(start_stream_s=0.0), _Decode(0, done, quick=False), announcement=text)
        now = time.monotonic()
        job.confirm(now, now)
        self._jobs.put(job)

    def interrupt(self) -> None:
        """Stop the reply being generated and played."""
        job = self._active
        if job is not None:
            job.stop.set()
        self.player.interrupt()

    def _gated(self) -> bool:
        if self.config.turn_taking is not TurnTaking.HALF_DUPLEX or not self.player.realtime:
            return False
        return self.player.speaking or self.player.seconds_since_sound() < self.config.gate_tail_s

    def _capture(self) -> None:
        cfg = self.config.endpointer
        keep = int((cfg.pre_roll_s + cfg.start_s) / FRAME_S) + 2
        ring: deque[tuple[np.ndarray, float]] = deque(maxlen=keep)
        utt: _Utterance | None = None
        try:
            for frame in self.source.frames():
                utt = self._on_frame(frame, ring, utt)
        finally:
            if utt is not None and utt.job is not None:
                utt.job.cancel()  # the source ended mid-utterance: nobody will confirm this reply

    def _on_frame(
        self, frame: np.ndarray, ring: deque[tuple[np.ndarray, float]], utt: _Utterance | None
    ) -> _Utterance | None:
        """Process one captured frame; return the utterance in progress, if any."""
        wall = time.monotonic()
        if self._gated():
            self.endpointer.reset(self.endpointer.now_s + FRAME_S)
            ring.clear()
            if utt is not None and utt.job is not None:
                utt.job.cancel()
            return None
        ring.append((frame, wall))
        if utt is not None:
            utt.frames.append(frame)
            utt.walls.append(wall)
        event = self.endpointer.process(self.vad.is_speech(frame), FRAME_S)
        kind = event.kind if event is not None else None
        if kind is EventKind.START:
            utt = self._start_utterance(event, ring)
        elif kind is EventKind.RESUME and utt is not None and utt.job is not None:
            utt.job.cancel()
            utt.job = None
            self.summary.speculative_misses += 1
        elif kind is EventKind.END and utt is not None:
            self._end_utterance(utt, event.speech_end_s or event.time_s, wall)
            return None
        elif kind is EventKind.TIMEOUT:
            self.on_event({"event": "no_speech_timeout"})
        if utt is not None and self.endpointer.in_utterance:
            self._maybe_barge_in(utt)
            self._maybe_decode_ahead(utt)
        return utt

    def _start_utterance(self, event: EndpointEvent, ring: deque[tuple[np.ndarray, float]]) -> _Utterance:
        """A new utterance, starting `pre_roll_s` before the detected speech start."""
        assert event.speech_start_s is not None
        pre_roll = self.config.endpointer.pre_roll_s
        back = min(len(ring), round((event.time_s - event.speech_start_s + pre_roll) / FRAME_S))
        utt = _Utterance(start_stream_s=event.time_s - back * FRAME_S, last_launch_s=self.endpointer.now_s)
        for frame, wall in list(ring)[-back:]:
            utt.frames.append(frame)
            utt.walls.append(wall)
        return utt

    def _maybe_barge_in(self, utt: _Utterance) -> None:
        job = self._active
        if self.config.turn_taking is not TurnTaking.BARGE_IN or job is None or job.stop.is_set():
            return
        speech_s = self.endpointer.last_speech_end_s - (
            utt.start_stream_s + self.config.endpointer.pre_roll_s
        )
        if speech_s >= self.config.barge_in_min_s:
            self.on_event({"event": "barge_in", "speech_s": round(speech_s, 3)})
            self.interrupt()

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
            utt.job = _Job(utt, self._decode_covering(utt))
            self._jobs.put(utt.job)

    def _decode_covering(self, utt: _Utterance) -> _Decode:
        """An accurate transcription of everything said so far: the latest one if it already is that."""
        needed = utt.frames_until(self.endpointer.last_speech_end_s)
        latest = utt.latest
        if latest is not None and not latest.quick and latest.frames >= needed:
            return latest
        return self._launch_decode(utt, len(utt.frames), quick=False)

    def _launch_decode(self, utt: _Utterance, n_frames: int, quick: bool) -> _Decode:
        """Transcribe the first `n_frames` of the utterance on the STT thread; report it as a partial."""
        audio = utt.audio(n_frames)
        with self._decoding_lock:
            self._decoding += 1
        transcribe = self.transcriber.quick_transcribe if quick else self.transcriber.transcribe
        future = self._stt_pool.submit(transcribe, audio)
        decode = _Decode(n_frames, future, quick)
        utt.latest = decode
        utt.last_launch_s = self.endpointer.now_s
        future.add_done_callback(lambda f: self._decoded(utt, f))
        return decode

    def _decoded(self, utt: _Utterance, future: Future) -> None:
        with self._decoding_lock:
            self._decoding -= 1
        if utt.ended or future.exception() is not None:
            return
        committed, tentative = utt.agreement.update(future.result().text)
        if committed or tentative:
            text = f"{committed} {tentative}".strip()
            self.on_event({"event": "transcript", "final": False, "text": text, "committed": committed})

    def _end_utterance(self, utt: _Utterance, speech_end_s: float, wall: float) -> None:
        utt.ended = True
        keep = utt.frames_until(speech_end_s + UTTERANCE_TAIL_S)
        eos_index = utt.frames_until(speech_end_s) - 1
        eos_wall = utt.walls[min(eos_index, len(utt.walls) - 1)]
        job = utt.job
        if job is None or job.decode.frames < utt.frames_until(speech_end_s):
            if job is not None:
                job.cancel()
            job = _Job(utt, self._launch_decode(utt, keep, quick=False))
            self._jobs.put(job)
        else:
            self.summary.speculative_hits += 1
        self.summary.utterances += 1
        job.confirm(eos_wall, wall)

    # ---- reply side (worker thread) -----------------------------------------------------------------

    def _job_worker(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                self._run_job(job)
            except _Cancelled:
                pass
            except Exception as exc:  # a turn must never take the loop down
                self.summary.errors += 1
                self.on_event({"event": "error", "kind": type(exc).__name__, "message": str(exc)})
            finally:
                self._active = None

    def _transcript(self, job: _Job) -> Transcript:
        try:
            return job.decode.future.result()
        except Exception:
            return self.transcriber.transcribe(job.utt.audio(job.decode.frames))

    def _await_confirmation(self, job: _Job) -> None:
        job.decided.wait()
        if not job.confirmed:
            raise _Cancelled

    def _run_job(self, job: _Job) -> None:
        if job.cancelled:
            return
        transcript = self._transcript(job)
        marks: dict[str, float] = {"stt_done": time.monotonic()}
        if not transcript.text:
            self._await_confirmation(job)  # only a confirmed silence earns a reprompt
        turn = (
            _Announcement(job.announcement) if job.announcement else self.conversation.begin_turn(transcript)
        )
        if turn is None:
            self._await_confirmation(job)
            text = transcript.text
            self.on_event({"event": "transcript", "final": True, "text": text, "ignored": True})
            return
        held: list[tuple[str, np.ndarray]] = []
        spoken: list[str] = []

        def release() -> None:
            """The utterance is over: report it, and let the held audio play."""
            self._await_confirmation(job)
            if self._active is not job:
                self._active = job
                if not job.announcement:
                    confidence = round(transcript.confidence, 3)
                    text = transcript.text
                    self.on_event(
                        {"event": "transcript", "final": True, "text": text, "confidence": confidence}
                    )
                self.player.begin_reply()
            for chunk, audio in held:
                self.player.enqueue(chunk, audio, self.speaker.sample_rate)
            held.clear()

        def speak(chunk: str) -> None:
            marks.setdefault("tts_start", time.monotonic())
            for audio in self.speaker.synthesize(chunk):
                if job.stop.is_set():
                    return
                marks.setdefault("tts_first_audio", time.monotonic())
                held.append((chunk, audio))
                release()
            spoken.append(chunk)

        chunker = SentenceChunker(self.config.first_clause_chars)
        marks["llm_start"] = time.monotonic()
        pieces = turn.pieces()
        try:
            for piece in pieces:
                marks.setdefault("llm_first_token", time.monotonic())
                if job.stop.is_set():
                    break
                for chunk in chunker.feed(piece):
                    speak(chunk)
            if not job.stop.is_set():
                for chunk in chunker.flush():
                    speak(chunk)
            release()
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()
        self._finish_turn(job, turn, transcript, spoken, marks)

    def _finish_turn(
        self, job: _Job, turn: Turn, transcript: Transcript, spoken: list[str], marks: dict[str, float]
    ) -> None:
        playback = self.player.wait_idle()
        interrupted = playback.interrupted or job.stop.is_set()
        heard = playback.heard_text() if interrupted else " ".join(spoken)
        turn.finish(heard, interrupted)
        if playback.error is not None:
            self.on_event({"event": "error", "kind": "audio_output", "message": str(playback.error)})
        if job.announcement:
            self.on_event({"event": "announcement", "text": heard, "interrupted": interrupted})
            return
        self.summary.turns += 1
        self.on_event({"event": "reply", "text": heard, "interrupted": interrupted})
        self.on_event(self._metrics(job, marks, playback.first_audio_wall))

    @staticmethod
    def _metrics(job: _Job, marks: dict[str, float], first_audio: float | None) -> dict:
        def since(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else round(max(0.0, b - a), 4)

        return {
            "event": "metrics",
            "eos_to_first_audio_s": since(job.eos_wall, first_audio),
            "endpoint_s": since(job.eos_wall, job.end_wall),
            "stt_s": since(job.end_wall, marks.get("stt_done")),
            "llm_first_token_s": since(marks.get("llm_start"), marks.get("llm_first_token")),
            "tts_first_audio_s": since(marks.get("tts_start"), marks.get("tts_first_audio")),
            "speculative": marks.get("llm_start", 0.0) < job.end_wall,
            "utterance_s": round(job.decode.frames * FRAME_S, 3),
        }
