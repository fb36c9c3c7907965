"""Ollama through the official `ollama` client: streaming, always with a timeout."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Sequence
from typing import Any

import httpx

from dialogue.backends.base import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    Cancel,
    GenerationOptions,
    ModelNotFound,
    StreamInfo,
    StreamingBackend,
    StreamItem,
    TextDelta,
    ToolCallItem,
)
from dialogue.backends.http_cancel import CancellableTransport, new_pool
from dialogue.backends.select import DEFAULT_MODEL, LlmConfig
from dialogue.messages import Message

DEFAULT_HOST = "http://127.0.0.1:11434"
DEFAULT_MAX_CONTEXT = 8192
"""Cap on the context Hark asks for: models advertise up to 128k tokens, whose KV cache a small machine
cannot hold. Hark always sends the same `num_ctx`, so Ollama never reloads the model between requests."""


def default_host() -> str:
    return os.environ.get("OLLAMA_HOST") or DEFAULT_HOST


def _normalise_host(host: str) -> str:
    return host if "://" in host else f"http://{host}"


def context_length_from_show(model_info: dict[str, Any] | None, parameters: str | None) -> int | None:
    """The model's context: `num_ctx` from its Modelfile parameters, else `<arch>.context_length`."""
    match = re.search(r"^\s*num_ctx\s+(\d+)", parameters or "", re.MULTILINE)
    if match:
        return int(match.group(1))
    info = model_info or {}
    arch = info.get("general.architecture")
    value = info.get(f"{arch}.context_length") if arch else None
    if value is None:  # an architecture name that does not match its keys
        value = next((v for k, v in info.items() if k.endswith(".context_length")), None)
    return int(value) if value else None


class OllamaBackend(StreamingBackend):
    name = "ollama"

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        host: str | None = None,
        timeout_s: float = 60.0,
        max_context: int = DEFAULT_MAX_CONTEXT,
    ) -> None:
        import ollama

        self._ollama = ollama
        self.model = model
        self.host = _normalise_host(host or default_host())
        self.timeout_s = timeout_s
        self.max_context = max_context
        self._client = ollama.Client(host=self.host, timeout=timeout_s)
        self._pool = new_pool()
        self.sees_images = False
        self.supports_tools = False
        """The model has Ollama's tools API (`tools` in its capabilities). Other Ollama models are not
        offered tools: deciding on a call with a JSON-schema `format` first would cost every turn a
        round-trip before the first word."""
        self.context_length: int | None = None
        """Tokens of context Hark asks for (`num_ctx`); None until `check()` has asked the server."""

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

    def _show(self) -> Any:
        try:
            return self._client.show(self.model)
        except self._ollama.ResponseError as exc:
            if exc.status_code == 404:
                raise self._not_found() from exc
            raise BackendError(f"Ollama error for {self.model}: {exc.error}") from exc
        except (ConnectionError, httpx.HTTPError) as exc:
            raise BackendUnavailable(
                f"Ollama at {self.host} is not reachable ({type(exc).__name__})"
            ) from exc

    def capabilities(self) -> list[str]:
        return list(getattr(self._show(), "capabilities", None) or [])

    def check(self) -> None:
        """Make sure the server answers and has the model; learn whether it sees images and its context."""
        if not self.has_model(self.installed_models()):
            raise self._not_found()
        shown = self._show()
        self.sees_images = "vision" in (shown.capabilities or [])
        self.supports_tools = "tools" in (shown.capabilities or [])
        known = context_length_from_show(shown.modelinfo, shown.parameters)
        self.context_length = min(known, self.max_context) if known else None

    def _not_found(self) -> ModelNotFound:
        return ModelNotFound(
            f"Ollama at {self.host} does not have the model {self.model}; run: ollama pull {self.model}",
            self.model,
        )

    def _generate(
        self, messages: Sequence[Message], options: GenerationOptions, info: StreamInfo, cancel: Cancel
    ) -> Iterator[StreamItem]:
        payload = _payload(messages)
        sampling: dict[str, Any] = {"num_predict": options.max_tokens, "temperature": options.temperature}
        if self.context_length:
            sampling["num_ctx"] = self.context_length
        transport = CancellableTransport(self._pool, cancel)
        client = self._ollama.Client(host=self.host, timeout=self.timeout_s, transport=transport)
        done = False
        tools = list(options.tools) if self.supports_tools else None
        try:
            with cancel.hook(transport.shut):
                response = client.chat(
                    model=self.model, messages=payload, stream=True, options=sampling, tools=tools
                )
                for part in response:
                    if cancel.is_set():
                        return
                    text = part.message.content if part.message else ""
                    if text:
                        yield TextDelta(text)
                    for call in (part.message.tool_calls if part.message else None) or ():
                        yield ToolCallItem(call.function.name, dict(call.function.arguments or {}))
                    if part.done:
                        done = True
                        info.prompt_tokens, info.reply_tokens = part.prompt_eval_count, part.eval_count
        except (self._ollama.ResponseError, httpx.HTTPError, ConnectionError, ValueError) as exc:
            if cancel.is_set():
                return  # the failure is the shut connection
            raise self._failure(exc) from exc
        finally:
            client.close()
        if not done and not cancel.is_set():
            raise BackendError(f"Ollama at {self.host} ended the reply before it was complete")

    def extract(self, messages: Sequence[Message], schema: dict, cancel: Cancel) -> dict | None:
        """A JSON object under `schema` (Ollama's structured output, `format`) answering `messages`."""
        transport = CancellableTransport(self._pool, cancel)
        client = self._ollama.Client(host=self.host, timeout=self.timeout_s, transport=transport)
        try:
            with cancel.hook(transport.shut):
                answer = client.chat(
                    model=self.model, messages=_payload(messages), format=schema, options={"temperature": 0.0}
                )
            value = json.loads(answer.message.content or "")
        except (self._ollama.ResponseError, httpx.HTTPError, ConnectionError, ValueError) as exc:
            if cancel.is_set():
                return None
            raise self._failure(exc) from exc
        finally:
            client.close()
        return value if isinstance(value, dict) else None

    def _failure(self, exc: Exception) -> BackendError:
        """The `BackendError` for what the client raised while streaming."""
        if isinstance(exc, self._ollama.ResponseError):
            if exc.status_code == 404:
                return self._not_found()
            return BackendError(f"Ollama failed: {exc.error}")
        if isinstance(exc, httpx.TimeoutException):
            return BackendTimeout(f"Ollama at {self.host} did not answer within {self.timeout_s:g}s")
        if isinstance(exc, ValueError):  # a line that is not JSON, or not a chat response
            return BackendError(f"Ollama at {self.host} sent a malformed reply ({type(exc).__name__})")
        return BackendUnavailable(f"Ollama at {self.host} failed ({type(exc).__name__}: {exc})")

    def close(self) -> None:
        """Close the connections; a request in flight ends with its cancel, not here."""
        self._client.close()
        self._pool.close()

    def describe(self) -> str:
        return f"Ollama model {self.model} at {self.host}"


def _payload(messages: Sequence[Message]) -> list[dict[str, Any]]:
    payload = []
    for m in messages:
        item: dict[str, Any] = {"role": m.role, "content": m.content}
        if m.images:
            item["images"] = list(m.images)
        if m.tool_calls:
            item["tool_calls"] = list(m.tool_calls)
        payload.append(item)
    return payload


def build(config: LlmConfig) -> OllamaBackend:
    """The Ollama engine, once the server answers and has the model."""
    backend = OllamaBackend(config.model, config.host, config.timeout_s)
    backend.check()
    return backend
