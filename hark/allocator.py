"""glibc's allocator told to give large freed blocks back to the system at once."""

from __future__ import annotations

import ctypes
import os
import sys

M_MMAP_THRESHOLD = -3
"""`mallopt`'s parameter number (glibc's malloc.h)."""
MMAP_THRESHOLD = 128 * 1024
"""glibc's own starting value: blocks this size and larger are mapped on their own."""


def release_large_blocks() -> None:
    """Fix glibc's mmap threshold at its default, so a freed large block is unmapped when it is freed.

    Otherwise glibc raises the threshold (up to 32 MiB) every time such a block is freed, and blocks up to
    that size then come from heaps that return memory only from their top. The models' per-utterance
    buffers (Whisper's, Piper's, each from the thread that ran it) then stayed with the process: over the
    22 turns of `hark bench turns` the RSS crept from 570 to 800 MB; with the threshold fixed it stays at
    565 MB, at the same speed. Only on Linux with glibc, and not when the user set MALLOC_MMAP_THRESHOLD_.
    Call it before any thread starts.
    """
    if sys.platform != "linux" or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # a C library without mallopt
        return
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
