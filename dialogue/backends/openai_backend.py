"""Any OpenAI-compatible chat server (vLLM, llama.cpp's server, LM Studio, LocalAI, ...) through the official
`openai` client: streaming, always with a timeout, cancellable while waiting for the first byte.

The client runs over httpx with the same cancellable transport as the Ollama engine (openai 2.x; 3.x moved to
a second HTTP stack, `httpx2`, which that transport does not know). Its own retries are off: recovery and the
fallback are `ResilientBackend`'s, the same as for Ollama.
"""

from __future__ import annotations

import base64
import os
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
)
from dialogue.backends.http_cancel import CancellableTransport, new_pool
from dialogue.backends.ollama_backend import DEFAULT_MAX_CONTEXT
from dialogue.backends.select import LlmConfig
from dialogue.messages import Message

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NO_KEY = "(no key)"
"""What the client is given when there is no key; the header it would make is never sent."""


def image_part(image: bytes) -> dict[str, Any]:
    """An image as the chat API's `image_url` content part (a base64 data URL; Hark's images are JPEG or
    PNG)."""
    mime = "image/png" if image.startswith(PNG_MAGIC) else "image/jpeg"
    url = f"data:{mime};base64,{base64.b64encode(image).decode('ascii')}"
    return {"type": "image_url", "image_url": {"url": url}}


def chat_message(message: Message) -> dict[str, Any]:
    """A message as the chat API wants it: plain text, or text and image parts when it carries images."""
    if not message.images:
        return {"role": message.role, "content": message.content}
    parts = [{"type": "text", "text": message.content}, *(image_part(i) for i in message.images)]
    return {"role": message.role, "content": parts}


class OpenAIBackend(StreamingBackend):
    """`model` is the server's model id; the API key is read from the variable `api_key_env` at each request
    (none, or empty: no `Authorization` header, as local servers expect). `sees_images` is told, not found
    out: the API has no standard way to ask whether a model takes images."""

    name = "openai"

    def __init__(
        self,
        model: str,
        base_url: str,
        api_key_env: str = "",
        timeout_s: float = 60.0,
        sees_images: bool = False,
    ) -> None:
        import openai

        self._openai = openai
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self.sees_images = sees_images
        self.context_length: int | None = None
        """Tokens of context the server's model holds, when it says (until then the manager's default)."""
        self._pool = new_pool()

    def client(self, transport: httpx.BaseTransport | None = None, timeout_s: float | None = None) -> Any:
        """An `openai.OpenAI` for one request, over `transport` (default: a connection of its own). The key
        is read now, so a rotated key needs no restart."""
        key = os.environ.get(self.api_key_env, "") if self.api_key_env else ""
        http = httpx.Client(transport=transport, timeout=timeout_s or self.timeout_s)
        return self._openai.OpenAI(
            api_key=key or NO_KEY, base_url=self.base_url, max_retries=0, http_client=http
        )

    def _headers(self, client: Any) -> dict[str, Any]:
        """Per-request headers: without a key, the `Authorization` header is left out (the client refuses
        to send a request with neither)."""
        return {"Authorization": self._openai.omit} if client.api_key == NO_KEY else {}

    def models(self, timeout_s: float = 5.0) -> dict[str, Any]:
        """The models the server offers, by id. Raises `BackendUnavailable` when it does not answer."""
        client = self.client(timeout_s=timeout_s)
        try:
            return {m.id: m for m in client.models.list(extra_headers=self._headers(client))}
        except self._openai.APIConnectionError as exc:
            raise BackendUnavailable(f"the model server at {self.base_url} is not reachable") from exc
        except self._openai.APIStatusError as exc:
            raise BackendUnavailable(
                f"the model server at {self.base_url} answered {exc.status_code} to a list of its models"
            ) from exc
        finally:
            client.close()

    def check(self) -> None:
        """Make sure the server answers and offers the model (without a model id, take its only one); learn
        its context where the server tells it (vLLM's `max_model_len`)."""
        offered = self.models()
        if not self.model and len(offered) == 1:
            self.model = next(iter(offered))
        if self.model not in offered:
            raise ModelNotFound(
                f"the model server at {self.base_url} has no model {self.model!r} "
                f"(it offers: {', '.join(offered) or 'nothing'}; choose one with --model)",
                self.model,
            )
        known = (offered[self.model].model_extra or {}).get("max_model_len")
        self.context_length = min(int(known), DEFAULT_MAX_CONTEXT) if known else None

    def _generate(
        self, messages: Sequence[Message], options: GenerationOptions, info: StreamInfo, cancel: Cancel
    ) -> Iterator[StreamItem]:
        transport = CancellableTransport(self._pool, cancel)
        client = self.client(transport)
        done = False
        try:
            with cancel.hook(transport.shut):
                chunks = client.chat.completions.create(
                    model=self.model,
                    messages=[chat_message(m) for m in messages],
                    max_tokens=options.max_tokens,
                    temperature=options.temperature,
                    stream=True,
                    stream_options={"include_usage": True},
                    extra_headers=self._headers(client),
                )
                for chunk in chunks:
                    if cancel.is_set():
                        return
                    if chunk.usage is not None:
                        info.prompt_tokens = chunk.usage.prompt_tokens
                        info.reply_tokens = chunk.usage.completion_tokens
                    for choice in chunk.choices:
                        if choice.delta.content:
                            yield TextDelta(choice.delta.content)
                        done = done or choice.finish_reason is not None
        except (self._openai.APIError, httpx.HTTPError) as exc:
            if cancel.is_set():
                return  # the failure is the shut connection
            raise self._failure(exc) from exc
        finally:
            client.close()
        if not done and not cancel.is_set():
            raise BackendError(f"the model server at {self.base_url} ended the reply before it was complete")

    def _failure(self, exc: Exception) -> BackendError:
        """The `BackendError` for what the client raised while streaming."""
        server = f"the model server at {self.base_url}"
        if isinstance(exc, (self._openai.APITimeoutError, httpx.TimeoutException)):
            return BackendTimeout(f"{server} did not answer within {self.timeout_s:g}s")
        if isinstance(exc, self._openai.NotFoundError):
            return ModelNotFound(f"{server} has no model {self.model!r}", self.model)
        if isinstance(exc, self._openai.APIStatusError):
            return BackendError(f"{server} failed ({exc.status_code}: {exc.message})")
        return BackendUnavailable(f"{server} failed ({type(exc).__name__}: {exc})")

    def close(self) -> None:
        """Close the connections; a request in flight ends with its cancel, not here."""
        self._pool.close()

    def describe(self) -> str:
        return f"model {self.model} at the OpenAI-compatible server {self.base_url}"


def build(config: LlmConfig) -> OpenAIBackend:
    """The OpenAI-compatible engine, once the server answers and offers the model."""
    if not config.base_url:
        raise BackendError(
            "the openai engine needs the server's API root: --base-url URL (e.g. http://host:8000/v1)"
        )
    backend = OpenAIBackend(
        config.model, config.base_url, config.api_key_env, config.timeout_s, config.sees_images
    )
    backend.check()
    return backend
