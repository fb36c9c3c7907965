"""The reply side of the voice loop: one worker thread turns confirmed utterances into played replies.

Each reply has a `ReplyHandle`. `interrupt()` on it is silent within `PIECE_POLL_S` plus one playback block
(well inside 0.25 s), whatever the reply is doing: the model's pieces are consumed on a pump thread of their
own, so a model call that has not produced a token yet is abandoned (`turn.cancel()`), never waited for.
Every wait here has a timeout and rechecks whether the reply, or the loop, was stopped meanwhile.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from voice import events
from voice.clock import Clock, Empty, Mailbox, Signal
from voice.player import Player, ReplyPlayback
from voice.ports import SpeechToText, TextToSpeech
from voice.speech import ReplySpeech
from voice.stt import Transcript
from voice.vad import FRAME_S

PIECE_POLL_S = 0.05
"""How often a reply waiting for the model checks whether it was interrupted."""
WAIT_SLICE_S = 0.1
"""The longest single wait on the reply thread before it rechecks for a stop."""


class Turn(Protocol):
    """One reply in the making, as the conversation hands it to the loop."""

    def pieces(self) -> Iterator[str]:
        """The reply text, streamed; may block inside a model call."""
        ...

    def cancel(self) -> None:
        """Thread-safe, non-blocking: abandon the model call now (optional: called when present)."""
        ...

    def finish(self, heard: str, interrupted: bool) -> None:
        """Called once with the part of the reply the user heard. A turn never finished leaves no trace."""
        ...


class Conversation(Protocol):
    def begin_turn(self, transcript: Transcript, turn_id: int) -> Turn | None:
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


@dataclass
class Decode:
    """One transcription of the first `frames` frames of an utterance, done on the STT thread."""

    frames: int
    audio: np.ndarray
    quick: bool
    """A rough pass for partial transcripts, never used as the final transcript."""
    done: Signal
    result: Transcript | None = None
    error: Exception | None = None


class ReplyHandle:
    """One reply to one utterance (or one `say()`): speculative until `confirm()`, stoppable any time."""

    def __init__(self, turn_id: int, decode: Decode, clock: Clock, announcement: str | None = None) -> None:
        self.turn_id = turn_id
        self.decode = decode
        self.announcement = announcement
        """Set for `say()`: speak this, there is no utterance behind it."""
        self.decided = clock.signal()
        self.stop = clock.signal()
        self.confirmed = False
        self.eos_wall = 0.0
        self.end_wall = 0.0
        self._turn: Turn | None = None
        self._lock = threading.Lock()

    def confirm(self, eos_wall: float, end_wall: float) -> None:
        """The utterance ended (END): the reply may be heard."""
        self.eos_wall, self.end_wall = eos_wall, end_wall
        self.confirmed = True
        self.decided.set()

    def drop(self) -> None:
        """The user went on speaking (RESUME): this reply is discarded without trace."""
        self.decided.set()
        self.interrupt()

    def interrupt(self) -> None:
        """Stop generating and speaking this reply now; abandon the model call. Never blocks."""
        self.stop.set()
        with self._lock:
            turn = self._turn
        _cancel(turn)

    @property
    def dropped(self) -> bool:
        return self.decided.is_set() and not self.confirmed

    def attach(self, turn: Turn) -> None:
        """The conversation's turn for this reply (cancelled at once if the reply was already stopped)."""
        with self._lock:
            self._turn = turn
        if self.stop.is_set():
            _cancel(turn)


def _cancel(turn: Turn | None) -> None:
    """Ask the turn to abandon its model call. Only a hint: the reply stops whatever the turn does, so a
    `cancel` that fails must not take the reply thread down with it (it runs inside its error handler)."""
    cancel = getattr(turn, "cancel", None)
    if cancel is None:
        return
    try:
        cancel()
    except Exception:  # the turn is abandoned either way
        return


class _Stopped(Exception):
    """The reply was dropped or the loop is stopping: leave without a trace."""


_END = object()


class _PiecePump:
    """Reads `turn.pieces()` on its own thread so the reply thread can stop waiting for it at any time.

    It can be paused: a model that streams as it is read (the embedded one, which runs only a couple of
    tokens ahead of its reader) then stops computing and leaves the cores to speech synthesis.
    """

    def __init__(self, turn: Turn, clock: Clock, stop: Signal) -> None:
        self._turn = turn
        self._stop = stop
        self._box: Mailbox[object] = Mailbox(clock)
        self._go = clock.signal()
        self._go.set()
        clock.start_thread(self._run, "hark-pieces")

    def pause(self) -> None:
        self._go.clear()

    def resume(self) -> None:
        self._go.set()

    def _may_read(self) -> bool:
        """Wait while paused; False once the reply is stopped."""
        while not self._go.wait(PIECE_POLL_S):
            if self._stop.is_set():
                return False
        return not self._stop.is_set()

    def _run(self) -> None:
        pieces = self._turn.pieces()
        try:
            while self._may_read():
                piece = next(pieces, _END)
                if piece is _END or self._stop.is_set():
                    break
                self._box.put(piece)
        except Exception as exc:
            self._box.put(exc)
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()  # closing the stream early cancels the generation
            self._box.put(_END)

    def next(self) -> str | None:
        """The next piece; None at the end of the reply or as soon as it is stopped."""
        while not self._stop.is_set():
            try:
                item = self._box.get(PIECE_POLL_S)
            except Empty:
                continue
            if item is _END:
                return None
            if isinstance(item, Exception):
                raise item
            return item
        return None


@dataclass
class _Reply:
    """The reply thread's working state for one handle."""

    handle: ReplyHandle
    transcript: Transcript
    speech: ReplySpeech
    held: list[tuple[str, np.ndarray]] = field(default_factory=list)
    spoken: list[str] = field(default_factory=list)
    started: bool = False
    """Its audio has been released to the player."""


@dataclass
class ReplyCounts:
    turns: int = 0
    errors: int = 0


class ReplyWorker:
    """The reply thread: takes handles in order, speaks the confirmed ones, emits their events."""

    def __init__(
        self,
        clock: Clock,
        player: Player,
        speaker: TextToSpeech,
        transcriber: SpeechToText,
        conversation: Conversation,
        first_clause_chars: int,
        emit: Callable[[events.VoiceEvent], None],
    ) -> None:
        self.clock = clock
        self.player = player
        self.speaker = speaker
        self.transcriber = transcriber
        self.conversation = conversation
        self.first_clause_chars = first_clause_chars
        self.emit = emit
        self.counts = ReplyCounts()
        self.stopping = clock.signal()
        self.done = clock.signal()
        self.current: ReplyHandle | None = None
        """The handle being worked on (speculative or confirmed)."""
        self.active: ReplyHandle | None = None
        """The handle whose audio has been released to the player."""
        self._jobs: Mailbox[ReplyHandle | None] = Mailbox(clock)

    def start(self) -> None:
        self.clock.start_thread(self._run, "hark-turns")

    def submit(self, handle: ReplyHandle) -> None:
        self._jobs.put(handle)

    def close(self) -> None:
        """Finish the handles already submitted, then end."""
        self._jobs.put(None)

    def _run(self) -> None:
        try:
            while (handle := self._jobs.get()) is not None:
                if self.stopping.is_set():
                    continue
                self.current = handle
                try:
                    self._reply(handle)
                except _Stopped:
                    handle.interrupt()
                except Exception as exc:  # a turn must never take the loop down
                    handle.interrupt()
                    self.counts.errors += 1
                    self.emit(events.Error(handle.turn_id, type(exc).__name__, str(exc)))
                finally:
                    self.current = self.active = None
        finally:
            self.done.set()

    def _wait(self, signal: Signal) -> None:
        """Wait for `signal` in slices; give up when the loop stops."""
        while not signal.wait(WAIT_SLICE_S):
            if self.stopping.is_set():
                raise _Stopped

    def _await_confirmation(self, handle: ReplyHandle) -> None:
        while not handle.decided.wait(WAIT_SLICE_S):
            if self.stopping.is_set() or handle.stop.is_set():
                raise _Stopped
        if not handle.confirmed:
            raise _Stopped

    def _transcript(self, handle: ReplyHandle) -> Transcript:
        decode = handle.decode
        self._wait(decode.done)
        if decode.result is not None:
            return decode.result
        return self.transcriber.transcribe(decode.audio)

    def _reply(self, handle: ReplyHandle) -> None:
        if handle.dropped:
            return
        reply = _Reply(
            handle, self._transcript(handle), ReplySpeech(self.speaker, self.first_clause_chars, self.clock)
        )
        reply.speech.marks["stt_done"] = self.clock.now()
        if not reply.transcript.text:
            self._await_confirmation(handle)  # only a confirmed silence earns a reprompt
        if handle.announcement:
            turn: Turn | None = _Announcement(handle.announcement)
        else:
            turn = self.conversation.begin_turn(reply.transcript, handle.turn_id)
        if turn is None:
            self._await_confirmation(handle)
            self.emit(events.Transcript(handle.turn_id, final=True, text=reply.transcript.text, ignored=True))
            return
        handle.attach(turn)
        self._generate(reply, turn)
        self._finish(reply, turn)

    def _generate(self, reply: _Reply, turn: Turn) -> None:
        handle = reply.handle
        if handle.stop.is_set():
            return  # interrupted before the model was even asked
        pump = _PiecePump(turn, self.clock, handle.stop)
        for chunk in reply.speech.chunks(iter(pump.next, None)):
            if handle.stop.is_set():
                return
            self._speak(reply, chunk, pump)
        if not handle.stop.is_set():
            self._release(reply)

    def _speak(self, reply: _Reply, chunk: str, pump: _PiecePump) -> None:
        """Synthesise and release one chunk. The model is paused while the first one is synthesised: that
        is what the user waits for, and on two cores a model generating alongside doubled its synthesis
        time (Piper, 30-70 characters: 0.10-0.20 s alone, 0.23-0.47 s with SmolLM2 generating). The rest
        of the reply has the first chunk's playing time to catch up."""
        if not reply.spoken:
            pump.pause()
        try:
            for audio in reply.speech.audio(chunk):
                pump.resume()
                if reply.handle.stop.is_set():
                    return
                reply.held.append((chunk, audio))
                self._release(reply)
        finally:
            pump.resume()
        reply.spoken.append(chunk)

    def _release(self, reply: _Reply) -> None:
        """Once the utterance is over: report it, and let the held audio play."""
        handle = reply.handle
        self._await_confirmation(handle)
        if not reply.started:
            self._begin(reply)
        for chunk, audio in reply.held:
            if handle.stop.is_set():
                break
            self.player.enqueue(chunk, audio, self.speaker.sample_rate)
        reply.held.clear()

    def _begin(self, reply: _Reply) -> None:
        handle = reply.handle
        reply.started = True
        self.active = handle
        if not handle.announcement:
            self._emit_final(reply)
        self.emit(events.ReplyStarted(handle.turn_id))
        self.player.begin_reply()

    def _emit_final(self, reply: _Reply) -> None:
        text, confidence = reply.transcript.text, round(reply.transcript.confidence, 3)
        self.emit(events.Transcript(reply.handle.turn_id, final=True, text=text, confidence=confidence))

    def _finish(self, reply: _Reply, turn: Turn) -> None:
        handle = reply.handle
        if not handle.confirmed:
            raise _Stopped  # stopped while still speculative: the utterance goes on, or the loop ends
        if not reply.started:  # interrupted before any audio: nothing was heard
            if not handle.announcement:
                self._emit_final(reply)
            heard, interrupted, first_audio, error = "", True, None, None
        else:
            playback = self._played()
            interrupted = playback.interrupted or handle.stop.is_set()
            heard = playback.heard_text() if interrupted else " ".join(reply.spoken)
            first_audio, error = playback.first_audio_wall, playback.error
        turn.finish(heard, interrupted)
        if error is not None:
            self.emit(events.Error(handle.turn_id, "audio_output", str(error)))
        if handle.announcement:
            self.emit(events.Announcement(handle.turn_id, heard, interrupted))
            return
        self.counts.turns += 1
        self.emit(events.Reply(handle.turn_id, heard, interrupted))
        self.emit(_metrics(reply, first_audio))

    def _played(self) -> ReplyPlayback:
        """The reply's playback once the player is idle (cut short when the loop stops)."""
        while True:
            playback = self.player.wait_idle(WAIT_SLICE_S)
            if not self.player.speaking:
                return playback
            if self.stopping.is_set():
                self.player.interrupt()


def _metrics(reply: _Reply, first_audio: float | None) -> events.Metrics:
    handle, marks = reply.handle, reply.speech.marks

    def since(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else round(max(0.0, b - a), 4)

    return events.Metrics(
        handle.turn_id,
        eos_to_first_audio_s=since(handle.eos_wall, first_audio),
        endpoint_s=since(handle.eos_wall, handle.end_wall),
        stt_s=since(handle.end_wall, marks.get("stt_done")),
        llm_first_token_s=since(marks.get("llm_start"), marks.get("llm_first_token")),
        tts_first_audio_s=since(marks.get("tts_start"), marks.get("tts_first_audio")),
        speculative=marks.get("llm_start", 0.0) < handle.end_wall,
        utterance_s=round(handle.decode.frames * FRAME_S, 3),
    )
