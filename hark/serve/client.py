"""A program talking to `hark serve` over the real socket, the way the page does: it speaks a recording in
real time and listens to what comes back. The benchmark's simulated users and the tests use it.

End of speech to first audio is measured on the client: from the moment the last audible sample of the
question has been sent to the moment the first reply audio arrives (network included).
"""

from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import dataclass, field

import aiohttp
import numpy as np

from voice import SAMPLE_RATE
from voice.decode import audible

CHUNK_S = 0.06
"""Audio per message: what a browser's audio worklet batches (two to three 30 ms frames)."""
WS = aiohttp.WSMsgType
CLOSED = (WS.CLOSE, WS.CLOSING, WS.CLOSED, WS.ERROR)


@dataclass
class Exchange:
    """What one client saw: the events, how much reply audio, when, and how the socket was closed."""

    events: list[dict] = field(default_factory=list)
    audio_bytes: int = 0
    first_audio_after_eos_s: float | None = None
    close_code: int | None = None
    close_reason: str = ""

    def of(self, kind: str) -> list[dict]:
        return [e for e in self.events if e.get("event") == kind]

    @property
    def transcript(self) -> str:
        finals = [e["text"] for e in self.of("transcript") if e.get("final")]
        return " ".join(finals)

    @property
    def reply(self) -> str:
        return " ".join(e.get("text", "") for e in self.of("reply"))


def socket_url(base: str) -> str:
    """`http://host:port` → `ws://host:port/ws`."""
    return base.replace("http", "ws", 1).rstrip("/") + "/ws"


async def converse(
    base: str,
    token: str,
    speech: np.ndarray,
    *,
    tail_s: float = 1.5,
    image: bytes | None = None,
    timeout_s: float = 90.0,
) -> Exchange:
    """Say `speech` (16 kHz int16) in real time, then wait for the reply's `metrics` event (or `timeout_s`,
    or the server closing). `image` goes with the question."""
    audio = np.concatenate([speech.astype(np.int16), np.zeros(int(tail_s * SAMPLE_RATE), np.int16)])
    loud = audible(speech)
    eos_offset_s = (int(loud[-1]) + 1) / SAMPLE_RATE if loud.size else speech.size / SAMPLE_RATE
    result = Exchange()
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(socket_url(base), headers=headers, max_msg_size=0) as ws,
    ):
        await ws.send_json({"type": "start", "sample_rate": SAMPLE_RATE})
        if image is not None:
            await ws.send_json({"type": "image", "data": base64.b64encode(image).decode()})
        began = time.monotonic()
        sender = asyncio.create_task(_send_paced(ws, audio, began))
        try:
            await asyncio.wait_for(_listen(ws, result, began + eos_offset_s), timeout_s)
        except asyncio.TimeoutError:
            pass
        finally:
            sender.cancel()
        result.close_code = ws.close_code
    return result


async def _send_paced(ws: aiohttp.ClientWebSocketResponse, audio: np.ndarray, began: float) -> None:
    step = int(CHUNK_S * SAMPLE_RATE)
    for i, at in enumerate(range(0, audio.size, step)):
        delay = began + i * CHUNK_S - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if ws.closed:
            return
        await ws.send_bytes(audio[at : at + step].astype("<i2").tobytes())


async def _listen(ws: aiohttp.ClientWebSocketResponse, result: Exchange, eos_at: float) -> None:
    while True:
        msg = await ws.receive()
        if msg.type in CLOSED:
            result.close_reason = msg.extra or ""
            return
        if msg.type == aiohttp.WSMsgType.BINARY:
            now = time.monotonic()
            if result.first_audio_after_eos_s is None and now >= eos_at:
                result.first_audio_after_eos_s = now - eos_at
            result.audio_bytes += len(msg.data)
        elif msg.type == aiohttp.WSMsgType.TEXT:
            event = msg.json()
            result.events.append(event)
            if event.get("event") == "metrics":
                return
