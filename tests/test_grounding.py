"""Knowledge and personal memory wired into conversations: the manager's turn helpers, the reply events'
sources, and the commands (`ask`, `chat`, `eval`) against the real index, real HTTP and the embedded model."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading

import numpy as np
import pytest
from audio_fixtures import conversation_wav
from conftest import ROOT
from dialogue_fakes import PERSONA, FakeBackend
from fake_ollama import FakeOllama
from knowledge_docs import write_corpus

from dialogue.knowledge import KnowledgeBase, KnowledgeError, KnowledgeIndex, ingest, retrieval
from dialogue.knowledge.grounding import UNKNOWN, Grounding, is_question
from dialogue.manager import DialogueManager
from dialogue.usermemory import FactStore, PersonalMemory
from hark import assembly
from hark.cli import main
from hark.config import ConfigError, load_config
from hark.conversation import VoiceConversation
from hark.errors import UserError
from hark.evaluation.expectations import Grounded, Outcome, Services, Sources, Status, Unavailable, overlap
from hark.paths import knowledge_path, user_memory_path
from hark.report import Reporter
from voice.events import Reply
from voice.stt import Transcript

OPENING = "When does the museum open on Sundays?"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HARK_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def museum(home, tmp_path):
    """The test documents in the knowledge base "museum" of $HARK_HOME (BM25: no embedder to load)."""
    index = KnowledgeIndex(knowledge_path())
    ingest.add(index, [str(write_corpus(tmp_path / "docs"))], "museum", embedder="none")
    index.close()
    return tmp_path / "docs"


def manager_with(backend: FakeBackend, index: KnowledgeIndex, store: FactStore, **memory) -> DialogueManager:
    helpers = [PersonalMemory(store, "sam", **memory), Grounding(KnowledgeBase(index, "museum"))]
    return DialogueManager(backend, persona=PERSONA, helpers=helpers)


def test_memory_and_passages_reach_the_prompt_and_unknowns_skip_the_model(museum):
    backend = FakeBackend("The visitor guide says it opens at ten.")
    store = FactStore(":memory:")
    manager = manager_with(backend, KnowledgeIndex(knowledge_path()), store)
    assert manager.reply("Remember that I'm vegetarian") == "OK, I'll remember that you're vegetarian."
    assert backend.seen == []  # answered by Hark itself: no model call

    turn = manager.begin_turn(OPENING)
    assert "".join(turn.pieces()) == "The visitor guide says it opens at ten."
    turn.finish()
    system = backend.seen[-1][0].content
    assert system.startswith(PERSONA.system_prompt)
    assert "- I'm vegetarian" in system
    assert '[1] From "Visitor guide > Opening hours":\nThe museum opens at 10:00 on Sunday' in system
    assert "lockers" not in system  # the FAQ's passage does not answer this question
    assert [s["path"] for s in turn.sources] == [str((museum / "guide.md").resolve())]

    calls = len(backend.seen)
    assert manager.reply("What is the capital of Mongolia?") == UNKNOWN
    assert len(backend.seen) == calls  # nothing relevant: "I don't know", never a guess
    assert manager.reply("Thanks, that was helpful") == "The visitor guide says it opens at ten."
    assert "From " not in backend.seen[-1][0].content  # a remark, not a question: no passages, no refusal


def test_a_dropped_speculative_turn_changes_no_memory(home):
    store = FactStore(":memory:")
    gate = threading.Event()
    manager = DialogueManager(FakeBackend(gate=gate), persona=PERSONA, helpers=[PersonalMemory(store, "sam")])
    dropped = manager.begin_turn("Remember that I'm vegan")
    assert next(dropped.pieces()) == "OK, I'll remember that you're vegan."
    dropped.cancel()
    dropped.finish("", interrupted=True)
    assert store.facts("sam") == []
    noticed = manager.begin_turn("I'm allergic to peanuts.")  # a lasting fact said in passing
    gate.set()
    assert "".join(noticed.pieces())
    noticed.finish()
    assert [f.text for f in store.facts("sam")] == ["I'm allergic to peanuts"]


def test_a_kiosk_visit_forgets_its_facts_when_the_session_ends(home):
    reporter = Reporter()
    config = load_config()
    visit = assembly.build_helpers(config, assembly.build_persona(config), reporter, visits=True)
    manager = DialogueManager(FakeBackend(), persona=PERSONA, helpers=visit)
    manager.reply("Remember that I use a wheelchair")
    assert "you use a wheelchair" in manager.reply("What do you know about me?")
    manager.reset()  # what the kiosk does at session_end
    assert manager.reply("What do you know about me?").startswith("I don't know anything about you")
    assert not user_memory_path().exists()  # nothing about a visitor reached the disk

    keep = config.replaced("memory.kiosk_keep", True)
    kept = assembly.build_helpers(keep, assembly.build_persona(keep), reporter, visits=True)
    manager = DialogueManager(FakeBackend(), persona=PERSONA, helpers=kept)
    manager.reply("Remember that I use a wheelchair")
    manager.reset()
    assert [f.text for f in FactStore(user_memory_path()).facts("default")] == ["I use a wheelchair"]


def test_which_knowledge_base_is_used(museum, home, tmp_path):
    reporter = Reporter()
    config = load_config()
    persona = assembly.build_persona(config)
    assert assembly.build_grounding(config, persona, reporter) is None  # the default base does not exist
    assert assembly.build_grounding(
        config.replaced("knowledge.base", "museum"), persona, reporter
    ).base.name == ("museum")
    with pytest.raises(UserError, match="no knowledge base named 'shop'"):
        assembly.build_grounding(config.replaced("knowledge.base", "shop"), persona, reporter)
    own = persona.__class__(name="Ada", greeting="Hi.", system_prompt="You are Ada.", knowledge="museum")
    assert assembly.build_grounding(config, own, reporter).base.name == "museum"

    index = KnowledgeIndex(knowledge_path())
    ingest.add(index, [str(museum / "faq.txt")], "default", embedder="none")
    grounding = assembly.build_grounding(config, persona, reporter)
    assert grounding.base.name == "default" and grounding.aid("Can I bring my dog?").sources
    index.remove(grounding.base.name, str((museum / "faq.txt").resolve()))
    assert grounding.aid("Can I bring my dog?") is None  # an emptied base: Hark talks as without one


def test_questions_are_told_from_remarks():
    assert all(map(is_question, ["Where is the shop?", "is it open today", "Tell me about the lens"]))
    assert not any(map(is_question, ["Thanks a lot.", "Hello there", "I'm just looking"]))


def test_reply_events_carry_the_sources(museum):
    manager = manager_with(
        FakeBackend("It opens at ten."), KnowledgeIndex(knowledge_path()), FactStore(":memory:")
    )
    conversation = VoiceConversation(manager)
    turn = conversation.begin_turn(Transcript(OPENING, 0.9, 0.0), 7)
    heard = "".join(turn.pieces())
    turn.finish(heard, False)
    line = conversation.to_json(Reply(7, heard, False))
    assert line["event"] == "reply" and line["text"] == "It opens at ten."
    assert [s["title"] for s in line["sources"]] == ["Visitor guide"]
    assert "sources" not in conversation.to_json(Reply(8, "Hello.", False))


# -- the commands ----------------------------------------------------------------------------------


def answering(messages: list[dict]) -> str:
    """A fake model that answers from the passages when it gets some (as a good model would), and a
    judge that finds such an answer supported."""
    system = messages[0]["content"]
    if system.startswith("You are a strict examiner"):
        return '{"pass": true, "reason": "the guide gives the Sunday opening time"}'
    if "opens at 10:00 on Sunday" in system:
        return "The visitor guide says the museum opens at 10:00 on Sunday."
    return "I am not sure."


@pytest.fixture
def server():
    fake = FakeOllama(replier=answering).start()
    yield fake
    fake.stop()


def system_prompts(server: FakeOllama) -> list[str]:
    return [body["messages"][0]["content"] for path, body in server.requests if path == "/api/chat"]


def test_ask_json_reply_names_its_sources(museum, server, capsys):
    code = main(["ask", "--kb", "museum", "--ollama-host", server.url, "--llm", "ollama", "--json", OPENING])
    out = capsys.readouterr().out
    assert code == 0
    reply = next(json.loads(line) for line in out.splitlines() if '"reply"' in line)
    assert reply["text"] == "The visitor guide says the museum opens at 10:00 on Sunday."
    assert reply["sources"] == [
        {
            "title": "Visitor guide",
            "path": str((museum / "guide.md").resolve()),
            "chunk": "The museum opens at 10:00 on Sunday and at 9:00 on other days. It closes at 18:00.",
        }
    ]
    (prompt,) = system_prompts(server)
    assert 'From "Visitor guide > Opening hours"' in prompt and "Fresnel" not in prompt
    assert "Name the source briefly" in prompt  # so the spoken answer says "The visitor guide says ..."


def test_chat_names_sources_and_eval_checks_them(museum, server, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(sys, "stdin", io.StringIO(OPENING + "\n"))
    assert main(["chat", "--kb", "museum", "--ollama-host", server.url, "--llm", "ollama", "--no-log"]) == 0
    captured = capsys.readouterr()
    assert "opens at 10:00 on Sunday" in captured.out
    assert f"sources: Visitor guide ({(museum / 'guide.md').resolve()})" in captured.err

    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: grounding\ncases:\n"
        "  - name: opening hours\n"
        f"    turns:\n      - user: {OPENING}\n"
        "        expect: {sources: [guide.md], grounded: true}\n"
        "  - name: not in the documents\n"
        "    turns:\n      - user: Who painted the Mona Lisa?\n"
        '        expect: {grounded: false, contains: "I don\'t know"}\n'
        "  - name: wrong source\n"
        f"    turns:\n      - user: {OPENING}\n"
        "        expect: {sources: [faq.txt]}\n"
    )
    code = main(
        ["eval", str(suite), "--kb", "museum", "--ollama-host", server.url, "--llm", "ollama", "--json"]
    )
    captured = capsys.readouterr()
    assert captured.out, captured.err
    result = json.loads(captured.out.splitlines()[-1])
    checks = {case["name"]: [c for t in case["turns"] for c in t["checks"]] for case in result["results"]}
    assert code == 1  # the wrong source fails
    grounded = next(c for c in checks["opening hours"] if c["expect"] == "grounded")
    assert grounded["status"] == "pass" and grounded["reason"].startswith("judge:")
    assert all(c["status"] == "pass" for c in checks["not in the documents"])
    assert [c["status"] for c in checks["wrong source"] if c["expect"] == "sources"] == ["fail"]


def _chat(home, url: str, typed: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HARK_HOME": str(home), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "hark.cli", "chat", "--llm", "ollama", "--ollama-host", url, "--user", "sam"],
        input=typed,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_memory_across_three_chat_sessions(home, fake_ollama):
    first = _chat(home, fake_ollama.url, "Remember that I'm vegetarian\n")
    assert first.returncode == 0, first.stderr
    assert "OK, I'll remember that you're vegetarian." in first.stdout

    second = _chat(home, fake_ollama.url, "What do you know about me?\nSuggest a dinner\n")
    assert "Here's what I know about you: you're vegetarian." in second.stdout
    assert "- I'm vegetarian" in system_prompts(fake_ollama)[-1]  # in front of the later conversation

    third = _chat(home, fake_ollama.url, "Forget everything about me\nWhat do you know about me?\n")
    assert "I've forgotten everything about you (1 fact)" in third.stdout
    assert "I don't know anything about you yet" in third.stdout
    assert FactStore(user_memory_path()).facts("sam") == []


def test_a_real_grounded_answer_from_the_embedded_model(museum, capsys):
    code = main(["ask", "--kb", "museum", "--llm", "embedded", "--json", OPENING])
    assert code == 0
    reply = next(json.loads(line) for line in capsys.readouterr().out.splitlines() if '"reply"' in line)
    assert [s["title"] for s in reply["sources"]] == ["Visitor guide"]
    # SmolLM2-135M paraphrases (and may garble a number), but it answers from the passage it was given
    assert overlap(reply["text"], reply["sources"][0]["chunk"]) >= 0.5, reply["text"]


def test_a_spoken_question_gets_a_grounded_reply_with_sources(museum, server, speaker, tmp_path):
    """`hark talk --json`: Piper speaks the question, Whisper hears it, the reply event names its source."""
    wav, _ = conversation_wav(speaker, tmp_path / "question.wav", [OPENING, "Remember that I'm vegetarian."])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = ["talk", "--input", str(wav), "--fast", "--json", "--kb", "museum", "--llm", "ollama"]
    args += ["--ollama-host", server.url, "--output", str(tmp_path / "replies.wav")]
    done = subprocess.run(
        [sys.executable, "-m", "hark.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    replies = [e for e in map(json.loads, done.stdout.splitlines()) if e["event"] == "reply"]
    assert [r["text"] for r in replies] == [
        "The visitor guide says the museum opens at 10:00 on Sunday.",
        "OK, I'll remember that you're vegetarian.",  # by voice too, without the model
    ]
    assert [s["title"] for s in replies[0]["sources"]] == ["Visitor guide"] and "sources" not in replies[1]
    assert [f.text for f in FactStore(user_memory_path()).facts("default")] == ["I'm vegetarian"]


# -- eval expectations -----------------------------------------------------------------------------

GUIDE = {"title": "Visitor guide", "path": "/docs/guide.md", "chunk": "The museum opens at 10:00 on Sunday."}


def outcome(reply: str, *sources: dict) -> Outcome:
    return Outcome(user=OPENING, reply=reply, sources=sources)


def test_sources_are_named_by_file_path_or_title():
    assert Sources(("guide.md", "docs/guide.md", "Visitor guide")).check(
        outcome("x", GUIDE), Services()
    ).status == (Status.PASS)
    failed = Sources(("faq.txt",)).check(outcome("x", GUIDE), Services())
    assert failed.status is Status.FAIL and failed.reason == "missing 'faq.txt' (sources: guide.md)"


def test_grounded_without_a_judge_is_lexical_and_says_so():
    services = Services(judge=Unavailable("no judge model configured"))
    supported = Grounded(True).check(outcome("It opens at 10:00 on Sundays.", GUIDE), services)
    assert supported.status is Status.PASS
    assert supported.reason == "lexical overlap 1.00 ≥ 0.60 (no judge model configured)"
    invented = Grounded(True).check(outcome("Entry costs twelve euros for adults.", GUIDE), services)
    assert invented.status is Status.FAIL and invented.reason.startswith("lexical overlap 0.00 < 0.60")
    assert Grounded(True).check(outcome("It opens at ten."), services).reason == (
        "no passage was retrieved for this turn"
    )
    assert Grounded(False).check(outcome("I don't know."), services).status is Status.PASS
    assert Grounded(False).check(outcome("It opens at ten.", GUIDE), services).status is Status.FAIL


def test_a_kiosk_visitors_facts_end_with_the_visit(speaker, fake_ollama, tmp_path):
    """The real kiosk on a Piper-spoken file: the next visitor is told nothing of the first one's facts."""
    from test_kiosk_cli import Kiosk, home_env, kiosk_toml, visitors_wav

    script = [0.6, "Hey Hark, remember that I'm vegetarian.", 1.5, "What do you know about me?", 9.0]
    wav = visitors_wav(
        speaker, tmp_path / "visitors.wav", [*script, "Hey Hark, what do you know about me?", 3.0]
    )
    config = kiosk_toml(
        tmp_path, '[kiosk]\nhealth_port = 0\nwake_phrases = ["hey hark"]\nidle_timeout_s = 1.5\n'
    )
    env = home_env(tmp_path, HARK_LLM_BACKEND="ollama", HARK_LLM_OLLAMA_HOST=fake_ollama.url)
    with Kiosk(
        "--config", config, "--input", str(wav), "--output", str(tmp_path / "out.wav"), env=env
    ) as kiosk:
        kiosk.wait_for("turn", count=3)
        assert kiosk.finish() == 0, "".join(kiosk.stderr)
    sessions = [
        (e["event"], e["session"], e.get("reason")) for e in kiosk.events if e["event"].startswith("session_")
    ]
    replies = [r["text"] for r in kiosk.events_of("reply")]
    assert [e[:2] for e in sessions] == [
        ("session_start", 1),
        ("session_end", 1),
        ("session_start", 2),
        ("session_end", 2),
    ], sessions
    assert "I'll remember that you're vegetarian" in replies[0]
    assert "Here's what I know about you: you're vegetarian." in replies[1]
    assert "I don't know anything about you yet" in replies[2]  # the second visitor
    assert not (tmp_path / "home" / "user_memory.sqlite3").exists()


class FlakyEmbedder:
    """Vectors from word hashes (enough to make a hybrid base); fails like an Ollama server that is down."""

    name = "flaky"

    def __init__(self) -> None:
        self.calls = 0
        self.down = False

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        if self.down:
            raise KnowledgeError("Ollama cannot embed with flaky: timed out")
        vectors = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                vectors[row, hash(word) % 64] += 1
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


def test_a_failing_embedder_is_not_waited_for_on_every_turn(tmp_path, monkeypatch):
    index = KnowledgeIndex(tmp_path / "kb.sqlite3")
    embedder = FlakyEmbedder()
    ingest.add(index, [str(write_corpus(tmp_path / "docs"))], "museum", embedder=embedder)
    base = KnowledgeBase(index, "museum", embedder=embedder)
    embedder.down, calls = True, embedder.calls
    monkeypatch.setattr(retrieval, "EMBED_RETRY_S", 0.0)
    base.retrieve(OPENING, 1)
    base.retrieve(OPENING, 1)
    assert embedder.calls == calls + 2  # without a pause it would be asked (and waited for) every time
    monkeypatch.setattr(retrieval, "EMBED_RETRY_S", 30.0)
    for _ in range(3):  # BM25 answers alone, and the embedder is asked once, not on each question
        assert base.retrieve(OPENING, 1)[0].title == "Visitor guide"
    assert embedder.calls == calls + 3


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("HARK_KNOWLEDGE_EMBED", "ollama:", 'knowledge.embed: must be auto, none, minilm or "ollama:MODEL"'),
        ("HARK_KNOWLEDGE_MIN_SCORE", "1.5", "knowledge.min_score: must be a number from 0 to 1"),
        ("HARK_KNOWLEDGE_K", "0", "knowledge.k: must be a whole number from 1 to 20"),
        ("HARK_MEMORY_USER", " ", "memory.user: must be a user name"),
    ],
)
def test_knowledge_and_memory_settings_are_checked(variable, value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(environ={variable: value})


def test_the_flags_set_the_base_and_the_user(home, museum, capsys):
    assert main(["memory", "list", "--user", "sam"]) == 0
    assert "nothing remembered about 'sam'" in capsys.readouterr().err
    config = load_config(
        environ={}, flags={"knowledge.base": ("--kb", "museum"), "memory.user": ("--user", "sam")}
    )
    assert (config.knowledge.base, config.memory.user) == ("museum", "sam")
