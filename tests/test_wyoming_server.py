"""Hark's Wyoming server through the `wyoming` package's client classes: the real Whisper and Piper models,
the dialogue manager over a fake chat model (and, once, the whole server from Hark's config over the
embedded model)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from audio_fixtures import spoken
from dialogue_fakes import FakeBackend
from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, async_read_event
from wyoming_peer import (
    client,
    describe,
    error,
    handle,
    hark_server,
    send_audio,
    synthesize,
    transcribe,
    turn_reply,
)

from dialogue.manager import DialogueManager
from dialogue.persona import load_persona
from hark.config import load_config
from hark.errors import UserError
from hark.report import Reporter
from hark.wyoming_server import Conversations, WyomingServer, parse_uri, start_wyoming
from voice import SAMPLE_RATE
from voice.decode import resample, to_float32

QUESTION = "What is the capital of France?"


@pytest.fixture(scope="module")
def server(transcriber, speaker):
    running = hark_server(transcriber, speaker)
    yield running
    running.stop()


def run(coroutine):
    return asyncio.run(coroutine)


def words(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalpha() or c == " ")


def test_describe_lists_asr_tts_and_handle(server):
    async def go():
        async with client(server.address) as peer:
            return await describe(peer)

    info = run(go())
    assert [p.name for p in info.asr] == ["hark-asr"] and info.asr[0].models[0].name == "tiny.en"
    assert [v.name for p in info.tts for v in p.voices] == ["joe-medium"]
    assert [p.name for p in info.handle] == ["hark"] and info.handle[0].models[0].languages == ["en"]


def test_transcribes_a_piper_recording_sent_at_its_own_rate(server, speaker):
    audio = speaker.synthesize_all(QUESTION)  # 22050 Hz: the server resamples

    async def go():
        async with client(server.address) as peer:
            return await transcribe(peer, audio, speaker.sample_rate)

    assert words(run(go())).strip() == words(QUESTION)


def test_synthesizes_speech_that_says_the_text(server, transcriber, speaker):
    async def go():
        async with client(server.address) as peer:
            return await synthesize(peer, "The museum opens in the morning.")

    start, audio = run(go())
    assert (start.rate, start.width, start.channels) == (speaker.sample_rate, 2, 1)
    heard = transcriber.transcribe(to_float32(resample(audio, start.rate, SAMPLE_RATE))).text
    assert "museum opens in the morning" in words(heard)


def test_handle_answers_with_the_dialogue_manager_and_keeps_each_conversation(server):
    async def go():
        async with client(server.address) as first, client(server.address) as second:
            one = await handle(first, "Where is the museum?")
            two = await handle(first, "When does it open?")
            fresh = await handle(second, "Hello?")
        ids = {"conversation_id": "kitchen-1"}
        async with client(server.address) as third:
            await handle(third, "First?", ids)
        async with client(server.address) as fourth:  # Home Assistant: a new connection per request
            again = await handle(fourth, "Second?", ids)
        return one, two, fresh, again

    one, two, fresh, again = run(go())
    assert one.text == "You asked Where is the museum? That is question 1."
    assert two.text == "You asked When does it open? That is question 2."
    assert fresh.text == "You asked Hello? That is question 1."  # a connection of its own
    assert again.text == "You asked Second? That is question 2." and again.context == {
        "conversation_id": "kitchen-1"
    }


def test_two_clients_at_once_each_get_their_own_answer(server, speaker):
    question = spoken(speaker, "Turn on the lights in the kitchen.")

    async def listen():
        async with client(server.address) as peer:
            return await transcribe(peer, question, SAMPLE_RATE)

    async def talk():
        async with client(server.address) as peer:
            return (await handle(peer, "Is it raining?")).text

    async def go():
        return await asyncio.gather(listen(), talk())

    heard, answer = run(go())
    assert "lights in the kitchen" in words(heard)
    assert answer == "You asked Is it raining? That is question 1."


def test_an_event_out_of_order_is_an_error_to_that_client_only(server):
    chunk = AudioChunk(rate=SAMPLE_RATE, width=2, channels=1, audio=bytes(960)).event()

    async def go():
        async with client(server.address) as wrong, client(server.address) as right:
            for event in (chunk, chunk, AudioStop().event()):  # one error; the rest of that stream is dropped
                await wrong.write_event(event)
            out_of_order = await error(wrong)
            await wrong.write_event(AudioStop().event())
            stop_first = await error(wrong)
            await wrong.write_event(AudioStart(rate=SAMPLE_RATE, width=2, channels=1).event())
            await wrong.write_event(Event(type="synthesize", data={"text": "Hi."}))
            mid_audio = await error(wrong)
            answer = await handle(right, "Still there?")
            for event in (chunk, AudioStop().event()):
                await wrong.write_event(event)
            still = await describe(wrong)  # the client that erred may go on
            return out_of_order, stop_first, mid_audio, answer, still

    out_of_order, stop_first, mid_audio, answer, still = run(go())
    assert out_of_order.code == "out-of-order" and "audio-chunk before audio-start" in out_of_order.text
    assert stop_first.code == "out-of-order" and "audio-stop before audio-start" in stop_first.text
    assert mid_audio.code == "out-of-order" and "synthesize while audio" in mid_audio.text
    assert answer.text == "You asked Still there? That is question 1." and still.handle


@pytest.mark.parametrize(
    ("start", "chunk", "message"),
    [
        (AudioStart(rate=96_000, width=2, channels=1), None, "unsupported audio: 96000 Hz"),
        (AudioStart(rate=16_000, width=4, channels=1), None, "32-bit"),
        (
            AudioStart(rate=16_000, width=2, channels=1),
            AudioChunk(rate=44_100, width=2, channels=1, audio=bytes(882)),
            "audio-chunk in 44100 Hz",
        ),
    ],
)
def test_a_wrong_sample_rate_or_format_is_a_clear_error(server, start, chunk, message):
    async def go():
        async with client(server.address) as peer:
            await peer.write_event(start.event())
            if chunk is not None:
                await peer.write_event(chunk.event())
            return await error(peer)

    failure = run(go())
    assert failure.code == "audio-format" and message in failure.text


def test_an_utterance_over_the_limit_is_refused(server):
    async def go():
        async with client(server.address) as peer:
            await send_audio(peer, np.zeros(11 * SAMPLE_RATE, dtype=np.int16), SAMPLE_RATE)
            failure = await error(peer)
            info = await describe(peer)  # the rest of that audio was dropped, the connection goes on
            return failure, info

    failure, info = run(go())
    assert failure.code == "too-long" and "10 s" in failure.text and info.asr


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"this is not json\n", "bad-event"),
        (b"[1, 2]\n", "bad-event"),
        (json.dumps({"type": "audio-chunk", "payload_length": 1 << 30}).encode() + b"\n", "too-large"),
    ],
)
def test_garbage_ends_only_that_connection_with_an_error(server, raw, code):
    async def go():
        _, host, port = parse_uri(server.address)
        reader, writer = await asyncio.open_connection(host, port)
        async with client(server.address) as good:
            writer.write(raw)
            failure = Error.from_event(await async_read_event(reader))
            closed = await async_read_event(reader)
            writer.close()
            return failure, closed, await handle(good, "Fine?")

    failure, closed, answer = run(go())
    assert failure.code == code and closed is None
    assert answer.text == "You asked Fine? That is question 1."


def test_a_client_that_leaves_mid_reply_cancels_its_turn_alone(server, transcriber, speaker):
    gate = threading.Event()  # never opened: the reply is still being generated when the client leaves
    held = FakeBackend("This reply is never finished.", gate=gate)
    services = dataclasses.replace(server.services, new_manager=lambda: DialogueManager(held))
    leaving = WyomingServer("tcp://127.0.0.1:0", services).start()

    async def go():
        async with client(leaving.address) as peer:
            await peer.write_event(Transcript(text="Tell me a long story.").event())
            await asyncio.to_thread(held.started.wait, 10)
        async with client(leaving.address) as other:  # the server goes on
            return await describe(other)

    try:
        info = run(go())
        deadline = time.monotonic() + 10
        while held.cancelled == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        leaving.stop()
    assert held.cancelled == 1 and info.handle


def test_an_address_that_is_not_tcp_or_unix_is_a_user_error():
    with pytest.raises(UserError, match="tcp://HOST:PORT"):
        parse_uri("http://127.0.0.1:10700")
    assert parse_uri("unix:///tmp/hark.sock") == ("unix", "/tmp/hark.sock", None)


def test_a_port_in_use_is_a_user_error(server):
    with pytest.raises(UserError, match="cannot listen"):
        WyomingServer(server.address, server.services).start()


def test_start_wyoming_builds_from_the_config_and_shares_the_models_it_is_given(transcriber, speaker):
    shared = FakeBackend(turn_reply)
    config = load_config(
        None, {}, {"dialogue.persona": ("--persona", "concierge"), "privacy.log": ("--no-log", False)}
    )
    running = start_wyoming(
        "tcp://127.0.0.1:0", config, Reporter(), transcriber=transcriber, speaker=speaker, backend=shared
    )

    async def go():
        async with client(running.address) as one, client(running.address) as two:
            return await describe(one), await handle(one, "Where?"), await handle(two, "When?")

    try:
        info, first, second = run(go())
    finally:
        running.stop()
    assert running.services.transcriber is transcriber and running.services.speaker is speaker
    assert info.handle[0].models[0].name == load_persona("concierge", None).name
    assert (first.text, second.text) == (
        "You asked Where? That is question 1.",
        "You asked When? That is question 1.",
    )
    assert len(shared.seen) == 2  # one chat model answered both conversations


@pytest.mark.integration
def test_the_standalone_server_answers_over_the_embedded_model(tmp_path):
    """`python -m hark.wyoming_server` with Hark's config: every part built by hark.assembly."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = tmp_path / "hark.toml"
    config.write_text('[llm]\nbackend = "embedded"\n\n[privacy]\nlog = false\n')
    uri = f"tcp://127.0.0.1:{port}"
    command = [sys.executable, "-m", "hark.wyoming_server", "--uri", uri, "--config", str(config)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def go():
        deadline = time.monotonic() + 120  # three models load first
        while True:
            try:
                async with client(uri) as peer:
                    return await describe(peer), await handle(peer, "Say hello.")
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                await asyncio.sleep(0.2)

    try:
        info, answer = run(go())
    finally:
        process.terminate()
        process.wait(10)
    assert info.asr and info.tts and info.handle[0].models[0].name == "Hark"
    assert answer.text and answer.text.strip()


def test_conversations_close_the_least_recently_used_past_the_limit():
    class Manager:
        def __init__(self) -> None:
            self.closed = threading.Event()

        def close(self) -> None:
            self.closed.set()

    conversations = Conversations(Manager, limit=2)
    a, b = conversations.get("a")[0], conversations.get("b")[0]
    assert conversations.get("a")[0] is a  # used again: now b is the oldest
    c = conversations.get("c")[0]
    assert b.closed.wait(5) and not a.closed.is_set() and not c.closed.is_set()
    conversations.drop("a")
    assert a.closed.wait(5)
    conversations.close()
    assert c.closed.is_set()
