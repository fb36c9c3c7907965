"""glibc's allocator told to keep all threads in one arena, so freed model buffers are reused, not hoarded."""

from __future__ import annotations

import ctypes
import os
import sys

M_ARENA_MAX = -8
"""`mallopt`'s parameter number (glibc's malloc.h)."""
ARENAS = 1


def share_one_arena() -> None:
    """Let every thread allocate from one glibc arena (as `MALLOC_ARENA_MAX=1` would).

    By default glibc gives threads up to 8 arenas per core, each keeping its own freed blocks: the models'
    per-utterance buffers (Whisper's, Piper's, the model's, each from the thread that ran it) then stayed
    with the process, and over the 22 turns of `hark bench turns` the RSS crept to 850 MB. Fixing the
    mmap threshold instead (every large block mapped and unmapped on its own) kept it at 785 MB, but
    Whisper then faulted its buffers in afresh on every call: its final transcription, on the critical
    path of every reply, took 0.30 s instead of 0.20 s. One arena: 810 MB and 0.20 s (2 arenas: 829 MB,
    0.19 s). Only on Linux with glibc, and not when the user set MALLOC_ARENA_MAX. Call it before any
    thread starts.
    """
    if sys.platform != "linux" or "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # a C library without mallopt
        return
    mallopt(M_ARENA_MAX, ARENAS)
