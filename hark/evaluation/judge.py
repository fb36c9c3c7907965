"""LLM-as-judge: an Ollama model reads the conversation and says whether the last reply meets a criterion.

The judge is `--judge-model`, else the Ollama model the suite talks to. The embedded SmolLM2-135M is not
asked: at that size its verdicts are noise, so `judge` checks are skipped with that reason instead.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from dialogue.backends.base import BackendError, ChatBackend, GenerationOptions
from dialogue.backends.ollama_backend import OllamaBackend
from dialogue.messages import Message
from hark.errors import UserError
from hark.evaluation.expectations import Exchange, Unavailable

INSTRUCTIONS = (
    "You are a strict examiner of a voice assistant. You are given a conversation and one criterion. "
    "Decide whether the assistant's LAST reply meets the criterion; judge nothing else. "
    'Answer with one JSON object and nothing else: {"pass": true or false, "reason": "one short sentence"}'
)
OPTIONS = GenerationOptions(max_tokens=150, temperature=0.0)


class NoVerdict(BackendError):
    """The judge answered, but not with a JSON verdict."""


def parse_verdict(answer: str) -> tuple[bool, str]:
    """The first JSON object in `answer`, which must hold a boolean `pass` (models like to add prose)."""
    start = answer.find("{")
    try:
        verdict, _ = json.JSONDecoder().raw_decode(answer[start:]) if start >= 0 else (None, 0)
    except json.JSONDecodeError:
        verdict = None
    if not isinstance(verdict, dict) or not isinstance(verdict.get("pass"), bool):
        shown = " ".join(answer.split())[:160]
        raise NoVerdict(f"it answered without a JSON verdict: {shown!r}")
    reason = verdict.get("reason")
    return verdict["pass"], str(reason).strip() if reason else "(the judge gave no reason)"


class OllamaJudge:
    def __init__(self, backend: OllamaBackend) -> None:
        self.backend = backend

    def verdict(self, criterion: str, dialogue: Sequence[Exchange]) -> tuple[bool, str]:
        conversation = "\n".join(f"User: {e.user}\nAssistant: {e.reply}" for e in dialogue)
        question = (
            f"Conversation:\n{conversation}\n\nCriterion: {criterion}\n\n"
            "Does the assistant's last reply meet the criterion? Answer with the JSON object only."
        )
        messages = [Message("system", INSTRUCTIONS), Message("user", question)]
        return parse_verdict("".join(self.backend.stream(messages, OPTIONS)))

    def describe(self) -> str:
        return self.backend.describe()


def make_judge(
    model: str | None, backend: ChatBackend, host: str | None, timeout_s: float
) -> OllamaJudge | Unavailable:
    """The judge: `model` (which must be there: `UserError` otherwise), else the Ollama model under test."""
    if model is None and backend.name != "ollama":
        return Unavailable(
            f"no judge: the {backend.describe()} is too small to judge reliably; "
            "pass --judge-model with an Ollama model"
        )
    judge = OllamaBackend(model or backend.model, host, timeout_s)
    if model:
        try:
            judge.check()
        except BackendError as exc:
            raise UserError(f"judge model {model}: {exc}") from exc
    return OllamaJudge(judge)
