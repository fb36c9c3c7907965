"""The OpenAI-compatible engine: against llama-cpp-python's own server serving the bundled GGUF (the real
thing), and against a small scripted server for what a real one will not do on demand (headers, failures,
a hang to cancel)."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from dialogue.backends.base import (
    BackendError,
    BackendUnavailable,
    Cancel,
    GenerationOptions,
    ModelNotFound,
    open_stream,
)
from dialogue.backends.embedded import bundled_model_path
from dialogue.backends.openai_backend import OpenAIBackend, chat_message
from dialogue.backends.resilient import ResilientBackend
from dialogue.backends.select import LlmConfig, select_backend
from dialogue.messages import Message
from hark.assembly import build_backend
from hark.config import load_config
from hark.report import Reporter

SERVER_MODEL = "smollm2"
QUESTION = [Message("user", "Say hello.")]
OPTIONS = GenerationOptions(max_tokens=12)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory) -> Iterator[str]:
    """`python -m llama_cpp.server` serving the bundled SmolLM2 GGUF; yields its API root (with /v1)."""
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_model_path())]
    command += ["--model_alias", SERVER_MODEL, "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"]
    log = tmp_path_factory.mktemp("llama-server") / "log.txt"
    with log.open("wb") as out:  # a file, not a pipe: the server logs a lot, and a full pipe would stop it
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120  # loading takes ~2 s alone; the machine may be busy
    try:
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not start: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


class ScriptedServer:
    """An OpenAI-protocol server over real HTTP: `/v1/models` and streaming `/v1/chat/completions` (SSE).

    It records each chat request's headers and body. `status` answers chats with that HTTP status instead;
    `stall` sends nothing until it is set or the client hangs up."""

    def __init__(self, models: tuple[str, ...] = ("m1",), reply: tuple[str, ...] = ("Hello", " there.")):
        self.models = models
        self.model_fields: dict = {}
        """Extra fields of every model in /v1/models (e.g. vLLM's `max_model_len`)."""
        self.reply = reply
        self.status: int | None = None
        self.stall: threading.Event | None = None
        self.chats: list[tuple[dict[str, str], dict]] = []
        self.hung_up = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._json(
                    200,
                    {
                        "object": "list",
                        "data": [{"id": m, "object": "model", **server.model_fields} for m in server.models],
                    },
                )

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.chats.append((dict(self.headers), body))
                if server.stall is not None:
                    self.connection.settimeout(0.05)
                    for _ in range(200):
                        if server.stall.is_set():
                            break
                        try:
                            if self.connection.recv(1) == b"":
                                server.hung_up.set()
                                return
                        except TimeoutError:
                            continue
                if server.status is not None:
                    self._json(server.status, {"error": {"message": "scripted failure"}})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for i, text in enumerate(server.reply):
                    last = i == len(server.reply) - 1
                    choice = {
                        "index": 0,
                        "delta": {"content": text},
                        "finish_reason": "stop" if last else None,
                    }
                    chunk = {
                        "id": "c",
                        "object": "chat.completion.chunk",
                        "created": 0,
                        "model": body["model"],
                    }
                    self.wfile.write(f"data: {json.dumps({**chunk, 'choices': [choice]})}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")

            def _json(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.close()


def reply_text(backend, messages=QUESTION) -> str:
    stream = open_stream(backend, lambda _b: messages, OPTIONS)
    try:
        return "".join(stream.text())
    finally:
        stream.close()


# ---- the real server ------------------------------------------------------------------------------------


@pytest.mark.integration
def test_streams_a_reply_from_llama_cpp_server_picking_its_only_model(llama_server):
    backend, note = select_backend(LlmConfig(backend="openai", model="", base_url=llama_server))
    assert backend.model == SERVER_MODEL and llama_server in note
    stream = open_stream(backend, lambda _b: QUESTION, OPTIONS)
    pieces = list(stream.text())
    assert len(pieces) > 1 and "".join(pieces).strip()  # streamed, piece by piece
    assert (stream.info.backend, stream.info.model) == ("openai", SERVER_MODEL)
    backend.close()


@pytest.mark.integration
def test_a_model_the_server_does_not_offer_is_named_with_what_it_offers(llama_server):
    with pytest.raises(ModelNotFound, match=rf"no model 'gemma3:4b'.*offers: {SERVER_MODEL}"):
        select_backend(LlmConfig(backend="openai", model="gemma3:4b", base_url=llama_server))


@pytest.mark.integration
def test_hark_builds_it_from_the_config_with_retries_and_the_embedded_fallback(llama_server, tmp_path):
    config = load_config(
        None, {}, {"llm.backend": ("--llm", "openai"), "llm.base_url": ("--base-url", llama_server)}
    )
    backend = build_backend(config, Reporter())
    assert isinstance(backend, ResilientBackend) and backend.primary.name == "openai"
    assert reply_text(backend).strip()
    backend.primary.base_url = "http://127.0.0.1:9/v1"  # the server is gone: the embedded model answers
    stream = open_stream(backend, lambda _b: QUESTION, OPTIONS)
    assert "".join(stream.text()).strip()
    assert isinstance(stream.info.fallback_reason, BackendUnavailable) and stream.info.backend == "embedded"
    backend.close()


# ---- what a real server will not do on demand -----------------------------------------------------------


def test_no_authorization_header_without_a_key_and_a_bearer_with_one(scripted, monkeypatch):
    monkeypatch.delenv("HARK_TEST_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "must-not-leak")  # only the variable named in config counts
    backend = OpenAIBackend("m1", scripted.url, api_key_env="HARK_TEST_KEY")
    assert reply_text(backend) == "Hello there."
    monkeypatch.setenv("HARK_TEST_KEY", "sk-local")
    assert reply_text(backend) == "Hello there."
    (first, _), (second, _) = scripted.chats
    assert "authorization" not in {k.lower() for k in first}
    assert second["Authorization"] == "Bearer sk-local"


def test_images_go_as_image_url_parts(scripted):
    png, jpeg = b"\x89PNG\r\n\x1a\n" + b"x" * 8, b"\xff\xd8\xff" + b"y" * 8
    reply_text(
        OpenAIBackend("m1", scripted.url, sees_images=True), [Message("user", "What is it?", (png, jpeg))]
    )
    _, body = scripted.chats[0]
    text, first, second = body["messages"][0]["content"]
    assert text == {"type": "text", "text": "What is it?"}
    assert first["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(png).decode()
    assert second["image_url"]["url"] == "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
    assert chat_message(Message("user", "plain")) == {"role": "user", "content": "plain"}


@pytest.mark.parametrize(("status", "error"), [(404, ModelNotFound), (500, BackendError)])
def test_an_http_failure_is_a_backend_error(scripted, status, error):
    scripted.status = status
    with pytest.raises(error, match=str(status) if status == 500 else "no model 'm1'"):
        reply_text(OpenAIBackend("m1", scripted.url))


@pytest.mark.parametrize(
    ("fields", "context"), [({}, None), ({"max_model_len": 4096}, 4096), ({"max_model_len": 131072}, 8192)]
)
def test_the_context_is_what_the_server_says_capped(scripted, fields, context):
    scripted.model_fields = fields
    backend, _ = select_backend(LlmConfig(backend="openai", model="m1", base_url=scripted.url))
    assert backend.context_length == context


def test_an_unreachable_server_is_unavailable():
    with pytest.raises(BackendUnavailable, match="not reachable"):
        select_backend(LlmConfig(backend="openai", base_url=f"http://127.0.0.1:{free_port()}/v1"))


def test_without_a_base_url_the_engine_says_what_it_needs():
    with pytest.raises(BackendError, match="--base-url"):
        select_backend(LlmConfig(backend="openai"))


def test_cancel_ends_a_reply_still_waiting_for_its_first_byte(scripted):
    scripted.stall = threading.Event()
    cancel = Cancel()
    stream = open_stream(OpenAIBackend("m1", scripted.url), lambda _b: QUESTION, OPTIONS, cancel=cancel)
    result: list[list[str]] = []
    reader = threading.Thread(target=lambda: result.append(list(stream.text())))
    reader.start()
    while not scripted.chats:
        time.sleep(0.01)
    cancel.set()
    reader.join(10)
    assert result == [[]] and stream.cancelled  # ended quietly, with no error and no text
    assert scripted.hung_up.wait(10)  # the connection was shut, not left to the server
