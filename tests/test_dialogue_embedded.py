"""A real multi-turn conversation on the embedded model (SmolLM2-135M): persona, memory with a summary
the model writes itself, guardrails, the store and analytics. The model is tiny: this checks plumbing only."""

from __future__ import annotations

import sqlite3

import pytest

from dialogue.analytics import Analytics
from dialogue.backends.base import GenerationOptions, StreamInfo
from dialogue.guardrails import Guardrails
from dialogue.manager import DialogueManager
from dialogue.memory import SUMMARY_HEADER, MemoryConfig
from dialogue.persona import load_persona
from dialogue.store import ConversationStore

pytestmark = pytest.mark.integration

QUESTIONS = [
    "Hello! My name is Ana and I love the sea.",
    "What is a good name for a boat?",
    "Tell me one thing about whales.",
]


class Recording:
    """The embedded backend, recording the messages each request was built with."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name, self.model, self.sees_images = inner.name, inner.model, inner.sees_images
        self.context_length = inner.context_length
        self.sent: list[list] = []

    def stream(self, messages, options):
        self.sent.append(list(messages))
        return self.inner.stream(messages, options)

    def open_stream(self, prepare, options: GenerationOptions, info: StreamInfo):
        def recorded(backend):
            messages = prepare(backend)
            self.sent.append(list(messages))
            return messages

        return self.inner.open_stream(recorded, options, info)

    def describe(self) -> str:
        return self.inner.describe()


def test_a_real_conversation_with_a_summary_the_model_writes(embedded_backend, tmp_path):
    backend = Recording(embedded_backend)
    persona = load_persona("default")
    manager = DialogueManager(
        backend,
        options=GenerationOptions(max_tokens=32),
        persona=persona,
        guardrails=Guardrails(),
        memory=MemoryConfig(max_messages=2, summary_tokens=48),
        store=ConversationStore(tmp_path / "conversations.db"),
        analytics=Analytics(tmp_path / "analytics.db"),
    )
    replies = []
    for question in QUESTIONS:
        replies.append(manager.reply(question))
        assert manager.memory.wait(60)  # in the voice loop the next turn would cancel it instead
    assert all(reply.strip() for reply in replies)
    summary = manager.memory.summary
    assert summary and manager.memory.last_fold_error is None
    print(f"\nsummary ({manager.memory.last_fold_s:.2f}s for the last fold): {summary}")
    turns = [sent for sent in backend.sent if sent[0].content.startswith(persona.system_prompt)]
    assert len(turns) == len(QUESTIONS)
    assert SUMMARY_HEADER in turns[-1][0].content  # the summary written after an earlier turn was sent
    assert all(len(sent) <= 1 + 2 + 1 for sent in turns)
    assert turns[-1][-1].content == QUESTIONS[-1]
    conversation = manager.conversation_id
    manager.close()

    rows = (
        sqlite3.connect(tmp_path / "analytics.db")
        .execute("SELECT model, backend, prompt_tokens, reply_tokens, error FROM turns ORDER BY id")
        .fetchall()
    )
    assert len(rows) == len(QUESTIONS)
    for model, backend_name, prompt_tokens, reply_tokens, error in rows:
        assert (model, backend_name, error) == (embedded_backend.model, "embedded", None)
        assert prompt_tokens > 50 and 0 < reply_tokens <= 32
    stored = ConversationStore(tmp_path / "conversations.db").load()
    assert stored.id == conversation and stored.summary == summary
    assert len(stored.messages) == len(manager.history) and len(stored.messages) < 2 * len(QUESTIONS)
