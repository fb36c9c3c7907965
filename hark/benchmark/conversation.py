"""`hark bench conversation`: the model's first token over one long conversation.

After a dozen turns a conversation outgrows the model's context. From then on, how the history leaves the
prompt decides whether the model reads only the new turn (the rest is its cached prefix) or the whole
prompt again: on two cores with the embedded model, 0.1-0.2 s against 4-5 s. The latency benchmark starts
every question from an empty conversation and cannot see this.

The questions of the latency benchmark are asked in one conversation, text in and text out, with a pause
between turns standing for the user listening to the reply and asking the next question: the summary and
the read-ahead run then, as they would in a voice session.
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

PAUSE_S = 4.0
"""Between a reply and the next question: shorter than speaking a reply and hearing a question."""


def run(config: HarkConfig, reporter: Reporter, turns: int, pause_s: float = PAUSE_S) -> dict:
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
            time.sleep(pause_s)
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
        "pause_s": pause_s,
        "rss_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
