"""One voice socket: the handshake, the limits, the messages into its session and the session's output
back out, without the socket and the session's threads ever waiting on each other.

Protocol (JSON text messages, binary audio):
  server → `{"event": "hello", "input_rate": 16000, "limits": {...}}`
  client → `{"type": "start", "sample_rate": 16000, "greet": true, "persona": "NAME"}` (first, within 10 s)
  server → `{"event": "ready", "session": N, "output_rate": 22050}`
  client → binary PCM int16 little-endian mono at 16 kHz, any length; `{"type": "end"}` (push-to-talk
           released); `{"type": "interrupt"}`; `{"type": "image", "data": BASE64}` (for the next question)
  server → the voice loop's events (`hark talk --json` lines), binary reply audio (int16 at
           `output_rate`), `{"event": "flush"}` (drop queued audio: the reply was cut).
Refusals: HTTP 401 (token), 403 (origin); close codes 1013 (busy), 1003 (bad data, wrong sample rate),
1002 (protocol), 1008 (limits), 1009 (message too large), each with a reason in words.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import time
from typing import TYPE_CHECKING, Any

from aiohttp import WSCloseCode, WSMsgType, web

from dialogue.errors import DialogueError
from hark.errors import UserError
from hark.serve.session import Session, session_persona
from vision.errors import ImageInputError
from voice import SAMPLE_RATE

if TYPE_CHECKING:
    from hark.serve.app import ServeApp

START_TIMEOUT_S = 10.0
AUDIO_BURST_S = 2.0
"""How far a client's audio may run ahead of real time (network hiccups) before it counts as a flood."""
OUTBOX_LIMIT = 2000
"""Messages queued for a client that does not read them (about a minute of reply audio) before it is
dropped."""
PTT_SILENCE_S = 1.0
"""Silence appended when push-to-talk is released: longer than the hang time, so the utterance ends."""


READ_WHOLE_FACTOR = 4
"""aiohttp reads messages up to this many times `max_message_bytes` whole, so that Hark can refuse those over
the limit with a reason the client receives; a larger one aiohttp refuses at its header, unread (the 1009
close may then be lost), which bounds the memory a client can make Hark hold."""


class Refusal(Exception):
    """Close the socket with `code` and a reason the page shows."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


class Connection:
    """One socket: the handshake, then messages into its session and the session's output back out."""

    def __init__(self, app: ServeApp, ws: web.WebSocketResponse) -> None:
        self.app = app
        self.ws = ws
        self.settings = app.settings
        self.loop = asyncio.get_running_loop()
        self.outbox: asyncio.Queue[bytes | dict | None] = asyncio.Queue()
        self.session: Session | None = None
        self._tokens = self.settings.max_messages_per_s
        self._refilled = time.monotonic()
        self._audio_s = 0.0
        self._audio_since = 0.0
        self._refusal: Refusal | None = None

    # ---- output: from the session's threads, never blocking them ---------------------------------------

    def _queue(self, item: bytes | dict) -> None:
        with contextlib.suppress(RuntimeError):  # the event loop is gone: the server is stopping
            self.loop.call_soon_threadsafe(self._enqueue, item)

    def _enqueue(self, item: bytes | dict | None) -> None:
        if self.outbox.qsize() >= OUTBOX_LIMIT:
            if self._refusal is None:
                unread = "the client does not read what Hark sends"
                self._refuse(Refusal(WSCloseCode.POLICY_VIOLATION, unread))
            return
        self.outbox.put_nowait(item)

    async def _send_all(self) -> None:
        while (item := await self.outbox.get()) is not None:
            if self.ws.closed:
                continue
            with contextlib.suppress(ConnectionError):
                if isinstance(item, bytes):
                    await self.ws.send_bytes(item)
                else:
                    await self.ws.send_json(item)

    def _refuse(self, refusal: Refusal) -> None:
        """Close with a reason from a callback on the event loop (the receive loop then ends)."""
        self.loop.create_task(self._close(refusal))

    async def _close(self, refusal: Refusal) -> None:
        self._refusal = refusal
        await self.ws.close(code=refusal.code, message=str(refusal).encode()[:120])

    # ---- input ---------------------------------------------------------------------------------------

    async def serve(self) -> None:
        sender = asyncio.create_task(self._send_all())
        try:
            limits = {
                "max_message_bytes": self.settings.max_message_bytes,
                "max_messages_per_s": self.settings.max_messages_per_s,
                "max_utterance_s": self.settings.max_utterance_s,
            }
            self._enqueue({"event": "hello", "input_rate": SAMPLE_RATE, "limits": limits})
            start = await self._start_message()
            self.session = await self.loop.run_in_executor(None, self._new_session, start)
            self.app.sessions[self.session.id] = self.session
            self.app.reporter.info(f"session {self.session.id} started ({len(self.app.sessions)} open)")
            rate = self.app.models.speaker.sample_rate
            self._enqueue({"event": "ready", "session": self.session.id, "output_rate": rate})
            self.session.start(greet=bool(start.get("greet", False)))
            self._audio_since = time.monotonic()
            await self._receive()
        except Refusal as refusal:
            await self._close(refusal)
        finally:
            await self._end(sender)

    async def _start_message(self) -> dict:
        try:
            msg = await self.ws.receive(timeout=START_TIMEOUT_S)
        except asyncio.TimeoutError:
            raise Refusal(WSCloseCode.POLICY_VIOLATION, "no start message within 10 s") from None
        self._check_size(msg)
        start = self._json(msg.data) if msg.type == WSMsgType.TEXT else None
        if start is None or start.get("type") != "start":
            raise Refusal(WSCloseCode.PROTOCOL_ERROR, 'the first message must be {"type": "start", ...}')
        rate = start.get("sample_rate")
        if rate != SAMPLE_RATE:
            raise Refusal(
                WSCloseCode.UNSUPPORTED_DATA,
                f"send {SAMPLE_RATE} Hz mono PCM int16 (got sample_rate {rate!r})",
            )
        return start

    def _new_session(self, start: dict) -> Session:
        """Built off the event loop: it reads the persona and starts the session's threads."""
        app = self.app
        try:
            persona = session_persona(start.get("persona"))
            return Session(next(app.ids), app.config, app.models, self._queue, self._queue, persona)
        except (UserError, DialogueError) as exc:  # no such persona
            raise Refusal(WSCloseCode.POLICY_VIOLATION, str(exc)) from exc

    async def _receive(self) -> None:
        async for msg in self.ws:
            try:
                self._check_size(msg)
                self._check_rate()
                if msg.type == WSMsgType.BINARY:
                    self._audio(msg.data)
                elif msg.type == WSMsgType.TEXT:
                    self._control(msg.data)
            except Refusal as refusal:
                await self._close(refusal)
                return
        if self.ws.close_code == WSCloseCode.MESSAGE_TOO_BIG and self._refusal is None:
            self.app.reporter.info(f"session {self.session.id}: a message over max_message_bytes, closed")

    def _check_size(self, msg: Any) -> None:
        """A message over `max_message_bytes` that aiohttp read whole (see `READ_WHOLE_FACTOR`) is refused
        with a reason: closed only after it was read, the socket holds no unread bytes, so the close frame
        is not lost to a TCP reset, as it can be when aiohttp refuses a frame it has not read."""
        limit = self.settings.max_message_bytes
        if msg.type in (WSMsgType.BINARY, WSMsgType.TEXT) and len(msg.data) > limit:
            raise Refusal(WSCloseCode.MESSAGE_TOO_BIG, f"a message of {len(msg.data)} bytes (limit {limit})")

    def _check_rate(self) -> None:
        """A token bucket: `max_messages_per_s` on average, as many again in a burst."""
        now = time.monotonic()
        rate = self.settings.max_messages_per_s
        self._tokens = min(rate, self._tokens + (now - self._refilled) * rate)
        self._refilled = now
        if self._tokens < 1:
            raise Refusal(WSCloseCode.POLICY_VIOLATION, f"more than {rate:g} messages a second")
        self._tokens -= 1

    def _audio(self, data: bytes) -> None:
        if len(data) % 2:
            raise Refusal(WSCloseCode.UNSUPPORTED_DATA, "audio must be whole 16-bit samples (odd byte count)")
        self._audio_s += len(data) / 2 / SAMPLE_RATE
        ahead = self._audio_s - (time.monotonic() - self._audio_since)
        assert self.session is not None
        if ahead > AUDIO_BURST_S or not self.session.source.feed(data):
            raise Refusal(WSCloseCode.POLICY_VIOLATION, "audio arrives faster than real time")

    def _control(self, text: str) -> None:
        message = self._json(text)
        kind = message.get("type") if message else None
        assert self.session is not None
        if kind == "end":
            self.session.source.silence(PTT_SILENCE_S)
        elif kind == "interrupt":
            self.session.loop.interrupt()
        elif kind == "image":
            self._image(message.get("data"))
        else:
            raise Refusal(WSCloseCode.UNSUPPORTED_DATA, f"unknown message: {text[:40]!r}")

    def _image(self, data: Any) -> None:
        assert self.session is not None
        try:
            image = base64.b64decode(data if isinstance(data, str) else "", validate=True)
            self.session.conversation.attach(image)
        except (binascii.Error, ImageInputError) as exc:
            self._enqueue({"event": "error", "kind": "image", "message": f"image not used: {exc}"})
            return
        self._enqueue({"event": "image", "bytes": len(image)})

    @staticmethod
    def _json(text: str) -> dict | None:
        try:
            value = json.loads(text)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    async def _end(self, sender: asyncio.Task) -> None:
        session = self.session
        if session is not None:
            await self.loop.run_in_executor(None, session.close)
            self.app.sessions.pop(session.id, None)
            why = f": {self._refusal}" if self._refusal else ""
            self.app.reporter.info(f"session {session.id} ended{why} ({len(self.app.sessions)} open)")
        self.outbox.put_nowait(None)
        await sender
        if not self.ws.closed:
            await self.ws.close()
