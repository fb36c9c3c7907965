"""A real multi-turn conversation on the embedded model (SmolLM2-135M): persona, memory with a summary
the model writes itself, guardrails, the store and analytics. The model is tiny: this checks plumbing only."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from dialogue.analytics import Analytics
from dialogue.backends.base import Cancel, GenerationOptions, ReplyStream, TextStreaming, open_stream
from dialogue.guardrails import Guardrails
from dialogue.manager import DialogueManager
from dialogue.memory import SUMMARY_HEADER, SUMMARY_INSTRUCTIONS, MemoryConfig
from dialogue.messages import Message
from dialogue.persona import load_persona
from dialogue.store import ConversationStore

pytestmark = pytest.mark.integration

QUESTIONS = [
    "Hello! My name is Ana and I love the sea.",
    "What is a good name for a boat?",
    "Tell me one thing about whales.",
]


class Recording(TextStreaming):
    """The embedded backend, recording the messages each request was built with."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name, self.model, self.sees_images = inner.name, inner.model, inner.sees_images
        self.context_length = inner.context_length
        self.sent: list[list] = []

    def open_stream(self, prepare, options, info, cancel):
        def recorded(backend):
            messages = prepare(backend)
            self.sent.append(list(messages))
            return messages

        return self.inner.open_stream(recorded, options, info, cancel)

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
    turns = [sent for sent in turns if sent[-1].role == "user"]  # not the prompts read ahead after a fold
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


class Watched(TextStreaming):
    """The embedded backend, logging when each request (a turn or a summary) starts, yields and ends.

    The summary's reader stops after its first token until `release` is set, as a slow reader would: the
    model, which may only run a few tokens ahead of its reader, then cannot finish the summary on its own.
    """

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name, self.model, self.sees_images = inner.name, inner.model, inner.sees_images
        self.context_length = inner.context_length
        self.events: list[str] = []
        self.summary_running = threading.Event()
        self.release = threading.Event()

    def open_stream(self, prepare, options, info, cancel):
        messages = prepare(self)
        if messages[0].content.startswith(SUMMARY_INSTRUCTIONS[:40]):
            kind = "summary"
        else:
            kind = "turn" if messages[-1].role == "user" else "read-ahead"
        inner = open_stream(self.inner, lambda _b: messages, options, info, cancel)

        def items():
            try:
                for item in inner:
                    self.events.append(f"{kind} token")
                    yield item
                    if kind == "summary":
                        self.summary_running.set()
                        self.release.wait(30)
            finally:
                inner.close()
                self.events.append(f"{kind} {'cancelled' if cancel.is_set() else 'done'}")

        return ReplyStream(items(), info, cancel)

    def describe(self) -> str:
        return self.inner.describe()


CUT_SHORT = [
    "What's the best way to learn to cook?",
    "Tell me about the history of Rome.",
    "How do airplanes fly?",
    "What should I pack for a beach trip?",
    "Why is the sky blue?",
]


def test_replies_cut_short_do_not_teach_the_model_to_cut_its_own(embedded_backend):
    """Five replies interrupted after their first word, then new questions: SmolLM2 answers them, instead
    of copying the cut replies (with them in its history it answered "The", or "The [interrupted by the
    user]" with that note in them)."""
    manager = DialogueManager(embedded_backend, persona=load_persona("default"))
    heard = []
    for question in CUT_SHORT:
        turn = manager.begin_turn(question)
        pieces = turn.pieces()
        heard.append(" ".join(next(pieces).split()[:4]))
        pieces.close()
        turn.finish(heard[-1], interrupted=True)
    questions = ("What is the capital of Japan?", "How many legs does a spider have?")
    answers = [manager.reply(q) for q in questions]
    assert not any("interrupt" in a.lower() or a.strip() in heard for a in answers), (heard, answers)
    assert "Tokyo" in answers[0], answers
    assert manager.close(timeout_s=10)


def test_a_turn_preempts_the_summary_the_model_is_writing(embedded_backend):
    backend = Watched(embedded_backend)
    manager = DialogueManager(
        backend,
        options=GenerationOptions(max_tokens=16),
        persona=load_persona("default"),
        memory=MemoryConfig(max_messages=2, summary_tokens=100),
    )
    for i in range(3):
        manager.memory.add(Message("user", f"Fact {i}: I like boats."), Message("assistant", "Noted."))
    manager.memory.fold_in_background(manager.system_prompt, manager.budget(backend))
    assert backend.summary_running.wait(60)  # the summary is being written, and the model holds its place

    turn = manager.begin_turn("Say hello.")
    pieces = turn.pieces()
    first = next(pieces)
    backend.events.append("turn first piece")
    backend.release.set()
    assert first and "".join(pieces) is not None
    turn.finish()
    assert manager.memory.wait(60) and manager.memory.summary  # the summary was written after the turn
    events = backend.events
    first_piece = events.index("turn first piece")
    assert events.index("summary token") < first_piece < events.index("summary cancelled")  # no waiting
    assert "summary done" not in events[:first_piece] and "summary done" in events  # written later
    assert events[-1] == "read-ahead done"  # then the model read the prompt the next turn starts with
    assert manager.close(timeout_s=10)


def test_a_cancelled_turn_frees_the_model_at_once(embedded_backend):
    manager = DialogueManager(embedded_backend, options=GenerationOptions(max_tokens=64))
    turn = manager.begin_turn("Tell me a long story about the sea.")
    pieces = turn.pieces()
    assert next(pieces)
    turn.cancel()
    assert list(pieces) == []  # ends at the model's next token, without an apology
    turn.finish("", interrupted=True)
    assert manager.history == [] and turn.record.interrupted and turn.record.error is None
    assert manager.reply("Say hello.")  # the model's lock was released


def test_closing_the_backend_stops_a_generation_nobody_reads(embedded_backend):
    """What the process does at exit: no llama.cpp call may still run when the interpreter goes away."""
    request = [Message("user", "Count from 1 to 100, separated by commas.")]
    stream = embedded_backend.stream(request, GenerationOptions(max_tokens=64))
    assert next(stream)  # the producer now holds the model, a few tokens ahead of this idle reader
    assert embedded_backend._lock.locked()
    embedded_backend.close()
    assert not embedded_backend._lock.locked()
    assert list(stream) == []  # the reader is told to stop, too


def test_a_generation_cancelled_while_the_model_reads_its_prompt_stops_reading_it(embedded_backend):
    """A speculative reply dropped, or a summary preempted by a turn, while llama.cpp reads a long prompt
    (2-3 s of reading here): the model is free again within a step, not at the end of the prompt."""
    llm = embedded_backend._llm
    llm.reset()  # nothing cached: the whole prompt must be read
    story = " ".join(["The river runs past the old mill and under the stone bridge to the sea."] * 50)
    prompt_tokens = len(llm.tokenize(story.encode()))
    request = [Message("user", f"{story} Summarise that in one sentence.")]
    cancel = Cancel()
    stream = open_stream(
        embedded_backend, lambda _backend: request, GenerationOptions(max_tokens=8), None, cancel
    )
    reader = threading.Thread(target=lambda: list(stream.text()), daemon=True)
    reader.start()
    while llm.n_tokens == 0 and reader.is_alive():
        threading.Event().wait(0.01)
    cancel.set()
    reader.join(30)
    assert not reader.is_alive()
    assert embedded_backend._lock.acquire(timeout=30)  # the producer let go of the model
    embedded_backend._lock.release()
    assert 0 < llm.n_tokens < prompt_tokens / 2, (llm.n_tokens, prompt_tokens)


def ask(backend, messages: list[Message], options: GenerationOptions) -> str:
    return "".join(backend.stream(messages, options))


@pytest.mark.parametrize("keep_cache", [True, False])
def test_a_call_aside_from_the_conversation_leaves_its_prompt_cached(
    embedded_backend, monkeypatch, keep_cache
):
    """The rolling summary reads another prompt; the next turn should only have its own words to read."""
    llm = embedded_backend._llm
    llm.reset()
    history = [
        Message("system", "You are a helpful voice assistant."),
        Message("user", "My name is Ada and I keep bees in my garden near the river."),
        Message("assistant", "Nice to meet you, Ada. Bees near a river have plenty of water and flowers."),
    ]
    ask(embedded_backend, [*history, Message("user", "What do bees eat?")], GenerationOptions(max_tokens=4))
    aside = [Message("user", "Write notes about a conversation on gardens, rivers, honey and the weather.")]
    ask(embedded_backend, aside, GenerationOptions(max_tokens=4, keep_cache=keep_cache))
    read: list[int] = []
    evaluate = llm.eval
    monkeypatch.setattr(llm, "eval", lambda tokens: (read.append(len(tokens)), evaluate(tokens))[1])
    ask(embedded_backend, [*history, Message("user", "And in winter?")], GenerationOptions(max_tokens=2))
    prompt = len(llm.tokenize(str(history).encode()))
    if keep_cache:
        assert 0 < read[0] < prompt / 3, (read, prompt)  # the new question (and the last token of the old)
    else:
        assert read[0] > prompt / 2, (read, prompt)  # the whole conversation again
