"""How Hark assembles echo cancellation and the wake word: when each is on, and what turn-taking follows."""

from __future__ import annotations

import io

import pytest
from loop_fakes import (
    AmplitudeVad,
    RealtimeSink,
    RecordingConversation,
    ScriptSource,
    ToneSpeaker,
    WordCountTranscriber,
)

import voice.processors.echo as echo_module
from hark import assembly
from hark.config import load_config
from hark.report import Reporter
from voice.clock import VirtualClock
from voice.events import Metrics
from voice.loop import TurnTaking
from voice.processors.echo import EchoCanceller, EchoCancellerUnavailable
from voice.processors.wake import WakeWordDetector


def config(**values):
    return load_config(None, {}, {key: (key, value) for key, value in values.items()})


def quiet() -> tuple[Reporter, io.StringIO]:
    err = io.StringIO()
    return Reporter(out=io.StringIO(), err=err), err


def test_echo_cancelling_runs_by_default_whenever_hark_plays_through_a_speaker():
    reporter, _ = quiet()
    processors = assembly.build_processors(config(), True, reporter, mic_latency_s=0.04)
    assert isinstance(processors.echo, EchoCanceller) and processors.chain == (processors.echo,)
    assert processors.echo.config.device_delay_s == 0.04
    assert assembly.build_processors(config(), False, reporter).chain == ()  # replies to a file
    assert assembly.build_processors(config(**{"audio.aec": False}), True, reporter).chain == ()  # --no-aec


@pytest.mark.parametrize(
    ("setting", "echo", "realtime", "mode"),
    [
        ("auto", True, True, TurnTaking.BARGE_IN),
        ("auto", False, True, TurnTaking.HALF_DUPLEX),
        ("half-duplex", True, True, TurnTaking.HALF_DUPLEX),
        ("barge-in", False, True, TurnTaking.BARGE_IN),
        ("auto", True, False, TurnTaking.FULL_DUPLEX),
    ],
)
def test_auto_turn_taking_is_barge_in_only_with_echo_cancelling(setting, echo, realtime, mode):
    loop = assembly.loop_config(config(**{"audio.turn_taking": setting}), realtime, echo)
    assert loop.turn_taking is mode


def test_without_the_binding_hark_says_so_once_and_stays_half_duplex(monkeypatch):
    def unavailable(_config):
        raise EchoCancellerUnavailable("echo cancellation is unavailable: no binding")

    monkeypatch.setattr(echo_module, "_load_processor", unavailable)
    reporter, err = quiet()
    processors = assembly.build_processors(config(**{"audio.aec": True}), True, reporter)
    assert processors.echo is None and processors.chain == ()
    assert err.getvalue().count("echo cancellation is unavailable") == 1
    assert (
        assembly.loop_config(config(), True, processors.echo is not None).turn_taking
        is TurnTaking.HALF_DUPLEX
    )


def test_the_wake_word_listens_on_both_sides_of_the_canceller():
    reporter, _ = quiet()
    woken = []
    both = assembly.build_processors(
        config(**{"audio.aec": True}),
        True,
        reporter,
        wake_word="hey_jarvis",
        on_wake=lambda n, t: woken.append(n),
    )
    before, echo, after = both.chain
    assert isinstance(before, WakeWordDetector) and echo is both.echo and isinstance(after, WakeWordDetector)
    alone = assembly.build_processors(config(), False, reporter, wake_word="hey_jarvis", on_wake=print)
    assert len(alone.chain) == 1 and isinstance(alone.chain[0], WakeWordDetector)


def test_metrics_carry_the_erle_when_echo_is_cancelled():
    class Canceller:
        erle_db = 27.345

    seen = []
    metrics = Metrics(1, 0.5, 0.1, 0.1, 0.2, 0.1, speculative=True, utterance_s=1.0)
    assembly.with_erle(seen.append, Canceller())(metrics)
    assembly.with_erle(seen.append, None)(metrics)
    assert [m.to_json()["erle_db"] for m in seen] == [27.3, None]


class BufferedSink(RealtimeSink):
    """A speaker-like sink whose buffer the assembly may set (as on `SpeakerSink`)."""

    def __init__(self, clock) -> None:
        super().__init__(clock)
        self.buffer_s: float | None = None


@pytest.mark.parametrize(
    ("turn_taking", "buffer_s"),
    [("barge-in", assembly.LIVE_MICROPHONE_BUFFER_S), ("half-duplex", None)],
)
def test_the_speaker_buffers_more_while_the_microphone_stays_live(turn_taking, buffer_s):
    clock = VirtualClock()
    sink = BufferedSink(clock)
    settings = config(**{"audio.turn_taking": turn_taking, "turn.model": "off"})
    _loop, player = assembly.build_loop(
        settings,
        ScriptSource("", clock),
        sink,
        WordCountTranscriber(clock),
        ToneSpeaker(),
        RecordingConversation(),
        lambda _event: None,
        realtime=True,
        vad=AmplitudeVad(),
    )
    player.close()
    assert sink.buffer_s == buffer_s
