"""The voice loop's turn-taking on scripted timelines with fast fakes (no models)."""

from __future__ import annotations

import itertools

from loop_fakes import (
    WORDS,
    AmplitudeVad,
    RealtimeSink,
    RecordingConversation,
    ScriptSource,
    ToneSpeaker,
    WordCountTranscriber,
)

from voice.endpointer import EndpointerConfig
from voice.loop import LoopConfig, TurnTaking, VoiceLoop
from voice.player import Player
from voice.sinks import NullSink

HANG = EndpointerConfig(start_s=0.09, hang_s=0.45, pre_roll_s=0.15)


def run_loop(script, sink=None, realtime=False, mode=TurnTaking.FULL_DUPLEX, stt=None, **config):
    events: list[dict] = []
    conversation = RecordingConversation()
    player = Player(sink or NullSink(), realtime=realtime)
    loop = VoiceLoop(
        ScriptSource(script),
        player,
        AmplitudeVad(),
        stt or WordCountTranscriber(),
        ToneSpeaker(),
        conversation,
        LoopConfig(endpointer=HANG, turn_taking=mode, **config),
        on_event=events.append,
    )
    summary = loop.run()
    player.close()
    return events, conversation, summary


def of(events, kind, **match):
    return [e for e in events if e["event"] == kind and all(e.get(k) == v for k, v in match.items())]


def test_each_utterance_is_one_turn_in_order_with_the_reply_started_during_the_hang():
    script = "." * 10 + "S" * 30 + "." * 30 + "S" * 50 + "." * 30
    events, conversation, summary = run_loop(script)
    finals = of(events, "transcript", final=True)
    # The fake transcriber hears one word per 0.15 s of speech: 0.9 s and 1.5 s of speech.
    assert [f["text"] for f in finals] == [" ".join(WORDS[:6]), " ".join(WORDS[:10])]
    assert len(of(events, "reply")) == 2 and summary.turns == 2
    metrics = of(events, "metrics")
    assert all(m["speculative"] for m in metrics)  # the reply began before the hang was over
    assert summary.speculative_hits == 2
    assert [h[0] for h in conversation.history] == [f["text"] for f in finals]


def test_a_pause_shorter_than_the_hang_drops_the_speculative_reply_without_trace():
    script = "." * 10 + "S" * 20 + "." * 10 + "S" * 20 + "." * 30  # 0.3 s pause < 0.45 s hang
    events, conversation, summary = run_loop(script)
    assert summary.speculative_misses >= 1
    assert len(of(events, "transcript", final=True)) == 1
    dropped = [t for t in conversation.turns if t.finished is None]
    assert dropped and all(t.closed for t in dropped)  # generation cancelled, never committed
    assert len(conversation.history) == 1
    assert conversation.history[0][0].split() == "what is the capital of france and why is".split()[:8]


def test_partials_grow_and_committed_text_never_shrinks():
    script = "." * 10 + "S" * 80 + "." * 30
    events, _, _ = run_loop(script, partial_interval_s=0.3)
    partials = of(events, "transcript", final=False)
    assert len(partials) >= 3
    committed = [p["committed"] for p in partials]
    for earlier, later in itertools.pairwise(committed):
        assert later.startswith(earlier)
    assert committed[-1]
    final = of(events, "transcript", final=True)[0]
    assert final["text"].startswith(committed[-1])
    # no partial is reported after the final transcript
    assert events.index(final) > events.index(partials[-1])


def test_half_duplex_ignores_speech_while_hark_speaks():
    # The reply (two chunks, ~1 s of audio) plays from ~1.4 s; speech at 1.6-2.2 s falls inside it.
    script = "." * 5 + "S" * 25 + "." * 23 + "S" * 20 + "." * 60
    events, _, _ = run_loop(script, sink=RealtimeSink(), realtime=True, mode=TurnTaking.HALF_DUPLEX)
    assert len(of(events, "transcript", final=True)) == 1
    assert not of(events, "barge_in")
    assert not of(events, "reply")[0]["interrupted"]


def test_barge_in_stops_the_reply_and_keeps_only_what_was_heard():
    script = "." * 5 + "S" * 25 + "." * 23 + "S" * 25 + "." * 60
    sink = RealtimeSink()
    events, conversation, _ = run_loop(
        script, sink=sink, realtime=True, mode=TurnTaking.BARGE_IN, barge_in_min_s=0.3
    )
    assert len(of(events, "barge_in")) == 1
    first_reply = of(events, "reply")[0]
    assert first_reply["interrupted"]
    full = conversation.reply.split()
    heard = first_reply["text"].split()
    assert heard == full[: len(heard)] and len(heard) < len(full)
    assert conversation.history[0][2] is True  # marked as interrupted
    assert len(of(events, "transcript", final=True)) == 2  # the interruption became the next turn


def test_a_short_noise_during_the_reply_is_not_a_barge_in():
    script = "." * 5 + "S" * 25 + "." * 25 + "SSSS" + "." * 60  # 0.12 s click while Hark speaks
    events, _, _ = run_loop(
        script, sink=RealtimeSink(), realtime=True, mode=TurnTaking.BARGE_IN, barge_in_min_s=0.3
    )
    assert not of(events, "barge_in")
    assert not of(events, "reply")[0]["interrupted"]


def test_a_slow_transcriber_still_gives_one_turn_per_utterance():
    script = "." * 10 + "S" * 30 + "." * 30 + "S" * 30 + "." * 30
    events, _, summary = run_loop(script, stt=WordCountTranscriber(delay_s=0.4))
    assert len(of(events, "transcript", final=True)) == 2
    assert summary.errors == 0


class WakeWordConversation(RecordingConversation):
    """Answers only utterances that start with "what is the capital" (a stand-in for a wake phrase)."""

    def begin_turn(self, transcript):
        if len(transcript.text.split()) < 6:
            return None
        return super().begin_turn(transcript)


def test_utterances_not_meant_for_the_assistant_are_ignored_and_announcements_are_spoken():
    script = "." * 10 + "S" * 12 + "." * 30 + "S" * 30 + "." * 40
    events: list[dict] = []
    conversation = WakeWordConversation()
    player = Player(NullSink(), realtime=False)
    loop = VoiceLoop(
        ScriptSource(script),
        player,
        AmplitudeVad(),
        WordCountTranscriber(),
        ToneSpeaker(),
        conversation,
        LoopConfig(endpointer=HANG, turn_taking=TurnTaking.FULL_DUPLEX),
        on_event=events.append,
    )
    loop.say("Hello, welcome!")
    loop.run()
    player.close()
    assert of(events, "announcement")[0]["text"] == "Hello, welcome!"
    ignored = of(events, "transcript", final=True, ignored=True)
    assert [e["text"] for e in ignored] == [" ".join(WORDS[:2])]
    assert len(of(events, "reply")) == 1 and len(conversation.history) == 1
