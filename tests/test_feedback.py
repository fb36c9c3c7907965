"""User feedback: recognised in what the user says next, given with `hark feedback`, counted by `hark stats`,
turned into draft eval cases; and old analytics databases migrated to the feedback columns."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
from audio_fixtures import spoken
from dialogue_fakes import PERSONA, FakeBackend

from dialogue.analytics import Analytics, read_stats, read_turns
from dialogue.feedback import recognise
from dialogue.guardrails import Guardrails
from dialogue.manager import DialogueManager
from dialogue.record import TurnRecord
from dialogue.store import DAY_S, ConversationStore
from hark.cli import main
from hark.conversation import VoiceConversation
from hark.evaluation.suite import load_suite
from voice.decode import to_float32


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("That's wrong.", "bad"),
        ("No, that's not what I asked.", "bad"),
        ("that is not what i asked for", "bad"),
        ("That’s incorrect, it opens at nine.", "bad"),
        ("You didn't answer my question", "bad"),
        ("Thanks, perfect!", "good"),
        ("thanks perfect", "good"),
        ("Perfect, thank you.", "good"),
        ("That's exactly what I needed", "good"),
        ("What's wrong with my order?", None),
        ("Is that correct?", None),
        ("Thanks.", None),
        ("Thanks. Where is the cafe?", None),
        ("wrong way to the museum?", None),
        ("", None),
    ],
)
def test_recognises_only_a_whole_first_clause_of_feedback(text, rating):
    found = recognise(text)
    assert (found.rating if found else None) == rating


@pytest.fixture
def logged(tmp_path):
    backend = FakeBackend(reply=lambda messages: f"Noted: {messages[-1].content}")
    manager = DialogueManager(
        backend,
        persona=PERSONA,
        guardrails=Guardrails(),
        store=ConversationStore(tmp_path / "conversations.db"),
        analytics=Analytics(tmp_path / "analytics.db", Guardrails().redact),
    )
    yield manager, tmp_path / "analytics.db"
    manager.close()


def test_typed_feedback_rates_the_previous_turn_and_persona_is_recorded(logged):
    manager, path = logged
    manager.reply("When do you open?")
    manager.reply("Thanks, perfect!")
    manager.reply("Where is the cafe?")
    manager.reset()  # a new visitor: their first words rate nothing of the last visitor's
    manager.reply("That's wrong.")
    rows = read_turns(path)
    assert [r["feedback"] for r in rows] == ["good", None, None, None]
    assert rows[0]["feedback_source"] == "said" and rows[0]["feedback_note"] == "Thanks, perfect!"
    assert {r["persona"] for r in rows} == {"Testy"}
    assert read_stats(path)["feedback"] == {"good": 1, "bad": 0, "bad_rate": 0.0}


def test_spoken_feedback_heard_by_whisper_rates_the_previous_turn(logged, speaker, transcriber):
    manager, path = logged
    conversation = VoiceConversation(manager)
    for turn_id, text in enumerate(("What time do you open tomorrow?", "That's not what I asked."), 1):
        transcript = transcriber.transcribe(to_float32(spoken(speaker, text)))
        turn = conversation.begin_turn(transcript, turn_id)
        reply = "".join(turn.pieces())
        turn.finish(reply, False)
    question, complaint = read_turns(path)
    assert question["feedback"] == "bad" and complaint["feedback"] is None
    assert "not what i asked" in question["feedback_note"].lower()


OLD_SCHEMA = """
CREATE TABLE turns (id INTEGER PRIMARY KEY, at REAL NOT NULL, conversation_id INTEGER, user TEXT NOT NULL,
reply TEXT NOT NULL, backend TEXT, model TEXT, fallback INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL
DEFAULT 0, latencies TEXT NOT NULL DEFAULT '{}', prompt_tokens INTEGER, reply_tokens INTEGER, stt_confidence
REAL, error TEXT, interrupted INTEGER NOT NULL DEFAULT 0, blocked INTEGER NOT NULL DEFAULT 0, guardrail TEXT,
reprompt INTEGER NOT NULL DEFAULT 0, images INTEGER NOT NULL DEFAULT 0,
images_seen INTEGER NOT NULL DEFAULT 0);
"""


def test_a_database_from_before_feedback_is_read_then_migrated(tmp_path):
    path = tmp_path / "analytics.db"
    conn = sqlite3.connect(path)
    conn.executescript(OLD_SCHEMA)
    conn.execute("INSERT INTO turns (at, user, reply) VALUES (?, 'hi', 'hello')", (time.time(),))
    conn.commit()
    conn.close()
    assert read_stats(path)["feedback"] == {"good": 0, "bad": 0, "bad_rate": 0.0}
    analytics = Analytics(path)
    assert analytics.set_feedback(1, "bad", "call me at 555-123-4567")
    assert not analytics.set_feedback(99, "good")
    analytics.close()
    (row,) = read_turns(path)
    assert row["feedback"] == "bad" and "555-123-4567" not in row["feedback_note"]
    assert read_stats(path)["feedback"] == {"good": 0, "bad": 1, "bad_rate": 1.0}


def exit_code(args: list[str]) -> int:
    """`hark ARGS` in this process; argparse refuses bad arguments by exiting."""
    try:
        return main(args)
    except SystemExit as exc:
        return int(exc.code)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HARK_HOME", str(tmp_path))
    return tmp_path


def record_turns(path, turns: list[tuple[float, int | None, str, str]]) -> list[int]:
    analytics = Analytics(path, retention_days=None)
    ids = [
        analytics.record(TurnRecord(user=user, reply=reply, started_at=at, conversation_id=conv))
        for at, conv, user, reply in turns
    ]
    analytics.close()
    return ids


def test_hark_feedback_and_stats(home, capsys):
    now = time.time()
    ids = record_turns(
        home / "analytics.db", [(now - 60, 1, "Where is the cafe?", "On the moon."), (now, 1, "Hi", "Hello")]
    )
    assert main(["feedback", str(ids[0]), "bad", "it is on floor 2, mail jane@example.com"]) == 0
    assert main(["feedback", str(ids[1]), "good"]) == 0
    capsys.readouterr()
    assert main(["stats", "--json", "--turns", "5"]) == 0
    out = capsys.readouterr().out
    assert len(out.strip().splitlines()) == 1
    stats = json.loads(out)
    assert stats["feedback"] == {"good": 1, "bad": 1, "bad_rate": 0.5}
    assert [(r["id"], r["feedback"]) for r in stats["recent"]] == [(ids[0], "bad"), (ids[1], "good")]
    assert main(["stats", "--turns", "1"]) == 0
    out = capsys.readouterr().out
    assert "feedback: 1 good, 1 bad (50.0% of rated bad)" in out and f"#{ids[1]} [good] you: Hi" in out
    (row, _) = read_turns(home / "analytics.db")
    assert "jane@example.com" not in row["feedback_note"] and row["feedback_source"] == "cli"
    for args in (
        ["feedback", "999", "bad"],
        ["feedback", str(ids[0]), "meh"],
        ["stats", "--days", "nan"],
        ["stats", "--days", "inf"],
        ["stats", "--turns", "-1"],
    ):
        assert exit_code(args) == 2, args
        assert "error" in capsys.readouterr().err


def test_feedback_without_any_database_is_an_error(home, capsys):
    assert main(["feedback", "1", "good"]) == 2
    assert "no turns are recorded yet" in capsys.readouterr().err
    assert not (home / "analytics.db").exists()


def test_an_empty_database_gives_an_empty_but_valid_report(home, capsys):
    Analytics(home / "analytics.db").close()
    assert main(["stats", "--json", "--turns", "3"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["turns"] == 0 and stats["feedback"] == {"good": 0, "bad": 0, "bad_rate": 0.0}
    assert stats["recent"] == []
    assert main(["stats"]) == 0 and capsys.readouterr().out.strip() == "no turns recorded yet"


def test_drafts_from_bad_feedback_load_as_a_suite(home, capsys):
    now = time.time()
    path = home / "analytics.db"
    ids = record_turns(
        path,
        [
            (now - 20 * DAY_S, 1, "Old question", "Old answer"),
            (now - 120, 2, "My name is Dana, email dana@example.com", "Nice to meet you."),
            (now - 60, 2, "When does the museum open?", "It is a nice day."),
            (now - 30, 3, "Where are the toilets?", "Down the hall."),
        ],
    )
    analytics = Analytics(path, retention_days=None)
    for row_id, rating in zip(ids, ("bad", None, "bad", "good"), strict=True):
        if rating:
            analytics.set_feedback(row_id, rating, "not helpful")
    analytics.close()
    assert main(["eval", "draft", "--from-feedback", "bad", "--since", "7d"]) == 0
    captured = capsys.readouterr()
    assert "1 draft case(s)" in captured.err
    drafts = home / "cases.yaml"
    drafts.write_text(captured.out, encoding="utf-8")
    suite = load_suite(drafts)
    (case,) = suite.cases
    assert [t.text for t in case.turns] == ["My name is Dana, email [email]", "When does the museum open?"]
    assert case.turns[-1].expectations[0].key == "judge"
    assert "It is a nice day." in captured.out  # the rated reply, as a comment for whoever sharpens it
    assert main(["eval", "draft", "--from-feedback", "good"]) == 0
    good = home / "good.yaml"
    good.write_text(capsys.readouterr().out, encoding="utf-8")
    (case,) = load_suite(good).cases
    assert (
        case.turns[-1].text == "Where are the toilets?" and case.turns[-1].expectations[0].key == "similar_to"
    )
    for args in (
        ["eval", "draft"],
        ["eval", "draft", "--from-feedback", "bad", "--since", "nan"],
        ["eval", "draft", "--from-feedback", "bad", "--since", "0d"],
    ):
        assert exit_code(args) == 2, args
        assert "error" in capsys.readouterr().err
