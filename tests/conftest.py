"""Session-wide fixtures: each real model is loaded once per test session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("GOMP_SPINCOUNT", "10000")  # as `hark` does: see hark/__init__.py
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # likewise, before numpy loads

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_ollama import FakeOllama  # noqa: E402

from hark.allocator import share_one_arena  # noqa: E402

# As `hark` does at start, before any thread: the in-process servers the tests run (the soak test measures
# their memory) then allocate as they do in production. With glibc's default arenas the soak test's RSS
# swung by 50-80 MB from one round of sessions to the next; with one, it grew 0.1 MB a round.
share_one_arena()


@pytest.fixture(scope="session")
def transcriber():
    from voice.stt import Transcriber

    return Transcriber()


@pytest.fixture(scope="session")
def speaker():
    from voice.tts import Speaker

    return Speaker()


@pytest.fixture(scope="session")
def turn_model():
    """Smart Turn v3.2 from the installed pipecat-ai wheel."""
    from voice.turn import EndOfTurnModel

    return EndOfTurnModel()


@pytest.fixture(scope="session")
def embedded_backend():
    from dialogue.backends.embedded import EmbeddedBackend

    return EmbeddedBackend()


@pytest.fixture
def fake_ollama():
    server = FakeOllama().start()
    yield server
    server.stop()


@pytest.fixture
def no_ollama_env(monkeypatch):
    """Point OLLAMA_HOST at a closed port so `auto` never finds a real server on the developer's machine."""
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    return os.environ["OLLAMA_HOST"]


@pytest.fixture(scope="session")
def ocr_reader():
    """The vision package's process-wide OCR engine, built once for the whole session."""
    from vision.ocr import default_reader

    return default_reader.load()


@pytest.fixture(scope="session", autouse=True)
def isolated_hark_home(tmp_path_factory):
    """Conversations and analytics written by any test (or its subprocesses) stay in a temp dir."""
    home = tmp_path_factory.mktemp("hark-home")
    previous = os.environ.get("HARK_HOME")
    os.environ["HARK_HOME"] = str(home)
    yield home
    if previous is None:
        os.environ.pop("HARK_HOME", None)
    else:
        os.environ["HARK_HOME"] = previous
