"""Numpy's BLAS on one thread for embedding and vector search.

On two cores shared with speech recognition, the LLM and TTS, OpenBLAS's worker threads spin against
the rest of Hark: measured under load, hybrid retrieval at 10,000 passages took p95 1035 ms with two BLAS
threads and 71 ms with one. The limit is process-wide while it is held (OpenBLAS has one thread count).
"""

from __future__ import annotations

import functools
from contextlib import AbstractContextManager

from threadpoolctl import ThreadpoolController


@functools.cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


def one_blas_thread() -> AbstractContextManager:
    return _controller().limit(limits=1, user_api="blas")
