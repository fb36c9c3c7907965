"""The serve pieces whose logic needs no model: fair model access, the socket's source and sink, the
session settings."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from hark.config import HarkConfig, load_config
from hark.errors import UserError
from hark.serve.audio import SocketSink, SocketSource
from hark.serve.fair import BACKGROUND, URGENT, FairLock
from hark.serve.session import serving_config, session_persona
from voice.vad import FRAME_SAMPLES


def test_the_fair_lock_serves_urgent_calls_first_then_in_arrival_order():
    lock = FairLock()
    lock.acquire()
    order: list[str] = []

    def call(name: str, priority: int) -> None:
        lock.acquire(priority)
        order.append(name)
        lock.release()

    threads = []
    for name, priority in (("partial-1", BACKGROUND), ("final", URGENT), ("partial-2", BACKGROUND)):
        thread = threading.Thread(target=call, args=(name, priority))
        thread.start()
        threads.append(thread)
        while len(lock._waiting) < len(threads):  # each is queued before the next arrives
            time.sleep(0.001)
    lock.release()
    for thread in threads:
        thread.join(5)
    assert order == ["final", "partial-1", "partial-2"]


def test_the_source_cuts_received_audio_into_frames_and_reports_a_backlog():
    source = SocketSource(max_backlog_s=0.3)
    ramp = np.arange(FRAME_SAMPLES + 100, dtype="<i2")
    assert source.feed(ramp[:700].tobytes())
    assert source.feed(ramp[700:].tobytes())
    assert not source.feed(np.zeros(FRAME_SAMPLES * 12, "<i2").tobytes())  # 0.36 s waiting: too far behind
    source.close()
    frames = list(source.frames())
    assert len(frames) == 13 and all(f.size == FRAME_SAMPLES for f in frames)
    np.testing.assert_array_equal(frames[0], ramp[:FRAME_SAMPLES])


def test_the_sink_waits_while_the_browser_plays_and_flushes_a_cut_reply():
    sent: list[bytes] = []
    events: list[dict] = []
    sink = SocketSink(sent.append, events.append)
    audio = np.ones(2205, np.int16)  # 0.1 s at 22.05 kHz
    assert sink.play(audio, 22050, threading.Event()) == 2205
    stop = threading.Event()
    threading.Timer(0.05, stop.set).start()
    played = sink.play(np.ones(22050 * 5, np.int16), 22050, stop)
    assert 0 < played < 22050 * 5
    assert len(sent) == 2 and len(sent[0]) == 2205 * 2
    assert events == [{"event": "flush"}]


def test_sessions_barge_in_unless_configured_and_cap_the_utterance():
    config = serving_config(HarkConfig().replaced("serve.max_utterance_s", 10.0))
    assert config.audio.turn_taking == "barge-in"
    assert config.vad.max_utterance_s == 10.0
    chosen = load_config(None, {"HARK_AUDIO_TURN_TAKING": "half-duplex"}, {})
    assert serving_config(chosen).audio.turn_taking == "half-duplex"


def test_a_client_picks_a_persona_by_name_never_by_path():
    assert session_persona(None) is None
    assert session_persona("tutor") == "tutor"
    for bad in ("../../etc/passwd", "/tmp/x.toml", "a b", 42):
        with pytest.raises(UserError):
            session_persona(bad)
