"""`hark bench conversation`: the model's first token over one long conversation.

After a dozen turns a conversation outgrows the model's context. From then on, how the history leaves the
prompt decides whether the model reads only the new turn (the rest is its cached prefix) or the whole
prompt again: on two cores with the embedded model, 0.1-0.2 s against 4-5 s. The latency benchmark starts
every question from an empty conversation and cannot see this.

The questions of the latency benchmark are asked in one conversation, text in and text out. Between turns
the benchmark waits as long as a voice session would: the reply spoken at `WORDS_PER_S`, then the next
question asked. The summary and the read-ahead run in that time, as in a voice session.
"""

from __future__ import annotations

import resource
import statistics
import time

import numpy as np

from hark import assembly
from hark.benchmark.recording import QUESTIONS
from hark.config import HarkConfig
from hark.report import Reporter

WORDS_PER_S = 2.7
"""Piper's default voice speaks about 160 words a minute."""
ASKING_S = 2.0
"""How long the user takes to ask the next question."""


def run(
    config: HarkConfig,
    reporter: Reporter,
    turns: int,
    words_per_s: float = WORDS_PER_S,
    asking_s: float = ASKING_S,
) -> dict:
    manager = assembly.build_manager(config, reporter, keep=False)
    first_token_s: list[float] = []
    prompt_tokens: list[int] = []
    try:
        manager.warm_up()
        for i in range(turns):
            turn = manager.begin_turn(QUESTIONS[i % len(QUESTIONS)])
            for _ in turn.pieces():
                pass
            turn.finish()
            record = turn.record
            first_token_s.append(record.latencies.get("llm_first_token_s", float("nan")))
            prompt_tokens.append(record.prompt_tokens or 0)
            time.sleep(len((record.reply or "").split()) / words_per_s + asking_s)
    finally:
        manager.close()
    return {
        "turns": turns,
        "median_first_token_s": round(statistics.median(first_token_s), 4),
        "p90_first_token_s": round(float(np.percentile(first_token_s, 90)), 4),
        "max_first_token_s": round(max(first_token_s), 4),
        "first_token_s": first_token_s,
        "prompt_tokens": prompt_tokens,
        "summary_words": len(manager.memory.summary.split()),
        "llm": manager.backend.describe(),
        "words_per_s": words_per_s,
        "asking_s": asking_s,
        "rss_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
