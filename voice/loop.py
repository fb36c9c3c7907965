"""The audio loop: listen, endpoint, transcribe, ask the conversation, speak — with the stages overlapped.

Threads: the caller's thread captures frames (VAD + endpointer), one worker runs turns (STT tail, LLM,
TTS), the player plays. Work that can start before the user has finished is started early: the
transcription of an utterance begins after a short silence, during the hang time, and is thrown away if
speech resumes, so when the hang is over the transcript is usually ready.
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

from voice.decode import to_float32
from voice.endpointer import Endpointer, EndpointerConfig, EventKind
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
        """The reply text, streamed."""
        ...

    def finish(self, heard: str, interrupted: bool) -> None:
        """Called once with the part of the reply the user actually heard."""
        ...


class Conversation(Protocol):
    def begin_turn(self, transcript: Transcript) -> Turn: ...


@dataclass(frozen=True)
class LoopConfig:
    endpointer: EndpointerConfig = field(default_factory=EndpointerConfig)
    turn_taking: TurnTaking = TurnTaking.HALF_DUPLEX
    gate_tail_s: float = 0.3
    barge_in_min_s: float = 0.4
    first_clause_chars: int = 40
    speculative_stt: bool = True
    speculate_after_s: float = 0.12
    """Silence after which the transcription starts, before the hang ends. Long enough to skip the
    flicker of the VAD between words, short enough that the result is ready when the hang is over."""


@dataclass
class _Utterance:
    start_stream_s: float
    frames: list[np.ndarray] = field(default_factory=list)
    walls: list[float] = field(default_factory=list)
    speculation: Future | None = None
    speculated_frames: int = 0
    eos_wall: float = 0.0
    end_wall: float = 0.0

    def audio(self, n_frames: int | None = None) -> np.ndarray:
        frames = self.frames if n_frames is None else self.frames[:n_frames]
        return to_float32(np.concatenate(frames)) if frames else np.zeros(0, np.float32)


@dataclass
class LoopSummary:
    utterances: int = 0
    turns: int = 0
    errors: int = 0


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
        self._turns: queue.Queue[_Utterance | None] = queue.Queue()
        self._generation_stop = threading.Event()
        self._busy = threading.Event()
        self._worker = threading.Thread(target=self._turn_worker, name="hark-turns", daemon=True)

    # ---- capture side (caller's thread) -------------------------------------------------------------

    def run(self) -> LoopSummary:
        """Listen until the source ends (then finish the queued turns) or `stop()` is called."""
        self._worker.start()
        try:
            self._capture()
        finally:
            self._turns.put(None)
            self._worker.join()
            self._stt_pool.shutdown(wait=True)
        return self.summary

    def stop(self) -> None:
        self.source.close()
        self.interrupt()

    def interrupt(self) -> None:
        """Stop the reply being generated and played."""
        self._generation_stop.set()
        self.player.interrupt()

    def _gated(self) -> bool:
        mode = self.config.turn_taking
        if mode is not TurnTaking.HALF_DUPLEX or not self.player.realtime:
            return False
        return self.player.speaking or self.player.seconds_since_sound() < self.config.gate_tail_s

    def _capture(self) -> None:
        cfg = self.config.endpointer
        keep = int((cfg.pre_roll_s + cfg.start_s) / FRAME_S) + 2
        ring: deque[tuple[np.ndarray, float]] = deque(maxlen=keep)
        utt: _Utterance | None = None
        for frame in self.source.frames():
            wall = time.monotonic()
            if self._gated():
                self.endpointer.reset(self.endpointer.now_s + FRAME_S)
                ring.clear()
                utt = None
                continue
            ring.append((frame, wall))
            if utt is not None:
                utt.frames.append(frame)
                utt.walls.append(wall)
            event = self.endpointer.process(self.vad.is_speech(frame), FRAME_S)
            if event is None:
                if utt is not None:
                    self._maybe_barge_in(utt)
                    self._maybe_speculate(utt)
                continue
            if event.kind is EventKind.START:
                assert event.speech_start_s is not None
                back = min(len(ring), round((event.time_s - event.speech_start_s + cfg.pre_roll_s) / FRAME_S))
                utt = _Utterance(start_stream_s=event.time_s - back * FRAME_S)
                for f, w in list(ring)[-back:]:
                    utt.frames.append(f)
                    utt.walls.append(w)
            elif event.kind is EventKind.RESUME and utt is not None:
                utt.speculation = None
            elif event.kind is EventKind.END and utt is not None:
                self._finish_utterance(utt, event.speech_end_s or event.time_s, wall)
                utt = None
            elif event.kind is EventKind.TIMEOUT:
                self.on_event({"event": "no_speech_timeout"})

    def _maybe_barge_in(self, utt: _Utterance) -> None:
        if self.config.turn_taking is not TurnTaking.BARGE_IN or not self._busy.is_set():
            return
        if not self.endpointer.in_utterance:
            return
        speech_s = self.endpointer.now_s - (utt.start_stream_s + self.config.endpointer.pre_roll_s)
        if speech_s >= self.config.barge_in_min_s and not self._generation_stop.is_set():
            self.on_event({"event": "barge_in", "speech_s": round(speech_s, 3)})
            self.interrupt()

    def _maybe_speculate(self, utt: _Utterance) -> None:
        if not self.config.speculative_stt or utt.speculation is not None:
            return
        if self.endpointer.silence_s < self.config.speculate_after_s:
            return
        n = len(utt.frames)
        utt.speculated_frames = n
        utt.speculation = self._stt_pool.submit(self.transcriber.transcribe, utt.audio(n))

    def _finish_utterance(self, utt: _Utterance, speech_end_s: float, wall: float) -> None:
        keep = round((speech_end_s - utt.start_stream_s + UTTERANCE_TAIL_S) / FRAME_S)
        keep = max(1, min(len(utt.frames), keep))
        eos_index = max(0, min(len(utt.walls) - 1, round((speech_end_s - utt.start_stream_s) / FRAME_S) - 1))
        utt.eos_wall = utt.walls[eos_index]
        utt.end_wall = wall
        if utt.speculation is not None and utt.speculated_frames < keep - round(UTTERANCE_TAIL_S / FRAME_S):
            utt.speculation = None  # it missed speech: transcribe again
        del utt.frames[keep:]
        self.summary.utterances += 1
        self._turns.put(utt)

    # ---- turn side (worker thread) ------------------------------------------------------------------

    def _turn_worker(self) -> None:
        while (utt := self._turns.get()) is not None:
            self._busy.set()
            try:
                self._run_turn(utt)
            except Exception as exc:  # a turn must never take the loop down
                self.summary.errors += 1
                self.on_event({"event": "error", "kind": type(exc).__name__, "message": str(exc)})
            finally:
                self._busy.clear()

    def _transcribe(self, utt: _Utterance) -> Transcript:
        if utt.speculation is not None:
            try:
                return utt.speculation.result()
            except Exception:
                pass
        return self._stt_pool.submit(self.transcriber.transcribe, utt.audio()).result()

    def _run_turn(self, utt: _Utterance) -> None:
        transcript = self._transcribe(utt)
        t_stt = time.monotonic()
        self.on_event(
            {
                "event": "transcript",
                "final": True,
                "text": transcript.text,
                "confidence": round(transcript.confidence, 3),
            }
        )
        self._generation_stop.clear()
        turn = self.conversation.begin_turn(transcript)
        self.player.begin_reply()
        chunker = SentenceChunker(self.config.first_clause_chars)
        marks: dict[str, float] = {}
        spoken: list[str] = []

        def speak(chunk: str) -> None:
            t0 = time.monotonic()
            for audio in self.speaker.synthesize(chunk):
                if self._generation_stop.is_set():
                    return
                marks.setdefault("tts_start", t0)
                marks.setdefault("tts_first_audio", time.monotonic())
                self.player.enqueue(chunk, audio, self.speaker.sample_rate)
            spoken.append(chunk)

        marks["llm_start"] = time.monotonic()
        pieces = turn.pieces()
        try:
            for piece in pieces:
                marks.setdefault("llm_first_token", time.monotonic())
                if self._generation_stop.is_set():
                    break
                for chunk in chunker.feed(piece):
                    speak(chunk)
            if not self._generation_stop.is_set():
                for chunk in chunker.flush():
                    speak(chunk)
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()
        playback = self.player.wait_idle()
        interrupted = playback.interrupted or self._generation_stop.is_set()
        heard = playback.heard_text() if interrupted else " ".join(spoken)
        turn.finish(heard, interrupted)
        self.summary.turns += 1
        if playback.error is not None:
            self.on_event({"event": "error", "kind": "audio_output", "message": str(playback.error)})
        self.on_event({"event": "reply", "text": heard, "interrupted": interrupted})
        self.on_event(self._metrics(utt, t_stt, marks, playback.first_audio_wall))

    @staticmethod
    def _metrics(utt: _Utterance, t_stt: float, marks: dict[str, float], first_audio: float | None) -> dict:
        def since(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else round(b - a, 4)

        return {
            "event": "metrics",
            "eos_to_first_audio_s": since(utt.eos_wall, first_audio),
            "endpoint_s": since(utt.eos_wall, utt.end_wall),
            "stt_s": since(utt.end_wall, t_stt),
            "llm_first_token_s": since(marks.get("llm_start"), marks.get("llm_first_token")),
            "tts_first_audio_s": since(marks.get("tts_start"), marks.get("tts_first_audio")),
            "utterance_s": round(len(utt.frames) * FRAME_S, 3),
        }
