"""The kiosk's conversation inside the real voice loop, on a scripted timeline with fast fakes on a virtual
clock (no models, no sleeps): two visitors separated by a silence longer than the idle timeout."""

from __future__ import annotations

import numpy as np
from dialogue_fakes import FakeBackend
from loop_fakes import AmplitudeVad, ScriptSource, ToneSpeaker

from dialogue.manager import DialogueManager
from dialogue.persona import Persona
from hark.config import KioskSettings
from hark.kiosk.conversation import ACKNOWLEDGEMENT, KioskConversation
from hark.kiosk.session import Sessions
from voice.clock import VirtualClock
from voice.endpointer import EndpointerConfig
from voice.loop import LoopConfig, TurnTaking, VoiceLoop
from voice.player import Player
from voice.sinks import NullSink
from voice.stt import Transcript

HANG = EndpointerConfig(start_s=0.09, hang_s=0.45, pre_roll_s=0.15)
GREETING = "Welcome to the museum!"


class ScriptedTranscriber:
    """Hears the next text of the script for each utterance (the loop decodes each utterance once here)."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = list(texts)

    def transcribe(self, audio: np.ndarray) -> Transcript:
        return Transcript(self.texts.pop(0), 0.9, 0.05)


def run_kiosk(script: str, texts: list[str], **kiosk) -> tuple[list[dict], FakeBackend]:
    clock = VirtualClock()
    events: list[dict] = []
    backend = FakeBackend(reply=lambda messages: f"Noted: {messages[-1].content}")
    persona = Persona(name="Ada", greeting=GREETING, system_prompt="You are Ada.")
    manager = DialogueManager(backend, persona=persona)

    def on_session(event: dict) -> None:
        if event["event"] == "session_end":
            manager.reset()  # as the kiosk service does
        events.append(event)

    sessions = Sessions(KioskSettings(**kiosk), on_event=on_session, clock=clock.now)
    conversation = KioskConversation(sessions, manager, on_event=events.append)

    def on_loop_event(event) -> None:  # as the kiosk service does
        conversation.on_loop_event(event)
        events.append(event.to_json())

    player = Player(NullSink(), realtime=False, clock=clock)
    loop = VoiceLoop(
        ScriptSource(script, clock),
        player,
        AmplitudeVad(),
        ScriptedTranscriber(texts),
        ToneSpeaker(),
        conversation,
        LoopConfig(
            endpointer=HANG, turn_taking=TurnTaking.FULL_DUPLEX, partial_interval_s=None, speculate=False
        ),
        on_event=on_loop_event,
        clock=clock,
    )
    loop.run()
    player.close()
    return events, backend


def of(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["event"] == kind]


def test_the_second_visitor_after_the_idle_timeout_sees_none_of_the_first_visitors_history():
    # 30 ms frames: A speaks, a short pause, A again, a long silence (3 s), B.
    script = "." * 10 + "S" * 20 + "." * 20 + "S" * 20 + "." * 100 + "S" * 20 + "." * 35
    texts = ["Hey Hark, my name is Zebulon.", "What is my name?", "Hey Hark, what is my name?"]
    events, backend = run_kiosk(
        script, texts, wake_phrases=("hey hark",), follow_up_s=2.0, idle_timeout_s=1.6
    )

    asked = [[m.content for m in messages if m.role != "system"] for messages in backend.seen]
    assert asked[0] == ["my name is Zebulon."]  # the wake phrase is not part of the question
    assert asked[1][0] == "my name is Zebulon." and asked[1][-1] == "What is my name?"  # same visitor
    assert asked[2] == ["what is my name?"]  # the next visitor: nothing of the first one
    assert not any("Zebulon" in m.content for m in backend.seen[2])

    sessions = [(e["event"], e["session"]) for e in events if e["event"].startswith("session_")]
    assert sessions == [("session_start", 1), ("session_end", 1), ("session_start", 2)]
    assert of(events, "session_end")[0]["reason"] == "idle" and of(events, "session_end")[0]["turns"] == 2
    turns = of(events, "turn")
    assert [(t["session"], t["via"], t["committed"]) for t in turns] == [
        (1, "wake_phrase", True),
        (1, "follow_up", True),
        (2, "wake_phrase", True),
    ]
    replies = [r["text"] for r in of(events, "reply")]
    assert replies[0].startswith(GREETING) and replies[2].startswith(GREETING)  # each visitor greeted once
    assert not replies[1].startswith(GREETING)


def test_speech_not_addressed_to_hark_is_ignored_and_the_wake_phrase_alone_is_greeted():
    script = "." * 10 + "S" * 20 + "." * 30 + "S" * 15 + "." * 30 + "S" * 15 + "." * 35
    texts = ["Nice weather today.", "Hey, Hart.", "Hey Hark."]
    events, backend = run_kiosk(script, texts, wake_phrases=("hey hark",), follow_up_s=0.2)

    ignored = [e for e in of(events, "transcript") if e.get("ignored")]
    assert [e["text"] for e in ignored] == ["Nice weather today."]
    assert backend.seen == []  # no model call for chatter or for the wake phrase alone
    replies = [r["text"] for r in of(events, "reply")]
    assert replies == [GREETING, ACKNOWLEDGEMENT]  # greeted once; then acknowledged
    assert [t["kind"] for t in of(events, "turn")] == ["greeting", "acknowledgement"]
