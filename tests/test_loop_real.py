"""The voice loop on real parts: a question spoken by Piper, WebRTC VAD, Whisper, Piper for the reply, a WAV
file as the speaker, on the real clock. The model is scripted (the dialogue has its own real-model tests)."""

from __future__ import annotations

import threading
import wave

import numpy as np
from audio_fixtures import conversation_wav
from loop_fakes import HungConversation, RecordingConversation

from hark.evaluation.wer import word_error_rate
from voice.clock import SYSTEM_CLOCK
from voice.endpointer import EndpointerConfig
from voice.loop import LoopConfig, TurnTaking, VoiceLoop
from voice.player import Player
from voice.ports import ProcessorChain
from voice.sinks import WavSink
from voice.sources import FileSource
from voice.vad import WebRtcVad

QUESTION = "What is the capital of France?"


class Reference:
    """Records the playback reference the player gives the processor chain."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int, float]] = []
        self.frames = 0

    def process(self, frame: np.ndarray, at_s: float) -> np.ndarray:
        self.frames += 1
        return frame

    def playback(self, audio: np.ndarray, sample_rate: int, at_s: float) -> None:
        self.calls.append((audio.size, sample_rate, at_s))


def build(tmp_path, transcriber, speaker, conversation, reference=None):
    wav, _ = conversation_wav(speaker, tmp_path / "question.wav", [QUESTION])
    player = Player(WavSink(tmp_path / "reply.wav"), realtime=False)
    events = []
    loop = VoiceLoop(
        FileSource(wav, paced=False),
        player,
        WebRtcVad(),
        transcriber,
        speaker,
        conversation,
        LoopConfig(endpointer=EndpointerConfig(), turn_taking=TurnTaking.FULL_DUPLEX),
        on_event=events.append,
        processors=ProcessorChain([reference] if reference else []),
    )
    return loop, player, events


def reply_samples(path) -> int:
    with wave.open(str(path)) as w:
        return w.getnframes()


def test_a_spoken_question_gets_a_spoken_reply_with_typed_events(tmp_path, transcriber, speaker):
    reference = Reference()
    conversation = RecordingConversation(reply="Paris is the capital of France.")
    loop, player, events = build(tmp_path, transcriber, speaker, conversation, reference)
    loop.run()
    player.close()
    player.sink.close()
    kinds = [e.event for e in events if e.event != "transcript" or e.final]
    assert kinds == ["speech_started", "speech_ended", "transcript", "reply_started", "reply", "metrics"]
    assert {e.turn_id for e in events} == {1}
    final = next(e for e in events if e.event == "transcript")
    assert word_error_rate(QUESTION, final.text) <= 0.2
    assert conversation.history == [(final.text, "Paris is the capital of France.", False)]
    assert reference.frames > 0 and reference.calls
    assert sum(size for size, _, _ in reference.calls) == reply_samples(tmp_path / "reply.wav")
    assert all(rate == speaker.sample_rate for _, rate, _ in reference.calls)


def test_a_reply_whose_model_never_answers_is_interrupted_and_cancelled(tmp_path, transcriber, speaker):
    conversation = HungConversation(clock=SYSTEM_CLOCK)
    loop, player, events = build(tmp_path, transcriber, speaker, conversation)

    def interrupt_inside_the_model_call() -> None:
        if conversation.entered.wait(120):
            loop.interrupt()

    helper = threading.Thread(target=interrupt_inside_the_model_call)
    helper.start()
    loop.run()
    helper.join()
    player.close()
    player.sink.close()
    (turn,) = conversation.turns
    assert turn.cancelled and turn.closed and turn.finished == ("", True)
    (reply,) = [e for e in events if e.event == "reply"]
    assert reply.interrupted and reply.text == ""
    assert reply_samples(tmp_path / "reply.wav") == 0  # nothing was ever played
