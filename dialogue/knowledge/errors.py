"""Errors of the knowledge bases: each ends a command with `error: ...` and exit 2 (a `DialogueError`)."""

from dialogue.errors import DialogueError


class KnowledgeError(DialogueError):
    """A document that cannot be read or fetched, or a knowledge base that does not exist."""
