"""Errors in what the user configured for the dialogue: they end a command with `error: ...` and exit 2."""

from collections.abc import Iterable, Mapping


class DialogueError(Exception):
    """A dialogue setting (persona, guardrail configuration, conversation to resume) cannot be used."""


class PersonaError(DialogueError):
    """A persona that cannot be found, read or understood."""


class ConversationNotFound(DialogueError):
    """`--resume` names a conversation that is not stored."""


def reject_unknown_keys(
    table: Mapping[str, object], known: Iterable[str], where: str, error: type[DialogueError] = DialogueError
) -> None:
    """A misspelt setting is an error, not silently ignored."""
    known = list(known)
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise error(f"{where}: unknown setting(s) {', '.join(unknown)} (known: {', '.join(known)})")
