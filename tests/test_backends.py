"""Backend selection and the Ollama backend, over real HTTP to the in-suite Ollama-protocol server."""

import threading

import pytest
from dialogue_fakes import FakeBackend
from fake_ollama import FakeModel

from dialogue.backends.base import (
    BackendError,
    BackendUnavailable,
    Cancel,
    GenerationOptions,
    ModelNotFound,
    StreamInfo,
    open_stream,
)
from dialogue.backends.ollama_backend import OllamaBackend
from dialogue.backends.registry import ENGINES
from dialogue.backends.select import LlmConfig, select_backend
from dialogue.messages import Message

STUB_ENGINES = {
    "ollama": ENGINES["ollama"],
    "embedded": lambda config: FakeBackend(name="embedded", model=config.embedded_model),
}
"""The real Ollama engine; a stand-in for llama.cpp (the real one is tested in test_dialogue_embedded.py)."""


def test_auto_uses_ollama_when_it_has_the_model(fake_ollama):
    backend, note = select_backend(LlmConfig(host=fake_ollama.url), engines=STUB_ENGINES)
    assert backend.name == "ollama"
    assert backend.sees_images  # learned from /api/show capabilities
    assert fake_ollama.url in note


def test_auto_falls_back_when_the_server_is_down():
    backend, note = select_backend(LlmConfig(host="http://127.0.0.1:9", timeout_s=2), engines=STUB_ENGINES)
    assert backend.name == "embedded"
    assert "not reachable" in note and "fake bundled" in note


def test_auto_falls_back_when_the_model_is_missing(fake_ollama):
    backend, note = select_backend(LlmConfig(host=fake_ollama.url, model="llama9"), engines=STUB_ENGINES)
    assert backend.name == "embedded"
    assert "ollama pull llama9" in note


def test_ollama_only_raises_instead_of_falling_back(fake_ollama):
    with pytest.raises(BackendUnavailable):
        select_backend(LlmConfig(backend="ollama", host="http://127.0.0.1:9"), engines=STUB_ENGINES)
    with pytest.raises(ModelNotFound, match="ollama pull nope"):
        select_backend(LlmConfig(backend="ollama", host=fake_ollama.url, model="nope"), engines=STUB_ENGINES)


def test_embedded_never_asks_the_server(fake_ollama):
    backend, _ = select_backend(LlmConfig(backend="embedded", host=fake_ollama.url), engines=STUB_ENGINES)
    assert backend.name == "embedded"
    assert fake_ollama.requests == []


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="unknown LLM backend"):
        LlmConfig(backend="gpt")


def test_streams_over_real_http_and_sends_images_only_where_given(fake_ollama):
    backend = OllamaBackend("gemma3:4b", fake_ollama.url, timeout_s=5)
    messages = [Message("system", "be brief"), Message("user", "hello", (b"\x89PNG fake",))]
    pieces = list(backend.stream(messages, GenerationOptions(max_tokens=50)))
    assert "".join(pieces) == "You said: hello. That is all I know."
    assert len(pieces) > 3  # really streamed
    body = fake_ollama.chats()[0]
    assert body["stream"] is True
    assert body["options"]["num_predict"] == 50
    assert "images" not in body["messages"][0]
    assert body["messages"][1]["images"]  # base64 on the wire


def test_stream_errors_are_backend_errors(fake_ollama):
    backend = OllamaBackend("gemma3:4b", fake_ollama.url, timeout_s=1)
    fake_ollama.behaviour.fail_status = 500
    with pytest.raises(BackendError):
        list(backend.stream([Message("user", "hi")], GenerationOptions()))
    fake_ollama.behaviour.fail_status = None
    fake_ollama.behaviour.break_after_pieces = 2
    with pytest.raises(BackendError, match="mid-stream"):
        list(backend.stream([Message("user", "hi")], GenerationOptions()))
    for how, error in (("garbage", "malformed"), ("end", "before it was complete")):
        fake_ollama.behaviour.break_with = how
        with pytest.raises(BackendError, match=error):
            list(backend.stream([Message("user", "hi")], GenerationOptions()))
    fake_ollama.behaviour.break_after_pieces = None
    fake_ollama.behaviour.hang_s = 2
    with pytest.raises(BackendUnavailable):
        list(backend.stream([Message("user", "hi")], GenerationOptions()))


def test_model_without_vision_is_known_as_such(fake_ollama):
    fake_ollama.models.append(FakeModel("smol:1b"))
    backend = OllamaBackend("smol:1b", fake_ollama.url, timeout_s=5)
    backend.check()
    assert not backend.sees_images


def test_a_new_engine_is_one_registration(monkeypatch):
    monkeypatch.setitem(ENGINES, "echo", lambda config: FakeBackend(name="echo", model=config.model))
    backend, note = select_backend(LlmConfig(backend="echo", model="m"))
    assert (backend.name, backend.model) == ("echo", "m") and "fake m" in note


def test_cancel_closes_the_connection_while_the_server_has_not_answered(fake_ollama):
    """The server sends nothing at all (not even headers); cancelling from another thread ends the stream
    at once, and the server sees the client hang up: the model call is abandoned, not left to time out."""
    fake_ollama.behaviour.stall = threading.Event()
    backend = OllamaBackend("gemma3:4b", fake_ollama.url, timeout_s=30)
    cancel = Cancel()
    stream = open_stream(
        backend, lambda _b: [Message("user", "hi")], GenerationOptions(), StreamInfo(), cancel
    )
    got: list = []
    reader = threading.Thread(target=lambda: got.extend(stream))
    reader.start()
    assert fake_ollama.chat_arrived.wait(5)
    stream.cancel()
    reader.join(10)
    try:
        assert not reader.is_alive() and got == [] and stream.cancelled
        assert fake_ollama.client_hung_up.wait(5)
    finally:
        fake_ollama.behaviour.stall.set()
