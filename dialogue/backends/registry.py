"""The LLM engines Hark knows, by name.

Adding an engine is one module with a `build(config: LlmConfig) -> ChatBackend` (which raises `BackendError`
when the engine cannot answer) and one line in `ENGINES`. Engines are imported only when chosen, so an
engine's heavy or missing dependency costs nothing to the others.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dialogue.backends.base import ChatBackend
    from dialogue.backends.select import LlmConfig

Build = Callable[["LlmConfig"], "ChatBackend"]

ENGINES: dict[str, str | Build] = {
    "ollama": "dialogue.backends.ollama_backend:build",
    "embedded": "dialogue.backends.embedded:build",
    "openai": "dialogue.backends.openai_backend:build",
}
"""Engine name → its build function, or the `module:function` path of it (imported when first chosen)."""
AUTO_ORDER = ("ollama", "embedded")
"""What `auto` tries, best first: the last one is the one that works without a server."""


def builder(name: str, engines: Mapping[str, str | Build] = ENGINES) -> Build:
    """The build function of engine `name` (a `module:function` path is imported now)."""
    target = engines[name]
    if not isinstance(target, str):
        return target
    module, function = target.split(":")
    return getattr(importlib.import_module(module), function)
