"""Embedding similarity through Ollama's /api/embed, when the server has an embedding model.

Nothing is downloaded: without an embedding model `similar_to` checks are skipped with the reason.
"""

from __future__ import annotations

import httpx
import numpy as np

from dialogue.backends.base import BackendError
from dialogue.backends.ollama_backend import OllamaBackend
from hark.errors import UserError
from hark.evaluation.expectations import Unavailable

EMBEDDING = "embedding"
"""The capability `/api/show` lists for an embedding model."""


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / norm) if norm else 0.0


class OllamaEmbedder:
    def __init__(self, model: str, host: str | None, timeout_s: float) -> None:
        import ollama

        self._ollama = ollama
        self.model = model
        self.host = OllamaBackend(model, host).host
        self._client = ollama.Client(host=self.host, timeout=timeout_s)

    def similarity(self, a: str, b: str) -> float:
        try:
            vectors = self._client.embed(model=self.model, input=[a, b]).embeddings
        except self._ollama.ResponseError as exc:
            raise BackendError(f"Ollama could not embed with {self.model}: {exc.error}") from exc
        except (ConnectionError, httpx.HTTPError) as exc:
            raise BackendError(f"Ollama at {self.host} failed ({type(exc).__name__})") from exc
        if len(vectors) != 2:
            raise BackendError(f"Ollama returned {len(vectors)} embeddings for 2 texts")
        return cosine(np.asarray(vectors[0], dtype=np.float64), np.asarray(vectors[1], dtype=np.float64))

    def describe(self) -> str:
        return f"Ollama embedding model {self.model} at {self.host}"


def make_embedder(model: str | None, host: str | None, timeout_s: float) -> OllamaEmbedder | Unavailable:
    """`model` if given (it must be there: `UserError` otherwise), else the server's first embedding model."""
    probe = OllamaBackend(model or "", host, timeout_s)
    try:
        if model:
            capabilities = probe.capabilities()  # raises ModelNotFound when the server lacks it
            if capabilities and EMBEDDING not in capabilities:
                raise UserError(f"embedding model {model}: Ollama lists it as {', '.join(capabilities)} only")
            return OllamaEmbedder(model, host, timeout_s)
        for name in probe.installed_models():
            if EMBEDDING in OllamaBackend(name, probe.host, timeout_s).capabilities():
                return OllamaEmbedder(name, probe.host, timeout_s)
    except BackendError as exc:
        if model:
            raise UserError(f"embedding model {model}: {exc}") from exc
        return Unavailable(f"no embedding model: {exc}")
    return Unavailable(
        f"no embedding model on Ollama at {probe.host}: "
        "pull one (e.g. nomic-embed-text) or pass --embed-model"
    )
