"""End of turn and barge-in on scripted timelines (virtual clock, fast fakes): the decider ends turns at
pauses with the model answering on its own thread; speech over a reply pauses it until its words are
known (play on after "uh-huh" or a cough, stop at "stop", answer anything else)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from loop_fakes import (
    WORDS,
    AmplitudeVad,
    RealtimeSink,
    RecordingConversation,
    RecordingTurn,
    ScriptSource,
    ToneSpeaker,
    WordCountTranscriber,
)

from voice import events
from voice.clock import VirtualClock
from voice.endpointer import EndpointerConfig
from voice.loop import LoopConfig, TurnTaking, VoiceLoop
from voice.player import Player
from voice.sinks import NullSink
from voice.stt import Transcript
from voice.turn import TurnConfig
from voice.vad import FRAME_S, FRAME_SAMPLES

HANG = EndpointerConfig(start_s=0.09, hang_s=0.45, pre_roll_s=0.15)
TURN = TurnConfig(min_pause_s=0.15, max_wait_s=1.5, hang_s=0.45)
MODEL_S = 0.1
"""What one model call costs on the virtual clock (about its CPU cost on the target machine)."""


def speech_frames(audio: np.ndarray) -> int:
    return int(np.count_nonzero(np.abs(audio) > 0.01)) // FRAME_SAMPLES


class FakeTurnModel:
    """Says "finished" (0.9) once the audio holds at least `finished_after` speech frames, else 0.1;
    takes `MODEL_S` of virtual time, and records the speech it was asked about."""

    def __init__(self, clock: VirtualClock, finished_after: int = 0, fail: bool = False) -> None:
        self.clock = clock
        self.finished_after = finished_after
        self.fail = fail
        self.asked: list[int] = []

    def predict(self, audio: np.ndarray) -> float:
        self.clock.sleep(MODEL_S)
        if self.fail:
            raise RuntimeError("onnxruntime went away")
        self.asked.append(speech_frames(audio))
        return 0.9 if speech_frames(audio) >= self.finished_after else 0.1


class PhraseTranscriber(WordCountTranscriber):
    """Hears `phrases[n]` in audio with exactly n speech frames (a text, or a transcript with its near
    readings); otherwise one word per 0.15 s."""

    def __init__(self, clock: VirtualClock, phrases: dict[int, str | Transcript]) -> None:
        super().__init__(clock)
        self.phrases = phrases

    def transcribe(self, audio: np.ndarray) -> Transcript:
        heard = self.phrases.get(speech_frames(audio))
        if heard is None:
            return super().transcribe(audio)
        return Transcript(heard, 0.9, 0.1) if isinstance(heard, str) else heard

    quick_transcribe = transcribe


class BrokenCancelTurn(RecordingTurn):
    def cancel(self) -> None:
        raise AttributeError("'DialogueTurn' object has no attribute 'cancel'")


class BrokenCancelConversation(RecordingConversation):
    def begin_turn(self, transcript, turn_id):
        turn = BrokenCancelTurn(self, transcript.text, turn_id, self.reply)
        self.turns.append(turn)
        return turn


class Session:
    def __init__(
        self,
        script,
        model=None,
        transcriber=None,
        realtime=False,
        mode=TurnTaking.FULL_DUPLEX,
        conversation=None,
        at=None,
        processors=None,
    ):
        self.clock = VirtualClock()
        self.events: list[events.VoiceEvent] = []
        self.conversation = conversation or RecordingConversation()
        self.sink = RealtimeSink(self.clock) if realtime else NullSink()
        self.player = Player(self.sink, realtime=realtime, clock=self.clock)
        self.loop = VoiceLoop(
            ScriptSource(script, self.clock, {k: lambda do=do: do(self) for k, do in (at or {}).items()}),
            self.player,
            AmplitudeVad(),
            transcriber(self.clock) if transcriber else WordCountTranscriber(self.clock),
            ToneSpeaker(),
            self.conversation,
            LoopConfig(endpointer=HANG, turn_taking=mode, turn=TURN, barge_in_min_s=0.3),
            on_event=self.events.append,
            clock=self.clock,
            turn_model=model(self.clock) if model else None,
            processors=processors,
        )

    def run(self):
        self.loop.run()
        self.player.close()
        return self

    def of(self, kind, **match):
        return [
            e for e in self.events if e.event == kind and all(getattr(e, k) == v for k, v in match.items())
        ]


def finals(s: Session) -> list[str]:
    return [e.text for e in s.of("transcript", final=True)]


# 0.6 s of speech ("what is the capital"), a 0.75 s pause, 0.6 s more, then silence.
PAUSING = "." * 10 + "S" * 20 + "." * 25 + "S" * 20 + "." * 70


def test_a_pause_the_model_calls_unfinished_is_waited_through_and_the_whole_sentence_answered_once():
    s = Session(PAUSING, model=lambda c: FakeTurnModel(c, finished_after=40)).run()
    assert finals(s) == [" ".join(WORDS[:8])]
    assert len(s.of("reply")) == 1 and len(s.conversation.history) == 1
    (metrics,) = s.of("metrics")
    # released at the first check (0.15 s) plus one model call, well before the 0.45 s hang
    assert (
        TURN.min_pause_s + MODEL_S - FRAME_S <= metrics.endpoint_s <= TURN.min_pause_s + MODEL_S + 2 * FRAME_S
    )
    assert metrics.eos_to_first_audio_s == metrics.endpoint_s
    assert [e.reason for e in s.of("speech_ended")] == ["model 0.90"]


def test_a_turn_whose_cancel_fails_does_not_take_the_loop_down():
    # the speculative reply of the first pause is dropped (cancelled) when the speech resumes
    s = Session(
        PAUSING, model=lambda c: FakeTurnModel(c, finished_after=40), conversation=BrokenCancelConversation()
    ).run()
    assert len(s.conversation.turns) == 2  # one speculative, dropped; one answered
    assert finals(s) == [" ".join(WORDS[:8])] and len(s.of("reply")) == 1


def test_the_words_veto_a_finished_sounding_half_that_ends_on_an_article():
    # 0.45 s of speech is heard as "what is the": the model says finished everywhere, the text holds.
    script = "." * 10 + "S" * 15 + "." * 25 + "S" * 20 + "." * 70
    s = Session(script, model=lambda c: FakeTurnModel(c)).run()
    assert finals(s) == [" ".join(WORDS[:7])]
    assert len(s.conversation.history) == 1


def test_a_near_reading_that_ends_unfinished_holds_the_pause():
    # Whisper mends "where did I leave my" into "Where did I leave mine?", "my" close behind (recorded
    # on Piper's voice); the model says finished everywhere: the near reading alone keeps the turn open.
    half = Transcript("Where did I leave mine?", 0.8, 0.1, alternatives=("Where did I leave my?",))
    whole = "Where did I leave my car keys yesterday?"
    transcriber = lambda c: PhraseTranscriber(c, {20: half, 40: whole})  # noqa: E731
    s = Session(PAUSING, model=lambda c: FakeTurnModel(c), transcriber=transcriber).run()
    assert finals(s) == [whole]
    (ended,) = s.of("speech_ended")
    assert ended.reason == "model 0.90"


def test_an_unsure_half_in_a_short_pause_waits_for_a_second_opinion():
    # "Add eggs," then a 0.3 s pause: Whisper's "at x" (0.41) cannot confirm the model's "finished"
    script = "." * 10 + "S" * 20 + "." * 10 + "S" * 20 + "." * 70
    whole = "Add eggs, milk and two loaves of bread to my list."
    transcriber = lambda c: PhraseTranscriber(c, {20: Transcript("at x", 0.41, 0.2), 40: whole})  # noqa: E731
    s = Session(script, model=lambda c: FakeTurnModel(c), transcriber=transcriber).run()
    assert finals(s) == [whole]
    assert len(s.of("speech_ended")) == 1


def test_without_a_finished_answer_the_turn_ends_at_the_maximum_wait():
    s = Session("." * 10 + "S" * 30 + "." * 70, model=lambda c: FakeTurnModel(c, finished_after=999)).run()
    (metrics,) = s.of("metrics")
    assert abs(metrics.endpoint_s - TURN.max_wait_s) <= FRAME_S
    assert [e.reason for e in s.of("speech_ended")] == ["max wait"]
    assert len(s.of("reply")) == 1


def test_the_model_answers_off_the_capture_thread_so_frames_keep_their_times():
    model: list[FakeTurnModel] = []
    s = Session(PAUSING, model=lambda c: model.append(FakeTurnModel(c, finished_after=40)) or model[0]).run()
    assert len(model[0].asked) >= 2  # busy in both pauses ...
    (ended,) = s.of("speech_ended")
    # ... yet the last speech frame was captured at its stream time: the capture thread never waited
    assert abs(ended.at_s - ended.stream_s) <= FRAME_S


def test_a_failing_model_is_reported_once_and_the_hang_takes_over():
    s = Session("." * 10 + "S" * 30 + "." * 70, model=lambda c: FakeTurnModel(c, fail=True)).run()
    (error,) = s.of("error")
    assert error.kind == "turn_model"
    (metrics,) = s.of("metrics")
    assert abs(metrics.endpoint_s - TURN.hang_s) <= FRAME_S
    assert [e.reason for e in s.of("speech_ended")] == ["hang"]


def test_without_a_model_the_fixed_hang_ends_the_turn():
    s = Session("." * 10 + "S" * 30 + "." * 70).run()
    (metrics,) = s.of("metrics")
    assert abs(metrics.endpoint_s - HANG.hang_s) <= FRAME_S


# ---- barge-in: the reply (three 0.5 s chunks) plays from about 1.3 s; speech over it from 1.74 s --------

BARGE = "." * 5 + "S" * 30 + "." * 23 + "S" * 20 + "." * 80
FIRST = " ".join(WORDS[:6])


class EchoOnly:
    """An echo canceller that finds the microphone hears nothing louder than the speaker's echo whenever
    the speaker plays."""

    def __init__(self) -> None:
        self.now_s = 0.0
        self.playing_until_s = float("-inf")

    def process(self, frame: np.ndarray, at_s: float) -> np.ndarray:
        self.now_s = at_s
        return frame

    def playback(self, audio: np.ndarray, sample_rate: int, at_s: float) -> None:
        self.playing_until_s = max(self.playing_until_s, at_s + audio.size / sample_rate)

    def hears_only_echo(self) -> bool:
        return self.now_s < self.playing_until_s

    def heard_over_echo_s(self) -> float:
        return 0.0


def barge_in(heard: str | Transcript, script: str = BARGE, processors=None) -> Session:
    return over_reply(script, {speech_frames_of(script)[-1]: heard}, processors)


def over_reply(script: str, phrases: dict[int, str | Transcript], processors=None) -> Session:
    """A barge-in session in which Whisper hears `phrases` (see `PhraseTranscriber`)."""
    transcriber = lambda c: PhraseTranscriber(c, phrases)  # noqa: E731
    return Session(
        script, transcriber=transcriber, realtime=True, mode=TurnTaking.BARGE_IN, processors=processors
    ).run()


def speech_frames_of(script: str) -> list[int]:
    """How many speech frames each utterance of a script has."""
    return [len(run) for run in script.split(".") if run]


def test_a_backchannel_over_the_reply_pauses_it_then_plays_on_from_where_it_was():
    s = barge_in("Uh-huh.")
    assert len(s.of("barge_in")) == 1
    (reply,) = s.of("reply")
    assert not reply.interrupted and reply.text == s.conversation.reply
    assert finals(s) == [FIRST]  # the "uh-huh" is not a turn
    assert len(s.conversation.turns) == 1
    blocks = s.sink.blocks
    gaps = [b - a for a, b in itertools.pairwise(blocks)]
    assert max(gaps) > 0.3  # it held while the listener spoke ...
    assert s.sink.played % 8_000 == 0  # ... and every chunk was played to its end


def test_a_barge_in_with_no_words_resumes_the_reply():
    s = barge_in("")
    (reply,) = s.of("reply")
    assert not reply.interrupted and reply.text == s.conversation.reply
    assert len(s.conversation.turns) == 1
    # Its first pause long enough ended it: the reply did not wait for the end of a turn (up to 1.5 s).
    assert [e.reason for e in s.of("speech_ended")][-1] == "no words"
    gaps = [b - a for a, b in itertools.pairwise(s.sink.blocks)]
    # paused once 0.3 s of its 0.6 s was heard, it held for the rest and `no_words_wait_s` (0.4 s) more
    assert 0.3 + 0.4 <= max(gaps) < 0.3 + 0.4 + 0.15, gaps


WAIT_PAUSE_STOP = "." * 5 + "S" * 30 + "." * 23 + "S" * 14 + "." * 7 + "S" * 18 + "." * 80
"""A "Wait," over the reply (0.42 s) that Whisper hears as nothing, a breath (0.21 s), then "stop please"."""


def test_a_barge_in_heard_as_no_words_does_not_play_on_through_a_breath():
    wait_at_s = 58 * FRAME_S
    s = over_reply(WAIT_PAUSE_STOP, {14: "", 32: "Wait, stop please.", 18: "Stop, please."})
    (reply,) = s.of("reply")
    assert reply.interrupted and len(s.of("barge_in")) == 1
    assert max(s.sink.blocks) < wait_at_s + 0.42  # silent from the pause on: it never played on
    assert finals(s) == [FIRST]  # "stop" is not answered


def test_speech_no_louder_than_the_replys_echo_neither_pauses_it_nor_is_answered():
    # the canceller's leftovers of Hark's own voice, heard as sure words
    s = barge_in(Transcript("Thank you.", 0.9, 0.1), processors=EchoOnly())
    assert not s.of("barge_in") and len(s.of("echo_suspected")) == 1
    (reply,) = s.of("reply")
    assert not reply.interrupted and reply.text == s.conversation.reply
    assert len([t for t in s.conversation.turns if not t.cancelled]) == 1  # "Thank you." is not answered
    gaps = [b - a for a, b in itertools.pairwise(s.sink.blocks)]
    assert max(gaps) < 0.3, gaps  # it never paused


class EchoUntil(EchoOnly):
    """Finds the microphone hears only the speaker's echo until `until_s`; after it, nothing it can judge
    (the speaker went quiet between two sentences)."""

    def __init__(self, until_s: float) -> None:
        super().__init__()
        self.until_s = until_s

    def hears_only_echo(self) -> bool:
        return super().hears_only_echo() and self.now_s < self.until_s


def test_echo_held_back_is_not_a_barge_in_once_it_has_ended():
    speech_end_s = (5 + 30 + 23 + 20) * FRAME_S
    s = barge_in("", processors=EchoUntil(speech_end_s + 0.1))  # the turn is not over yet then
    assert not s.of("barge_in")
    (reply,) = s.of("reply")
    assert not reply.interrupted
    gaps = [b - a for a, b in itertools.pairwise(s.sink.blocks)]
    assert max(gaps) < 0.3, gaps  # it never paused


def test_sure_words_that_end_as_the_reply_pauses_are_taken_for_its_echo():
    # Hark's own "I'm sorry." leaking through the canceller at a reply's start: it stops with the reply
    s = barge_in(Transcript("I'm sorry.", 0.88, 0.1))
    assert len(s.of("barge_in")) == 1 and len(s.of("echo_suspected")) == 1
    (reply,) = s.of("reply")
    assert not reply.interrupted and finals(s) == [FIRST]


def test_words_whisper_is_unsure_of_over_the_reply_are_taken_for_its_echo():
    s = barge_in(Transcript("Thank you.", 0.41, 0.3))  # what a leaking echo is heard as
    assert len(s.of("barge_in")) == 1
    (suspected,) = s.of("echo_suspected")
    assert suspected.barged_in and suspected.text == "Thank you." and suspected.confidence == 0.41
    (reply,) = s.of("reply")
    assert not reply.interrupted and reply.text == s.conversation.reply
    assert finals(s) == [FIRST] and len(s.conversation.turns) == 1


LONG_OVER_REPLY = "." * 5 + "S" * 30 + "." * 23 + "S" * 40 + "." * 80
"""1.2 s of speech over the reply: it goes on long after the paused reply's echo would have died away."""


def test_unsure_words_a_person_went_on_saying_after_the_pause_stop_the_reply_unanswered():
    # "Wait, stop please" through the echo canceller, as Whisper heard it on the PulseAudio echo path
    s = barge_in(Transcript("point up, please.", 0.40, 0.3), LONG_OVER_REPLY)
    assert len(s.of("barge_in")) == 1 and not s.of("echo_suspected")
    (reply,) = s.of("reply")
    assert reply.interrupted
    assert finals(s) == [FIRST] and len(s.conversation.history) == 1  # the unsure words are not answered


def test_speech_without_words_that_went_on_after_the_pause_stops_the_reply_unanswered():
    # "Stop, stop talking." through the canceller, heard as no words at its end
    s = barge_in("", LONG_OVER_REPLY)
    (reply,) = s.of("reply")
    assert reply.interrupted and finals(s) == [FIRST] and len(s.conversation.history) == 1


SHORT_OVER_REPLY = "." * 5 + "S" * 30 + "." * 23 + "S" * 7 + "." * 80
"""Speech over the reply too short to be a barge-in (0.21 s against 0.3 s): it ends as the reply plays."""


@pytest.mark.parametrize("heard", ["", "Uh-huh.", Transcript("Welcome.", 0.49, 0.2)])
def test_a_short_overheard_sound_without_sure_words_is_not_answered(heard):
    s = barge_in(heard, SHORT_OVER_REPLY)
    assert not s.of("barge_in")
    suspected = s.of("echo_suspected")  # an acknowledgement is a word: never taken for the echo
    assert [e.barged_in for e in suspected] == ([] if heard == "Uh-huh." else [False])
    (reply,) = s.of("reply")  # no reprompt, no answer to Hark's own echo
    assert not reply.interrupted and finals(s) == [FIRST]


def test_a_noise_the_greeting_began_during_is_not_answered():
    """A click as the microphone opens, and the greeting starts before it has ended: it was heard while Hark
    spoke, and has no words, so there is no "Sorry, I didn't catch that" after the greeting."""
    script = "SSSS" + "." * 120
    s = Session(
        script,
        transcriber=lambda c: PhraseTranscriber(c, {4: ""}),
        realtime=True,
        mode=TurnTaking.BARGE_IN,
        at={2: lambda session: session.loop.say("Hi, I'm Hark.")},
    ).run()
    assert len(s.of("speech_started")) == 1
    assert [e.text for e in s.of("announcement")] == ["Hi, I'm Hark."]
    assert not s.of("reply")  # the greeting, and nothing else
    assert len(s.of("echo_suspected")) == 1


@pytest.mark.parametrize("script", [SHORT_OVER_REPLY, BARGE])
def test_an_unsure_wait_stops_the_reply(script):
    # a person's "Wait." through the canceller, as Whisper heard it on the PulseAudio echo path
    s = barge_in(Transcript("Wait.", 0.51, 0.2), script)
    (reply,) = s.of("reply")
    assert reply.interrupted and finals(s) == [FIRST] and not s.of("echo_suspected")


STOP_BREATH_STOP = "." * 5 + "S" * 30 + "." * 23 + "S" * 8 + "." * 10 + "S" * 14 + "." * 80
"""A "Stop," over the reply too short to pause it (0.24 s), a breath (0.3 s), then "stop talking"."""


def test_a_stop_stops_the_reply_as_soon_as_it_is_heard():
    stop_at_s = 58 * FRAME_S
    s = over_reply(STOP_BREATH_STOP, {8: "Stop.", 22: "Stop, stop talking."})
    (reply,) = s.of("reply")
    assert reply.interrupted and len(s.of("barge_in")) == 1
    assert max(s.sink.blocks) < stop_at_s + 0.24 + 0.1  # stopped in the breath, not at "stop talking"
    assert finals(s) == [FIRST]


class HiddenOnset(EchoOnly):
    """An echo canceller that hears a person over the echo from frame `from_frame` until `until_frame`,
    never only the echo."""

    def __init__(self, from_frame: int, until_frame: int) -> None:
        super().__init__()
        self.frame = -1
        self.span = range(from_frame, until_frame)

    def process(self, frame: np.ndarray, at_s: float) -> np.ndarray:
        self.frame += 1
        return super().process(frame, at_s)

    def hears_only_echo(self) -> bool:
        return False

    def heard_over_echo_s(self) -> float:
        return (self.frame - self.span.start + 1) * FRAME_S if self.frame in self.span else 0.0


def test_speech_whose_onset_the_echo_hid_from_the_vad_counts_from_its_onset():
    """The VAD hears 0.24 s of it; the canceller heard it over the echo 0.09 s before: 0.33 s pauses the
    reply (on the barge-in benchmark the "S" of "Stop" went unheard by the VAD under the echo)."""
    script = "." * 5 + "S" * 30 + "." * 23 + "S" * 8 + "." * 80
    s = over_reply(script, {8: ""}, processors=HiddenOnset(55, 66))
    (barge,) = s.of("barge_in")
    assert barge.speech_s == pytest.approx(0.3, abs=0.031)
    over = s.of("speech_started")[-1]
    assert over.stream_s == pytest.approx(55 * FRAME_S, abs=1e-6)
    (reply,) = s.of("reply")
    assert not reply.interrupted  # no words: it played on


def test_a_stop_too_short_to_pause_the_reply_still_stops_it():
    s = barge_in("Stop.", SHORT_OVER_REPLY)
    (barge,) = s.of("barge_in")  # reported like a longer one (the PulseAudio echo test waits for it)
    assert barge.turn_id == s.of("reply_started")[-1].turn_id and 0 < barge.speech_s < 0.3
    (reply,) = s.of("reply")
    assert reply.interrupted and finals(s) == [FIRST]  # stopped, and "stop" is not answered


def test_short_sure_words_over_the_reply_are_the_next_turn():
    s = barge_in("Thanks!", SHORT_OVER_REPLY)
    assert finals(s) == [FIRST, "Thanks!"]
    assert not s.of("echo_suspected")
    assert len(s.of("reply")) == 2


def test_short_sure_words_the_canceller_finds_no_louder_than_the_echo_are_not_answered():
    s = barge_in(Transcript("Thank you.", 0.9, 0.1), SHORT_OVER_REPLY, processors=EchoOnly())
    assert finals(s) == [FIRST] and len(s.of("echo_suspected")) == 1
    (reply,) = s.of("reply")
    assert not reply.interrupted


def test_stop_stops_the_reply_and_is_not_answered():
    s = barge_in("Stop.")
    (reply,) = s.of("reply")
    assert reply.interrupted
    heard = reply.text.split()
    assert heard == s.conversation.reply.split()[: len(heard)] and len(heard) < len(
        s.conversation.reply.split()
    )
    assert len(s.conversation.history) == 1 and finals(s) == [FIRST]  # "stop" left no turn behind


def test_words_over_the_reply_stop_it_and_become_the_next_turn():
    s = barge_in("What about Berlin?", LONG_OVER_REPLY)
    first, second = s.of("reply")
    assert first.interrupted and not second.interrupted
    assert finals(s) == [FIRST, "What about Berlin?"]
