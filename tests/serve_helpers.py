"""Starting `hark serve`'s app in-process on real Whisper and Piper, for the serve tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from dialogue.backends.base import ChatBackend
from hark.config import HarkConfig
from hark.report import Reporter
from hark.serve.app import ServeApp
from hark.serve.fair import SharedSpeaker, SharedTranscriber
from hark.serve.server import ServerThread
from hark.serve.session import SharedModels, serving_config

TOKEN = "test-token-123"


@contextlib.contextmanager
def running_server(
    backend: ChatBackend, transcriber, speaker, config: HarkConfig | None = None
) -> Iterator[tuple[str, ServeApp]]:
    """The app on a free port of 127.0.0.1: yields its base URL and the app (to look at its sessions)."""
    config = serving_config(config or HarkConfig())
    reporter = Reporter()
    models = SharedModels(SharedTranscriber(transcriber), SharedSpeaker(speaker), backend, config, reporter)
    app = ServeApp(config, models, TOKEN, reporter)
    server = ServerThread(app.build(), "127.0.0.1", 0)
    port = server.start()
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.stop()


def run(coroutine):
    return asyncio.run(coroutine)
