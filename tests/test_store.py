"""The conversation store: WAL SQLite, private file, resume with the summary, retention, reset."""

from __future__ import annotations

import sqlite3
import stat

import pytest
from dialogue_fakes import PERSONA, FakeBackend

from dialogue.errors import ConversationNotFound, DialogueError
from dialogue.manager import DialogueManager, interrupted_note
from dialogue.memory import SUMMARY_HEADER, SUMMARY_INSTRUCTIONS, MemoryConfig
from dialogue.messages import Message
from dialogue.store import DAY_S, ConversationStore


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_database_is_wal_and_private(tmp_path):
    store = ConversationStore(tmp_path / "data" / "conversations.db")
    store.create("Hark")
    mode = sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    store.close()


def test_round_trip_latest_and_folds(tmp_path):
    store = ConversationStore(tmp_path / "conversations.db")
    first = store.create("Hark")
    store.append(first, [Message("user", "one"), Message("assistant", "1")])
    second = store.create("Ada")
    store.append(second, [Message("user", "a"), Message("assistant", "A")])
    store.append(second, [Message("user", "b"), Message("assistant", "B")])
    store.fold(second, 2, "they said a")
    latest = store.load()
    assert (latest.id, latest.persona, latest.summary) == (second, "Ada", "they said a")
    assert [m.content for m in latest.messages] == ["b", "B"]
    assert [m.content for m in store.load(first).messages] == ["one", "1"]
    with pytest.raises(ConversationNotFound, match="no saved conversation 99"):
        store.load(99)


def test_nothing_to_resume_is_a_clear_error(tmp_path):
    with pytest.raises(ConversationNotFound, match="no saved conversation to resume"):
        ConversationStore(tmp_path / "conversations.db").load()


def test_retention_deletes_old_conversations_with_their_messages(tmp_path):
    clock = Clock()
    store = ConversationStore(tmp_path / "conversations.db", retention_days=7, clock=clock)
    old = store.create("Hark")
    store.append(old, [Message("user", "old"), Message("assistant", "x")])
    clock.now += 8 * DAY_S
    recent = store.create("Hark")
    assert store.purge() == 1
    assert store.load().id == recent
    with pytest.raises(ConversationNotFound):
        store.load(old)
    orphans = sqlite3.connect(store.path).execute("SELECT COUNT(*) FROM messages").fetchone()[0]
    assert orphans == 0


def test_zero_retention_keeps_everything(tmp_path):
    clock = Clock()
    store = ConversationStore(tmp_path / "conversations.db", retention_days=0, clock=clock)
    kept = store.create("Hark")
    clock.now += 1000 * DAY_S
    assert store.purge() == 0 and store.load().id == kept


def summariser(messages: list[Message]) -> str:
    return "NOTES: sea facts." if messages[0].content.startswith(SUMMARY_INSTRUCTIONS[:20]) else "Sure thing."


def test_manager_persists_resumes_and_resets(tmp_path):
    path = tmp_path / "conversations.db"
    backend = FakeBackend(reply=summariser, context_length=1024)
    manager = DialogueManager(backend, persona=PERSONA, memory=MemoryConfig(), store=ConversationStore(path))
    for i in range(14):
        manager.reply(f"Sea fact {i}, " + "please " * 20)
        assert manager.memory.wait(5)
    turn = manager.begin_turn("One more")
    next(turn.pieces())
    turn.finish("Sure", interrupted=True)
    conversation = manager.conversation_id
    unfolded = list(manager.history)
    assert manager.memory.summary == "NOTES: sea facts."
    manager.close()

    resumed_backend = FakeBackend(context_length=1024)
    resumed = DialogueManager(
        resumed_backend, persona=PERSONA, memory=MemoryConfig(), store=ConversationStore(path)
    )
    assert resumed.resume() == conversation
    assert resumed.history == unfolded
    assert resumed.history[-1] == interrupted_note("Sure")
    resumed.reply("And now?")
    sent = resumed_backend.seen[0]
    assert f"{SUMMARY_HEADER}\nNOTES: sea facts." in sent[0].content
    assert sent[-2] == interrupted_note("Sure")
    assert resumed.conversation_id == conversation

    resumed.reset()  # a kiosk forgetting its visitor
    assert resumed.history == [] and resumed.memory.summary == ""
    resumed.reply("Hello, new visitor here")
    assert resumed.conversation_id != conversation
    assert len(resumed_backend.seen[-1]) == 2  # system prompt and the new turn only
    assert resumed.store.load(conversation).messages[-2].content == "And now?"  # kept, not overwritten
    resumed.close()


def test_resume_without_a_store_is_refused():
    with pytest.raises(DialogueError, match="not being saved"):
        DialogueManager(FakeBackend()).resume()


def test_a_redacting_store_never_writes_what_it_redacts(tmp_path):
    from dialogue.guardrails import redact_pii

    store = ConversationStore(tmp_path / "conversations.db", redact=redact_pii)
    conversation = store.create("default")
    store.append(conversation, [Message("user", "Mail me at ana@example.org or call 555-123-4567.")])
    store.fold(conversation, 1, "Ana's address is ana@example.org.")
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("conversations.db*"))
    assert b"ana@example.org" not in raw and b"555-123-4567" not in raw
    loaded = ConversationStore(tmp_path / "conversations.db").load(conversation)
    assert loaded.summary == "Ana's address is [email]."
