"""Dense vectors from an Ollama embedding model: the real `ollama` client over real HTTP to a small
`/api/embed` server (vectors: hashed bags of words, so texts sharing words are close)."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from knowledge_docs import write_corpus

from dialogue.knowledge import KnowledgeBase, KnowledgeError, KnowledgeIndex, ingest

DIM = 64


def bag_of_words(text: str) -> list[float]:
    vector = [0.0] * DIM
    for word in re.findall(r"[a-z]+", text.lower()):
        vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
    return vector


class _Embed(BaseHTTPRequestHandler):
    requests: list[dict]

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append(body)
        if self.path != "/api/embed" or body["model"] != "fake-embed":
            self.send_error(404)
            return
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        payload = json.dumps(
            {"model": body["model"], "embeddings": [bag_of_words(t) for t in inputs]}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def embed_server(monkeypatch):
    handler = type("Handler", (_Embed,), {"requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("OLLAMA_HOST", f"http://127.0.0.1:{server.server_address[1]}")
    yield server, handler.requests
    server.shutdown()
    server.server_close()


def test_an_ollama_embedding_model_makes_a_hybrid_base(embed_server, tmp_path):
    server, requests = embed_server
    index = KnowledgeIndex(tmp_path / "kb.sqlite3")
    ingest.add(index, [str(write_corpus(tmp_path / "docs"))], "default", "ollama:fake-embed")
    assert index.embedder_of("default") == "ollama:fake-embed"
    ids, vectors = index.vectors("default")
    assert vectors.shape == (len(ids), DIM) and len(ids) == index.bases()[0].chunks
    base = KnowledgeBase(index)
    best = base.retrieve("lockers for my bags?", 1)[0]
    assert Path(best.path).name == "faq.txt"
    assert requests[-1]["input"] == ["lockers for my bags?"]  # the question went to the same model

    server.shutdown()  # the embedding server goes away: questions still get BM25 answers
    server.server_close()
    assert Path(KnowledgeBase(index).retrieve("Is there a cloakroom?", 1)[0].path).name == "faq.txt"
    before = index.documents()
    (tmp_path / "docs" / "new.md").write_text("# New\n\nA new page about lighthouses.")
    with pytest.raises(KnowledgeError, match="Ollama cannot embed"):
        ingest.add(index, [str(tmp_path / "docs")], "default")
    assert index.documents() == before and index.integrity() == []
