"""Per-user long-term memory: facts the user asked Hark to remember, recognised without a model."""

from dialogue.usermemory.memory import PersonalMemory, second_person
from dialogue.usermemory.requests import Kind, MemoryRequest, noticed, recognise
from dialogue.usermemory.store import DB_NAME, DEFAULT_USER, Fact, FactStore, is_personal

__all__ = [
    "DB_NAME",
    "DEFAULT_USER",
    "Fact",
    "FactStore",
    "Kind",
    "MemoryRequest",
    "PersonalMemory",
    "is_personal",
    "noticed",
    "recognise",
    "second_person",
]
