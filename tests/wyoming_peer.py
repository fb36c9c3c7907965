"""A Wyoming client for the tests, made of the `wyoming` package's own client and event classes: what Home
Assistant does, one request per call."""

from __future__ import annotations

import numpy as np
from dialogue_fakes import FakeBackend
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncClient
from wyoming.error import Error
from wyoming.event import Event
from wyoming.handle import Handled
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize

from dialogue.manager import DialogueManager
from dialogue.messages import Message
from hark.wyoming_server import WyomingServer, WyomingServices, service_info

READ_TIMEOUT_S = 60.0
MAX_UTTERANCE_S = 10.0


def turn_reply(messages: list[Message]) -> str:
    """Says what it was asked and how many questions this conversation has had: state is visible."""
    asked = [m.content for m in messages if m.role == "user"]
    return f"You asked {asked[-1]} That is question {len(asked)}."


def hark_server(transcriber, speaker) -> WyomingServer:
    """Hark's Wyoming server on a free port over the real models, a fake chat model answering `turn_reply`."""
    services = WyomingServices(
        transcriber=transcriber,
        speaker=speaker,
        new_manager=lambda: DialogueManager(FakeBackend(turn_reply)),
        info=service_info("tiny.en", "joe-medium", "Hark"),
        max_utterance_s=MAX_UTTERANCE_S,
    )
    return WyomingServer("tcp://127.0.0.1:0", services).start()


def client(uri: str) -> AsyncClient:
    return AsyncClient.from_uri(uri, connect_timeout=10, read_timeout=READ_TIMEOUT_S)


async def next_event(peer: AsyncClient) -> Event:
    event = await peer.read_event()
    assert event is not None, "the server closed the connection"
    return event


async def describe(peer: AsyncClient) -> Info:
    await peer.write_event(Describe().event())
    return Info.from_event(await next_event(peer))


async def send_audio(peer: AsyncClient, audio: np.ndarray, rate: int, chunk: int = 2048) -> None:
    await peer.write_event(AudioStart(rate=rate, width=2, channels=1).event())
    for at in range(0, audio.size, chunk):
        data = audio[at : at + chunk].astype(np.int16).tobytes()
        await peer.write_event(AudioChunk(rate=rate, width=2, channels=1, audio=data).event())
    await peer.write_event(AudioStop().event())


async def transcribe(peer: AsyncClient, audio: np.ndarray, rate: int) -> str:
    await peer.write_event(Transcribe(language="en").event())
    await send_audio(peer, audio, rate)
    event = await next_event(peer)
    assert Transcript.is_type(event.type), event
    return Transcript.from_event(event).text


async def synthesize(peer: AsyncClient, text: str) -> tuple[AudioStart, np.ndarray]:
    """The audio-start and the samples of the synthesized `text`."""
    await peer.write_event(Synthesize(text=text).event())
    start = AudioStart.from_event(await next_event(peer))
    chunks = []
    while not AudioStop.is_type((event := await next_event(peer)).type):
        chunks.append(np.frombuffer(AudioChunk.from_event(event).audio, dtype=np.int16))
    return start, np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)


async def handle(peer: AsyncClient, text: str, context: dict | None = None) -> Handled:
    await peer.write_event(Transcript(text=text, context=context).event())
    event = await next_event(peer)
    assert Handled.is_type(event.type), event
    return Handled.from_event(event)


async def error(peer: AsyncClient) -> Error:
    event = await next_event(peer)
    assert Error.is_type(event.type), event
    return Error.from_event(event)
