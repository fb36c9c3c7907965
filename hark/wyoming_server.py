"""Hark as a Wyoming server, so Home Assistant (or any Wyoming client) can use it as its speech-to-text
(`asr`), text-to-speech (`tts`) and conversation agent (`handle`).

One connection is one sequence of requests, each answered in the protocol's event flow:
  describe                                        → info (asr, tts and handle)
  [transcribe] audio-start audio-chunk… audio-stop → transcript
  synthesize                                      → audio-start audio-chunk… audio-stop
  transcript                                      → handled (the reply text of Hark's dialogue manager)
Connections share the loaded models (their calls run on worker threads; the models serialise themselves) and
keep their own state: the audio being received, and their conversation. A conversation is the client's
(`context.conversation_id`, as Home Assistant sends it, kept for `MAX_CONVERSATIONS` conversations), else
the connection's own. A request out of order, an unsupported or changing audio format, an utterance longer
than the limit or an event too large is answered with an `error` to that client; the others never notice.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioFormat, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.handle import Handled
from wyoming.info import (
    AsrModel,
    AsrProgram,
    Attribution,
    Describe,
    HandleModel,
    HandleProgram,
    Info,
    TtsProgram,
    TtsVoice,
)
from wyoming.server import AsyncEventHandler
from wyoming.tts import Synthesize

from dialogue.backends.base import ChatBackend
from dialogue.manager import DialogueManager, DialogueTurn
from hark.config import HarkConfig, load_config
from hark.errors import UserError
from hark.report import Reporter
from voice import SAMPLE_RATE
from voice.decode import resample, to_float32
from voice.ports import SpeechToText, TextToSpeech

log = logging.getLogger(__name__)

SAMPLE_WIDTH = 2
"""Bytes per sample, in and out: 16-bit PCM, as Home Assistant sends and expects."""
MIN_RATE, MAX_RATE = 8_000, 48_000
"""Input rates accepted (resampled to 16 kHz); anything else is an error, not a guess."""
CHUNK_SAMPLES = 1024
"""Samples per synthesized `audio-chunk`."""
MAX_EVENT_BYTES = 256 << 10
"""Largest JSON data or payload of one event: a 1 s chunk at 48 kHz stereo is 192 kB."""
MAX_LINE_BYTES = 64 << 10
MAX_CONVERSATIONS = 64
QUEUED_EVENTS = 64
"""Events of one connection read ahead of the one being answered."""
STOP_WAIT_S = 5.0
"""At shutdown, longest wait for the connections to end (a transcription in progress finishes first)."""
LANGUAGE = "en"
HARK = Attribution(name="Hark", url="")
WHISPER = Attribution(name="faster-whisper (OpenAI Whisper)", url="https://github.com/SYSTRAN/faster-whisper")
PIPER = Attribution(name="Piper", url="https://github.com/OHF-Voice/piper1-gpl")


def describe_format(audio: AudioFormat) -> str:
    return f"{audio.rate} Hz, {audio.width * 8}-bit, {audio.channels} channel(s)"


class RequestError(Exception):
    """What the client did wrong; it gets an `error` event with this text and code, and may go on."""

    def __init__(self, text: str, code: str) -> None:
        super().__init__(text)
        self.text = text
        self.code = code


@dataclass(frozen=True)
class WyomingServices:
    """What the server offers, shared by every connection. `new_manager` makes the dialogue manager of a new
    conversation (sharing the loaded chat model)."""

    transcriber: SpeechToText
    speaker: TextToSpeech
    new_manager: Callable[[], DialogueManager]
    info: Info
    max_utterance_s: float = 30.0


def service_info(stt_model: str, voice: str, persona: str) -> Info:
    """The `info` answer: one program each for asr, tts and handle, named after what runs them."""

    def artifact(name: str, description: str, attribution: Attribution = HARK) -> dict[str, Any]:
        return {
            "name": name,
            "attribution": attribution,
            "installed": True,
            "description": description,
            "version": None,
        }

    languages = [LANGUAGE]
    return Info(
        asr=[
            AsrProgram(
                **artifact("hark-asr", "Hark speech recognition (faster-whisper)"),
                models=[AsrModel(**artifact(stt_model, "Whisper model", WHISPER), languages=languages)],
            )
        ],
        tts=[
            TtsProgram(
                **artifact("hark-tts", "Hark speech synthesis (Piper)"),
                voices=[TtsVoice(**artifact(voice, "the persona's voice", PIPER), languages=languages)],
            )
        ],
        handle=[
            HandleProgram(
                **artifact("hark", "Hark's dialogue manager as a conversation agent"),
                models=[HandleModel(**artifact(persona, "persona"), languages=languages)],
            )
        ],
    )


class Conversations:
    """Dialogue managers by conversation key; the least recently used is closed past `limit`. Used only on
    the event loop's thread; each manager has a lock, so two connections never run one conversation's
    turns at once."""

    def __init__(self, new_manager: Callable[[], DialogueManager], limit: int = MAX_CONVERSATIONS) -> None:
        self._new = new_manager
        self._limit = limit
        self._managers: OrderedDict[object, tuple[DialogueManager, threading.Lock]] = OrderedDict()

    def get(self, key: object) -> tuple[DialogueManager, threading.Lock]:
        if key not in self._managers:
            self._managers[key] = (self._new(), threading.Lock())
            while len(self._managers) > self._limit:
                self._close(self._managers.popitem(last=False)[1])
        self._managers.move_to_end(key)
        return self._managers[key]

    def drop(self, key: object) -> None:
        entry = self._managers.pop(key, None)
        if entry is not None:
            self._close(entry)

    def close(self, timeout_s: float = STOP_WAIT_S) -> None:
        """Close every manager, waiting (a bounded time) until their stores are closed."""
        closing = [self._close(entry) for entry in self._managers.values()]
        self._managers.clear()
        for thread in closing:
            thread.join(timeout_s)

    @staticmethod
    def _close(entry: tuple[DialogueManager, threading.Lock]) -> threading.Thread:
        """Close in the background: a manager waits for its summary call to stop, which takes a token."""
        manager, lock = entry

        def close() -> None:
            with lock:
                manager.close()

        thread = threading.Thread(target=close, name="hark-wyoming-close", daemon=True)
        thread.start()
        return thread


class Reply:
    """One `handle` request: a turn of a conversation's manager, run on a worker thread. `cancel()` (from the
    event loop, when the client has left) abandons the model call; nothing of the reply was heard then."""

    def __init__(self, manager: DialogueManager, lock: threading.Lock) -> None:
        self._manager = manager
        self._lock = lock
        self._turn: DialogueTurn | None = None
        self._cancelled = threading.Event()

    def run(self, text: str) -> str:
        """The whole reply to `text` (the reprompt when there is no text), committed to the memory."""
        with self._lock:
            manager = self._manager
            turn = self._turn = manager.begin_turn(text) if text.strip() else manager.reprompt()
            if self._cancelled.is_set():
                turn.cancel()
            for _ in turn.pieces():
                pass
            if turn.cancelled:
                turn.finish(heard="", interrupted=True)
            else:
                turn.finish()
            return turn.record.reply

    def cancel(self) -> None:
        self._cancelled.set()
        if self._turn is not None:
            self._turn.cancel()


async def read_event(reader: asyncio.StreamReader) -> Event | None:
    """The next event, None at the end of the stream; `RequestError` for one that is not an event or too
    large (the library's reader would buffer whatever length a client announces)."""
    line = await reader.readline()
    if not line:
        return None
    try:
        header = json.loads(line)
        if not isinstance(header, dict) or not isinstance(header.get("type"), str):
            raise ValueError(header)
        data = header.get("data") or {}
        data_length, payload_length = (
            int(header.get("data_length") or 0),
            int(header.get("payload_length") or 0),
        )
    except ValueError:
        raise RequestError("not a Wyoming event (a JSON header line was expected)", "bad-event") from None
    if not 0 <= data_length <= MAX_EVENT_BYTES or not 0 <= payload_length <= MAX_EVENT_BYTES:
        raise RequestError(f"an event larger than {MAX_EVENT_BYTES} bytes", "too-large")
    if data_length:
        try:
            data = {**data, **json.loads(await reader.readexactly(data_length))}
        except ValueError:
            raise RequestError("the data of an event is not JSON", "bad-event") from None
    payload = await reader.readexactly(payload_length) if payload_length else None
    return Event(type=header["type"], data=data, payload=payload)


class HarkEventHandler(AsyncEventHandler):
    """One client connection."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        services: WyomingServices,
        conversations: Conversations,
    ) -> None:
        super().__init__(reader, writer)
        self.services = services
        self.conversations = conversations
        self._format: AudioStart | None = None
        """The open audio stream's format; None when no audio is being received."""
        self._audio: list[bytes] = []
        self._audio_bytes = 0
        self._discarding = False
        """The audio stream was refused: its chunks are dropped until its audio-stop."""

    async def run(self) -> None:
        """Events are read here and answered in order by a worker, so a client that leaves is noticed at
        once and its request abandoned (a reply being generated is cancelled). An event that cannot be read
        ends the connection after an `error` saying why: the stream cannot be trusted past it."""
        queue: asyncio.Queue[Event] = asyncio.Queue(QUEUED_EVENTS)
        reading = asyncio.create_task(self._read(queue))
        answering = asyncio.create_task(self._answer(queue))
        try:
            await asyncio.wait((reading, answering), return_when=asyncio.FIRST_COMPLETED)
            failure = reading.exception() if reading.done() else None
            if isinstance(failure, RequestError):
                with contextlib.suppress(ConnectionError):
                    await self.write_event(Error(text=failure.text, code=failure.code).event())
        finally:
            for task in (reading, answering):
                task.cancel()
            await asyncio.gather(reading, answering, return_exceptions=True)
            self.conversations.drop(self)
            self.writer.close()

    async def _read(self, queue: asyncio.Queue[Event]) -> None:
        """Until the client leaves; a full queue holds back reading (and so the client)."""
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):  # left mid-event
            while (event := await read_event(self.reader)) is not None:
                await queue.put(event)

    async def _answer(self, queue: asyncio.Queue[Event]) -> None:
        """Until a reply cannot be written (the client left)."""
        with contextlib.suppress(ConnectionError):
            while True:
                await self.handle_event(await queue.get())

    async def handle_event(self, event: Event) -> bool:
        try:
            await self._dispatch(event)
        except RequestError as exc:
            await self._refuse(event, exc.text, exc.code)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # the data of a known event is wrong
            await self._refuse(event, f"a malformed {event.type} event ({exc!r})", "bad-event")
        except ConnectionError:
            raise
        except Exception as exc:  # a model failed: this request fails, the connection and the server go on
            log.exception("Wyoming %s failed", event.type)
            await self._refuse(event, f"{event.type} failed: {exc}", "failed")
        return True

    async def _refuse(self, event: Event, text: str, code: str) -> None:
        """One `error` for a refused request; the rest of a refused audio stream is dropped unanswered."""
        audio = self._format is not None or AudioStart.is_type(event.type) or AudioChunk.is_type(event.type)
        self._discarding = audio and not AudioStop.is_type(event.type)
        self._format, self._audio, self._audio_bytes = None, [], 0
        await self.write_event(Error(text=text, code=code).event())

    async def _dispatch(self, event: Event) -> None:
        if self._discarding and (AudioChunk.is_type(event.type) or AudioStop.is_type(event.type)):
            self._discarding = not AudioStop.is_type(event.type)
        elif AudioChunk.is_type(event.type):
            self._add_audio(AudioChunk.from_event(event))
        elif AudioStart.is_type(event.type):
            self._no_audio_open("audio-start")
            self._discarding = False
            self._format = self._checked_format(AudioStart.from_event(event))
        elif AudioStop.is_type(event.type):
            await self._transcribe()
        elif Describe.is_type(event.type):
            await self.write_event(self.services.info.event())
        elif Transcribe.is_type(event.type):
            self._no_audio_open("transcribe")
        elif Synthesize.is_type(event.type):
            self._no_audio_open("synthesize")
            await self._synthesize(Synthesize.from_event(event).text)
        elif Transcript.is_type(event.type):
            self._no_audio_open("transcript")
            await self._handle(Transcript.from_event(event))
        # Other events are for other services: dropped, as the protocol asks of a server.

    def _no_audio_open(self, what: str) -> None:
        if self._format is not None:
            raise RequestError(
                f"{what} while audio is still being sent: end it with audio-stop", "out-of-order"
            )

    def _checked_format(self, start: AudioStart) -> AudioStart:
        if (
            start.width != SAMPLE_WIDTH
            or start.channels not in (1, 2)
            or not MIN_RATE <= start.rate <= MAX_RATE
        ):
            raise RequestError(
                f"unsupported audio: {describe_format(start)} "
                f"(send 16-bit mono or stereo PCM at {MIN_RATE} to {MAX_RATE} Hz, ideally 16000)",
                "audio-format",
            )
        return start

    def _add_audio(self, chunk: AudioChunk) -> None:
        start = self._format
        if start is None:
            raise RequestError("audio-chunk before audio-start", "out-of-order")
        if (chunk.rate, chunk.width, chunk.channels) != (start.rate, start.width, start.channels):
            raise RequestError(
                f"audio-chunk in {describe_format(chunk)} after audio-start in {describe_format(start)}",
                "audio-format",
            )
        self._audio_bytes += len(chunk.audio)
        limit = self.services.max_utterance_s
        if self._audio_bytes > limit * start.rate * start.width * start.channels:
            raise RequestError(f"an utterance longer than {limit:g} s", "too-long")
        self._audio.append(chunk.audio)

    async def _transcribe(self) -> None:
        start = self._format
        if start is None:
            raise RequestError("audio-stop before audio-start", "out-of-order")
        samples = np.frombuffer(b"".join(self._audio), dtype=np.int16)
        self._format, self._audio, self._audio_bytes = None, [], 0
        if start.channels == 2:
            samples = samples[: samples.size // 2 * 2].reshape(-1, 2).mean(axis=1).astype(np.int16)
        audio = to_float32(resample(samples, start.rate, SAMPLE_RATE))
        transcript = await asyncio.to_thread(self.services.transcriber.transcribe, audio)
        await self.write_event(Transcript(text=transcript.text, language=LANGUAGE).event())

    async def _synthesize(self, text: str) -> None:
        speaker = self.services.speaker
        rate = speaker.sample_rate
        await self.write_event(AudioStart(rate=rate, width=SAMPLE_WIDTH, channels=1).event())
        pieces: Iterator[np.ndarray] = speaker.synthesize(text)
        while (piece := await asyncio.to_thread(next, pieces, None)) is not None:
            for at in range(0, piece.size, CHUNK_SAMPLES):
                audio = piece[at : at + CHUNK_SAMPLES].astype(np.int16).tobytes()
                await self.write_event(
                    AudioChunk(rate=rate, width=SAMPLE_WIDTH, channels=1, audio=audio).event()
                )
        await self.write_event(AudioStop().event())

    async def _handle(self, transcript: Transcript) -> None:
        context = transcript.context or {}
        key = context.get("conversation_id")
        job = Reply(*self.conversations.get(key if isinstance(key, str) and key else self))
        try:
            text = await asyncio.to_thread(job.run, transcript.text)
        except asyncio.CancelledError:
            job.cancel()
            raise
        await self.write_event(Handled(text=text, context=transcript.context).event())


def parse_uri(uri: str) -> tuple[str, str | None, int | None]:
    """`tcp://host:port` or `unix:///path` → (scheme, host or path, port); a `UserError` otherwise."""
    parts = urlparse(uri)
    if parts.scheme == "tcp" and parts.hostname and parts.port is not None:
        return "tcp", parts.hostname, parts.port
    if parts.scheme == "unix" and parts.path:
        return "unix", parts.path, None
    raise UserError(f"a Wyoming address is tcp://HOST:PORT or unix:///PATH (got {uri!r})")


async def serve_wyoming(
    uri: str, services: WyomingServices, started: Callable[[str], None] | None = None
) -> None:
    """Serve until cancelled. `started` is told the address clients can reach (its real port for port 0)."""
    scheme, where, port = parse_uri(uri)
    conversations = Conversations(services.new_manager)
    connections: dict[asyncio.Task, HarkEventHandler] = {}

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handler = connections[task] = HarkEventHandler(reader, writer, services, conversations)
        try:
            await handler.run()
        finally:
            del connections[task]

    if scheme == "tcp":
        server = await asyncio.start_server(connected, where, port, limit=MAX_LINE_BYTES)
        host, bound = server.sockets[0].getsockname()[:2]
        address = f"tcp://{host}:{bound}"
    else:
        assert where is not None
        Path(where).unlink(missing_ok=True)
        server = await asyncio.start_unix_server(connected, where, limit=MAX_LINE_BYTES)
        address = f"unix://{where}"
    try:
        async with server:
            if started is not None:
                started(address)
            try:
                await server.serve_forever()
            finally:  # each connection ends as if its client had left: requests in flight are abandoned
                for handler in connections.values():
                    handler.reader.feed_eof()
                if connections:
                    await asyncio.wait(list(connections), timeout=STOP_WAIT_S)
    finally:
        conversations.close()
        if scheme == "unix":
            Path(where).unlink(missing_ok=True)


class WyomingServer:
    """`serve_wyoming` on a thread of its own, for a program that is not asyncio (or runs another loop)."""

    def __init__(self, uri: str, services: WyomingServices) -> None:
        parse_uri(uri)  # a bad address is the caller's error, raised here
        self.uri = uri
        self.services = services
        self.address: str | None = None
        """Where clients connect (known once started)."""
        self._loop = asyncio.new_event_loop()
        self._task: asyncio.Task | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="hark-wyoming", daemon=True)

    def start(self, timeout_s: float = 10.0) -> WyomingServer:
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise RuntimeError(f"the Wyoming server did not start within {timeout_s:g}s")
        if self._error is not None:
            raise UserError(f"the Wyoming server cannot listen on {self.uri}: {self._error}")
        return self

    def _started(self, address: str) -> None:
        self.address = address
        self._ready.set()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._task = self._loop.create_task(serve_wyoming(self.uri, self.services, self._started))
        try:
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except OSError as exc:  # the address is taken, or not ours to listen on
            self._error = exc
        finally:
            self._ready.set()
            self._loop.close()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Close every connection and the listening socket, and wait for the thread."""
        if self._task is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(timeout_s)


def start_wyoming(
    uri: str,
    config: HarkConfig,
    reporter: Reporter,
    *,
    transcriber: SpeechToText | None = None,
    speaker: TextToSpeech | None = None,
    backend: ChatBackend | None = None,
) -> WyomingServer:
    """Serve Hark's configured services at `uri` on a background thread; `stop()` the result when done. Pass
    the models already loaded (e.g. by `hark serve`) to share them; the others are built from `config`."""
    from hark.assembly import build_wyoming_services  # the assembly builds these services, so it imports us

    services = build_wyoming_services(
        config, reporter, transcriber=transcriber, speaker=speaker, backend=backend
    )
    return WyomingServer(uri, services).start()


def main(argv: list[str] | None = None) -> None:
    """A standalone Wyoming server with Hark's configuration (for tests and for trying it out)."""
    parser = argparse.ArgumentParser(prog="python -m hark.wyoming_server", description=main.__doc__)
    parser.add_argument("--uri", default="tcp://127.0.0.1:10700")
    parser.add_argument("--config", help="a hark.toml")
    args = parser.parse_args(argv)
    reporter = Reporter()
    server = start_wyoming(args.uri, load_config(args.config), reporter)
    reporter.info(f"Wyoming server listening on {server.address}")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
