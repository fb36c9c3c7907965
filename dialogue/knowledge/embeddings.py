"""Where dense vectors come from: the bundled MiniLM model, an Ollama embedding model, or nowhere.

A knowledge base records the embedder that made its vectors ("minilm:all-MiniLM-L6-v2",
"ollama:nomic-embed-text", or "" for none); questions to that base are embedded by the same one, since
vectors of two models cannot be compared.
"""

from __future__ import annotations

import functools
import os
from typing import Protocol

import numpy as np

from dialogue.knowledge import minilm
from dialogue.knowledge.errors import KnowledgeError

AUTO = "auto"
NONE = "none"
OLLAMA = "ollama:"
EMBED_TIMEOUT_S = 30.0


class Embedder(Protocol):
    name: str

    def embed(self, texts: list[str]) -> np.ndarray:
        """One unit vector (float32) per text."""
        ...


class OllamaEmbedder:
    """An Ollama embedding model through `/api/embed` (e.g. nomic-embed-text)."""

    def __init__(self, model: str, host: str | None = None, timeout_s: float = EMBED_TIMEOUT_S) -> None:
        import ollama

        self.name = OLLAMA + model
        self._model = model
        self._client = ollama.Client(host=host or os.environ.get("OLLAMA_HOST"), timeout=timeout_s)

    def embed(self, texts: list[str]) -> np.ndarray:
        import httpx
        import ollama

        try:
            vectors = np.asarray(
                self._client.embed(model=self._model, input=texts).embeddings, dtype=np.float32
            )
        except (ollama.ResponseError, httpx.HTTPError, ConnectionError) as exc:
            raise KnowledgeError(f"Ollama cannot embed with {self._model}: {exc}") from exc
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)


@functools.cache
def _minilm() -> minilm.MiniLM:
    return minilm.MiniLM()


def make_embedder(spec: str) -> Embedder | None:
    """ "auto" (MiniLM when its package is installed, else none), "none", "minilm" or the stored name
    "minilm:all-MiniLM-L6-v2", or "ollama:MODEL"."""
    if spec in (NONE, ""):
        return None
    if spec == AUTO:
        return _minilm() if minilm.model_zip() else None
    if spec in ("minilm", minilm.NAME):
        return _minilm()
    if spec.startswith(OLLAMA) and spec != OLLAMA:
        return OllamaEmbedder(spec.removeprefix(OLLAMA))
    raise KnowledgeError(f"unknown embedder {spec!r} (use auto, none, minilm or ollama:MODEL)")
