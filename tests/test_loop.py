"""The voice loop's turn-taking on scripted timelines with fast fakes on a virtual clock (no models)."""

from __future__ import annotations

import itertools

import numpy as np
from loop_fakes import (
    WORDS,
    AmplitudeVad,
    HungConversation,
    RealtimeSink,
    RecordingConversation,
    ScriptSource,
    ToneSpeaker,
    WordCountTranscriber,
)

from voice import events
from voice.clock import VirtualClock
from voice.endpointer import EndpointerConfig
from voice.loop import STOP_CHECK_S, STOP_GRACE_S, LoopConfig, TurnTaking, VoiceLoop
from voice.player import Player
from voice.ports import ProcessorChain
from voice.sinks import NullSink
from voice.vad import FRAME_S

HANG = EndpointerConfig(start_s=0.09, hang_s=0.45, pre_roll_s=0.15)
DEADLINE_S = 0.25
"""An interrupted reply is silent this soon (virtual time)."""


class Session:
    """One scripted session: a loop on a virtual clock, with fakes, recording every event."""

    def __init__(
        self,
        script,
        realtime=False,
        mode=TurnTaking.FULL_DUPLEX,
        conversation=None,
        delay_s=0.0,
        at=None,
        processors=None,
        clock=None,
        speaker=None,
        **config,
    ):
        self.clock = clock or VirtualClock()
        self.events: list[events.VoiceEvent] = []
        self.conversation = conversation or RecordingConversation()
        self.sink = RealtimeSink(self.clock) if realtime else NullSink()
        self.player = Player(self.sink, realtime=realtime, clock=self.clock)
        self.loop = VoiceLoop(
            ScriptSource(script, self.clock, at),
            self.player,
            AmplitudeVad(),
            WordCountTranscriber(self.clock, delay_s),
            speaker or ToneSpeaker(),
            self.conversation,
            LoopConfig(endpointer=HANG, turn_taking=mode, **config),
            on_event=self.events.append,
            processors=processors,
            clock=self.clock,
        )

    def run(self):
        summary = self.loop.run()
        self.player.close()
        return summary

    def of(self, kind, **match):
        return [
            e for e in self.events if e.event == kind and all(getattr(e, k) == v for k, v in match.items())
        ]


def run_loop(script, **kwargs):
    session = Session(script, **kwargs)
    summary = session.run()
    return session, summary


def test_each_utterance_is_one_turn_in_order_with_the_reply_started_during_the_hang():
    script = "." * 10 + "S" * 30 + "." * 30 + "S" * 50 + "." * 30
    s, summary = run_loop(script)
    finals = s.of("transcript", final=True)
    # The fake transcriber hears one word per 0.15 s of speech: 0.9 s and 1.5 s of speech.
    assert [f.text for f in finals] == [" ".join(WORDS[:6]), " ".join(WORDS[:10])]
    assert len(s.of("reply")) == 2 and summary.turns == 2
    metrics = s.of("metrics")
    assert all(m.speculative for m in metrics)  # the reply began before the hang was over
    assert summary.speculative_hits == 2
    assert [h[0] for h in s.conversation.history] == [f.text for f in finals]


def test_the_end_of_speech_to_first_audio_is_the_hang_on_the_virtual_clock():
    script = "." * 10 + "S" * 30 + "." * 30
    s, _ = run_loop(script)
    (metrics,) = s.of("metrics")
    # the fakes take no time, so all that separates the last word from the first audio is the hang
    hang_frames = round(HANG.hang_s / FRAME_S)
    assert metrics.endpoint_s == metrics.eos_to_first_audio_s
    assert abs(metrics.endpoint_s - hang_frames * FRAME_S) <= FRAME_S
    assert metrics.stt_s == 0.0 and metrics.llm_first_token_s == 0.0


def test_a_pause_shorter_than_the_hang_drops_the_speculative_reply_without_trace():
    script = "." * 10 + "S" * 20 + "." * 10 + "S" * 20 + "." * 30  # 0.3 s pause < 0.45 s hang
    s, summary = run_loop(script)
    assert summary.speculative_misses >= 1
    assert len(s.of("transcript", final=True)) == 1
    dropped = [t for t in s.conversation.turns if t.finished is None]
    assert dropped and all(t.closed and t.cancelled for t in dropped)  # generation abandoned
    assert len(s.conversation.history) == 1
    assert s.conversation.history[0][0].split() == "what is the capital of france and why is".split()[:8]


def test_partials_grow_and_committed_text_never_shrinks():
    script = "." * 10 + "S" * 80 + "." * 30
    s, _ = run_loop(script, partial_interval_s=0.3)
    partials = s.of("transcript", final=False)
    assert len(partials) >= 3
    committed = [p.committed for p in partials]
    for earlier, later in itertools.pairwise(committed):
        assert later.startswith(earlier)
    assert committed[-1]
    final = s.of("transcript", final=True)[0]
    assert final.text.startswith(committed[-1])
    assert s.events.index(final) > s.events.index(partials[-1])  # no partial after the final transcript


def test_every_event_carries_its_turn_id_and_a_turn_reports_in_order():
    script = "." * 10 + "S" * 30 + "." * 30 + "S" * 30 + "." * 30
    s, _ = run_loop(script)
    ids = sorted({e.turn_id for e in s.events})
    assert ids == [1, 2]
    for turn_id in ids:
        kinds = [e.event for e in s.events if e.turn_id == turn_id and e.event != "transcript"]
        finals = [e for e in s.events if e.turn_id == turn_id and e.event == "transcript" and e.final]
        assert kinds == ["speech_started", "speech_ended", "reply_started", "reply", "metrics"]
        order = [s.events.index(e) for e in (finals[0], *s.of("reply_started", turn_id=turn_id))]
        assert order == sorted(order)  # the final transcript before the reply starts
    assert [t.turn_id for t in s.conversation.turns] == [1, 2]
    line = s.of("metrics")[0].to_json()
    assert line["event"] == "metrics" and line["turn_id"] == 1 and "eos_to_first_audio_s" in line


def test_half_duplex_ignores_speech_while_hark_speaks():
    # The reply (two chunks, 1 s of audio) plays from 1.35 s; speech at 1.59-2.19 s falls inside it.
    script = "." * 5 + "S" * 25 + "." * 23 + "S" * 20 + "." * 60
    s, _ = run_loop(script, realtime=True, mode=TurnTaking.HALF_DUPLEX)
    assert s.sink.blocks[0] < 53 * FRAME_S < 73 * FRAME_S < s.sink.blocks[-1]  # speech inside the reply
    assert len(s.of("transcript", final=True)) == 1
    assert not s.of("barge_in")
    assert not s.of("reply")[0].interrupted
    started, ended = s.of("speech_started"), s.of("speech_ended")
    assert [e.turn_id for e in started] == [e.turn_id for e in ended]  # a cut-off utterance ends too


def test_barge_in_stops_the_reply_and_keeps_only_what_was_heard():
    # the speech over the reply goes on well after the reply paused: a person's, not the reply's echo
    script = "." * 5 + "S" * 25 + "." * 23 + "S" * 40 + "." * 60
    s, _ = run_loop(script, realtime=True, mode=TurnTaking.BARGE_IN, barge_in_min_s=0.3)
    (barge_in,) = s.of("barge_in")
    assert barge_in.turn_id == 1  # the reply it stopped
    first_reply = s.of("reply")[0]
    assert first_reply.interrupted
    full = s.conversation.reply.split()
    heard = first_reply.text.split()
    assert heard == full[: len(heard)] and len(heard) < len(full)
    assert s.conversation.history[0][2] is True  # marked as interrupted
    assert len(s.of("transcript", final=True)) == 2  # the interruption became the next turn


def test_a_short_noise_during_the_reply_is_not_a_barge_in():
    script = "." * 5 + "S" * 25 + "." * 25 + "SSSS" + "." * 60  # 0.12 s click while Hark speaks
    s, _ = run_loop(script, realtime=True, mode=TurnTaking.BARGE_IN, barge_in_min_s=0.3)
    assert not s.of("barge_in")
    assert not s.of("reply")[0].interrupted


def test_a_slow_transcriber_still_gives_one_turn_per_utterance():
    script = "." * 10 + "S" * 30 + "." * 30 + "S" * 30 + "." * 30
    s, summary = run_loop(script, delay_s=0.4)
    assert len(s.of("transcript", final=True)) == 2
    assert summary.errors == 0


class WakeWordConversation(RecordingConversation):
    """Answers only utterances that start with "what is the capital" (a stand-in for a wake phrase)."""

    def begin_turn(self, transcript, turn_id):
        if len(transcript.text.split()) < 6:
            return None
        return super().begin_turn(transcript, turn_id)


def test_utterances_not_meant_for_the_assistant_are_ignored_and_announcements_are_spoken():
    script = "." * 10 + "S" * 12 + "." * 30 + "S" * 30 + "." * 40
    s = Session(script, conversation=WakeWordConversation())
    s.loop.say("Hello, welcome!")
    s.run()
    (announcement,) = s.of("announcement")
    assert announcement.text == "Hello, welcome!" and announcement.turn_id == 1
    ignored = s.of("transcript", final=True, ignored=True)
    assert [e.text for e in ignored] == [" ".join(WORDS[:2])]
    assert ignored[0].to_json() == {
        "event": "transcript",
        "turn_id": 2,
        "final": True,
        "text": " ".join(WORDS[:2]),
        "ignored": True,
    }
    assert len(s.of("reply")) == 1 and len(s.conversation.history) == 1


def interrupt(session: Session, at: list[float]) -> None:
    at.append(session.clock.now())
    session.loop.interrupt()


# The reply's speech ends at frame 40; the hang (15 frames) confirms it at frame 55.
HUNG_SCRIPT = "." * 10 + "S" * 30 + "." * 60


def test_an_interrupt_while_the_model_has_not_answered_is_silent_and_cancels_the_turn():
    conversation = HungConversation()
    interrupts: list[float] = []
    s = Session(
        HUNG_SCRIPT, realtime=True, conversation=conversation, at={70: lambda: interrupt(s, interrupts)}
    )
    conversation.clock = s.clock
    s.run()
    (turn,) = s.conversation.turns
    assert turn.cancelled and turn.closed  # the model call was abandoned
    (interrupted_at,) = interrupts
    assert turn.cancelled_at == interrupted_at and turn.finished_at - interrupted_at <= DEADLINE_S
    assert s.sink.played == 0  # nothing was ever heard
    (reply,) = s.of("reply")
    assert reply.interrupted and reply.text == ""
    assert turn.finished == ("", True)
    final = s.of("transcript", final=True)[0]
    assert s.events.index(final) < s.events.index(reply) < s.events.index(s.of("metrics")[0])


def test_stop_returns_while_a_model_call_hangs_and_ignores_cancel():
    conversation = HungConversation(deaf_to_cancel=True)
    stops: list[float] = []
    s = Session(
        HUNG_SCRIPT, conversation=conversation, at={70: lambda: stops.append(s.clock.now()) or s.loop.stop()}
    )
    conversation.clock = s.clock
    s.run()  # returns: the hung pump thread is left behind, not joined
    assert s.clock.now() - stops[0] <= STOP_GRACE_S
    (turn,) = conversation.turns
    assert turn.cancelled and not turn.closed  # asked to stop; the fake model never did
    assert not s.of("reply") or s.of("reply")[0].interrupted


class StuckConversation(RecordingConversation):
    """`begin_turn` itself never returns (a model call made before the reply streams)."""

    clock: VirtualClock

    def begin_turn(self, transcript, turn_id):
        self.clock.signal().wait()
        raise AssertionError("unreachable")


def test_stop_returns_while_the_reply_thread_is_stuck_in_begin_turn():
    conversation = StuckConversation()
    stops: list[float] = []
    s = Session(
        HUNG_SCRIPT, conversation=conversation, at={70: lambda: stops.append(s.clock.now()) or s.loop.stop()}
    )
    conversation.clock = s.clock
    summary = s.run()
    assert s.clock.now() - stops[0] <= STOP_CHECK_S + STOP_GRACE_S + 1e-9
    assert summary.turns == 0 and not s.of("reply")


def test_an_interrupt_while_the_reply_plays_is_silent_within_the_deadline():
    # The reply starts playing at frame 55 (1.65 s); interrupt at frame 60.
    interrupts: list[float] = []
    s = Session(HUNG_SCRIPT, realtime=True, at={60: lambda: interrupt(s, interrupts)})
    s.run()
    (interrupted_at,) = interrupts
    assert s.sink.blocks[0] < interrupted_at
    assert s.sink.stopped_at - interrupted_at <= DEADLINE_S
    assert all(start < interrupted_at + DEADLINE_S for start in s.sink.blocks)
    (reply,) = s.of("reply")
    assert reply.interrupted and s.conversation.turns[0].cancelled


class Recorder:
    """A frame processor that silences every frame (so VAD hears nothing) and records what it saw."""

    def __init__(self):
        self.frames: list[tuple[float, int]] = []
        self.playback_calls: list[tuple[int, int, float]] = []

    def process(self, frame, at_s):
        self.frames.append((at_s, int(np.abs(frame).max())))
        return np.zeros_like(frame)

    def playback(self, audio, sample_rate, at_s):
        self.playback_calls.append((audio.size, sample_rate, at_s))


def test_the_processor_chain_cleans_frames_before_vad():
    recorder = Recorder()
    s, summary = run_loop("." * 5 + "S" * 30 + "." * 30, processors=ProcessorChain([recorder]))
    assert len(recorder.frames) == 65
    assert max(level for _, level in recorder.frames) > 0  # it saw the speech ...
    assert summary.utterances == 0 and not s.of("speech_started")  # ... and the VAD saw only its output
    times = [at for at, _ in recorder.frames]
    assert all(b - a == FRAME_S or abs(b - a - FRAME_S) < 1e-9 for a, b in itertools.pairwise(times))


class Listener(Recorder):
    def process(self, frame, at_s):
        self.frames.append((at_s, int(np.abs(frame).max())))
        return frame


def test_the_processor_chain_hears_what_the_speaker_plays_and_when():
    listener = Listener()
    s, _ = run_loop(
        "." * 5 + "S" * 30 + "." * 60, realtime=True, processors=ProcessorChain([listener, Listener()])
    )
    assert [(size, rate) for size, rate, _ in listener.playback_calls] == [(8_000, 16_000)] * 2
    starts = [at for _, _, at in listener.playback_calls]
    assert starts[0] == s.sink.blocks[0]  # the time the first chunk reached the speaker
    assert starts[1] == s.sink.blocks[25]  # the second one after 25 blocks of 20 ms


def test_an_utterance_cut_off_by_the_end_of_the_source_ends_without_a_reply():
    s, summary = run_loop("." * 10 + "S" * 20)
    (started,) = s.of("speech_started")
    (ended,) = s.of("speech_ended")
    assert started.turn_id == ended.turn_id == 1 and ended.stream_s > started.stream_s
    assert not s.of("transcript", final=True) and not s.of("reply") and summary.turns == 0
    assert all(t.cancelled and t.finished is None for t in s.conversation.turns)


def test_without_partials_no_partial_transcript_is_reported():
    script = "." * 10 + "S" * 40 + "." * 30
    s, _ = run_loop(script, partial_interval_s=None)
    assert s.of("transcript", final=False) == [] and len(s.of("transcript", final=True)) == 1


class _SlowSpeaker(ToneSpeaker):
    """Synthesis takes 0.2 s of virtual time; records when each chunk was synthesised."""

    def __init__(self, clock):
        self.clock = clock
        self.spans: list[tuple[float, float]] = []

    def synthesize(self, text: str):
        start = self.clock.now()
        self.clock.sleep(0.2)
        self.spans.append((start, self.clock.now()))
        yield from super().synthesize(text)


class _PullTimesConversation(RecordingConversation):
    """Records the virtual time at which each piece of the reply was written by the model."""

    def __init__(self, clock):
        super().__init__()
        self.clock = clock
        self.pulled: list[float] = []

    def begin_turn(self, transcript, turn_id):
        turn = super().begin_turn(transcript, turn_id)
        words = turn.reply.split(" ")

        def pieces():
            for word in words:
                self.clock.sleep(0.02)  # a model writing 50 tokens a second
                self.pulled.append(self.clock.now())
                yield word + " "

        turn.pieces = pieces
        return turn


def test_the_model_is_not_read_while_the_first_chunk_is_synthesised():
    clock = VirtualClock()
    speaker, conversation = _SlowSpeaker(clock), _PullTimesConversation(clock)
    session = Session("." * 10 + "S" * 30 + "." * 30, clock=clock, speaker=speaker, conversation=conversation)
    session.run()
    assert len(session.of("reply")) == 1
    assert len(conversation.pulled) == len(conversation.reply.split(" "))  # the whole reply was read
    (first_start, first_end), *rest = speaker.spans
    assert rest, "the reply has more than one chunk"
    during = [t for t in conversation.pulled if first_start < t < first_end]
    assert len(during) <= 1  # the piece being written when the chunk was complete (10 without pausing)
    assert [t for t in conversation.pulled if t >= first_end]  # and reading resumed after it
