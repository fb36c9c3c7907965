"""`hark chat` on the embedded model exits cleanly while a background summary is inside llama.cpp.

A chat ending right after long messages used to segfault in 5 of 15 runs: the rolling summary was still
running in llama.cpp when the interpreter shut down. The manager now stops and joins its background model
calls, and the embedded backend waits for a generation still in flight at exit (`EXIT_WAIT_S`). Each run
here ends just as a summary has started; a crash shows as a negative return code (a signal).
"""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

RUNS = 3
"""Processes per test run: each loads the model (about a second); the seed varies what is said."""


@pytest.mark.integration
def test_chat_exits_cleanly_with_a_summary_in_flight(tmp_path):
    rng = random.Random(1234)
    words = "museum garden lunch ticket train river castle music painting window".split()
    config = tmp_path / "hark.toml"
    config.write_text("[dialogue]\nmax_history_messages = 2\nsummary_tokens = 32\n")
    for run in range(RUNS):
        lines = [" ".join(rng.choices(words, k=rng.randint(20, 80))) for _ in range(rng.randint(2, 4))]
        done = subprocess.run(
            [sys.executable, "-m", "hark.cli", "chat", "--llm", "embedded", "--config", str(config)],
            input="\n".join(lines).encode() + b"\n",
            capture_output=True,
            env={"PATH": "/usr/bin:/bin", "HARK_HOME": str(tmp_path / f"home{run}")},
            timeout=180,
        )
        assert done.returncode == 0, (run, done.returncode, done.stderr.decode()[-2000:])
