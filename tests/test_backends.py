"""Backend selection and the Ollama backend, over real HTTP to the in-suite Ollama-protocol server."""

import pytest
from fake_ollama import FakeModel

from dialogue.backends.base import BackendError, BackendUnavailable, GenerationOptions, ModelNotFound
from dialogue.backends.ollama_backend import OllamaBackend
from dialogue.backends.select import LlmConfig, select_backend
from dialogue.messages import Message


class StubEmbedded:
    """Stands in for llama.cpp in selection logic tests (the real one is tested in test_embedded.py)."""

    name = "embedded"
    sees_images = False

    def __init__(self, model: str) -> None:
        self.model = model

    def stream(self, messages, options):
        yield "stub"

    def describe(self) -> str:
        return "embedded stub"


def test_auto_uses_ollama_when_it_has_the_model(fake_ollama):
    backend, note = select_backend(LlmConfig(host=fake_ollama.url), make_embedded=StubEmbedded)
    assert backend.name == "ollama"
    assert backend.sees_images  # learned from /api/show capabilities
    assert fake_ollama.url in note


def test_auto_falls_back_when_the_server_is_down():
    backend, note = select_backend(
        LlmConfig(host="http://127.0.0.1:9", timeout_s=2), make_embedded=StubEmbedded
    )
    assert backend.name == "embedded"
    assert "not reachable" in note and "embedded stub" in note


def test_auto_falls_back_when_the_model_is_missing(fake_ollama):
    backend, note = select_backend(
        LlmConfig(host=fake_ollama.url, model="llama9"), make_embedded=StubEmbedded
    )
    assert backend.name == "embedded"
    assert "ollama pull llama9" in note


def test_ollama_only_raises_instead_of_falling_back(fake_ollama):
    with pytest.raises(BackendUnavailable):
        select_backend(LlmConfig(backend="ollama", host="http://127.0.0.1:9"), make_embedded=StubEmbedded)
    with pytest.raises(ModelNotFound, match="ollama pull nope"):
        select_backend(
            LlmConfig(backend="ollama", host=fake_ollama.url, model="nope"), make_embedded=StubEmbedded
        )


def test_embedded_never_asks_the_server(fake_ollama):
    backend, _ = select_backend(
        LlmConfig(backend="embedded", host=fake_ollama.url), make_embedded=StubEmbedded
    )
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
    fake_ollama.behaviour.break_after_pieces = None
    fake_ollama.behaviour.hang_s = 2
    with pytest.raises(BackendUnavailable):
        list(backend.stream([Message("user", "hi")], GenerationOptions()))


def test_model_without_vision_is_known_as_such(fake_ollama):
    fake_ollama.models.append(FakeModel("smol:1b"))
    backend = OllamaBackend("smol:1b", fake_ollama.url, timeout_s=5)
    backend.check()
    assert not backend.sees_images
