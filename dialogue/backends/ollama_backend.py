"""Ollama through the official `ollama` client: streaming, always with a timeout."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import httpx

from dialogue.backends.base import BackendError, BackendUnavailable, GenerationOptions, ModelNotFound
from dialogue.messages import Message

DEFAULT_HOST = "http://127.0.0.1:11434"
DEFAULT_MODEL = "gemma3:4b"


def default_host() -> str:
    return os.environ.get("OLLAMA_HOST") or DEFAULT_HOST


def _normalise_host(host: str) -> str:
    return host if "://" in host else f"http://{host}"


class OllamaBackend:
    name = "ollama"

    def __init__(self, model: str = DEFAULT_MODEL, host: str | None = None, timeout_s: float = 60.0) -> None:
        import ollama

        self._ollama = ollama
        self.model = model
        self.host = _normalise_host(host or default_host())
        self.timeout_s = timeout_s
        self._client = ollama.Client(host=self.host, timeout=timeout_s)
        self.sees_images = False

    def installed_models(self, timeout_s: float = 2.0) -> list[str]:
        """Models the server has pulled. Raises `BackendUnavailable` when it does not answer."""
        client = self._ollama.Client(host=self.host, timeout=timeout_s)
        try:
            return [m.model for m in client.list().models if m.model]
        except (ConnectionError, httpx.HTTPError) as exc:
            raise BackendUnavailable(
                f"Ollama at {self.host} is not reachable ({type(exc).__name__})"
            ) from exc
        except self._ollama.ResponseError as exc:
            raise BackendUnavailable(f"Ollama at {self.host} answered with an error: {exc.error}") from exc

    def has_model(self, models: list[str]) -> bool:
        wanted = self.model if ":" in self.model else f"{self.model}:latest"
        return wanted in models or self.model in models

    def capabilities(self) -> list[str]:
        try:
            shown = self._client.show(self.model)
        except self._ollama.ResponseError as exc:
            if exc.status_code == 404:
                raise ModelNotFound(self._not_found()) from exc
            raise BackendError(f"Ollama error for {self.model}: {exc.error}") from exc
        except (ConnectionError, httpx.HTTPError) as exc:
            raise BackendUnavailable(
                f"Ollama at {self.host} is not reachable ({type(exc).__name__})"
            ) from exc
        return list(getattr(shown, "capabilities", None) or [])

    def check(self) -> None:
        """Make sure the server answers and has the model; learn whether it sees images."""
        if not self.has_model(self.installed_models()):
            raise ModelNotFound(self._not_found())
        self.sees_images = "vision" in self.capabilities()

    def _not_found(self) -> str:
        return f"Ollama at {self.host} does not have the model {self.model}; run: ollama pull {self.model}"

    def stream(self, messages: Sequence[Message], options: GenerationOptions) -> Iterator[str]:
        payload = []
        for m in messages:
            item: dict = {"role": m.role, "content": m.content}
            if m.images:
                item["images"] = list(m.images)
            payload.append(item)
        try:
            response = self._client.chat(
                model=self.model,
                messages=payload,
                stream=True,
                options={"num_predict": options.max_tokens, "temperature": options.temperature},
            )
            for part in response:
                text = part.message.content if part.message else ""
                if text:
                    yield text
        except self._ollama.ResponseError as exc:
            if exc.status_code == 404:
                raise ModelNotFound(self._not_found()) from exc
            raise BackendError(f"Ollama failed: {exc.error}") from exc
        except (ConnectionError, httpx.HTTPError) as exc:
            raise BackendUnavailable(f"Ollama at {self.host} failed ({type(exc).__name__}: {exc})") from exc

    def describe(self) -> str:
        return f"Ollama model {self.model} at {self.host}"
