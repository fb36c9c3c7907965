"""Where Hark keeps its data: `$HARK_HOME`, else `$XDG_DATA_HOME/hark`, else `~/.local/share/hark`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from dialogue import analytics, store
from hark.errors import UserError


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    if home := environ.get("HARK_HOME"):
        path = Path(home).expanduser()
    else:
        path = Path(environ.get("XDG_DATA_HOME") or "~/.local/share").expanduser() / "hark"
    if path.exists() and not path.is_dir():
        raise UserError(f"the data folder {path} is a file (set HARK_HOME to a folder)")
    return path


def personas_dir() -> Path:
    return data_dir() / "personas"


def conversations_path() -> Path:
    return data_dir() / store.DB_NAME


def analytics_path() -> Path:
    return data_dir() / analytics.DB_NAME
