"""What Hark stores can be exported and purged, and a kiosk visit leaves no conversation behind."""

from __future__ import annotations

import io
import json
import time

from dialogue_fakes import FakeBackend

from dialogue.analytics import Analytics
from dialogue.manager import DialogueManager
from dialogue.messages import Message
from dialogue.store import ConversationStore
from hark.cli import main
from hark.config import HarkConfig
from hark.kiosk.conversation import KioskConversation
from hark.kiosk.service import KioskService
from hark.paths import analytics_path, conversations_path

DAY_S = 86_400.0


def seed(home, monkeypatch) -> None:
    monkeypatch.setenv("HARK_HOME", str(home))
    store = ConversationStore(
        conversations_path(), retention_days=None, clock=lambda: time.time() - 10 * DAY_S
    )
    old = store.create("default")
    store.append(old, [Message("user", "an old question")])
    store.close()
    store = ConversationStore(conversations_path(), retention_days=None)
    new = store.create("default")
    store.append(new, [Message("user", "a new question")])
    store.close()
    DialogueManager(FakeBackend(), analytics=Analytics(analytics_path(), retention_days=None)).reply("hello")


def test_export_gives_everything_and_purge_deletes_by_age(tmp_path, monkeypatch, capsys):
    seed(tmp_path, monkeypatch)
    assert main(["privacy", "export"]) == 0
    exported = json.loads(capsys.readouterr().out)
    said = [m["content"] for c in exported["conversations"] for m in c["messages"]]
    assert said == ["an old question", "a new question"] and exported["turns"][0]["user"] == "hello"
    assert main(["privacy", "purge", "--older-than", "7", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"conversations": 1, "turns": 0}
    assert main(["privacy", "purge"]) == 0
    assert "deleted 1 conversation(s) and 1 analytics row(s)" in capsys.readouterr().out
    assert main(["privacy", "export"]) == 0
    assert json.loads(capsys.readouterr().out) == {"conversations": [], "turns": []}


def test_a_bad_age_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HARK_HOME", str(tmp_path))
    assert main(["privacy", "purge", "--older-than", "-1"]) == 2
    assert "--older-than must be a number of days" in capsys.readouterr().err


def kiosk_visit(tmp_path, config: HarkConfig) -> tuple[KioskService, DialogueManager]:
    service = KioskService(config, out=io.StringIO())
    store = ConversationStore(tmp_path / "conversations.db")
    manager = DialogueManager(FakeBackend(), store=store)
    service.conversation = KioskConversation(service.sessions, manager)
    manager.reply("My name is Zebulon.")
    return service, manager


def test_a_kiosk_visit_is_deleted_when_the_visitor_has_gone(tmp_path):
    service, manager = kiosk_visit(tmp_path, HarkConfig())
    service._session_event({"event": "session_end", "session": 1, "reason": "idle"})
    assert manager.store.export() == [] and manager.conversation_id is None
    kept = HarkConfig().replaced("privacy.keep_kiosk_conversations", True)
    service, manager = kiosk_visit(tmp_path, kept)
    visit = manager.conversation_id
    service._session_event({"event": "session_end", "session": 1, "reason": "idle"})
    assert [c["id"] for c in manager.store.export()] == [visit]  # kept when configured
