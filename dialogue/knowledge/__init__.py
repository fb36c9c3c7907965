"""Knowledge bases: the user's own documents, indexed in SQLite (FTS5 BM25, plus dense vectors when an
embedding model is at hand), and retrieval of the passages that answer a question."""

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
