"""`hark serve` over its real socket: real Whisper and Piper, a scripted chat backend (the page's end-to-end
test in Chromium, `test_serve_browser.py`, uses the embedded model)."""

from __future__ import annotations

import asyncio
import json
import threading

import aiohttp
import numpy as np
import pytest
from audio_fixtures import spoken
from dialogue_fakes import FakeBackend
from serve_helpers import TOKEN, running_server

from hark.config import HarkConfig
from hark.serve.client import converse, socket_url
from voice import SAMPLE_RATE

pytestmark = pytest.mark.integration

FRANCE = "What is the capital of France?"
SPIDER = "How many legs does a spider have?"


def echo_backend() -> FakeBackend:
    """Answers by repeating the question, so each session's answer shows which question it got."""
    return FakeBackend(lambda messages: f"You asked {messages[-1].content.strip('?.')}.")


def config(**serve) -> HarkConfig:
    cfg = HarkConfig()
    for key, value in serve.items():
        cfg = cfg.replaced(f"serve.{key}", value)
    return cfg


async def connect(http: aiohttp.ClientSession, base: str, **kwargs) -> aiohttp.ClientWebSocketResponse:
    headers = {"Authorization": f"Bearer {TOKEN}", **kwargs.pop("headers", {})}
    return await http.ws_connect(socket_url(base), headers=headers, **kwargs)


async def refusal(ws: aiohttp.ClientWebSocketResponse) -> tuple[int | None, str]:
    """Read until the server closes; its close code and reason."""
    while True:
        msg = await asyncio.wait_for(ws.receive(), 30)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            return ws.close_code, msg.extra or ""


async def started(http: aiohttp.ClientSession, base: str) -> aiohttp.ClientWebSocketResponse:
    ws = await connect(http, base)
    await ws.send_json({"type": "start", "sample_rate": SAMPLE_RATE})
    return ws


def test_two_sessions_at_once_get_their_own_answers(transcriber, speaker):
    with running_server(echo_backend(), transcriber, speaker) as (base, _app):

        async def both():
            return await asyncio.gather(
                converse(base, TOKEN, spoken(speaker, FRANCE)), converse(base, TOKEN, spoken(speaker, SPIDER))
            )

        france, spider = asyncio.run(both())
        assert "france" in france.transcript.lower() and "spider" in spider.transcript.lower()
        assert "france" in france.reply.lower() and "spider" not in france.reply.lower()
        assert "spider" in spider.reply.lower() and "france" not in spider.reply.lower()
        assert france.audio_bytes > SAMPLE_RATE and spider.audio_bytes > SAMPLE_RATE  # real speech came back
        assert france.first_audio_after_eos_s is not None and spider.first_audio_after_eos_s is not None
        assert [e["session"] for e in france.of("ready")] != [e["session"] for e in spider.of("ready")]


def test_the_page_and_socket_need_the_token(transcriber, speaker):
    with running_server(echo_backend(), transcriber, speaker) as (base, _app):

        async def check():
            async with aiohttp.ClientSession() as http:
                statuses = []
                for url in (base + "/", base + "/?token=wrong"):
                    async with http.get(url) as response:
                        statuses.append(response.status)
                async with http.get(f"{base}/?token={TOKEN}") as response:
                    page = response.status, await response.text()
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await http.ws_connect(socket_url(base), headers={"Authorization": "Bearer nope"})
                async with http.get(base + "/static/app.js") as response:
                    script = response.status
            return statuses, page, refused.value.status, script

        statuses, page, socket_status, script = asyncio.run(check())
        assert statuses == [401, 401]
        assert page[0] == 200 and "<html" in page[1].lower()
        assert socket_status == 401
        assert script == 200


def test_the_socket_checks_the_origin(transcriber, speaker):
    with running_server(echo_backend(), transcriber, speaker) as (base, _app):

        async def check():
            async with aiohttp.ClientSession() as http:
                with pytest.raises(aiohttp.WSServerHandshakeError) as foreign:
                    await connect(http, base, headers={"Origin": "http://evil.example"})
                same = await connect(http, base, headers={"Origin": base})
                hello = await same.receive_json(timeout=10)
                await same.close()
                no_origin = await connect(http, base)
                hello_again = await no_origin.receive_json(timeout=10)
                await no_origin.close()
            return foreign.value.status, hello, hello_again

        status, hello, hello_again = asyncio.run(check())
        assert status == 403
        assert hello["event"] == hello_again["event"] == "hello"
        assert hello["input_rate"] == SAMPLE_RATE


def test_bad_input_is_refused_with_a_reason(transcriber, speaker):
    with running_server(
        echo_backend(), transcriber, speaker, config(max_message_bytes=8192, max_sessions=8)
    ) as (base, app):

        async def session_refused(first: dict | None, *then: str | bytes) -> tuple[int | None, str]:
            async with aiohttp.ClientSession() as http:
                ws = await connect(http, base)
                if first is not None:
                    await ws.send_json(first)
                for message in then:
                    if isinstance(message, bytes):
                        await ws.send_bytes(message)
                    else:
                        await ws.send_str(message)
                return await refusal(ws)

        async def check():
            start = {"type": "start", "sample_rate": SAMPLE_RATE}
            return await asyncio.gather(
                session_refused({"type": "start", "sample_rate": 44100}),
                session_refused({"type": "hello"}),
                session_refused(start, "not json at all"),
                session_refused(start, b"\x01\x02\x03"),
                session_refused(start, bytes(20_000)),
                session_refused(start, *[json.dumps({"type": "interrupt"})] * 200),
                session_refused({**start, "persona": "nobody-by-this-name"}),
            )

        rate, protocol, garbage, odd, big, chatty, persona = asyncio.run(check())
        assert rate[0] == 1003 and "16000" in rate[1]
        assert protocol[0] == 1002 and "start" in protocol[1]
        assert garbage[0] == 1003 and "unknown message" in garbage[1]
        assert odd[0] == 1003 and "16-bit" in odd[1]
        assert big[0] == 1009 and "20000 bytes (limit 8192)" in big[1]
        assert chatty[0] == 1008 and "messages a second" in chatty[1]
        assert persona[0] == 1008 and "nobody-by-this-name" in persona[1]
        assert wait_for(lambda: not app.sessions)


def test_too_many_sessions_are_refused(transcriber, speaker):
    with running_server(echo_backend(), transcriber, speaker, config(max_sessions=1)) as (base, _app):

        async def check():
            async with aiohttp.ClientSession() as http:
                first = await started(http, base)
                assert (await first.receive_json(timeout=10))["event"] == "hello"
                second = await connect(http, base)
                code, reason = await refusal(second)
                await first.close()
            return code, reason

        code, reason = asyncio.run(check())
        assert code == 1013 and "busy" in reason


def test_misbehaving_clients_are_dropped_alone(transcriber, speaker):
    """While one user asks a question, others flood audio, send garbage or vanish mid-reply: the user's
    answer is right, the others are closed, and no session is left behind."""
    long_reply = FakeBackend(
        lambda messages: (
            "France is a country. " * 3
            if "spider" not in messages[-1].content.lower()
            else "A spider has eight legs."
        )
    )
    with running_server(long_reply, transcriber, speaker) as (base, app):

        async def flood(http):
            ws = await started(http, base)
            chunk = np.zeros(SAMPLE_RATE // 10, np.int16).tobytes()
            try:
                for _ in range(200):  # 20 s of audio at once
                    await ws.send_bytes(chunk)
            except ConnectionError:
                pass
            return await refusal(ws)

        async def vanish(http):
            ws = await started(http, base)
            audio = np.concatenate([spoken(speaker, FRANCE), np.zeros(SAMPLE_RATE * 2, np.int16)])
            step = int(0.06 * SAMPLE_RATE)
            sender = asyncio.create_task(paced(ws, audio, step))
            while (await ws.receive(timeout=60)).type != aiohttp.WSMsgType.BINARY:
                pass  # until the reply starts playing
            sender.cancel()
            await ws.close()  # mid-reply
            return "gone"

        async def check():
            async with aiohttp.ClientSession() as http:
                return await asyncio.gather(
                    converse(base, TOKEN, spoken(speaker, SPIDER)), flood(http), vanish(http)
                )

        good, flooded, vanished = asyncio.run(check())
        assert "spider" in good.transcript.lower() and "eight legs" in good.reply.lower()
        assert flooded[0] == 1008 and "faster than real time" in flooded[1]
        assert vanished == "gone"
        assert wait_for(lambda: not app.sessions)


async def paced(ws: aiohttp.ClientWebSocketResponse, audio: np.ndarray, step: int) -> None:
    for at in range(0, audio.size, step):
        await ws.send_bytes(audio[at : at + step].tobytes())
        await asyncio.sleep(step / SAMPLE_RATE)


def wait_for(condition, tries: int = 100) -> bool:
    """Poll (sessions end on the server's threads after the client has gone)."""
    import time

    for _ in range(tries):
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_an_image_goes_with_the_next_question_and_a_bad_one_is_refused(transcriber, speaker, tmp_path):
    from PIL import Image

    png = tmp_path / "red.png"
    Image.new("RGB", (64, 48), (220, 20, 20)).save(png)
    seeing = FakeBackend("It is a red square.", sees_images=True)
    with running_server(seeing, transcriber, speaker) as (base, _app):

        async def bad_image():
            async with aiohttp.ClientSession() as http:
                ws = await started(http, base)
                await ws.send_json({"type": "image", "data": "bm90IGFuIGltYWdl"})  # "not an image"
                events = [await ws.receive_json(timeout=10) for _ in range(3)]
                await ws.close()
                return events

        answer = asyncio.run(converse(base, TOKEN, spoken(speaker, "What is this?"), image=png.read_bytes()))
        refused = asyncio.run(bad_image())
    asked = [m for m in seeing.seen[-1] if m.role == "user"][-1]
    assert asked.images and "what" in asked.content.lower()
    assert answer.of("image") and "red square" in answer.reply
    assert any(e["event"] == "error" and e["kind"] == "image" for e in refused)


def test_a_reply_held_up_in_one_session_does_not_hold_up_another(transcriber, speaker):
    """Sessions have their own reply workers: while one session's model call hangs, another is answered."""
    release = threading.Event()

    def reply(messages) -> str:
        if "france" in messages[-1].content.lower():
            release.wait(120)  # this session's model call hangs until the other one has its answer
            return "Paris."
        return "Eight legs."

    with running_server(FakeBackend(reply), transcriber, speaker) as (base, _app):

        async def both():
            stuck = asyncio.create_task(converse(base, TOKEN, spoken(speaker, FRANCE)))
            other = await converse(base, TOKEN, spoken(speaker, SPIDER))
            answered_while_stuck = not stuck.done()
            release.set()
            return other, answered_while_stuck, await stuck

        other, answered_while_stuck, stuck = asyncio.run(both())
    assert "eight legs" in other.reply.lower() and other.audio_bytes > 0
    assert answered_while_stuck
    assert "paris" in stuck.reply.lower()
