"""Playing a suite's cases through the dialogue manager, each in a fresh conversation, and checking them.

A typed turn streams the manager's reply and times its first token. A spoken turn goes the way a spoken
question goes in `hark talk`: the recording is transcribed by Whisper, handed to the conversation (which
reprompts on an empty transcript), and the reply is shaped into speakable chunks; the first chunk is
synthesised by Piper to time the first audio. Latencies of a spoken turn count from the end of the user's
audio (the whole clip is there at once, so there is no endpointing wait in these numbers).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import numpy as np

from dialogue.manager import DialogueManager, DialogueTurn, TurnRecord
from hark.config import HarkConfig
from hark.conversation import VoiceConversation
from hark.evaluation.acoustic import LoopTurn, compose, play_in_loop, say_with_pauses
from hark.evaluation.expectations import (
    Check,
    Exchange,
    Outcome,
    Services,
    Status,
    end_of_turn_delay,
    model_answered,
)
from hark.evaluation.suite import Case, Suite, SuiteError, Turn, noise_files
from vision.errors import ImageInputError
from vision.sources import open_image
from voice import SAMPLE_RATE
from voice.decode import decode_file
from voice.errors import AudioInputError
from voice.speech import ReplySpeech
from voice.stt import Transcriber
from voice.tts import Speaker

WARM_UP_PROMPT = "Say OK."


class Verdict(str, Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass
class TurnResult:
    index: int
    line: int
    audio: str | None
    images: int
    record: TurnRecord
    stt_s: float | None
    first_token_s: float | None
    first_audio_s: float | None
    total_s: float
    checks: list[Check]
    loop: LoopTurn | None = None
    """For a turn played through the voice loop: what the loop did."""

    @property
    def user(self) -> str:
        """The typed text, or the transcript of the recording."""
        return self.record.user

    @property
    def reply(self) -> str:
        return self.record.reply

    @property
    def passed(self) -> bool:
        return all(c.status is not Status.FAIL for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status is Status.FAIL]

    def to_json(self, run: int) -> dict:
        record = self.record
        return {
            "run": run,
            "turn": self.index,
            "line": self.line,
            "user": self.user,
            "audio": self.audio,
            "images": self.images,
            "reply": self.reply,
            "blocked": record.blocked,
            "guardrail": record.guardrail,
            "reprompt": record.reprompt,
            "error": record.error,
            "fallback": record.fallback,
            "stt_s": _round(self.stt_s),
            "first_token_s": _round(self.first_token_s),
            "first_audio_s": _round(self.first_audio_s),
            "total_s": _round(self.total_s),
            "passed": self.passed,
            "checks": [c.to_json() for c in self.checks],
            **({"loop": _loop_json(self.loop)} if self.loop is not None else {}),
        }


def _loop_json(loop: LoopTurn) -> dict:
    return {
        "speech_end_s": _round(loop.speech_end_s),
        "turn_ended_s": [_round(t) for t in loop.ended_at_s],
        "end_of_turn_delay_s": _round(end_of_turn_delay(loop)),
        "first_audio_s": _round(loop.first_audio_s),
        "interrupted": loop.interrupted,
        "barge_ins_s": [_round(t) for t in loop.barge_ins_s],
        "barge_in_start_s": _round(loop.barge_in_start_s),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass
class RunResult:
    turns: list[TurnResult]

    @property
    def passed(self) -> bool:
        return all(t.passed for t in self.turns)


@dataclass
class CaseResult:
    case: Case
    runs: list[RunResult]
    min_pass_rate: float = 1.0

    @property
    def pass_rate(self) -> float:
        return sum(r.passed for r in self.runs) / len(self.runs)

    @property
    def verdict(self) -> Verdict:
        if self.pass_rate < self.min_pass_rate:
            return Verdict.FAILED
        checks = [c for r in self.runs for t in r.turns for c in t.checks]
        if all(c.status is Status.SKIP for c in checks):
            return Verdict.SKIPPED
        return Verdict.PASSED

    @property
    def shown_run(self) -> RunResult:
        """The run to show: the first that failed, else the first."""
        return next((r for r in self.runs if not r.passed), self.runs[0])

    def skips(self) -> list[Check]:
        """Skipped checks, once per expectation and reason."""
        checks = (c for r in self.runs for t in r.turns for c in t.checks if c.status is Status.SKIP)
        return list({(c.expect, c.reason): c for c in checks}.values())

    def to_json(self) -> dict:
        return {
            "name": self.case.name,
            "line": self.case.line,
            "status": self.verdict.value,
            "passed": self.verdict is Verdict.PASSED,
            "runs": len(self.runs),
            "pass_rate": round(self.pass_rate, 4),
            "turns": [t.to_json(i) for i, r in enumerate(self.runs, 1) for t in r.turns],
        }


@dataclass
class SuiteResult:
    suite: Suite
    cases: list[CaseResult]
    setup: dict[str, str]
    """What answered and what checked (model, judge, embeddings, persona), for comparing runs."""
    duration_s: float

    def count(self, verdict: Verdict) -> int:
        return sum(c.verdict is verdict for c in self.cases)

    @property
    def failed(self) -> bool:
        return self.count(Verdict.FAILED) > 0

    def to_json(self) -> dict:
        return {
            "suite": self.suite.name,
            "cases": len(self.cases),
            "passed": self.count(Verdict.PASSED),
            "failed": self.count(Verdict.FAILED),
            "skipped": self.count(Verdict.SKIPPED),
            "duration_s": round(self.duration_s, 3),
            "setup": self.setup,
            "results": [c.to_json() for c in self.cases],
        }


@dataclass
class Pipeline:
    """What playing a turn needs. The voice models are None when the suite has no spoken turn."""

    new_conversation: Callable[[], DialogueManager]
    """The manager (persona, guardrails and all), with a conversation that has not started yet."""
    services: Services = field(default_factory=Services)
    transcriber: Transcriber | None = None
    speaker: Speaker | None = None
    config: HarkConfig | None = None
    """How the voice loop is built for turns played through it (turn-taking, hang time, VAD...)."""


@dataclass(frozen=True)
class Inputs:
    """The suite's recordings (16 kHz float32) and images (checked and normalised the way `hark ask` does),
    read once before the run."""

    audio: dict[Path, np.ndarray]
    images: dict[Path, bytes]


def load_inputs(suite: Suite, cases: Sequence[Case]) -> Inputs:
    """Decode every recording and read every image the cases use, so a bad file fails before any case runs."""
    audio: dict[Path, np.ndarray] = {}
    images: dict[Path, bytes] = {}
    for turn, path in noise_files(cases):
        try:
            decode_file(path)
        except AudioInputError as exc:
            raise SuiteError(f"{suite.path}:{turn.line}: noise file {path}: {exc}") from exc
    for turn in (t for c in cases for t in c.turns):
        try:
            if turn.audio and turn.audio not in audio:
                audio[turn.audio] = decode_file(turn.audio)
            for image in turn.images:
                if image not in images:
                    images[image] = open_image(image).data
        except (AudioInputError, ImageInputError) as exc:
            raise SuiteError(f"{suite.path}:{turn.line}: {exc}") from exc
    return Inputs(audio, images)


class Runner:
    def __init__(
        self,
        pipeline: Pipeline,
        repeat: int = 1,
        min_pass_rate: float = 1.0,
        on_case: Callable[[CaseResult], None] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.repeat = repeat
        self.min_pass_rate = min_pass_rate
        self.on_case = on_case

    def run(self, suite: Suite, cases: Sequence[Case], inputs: Inputs, setup: dict[str, str]) -> SuiteResult:
        start = time.monotonic()
        self.warm_up()
        results = []
        for case in cases:
            runs = [self.run_once(case, inputs) for _ in range(self.repeat)]
            result = CaseResult(case, runs, self.min_pass_rate)
            results.append(result)
            if self.on_case:
                self.on_case(result)
        return SuiteResult(suite, results, setup, time.monotonic() - start)

    def warm_up(self) -> None:
        """One untimed pass through each model, so the first case does not pay for a cold start (Ollama
        loading the model, the system prompt's first evaluation, ONNX and CTranslate2 first-call set-up: a
        second or more here) and its latencies compare with the other cases' and with other runs'."""
        p = self.pipeline
        if p.transcriber is not None:
            p.transcriber.transcribe(np.zeros(SAMPLE_RATE, dtype=np.float32))
        if p.speaker is not None:
            next(p.speaker.synthesize(WARM_UP_PROMPT), None)
        pieces = p.new_conversation().begin_turn(WARM_UP_PROMPT).pieces()
        next(pieces, None)  # the first piece is enough; the turn is never finished, so nothing is remembered
        pieces.close()

    def run_once(self, case: Case, inputs: Inputs) -> RunResult:
        manager = self.pipeline.new_conversation()
        conversation = VoiceConversation(manager)
        turns: list[TurnResult] = []
        for index, turn in enumerate(case.turns, 1):
            history = tuple(Exchange(t.user, t.reply) for t in turns)
            turns.append(self.play(index, turn, manager, conversation, inputs, history))
        return RunResult(turns)

    def play(
        self,
        index: int,
        turn: Turn,
        manager: DialogueManager,
        conversation: VoiceConversation,
        inputs: Inputs,
        history: tuple[Exchange, ...],
    ) -> TurnResult:
        p = self.pipeline
        if turn.scene is not None:
            return self.play_scene(index, turn, manager, conversation, inputs, history)
        images = [inputs.images[path] for path in turn.images]
        start = time.monotonic()
        stt_s = None
        if turn.audio is not None:
            if p.transcriber is None or p.speaker is None:
                raise RuntimeError("a spoken turn needs the pipeline's transcriber and speaker")
            transcript = p.transcriber.transcribe(inputs.audio[turn.audio])
            stt_s = time.monotonic() - start
            if images and transcript.text.strip():
                # The voice conversation takes no images: a heard question with a picture goes to the manager.
                dialogue = manager.begin_turn(transcript.text, images)
            else:  # a bare "stop" gets no reply, as in a live session
                dialogue = conversation.begin_turn(transcript, index) or DialogueTurn(
                    manager, transcript.text, canned=""
                )
        else:
            dialogue = manager.begin_turn(turn.text or "", images)
        speaker = p.speaker if turn.spoken else None
        first_token_s, first_audio_s = self._consume(dialogue, start, speaker)
        total_s = time.monotonic() - start
        dialogue.finish()
        record = dialogue.record
        checks = self.check(
            turn, record, history, first_token_s, first_audio_s, sources=tuple(dialogue.sources)
        )
        return TurnResult(
            index=index,
            line=turn.line,
            audio=turn.audio_label,
            images=len(images),
            record=record,
            stt_s=stt_s,
            first_token_s=first_token_s,
            first_audio_s=first_audio_s,
            total_s=total_s,
            checks=checks,
        )

    def check(
        self,
        turn: Turn,
        record: TurnRecord,
        history: tuple[Exchange, ...],
        first_token_s: float | None,
        first_audio_s: float | None,
        loop: LoopTurn | None = None,
        sources: tuple[dict, ...] = (),
    ) -> list[Check]:
        outcome = Outcome(
            user=record.user,
            reply=record.reply,
            spoken=turn.spoken,
            blocked=record.blocked,
            guardrail=record.guardrail,
            error=record.error,
            fallback=(record.model or "model") if record.fallback else None,
            first_token_s=first_token_s,
            first_audio_s=first_audio_s,
            history=history,
            loop=loop,
            sources=sources,
            tools_called=tuple(call["name"] for call in record.tool_calls),
            flow=record.flow,
            slots=record.slots,
        )
        checks = [e.check(outcome, self.pipeline.services) for e in turn.expectations]
        if (failure := model_answered(outcome)) is not None:
            checks.insert(0, failure)
        return checks

    def play_scene(
        self,
        index: int,
        turn: Turn,
        manager: DialogueManager,
        conversation: VoiceConversation,
        inputs: Inputs,
        history: tuple[Exchange, ...],
    ) -> TurnResult:
        """The turn as a user in a room says it: the scene mixed in, through the real voice loop."""
        p = self.pipeline
        if p.transcriber is None or p.speaker is None or p.config is None:
            raise RuntimeError("a turn in the voice loop needs the pipeline's models and configuration")
        assert turn.scene is not None
        rng = np.random.default_rng(turn.line)  # the same room on every run and for A and B
        clean = inputs.audio[turn.audio] if turn.audio is not None else say_with_pauses(p.speaker, turn.say)
        utterance = compose(clean, turn.scene, p.speaker, rng)
        before = manager.last_record
        start = time.monotonic()
        loop = play_in_loop(p.config, utterance, turn.scene, conversation, p.transcriber, p.speaker)
        total_s = time.monotonic() - start
        record = manager.last_record
        if record is None or record is before:  # the loop heard no turn at all
            record = TurnRecord(user=loop.transcript)
        first_token_s = record.latencies.get("llm_first_token_s")
        checks = self.check(turn, record, history, first_token_s, loop.first_audio_s, loop)
        return TurnResult(
            index=index,
            line=turn.line,
            audio=turn.audio_label or turn.said,
            images=0,
            record=record,
            stt_s=record.latencies.get("stt_s"),
            first_token_s=first_token_s,
            first_audio_s=loop.first_audio_s,
            total_s=total_s,
            checks=checks,
            loop=loop,
        )

    @staticmethod
    def _consume(
        dialogue: DialogueTurn, start: float, speaker: Speaker | None
    ) -> tuple[float | None, float | None]:
        """Stream the whole reply; time its first piece and, when speaking, its first synthesised audio."""
        speech = ReplySpeech(speaker)
        for chunk in speech.chunks(dialogue.pieces()):
            if speaker is not None and "tts_first_audio" not in speech.marks:
                next(speech.audio(chunk), None)

        def since_start(mark: str) -> float | None:
            return speech.marks[mark] - start if mark in speech.marks else None

        return since_start("llm_first_token"), since_start("tts_first_audio")
