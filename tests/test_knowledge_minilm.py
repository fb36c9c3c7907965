"""The real all-MiniLM-L6-v2 model run in numpy, and hybrid retrieval with its vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from knowledge_docs import GUIDE_MD, write_corpus

from dialogue.knowledge import KnowledgeBase, KnowledgeIndex, ingest
from dialogue.knowledge.chunking import chunk_sections
from dialogue.knowledge.documents import parse
from dialogue.knowledge.embeddings import make_embedder
from dialogue.knowledge.minilm import NAME, MiniLM

pytestmark = pytest.mark.integration

# sentence-transformers' all-MiniLM-L6-v2 embedding of "hello world", first five of 384 values
# (the reference values fastembed's tests check against).
HELLO_WORLD = [-0.034478, 0.03102, 0.00673, 0.02611, -0.039362]


@pytest.fixture(scope="module")
def model() -> MiniLM:
    embedder = make_embedder("minilm")
    assert isinstance(embedder, MiniLM)
    return embedder


def test_the_numpy_model_matches_the_reference_embedding(model):
    vectors = model.embed(["hello world", "flag embedding"])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors[0, :5], HELLO_WORLD, atol=2e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_similar_sentences_are_closer_than_unrelated_ones(model):
    q, same, other = model.embed(
        [
            "When does the museum open on Sunday?",
            "Opening hours: Sundays from ten o'clock.",
            "Bananas are rich in potassium.",
        ]
    )
    assert q @ same > 0.5 > 0.1 > q @ other


def test_padding_in_a_batch_changes_nothing(model):
    short = "Is there a cloakroom?"
    alone = model.embed([short])[0]
    batched = model.embed([short, GUIDE_MD * 3])[0]  # padded to a 256-token neighbour
    np.testing.assert_allclose(alone, batched, atol=1e-5)


@pytest.fixture
def hybrid(tmp_path, model):
    index = KnowledgeIndex(tmp_path / "kb.sqlite3")
    ingest.add(index, [str(write_corpus(tmp_path / "docs"))], "default", "minilm")
    yield index
    index.close()


def test_a_base_remembers_its_embedder_and_paraphrases_find_their_passage(hybrid, tmp_path):
    assert hybrid.embedder_of("default") == NAME
    base = KnowledgeBase(hybrid)  # no embedder given: the base's own is used
    question = "Is there somewhere to leave my coat?"  # no content word in common with the answer
    bm25 = KnowledgeIndex(tmp_path / "bm25.sqlite3")
    ingest.add(bm25, [str(tmp_path / "docs")], "default", "none")
    assert KnowledgeBase(bm25).retrieve(question) == []
    best = base.retrieve(question)[0]
    assert Path(best.path).name == "faq.txt" and "lockers" in best.text
    assert base.retrieve("Who won the football world cup in 1998?") == []


def test_only_new_chunks_are_embedded_when_a_file_changes(hybrid, tmp_path, model):
    guide = (tmp_path / "docs" / "guide.md").resolve()
    doc = parse(
        GUIDE_MD.replace("closes at 18:00", "closes at 17:00 in winter").encode(), "markdown", str(guide)
    )
    embedded: list[str] = []

    def embed(texts: list[str]) -> np.ndarray:
        embedded.extend(texts)
        return model.embed(texts)

    chunks = chunk_sections(doc.sections)
    result = hybrid.put_document("default", str(guide), doc.title, "markdown", "changed", chunks, embed)
    assert (result.status, result.new, result.kept, result.removed) == ("updated", 1, 2, 1)
    assert len(embedded) == 1 and "17:00 in winter" in embedded[0]
    best = KnowledgeBase(hybrid).retrieve("When does the museum shut in winter?", 1)
    assert "17:00 in winter" in best[0].text
