"""Sessions come and go without leaving anything behind: after a bounded soak the server's threads are back
to their count and its memory to its level."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest
from audio_fixtures import spoken
from dialogue_fakes import FakeBackend
from serve_helpers import TOKEN, running_server
from test_serve import wait_for

from hark.serve.client import converse

pytestmark = pytest.mark.integration

QUESTIONS = ("What is the capital of France?", "How many legs does a spider have?")
GROWTH_LIMIT_MB = 25
"""RSS may grow a little (allocator arenas, caches warmed by new code paths), never per session."""


def session_threads() -> int:
    """Threads other than the event loop's executor pool (bounded, reused: not per session)."""
    return sum(not t.name.startswith("asyncio_") for t in threading.enumerate())


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_sessions_leave_nothing_behind(transcriber, speaker):
    speech = [spoken(speaker, q) for q in QUESTIONS]
    with running_server(FakeBackend("Paris is the capital. It is lovely."), transcriber, speaker) as (
        base,
        app,
    ):

        def rounds(n: int) -> list:
            async def pair():
                return await asyncio.gather(*(converse(base, TOKEN, s, tail_s=1.2) for s in speech))

            return [answer for _ in range(n) for answer in asyncio.run(pair())]

        warm = rounds(2)
        assert wait_for(lambda: not app.sessions)
        threads, memory = session_threads(), rss_mb()
        soak = rounds(4)
        assert wait_for(lambda: not app.sessions)
        assert wait_for(lambda: session_threads() <= threads)
        grown = rss_mb() - memory
    assert all(a.audio_bytes > 0 for a in warm + soak)  # every session was answered, in speech
    assert grown < GROWTH_LIMIT_MB, f"memory grew {grown:.1f} MB over 8 sessions"
