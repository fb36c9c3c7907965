"""Memory: the prompt fits the context, whole exchanges are kept, and old turns fold into a summary off the
critical path (cancelled by a new turn, discarded after a reset, kept on failure)."""

from __future__ import annotations

import threading

from dialogue_fakes import PERSONA, FakeBackend

from dialogue.backends.base import BackendUnavailable
from dialogue.manager import DialogueManager
from dialogue.memory import (
    IMAGE_TOKENS,
    SUMMARY_HEADER,
    SUMMARY_INSTRUCTIONS,
    Budget,
    Memory,
    MemoryConfig,
    estimate_tokens,
)
from dialogue.messages import Message

SYSTEM = "You are a test assistant."
NOTES = "NOTES: the user asked many questions."


def exchanges(memory: Memory, n: int, size: int = 300) -> None:
    for i in range(n):
        memory.add(Message("user", f"question {i} " + "x" * size), Message("assistant", f"answer {i}"))


def summariser(messages: list[Message]) -> str:
    return NOTES if messages[0].content.startswith(SUMMARY_INSTRUCTIONS[:20]) else "A reply."


def test_token_estimate_is_conservative_and_counts_images():
    text = "The quick brown fox jumps over the lazy dog. " * 10  # about 100 real tokens
    assert 100 <= estimate_tokens(Message("user", text)) <= 200
    assert estimate_tokens(Message("user", "hi", (b"img",))) >= IMAGE_TOKENS


def test_window_fits_the_budget_keeps_the_newest_whole_exchanges():
    memory = Memory(FakeBackend(), MemoryConfig(max_messages=100))
    exchanges(memory, 30)
    budget = Budget(context=1024, reply=200)
    user = Message("user", "latest question")
    sent = memory.window(SYSTEM, user, budget)
    assert sum(estimate_tokens(m) for m in sent) <= budget.prompt
    assert sent[0].content == SYSTEM and sent[-1] == user
    assert sent[1].role == "user"  # never starts half-way through an exchange
    assert sent[-3].content.startswith("question 29")
    assert 2 < len(sent) - 2 < 60


def test_window_respects_the_message_cap_and_shows_the_summary():
    memory = Memory(FakeBackend(), MemoryConfig(max_messages=4))
    exchanges(memory, 5, size=10)
    memory.summary = "earlier notes"
    sent = memory.window(SYSTEM, Message("user", "now"), Budget(8192, 200))
    assert len(sent) == 1 + 2 + 1  # 10 messages do not fit the cap of 4: the history keeps half of it
    assert sent[0].content == f"{SYSTEM}\n\n{SUMMARY_HEADER}\nearlier notes"


def test_overflow_is_folded_into_a_summary_in_the_background():
    folds = []
    backend = FakeBackend(reply=summariser)
    memory = Memory(backend, MemoryConfig(), on_fold=lambda n, s: folds.append((n, s)))
    exchanges(memory, 12)
    budget = Budget(context=1024, reply=200)
    memory.fold_in_background(SYSTEM, budget)
    assert memory.wait(5)
    assert memory.summary == NOTES
    assert folds and folds[0][1] == NOTES and len(memory.history) == 24 - sum(n for n, _ in folds)
    request = backend.seen[0]
    assert "question 0" in request[1].content and "Notes so far: none" in request[1].content
    assert memory.history[0].role == "user"
    assert memory.last_fold_s is not None
    # What is left fits the next prompt together with the summary.
    sent = memory.window(SYSTEM, Message("user", "x" * 100), budget)
    assert sent[1:-1] == memory.history and sum(estimate_tokens(m) for m in sent) <= budget.prompt


def test_history_leaves_the_prompt_in_large_steps_so_its_start_rarely_changes():
    memory = Memory(FakeBackend(), MemoryConfig(summarise=False))
    budget = Budget(context=1024, reply=200)
    changes = 0
    previous: list[Message] = []
    for i in range(30):
        sent = memory.window(SYSTEM, Message("user", f"question {i} " + "x" * 200), budget)
        assert sum(estimate_tokens(m) for m in sent) <= budget.prompt and sent[1].role == "user"
        if sent[: len(previous)] != previous:  # the model cannot reuse what it read for the last turn
            changes += 1
        previous = sent[:-1]
        memory.add(sent[-1], Message("assistant", f"answer {i}"))
    assert 1 <= changes <= 30 // 3  # dropping one exchange per turn would change it at nearly every turn


def test_after_a_fold_the_model_reads_the_next_prompt_ahead():
    backend = FakeBackend(reply=summariser)
    memory = Memory(backend)
    exchanges(memory, 12)
    budget = Budget(context=1024, reply=200)
    memory.fold_in_background(SYSTEM, budget)
    assert memory.wait(5)
    read_ahead = backend.seen[-1]
    assert read_ahead[-1].role == "assistant" and NOTES in read_ahead[0].content
    sent = memory.window(SYSTEM, Message("user", "next"), budget)
    assert sent[:-1] == read_ahead  # the next turn starts with what the model has just read
    used = sum(estimate_tokens(m) for m in memory.history)
    assert used <= budget.prompt // 2  # folded in one large step: several turns fit before the next fold


def test_nothing_is_folded_while_everything_fits():
    backend = FakeBackend(reply=summariser)
    memory = Memory(backend)
    exchanges(memory, 2, size=10)
    memory.fold_in_background(SYSTEM, Budget(8192, 200))
    assert memory.wait(5) and backend.seen == [] and memory.summary == ""


def test_a_new_turn_cancels_the_fold_and_the_turn_does_not_wait():
    gate = threading.Event()
    backend = FakeBackend(reply=summariser, gate=gate)
    memory = Memory(backend)
    exchanges(memory, 12)
    memory.fold_in_background(SYSTEM, Budget(1024, 200))
    assert backend.started.wait(5)  # the summary request is in flight, held before its first word
    memory.pause()  # what `begin_turn` does
    assert memory.wait(5)  # the gate never opened: the request stopped because it was cancelled
    assert memory.summary == "" and len(memory.history) == 24 and backend.cancelled == 1
    memory.fold_in_background(SYSTEM, Budget(1024, 200))  # after the turn: tried again
    gate.set()
    assert memory.wait(5) and memory.summary == NOTES


def test_reset_during_a_fold_discards_it():
    gate = threading.Event()
    folds = []
    memory = Memory(FakeBackend(reply=summariser, gate=gate), on_fold=lambda n, s: folds.append(n))
    exchanges(memory, 12)
    memory.fold_in_background(SYSTEM, Budget(1024, 200))
    memory.clear()
    gate.set()
    assert memory.wait(5)
    assert memory.history == [] and memory.summary == "" and folds == []


def test_a_failed_fold_keeps_the_history_and_says_why():
    backend = FakeBackend(reply=summariser, failures=[BackendUnavailable("server gone")])
    memory = Memory(backend)
    exchanges(memory, 12)
    memory.fold_in_background(SYSTEM, Budget(1024, 200))
    assert memory.wait(5)
    assert len(memory.history) == 24 and memory.summary == ""
    assert memory.last_fold_error == "server gone"


def test_manager_summarises_after_many_turns_and_sends_the_summary():
    backend = FakeBackend(reply=summariser, context_length=1024)
    manager = DialogueManager(backend, persona=PERSONA, memory=MemoryConfig())
    for i in range(14):
        manager.reply(f"Tell me fact number {i} about the sea, " + "please " * 20)
        assert manager.memory.wait(5)
    turns = [sent for sent in backend.seen if sent[0].content.startswith(PERSONA.system_prompt)]
    read_ahead = [sent for sent in turns if sent[-1].role != "user"]
    turns = [sent for sent in turns if sent not in read_ahead]
    assert read_ahead  # after each fold, the model read the next prompt's start
    assert len(turns) == 14 and len(backend.seen) > 14  # the other requests wrote the summary
    last_turn = turns[-1]
    assert f"{SUMMARY_HEADER}\n{NOTES}" in last_turn[0].content
    assert "fact number 13" in last_turn[-1].content
    assert all("fact number 0 " not in m.content for m in last_turn)  # folded away, not sent verbatim


def test_bare_manager_does_not_summarise():
    backend = FakeBackend(reply=summariser, context_length=1024)
    manager = DialogueManager(backend, max_history_messages=4)
    for i in range(6):
        manager.reply(f"question {i}")
    assert manager.memory.wait(5)
    assert len(backend.seen) == 6  # no summary requests
