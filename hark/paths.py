"""Where Hark keeps its data: `$HARK_HOME`, else `$XDG_DATA_HOME/hark`, else `~/.local/share/hark`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from dialogue import analytics, store
from dialogue.knowledge import index as knowledge_index
from dialogue.usermemory import store as fact_store


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    if home := environ.get("HARK_HOME"):
        return Path(home).expanduser()
    xdg = environ.get("XDG_DATA_HOME") or "~/.local/share"
    return Path(xdg).expanduser() / "hark"


def personas_dir() -> Path:
    return data_dir() / "personas"


def conversations_path() -> Path:
    return data_dir() / store.DB_NAME


def analytics_path() -> Path:
    return data_dir() / analytics.DB_NAME


def knowledge_path() -> Path:
    return data_dir() / knowledge_index.DB_NAME


def user_memory_path() -> Path:
    return data_dir() / fact_store.DB_NAME
