"""`hark bench conversation`: one conversation on the embedded model, its first tokens turn by turn."""

from __future__ import annotations

import io
import subprocess
import sys

from hark.benchmark import conversation
from hark.config import HarkConfig
from hark.report import Reporter


def test_the_benchmark_asks_in_one_conversation_and_times_each_first_token(tmp_path, monkeypatch):
    monkeypatch.setenv("HARK_HOME", str(tmp_path))
    config = HarkConfig().replaced("llm.backend", "embedded").replaced("dialogue.max_history_messages", 4)
    result = conversation.run(config, Reporter(err=io.StringIO()), turns=4, words_per_s=100, asking_s=0.1)
    assert result["turns"] == 4 and len(result["first_token_s"]) == 4
    assert all(0 < s < 60 for s in result["first_token_s"])
    assert result["prompt_tokens"][1] > result["prompt_tokens"][0]  # one conversation: the history grows
    assert result["median_first_token_s"] <= result["p90_first_token_s"] <= result["max_first_token_s"]
    assert "SmolLM2" in result["llm"]


def test_a_bad_turn_count_is_a_user_error():
    result = subprocess.run(
        [sys.executable, "-m", "hark.cli", "bench", "conversation", "--turns", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2 and result.stderr.strip() == "error: --turns must be between 1 and 200"
