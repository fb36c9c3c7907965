"""`hark bench serve`: how many people can talk to one `hark serve` at once.

N simulated clients connect to a real `hark serve` (in this process, on a free port) over its socket and
speak Piper-made questions at the same moment, in real time, as a browser would. Each measures, on the
client side, the end of its speech to the first reply audio. For N = 1, 2, 4, ... up to `--sessions`
(`rounds` questions each), p50/p90 are reported, and the largest N whose p90 stays under 1.5 s. The
machine's load average is reported with them: on a shared machine the numbers mean little without it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time

import numpy as np

from hark.benchmark.recording import QUESTIONS
from hark.config import HarkConfig
from hark.report import Reporter
from hark.serve.app import ServeApp
from hark.serve.client import Exchange, converse
from hark.serve.server import ServerThread
from hark.serve.session import SharedModels, load_models, serving_config
from voice import SAMPLE_RATE
from voice.decode import resample

TARGET_P90_S = 1.5


def session_counts(most: int) -> list[int]:
    """1, 2, 4, ... and `most` itself."""
    counts = [1]
    while counts[-1] * 2 < most:
        counts.append(counts[-1] * 2)
    return sorted({*counts, most})


def spoken_questions(models: SharedModels) -> list[np.ndarray]:
    speaker = models.speaker
    return [
        resample(np.concatenate(list(speaker.synthesize(q))), speaker.sample_rate, SAMPLE_RATE)
        for q in QUESTIONS
    ]


async def _round(base: str, token: str, speech: list[np.ndarray], n: int, offset: int) -> list[Exchange]:
    """n clients, each its own session, asking different questions at once."""
    asks = [converse(base, token, speech[(offset + i) % len(speech)]) for i in range(n)]
    return await asyncio.gather(*asks)


def settle(app: ServeApp, timeout_s: float = 30.0) -> None:
    """Until the last round's sessions have ended on the server (clients hang up before that), so the
    next round is not refused for want of free slots."""
    deadline = time.monotonic() + timeout_s
    while app.in_use and time.monotonic() < deadline:
        time.sleep(0.1)


def summarise(n: int, exchanges: list[Exchange]) -> dict:
    latencies = [e.first_audio_after_eos_s for e in exchanges if e.first_audio_after_eos_s is not None]
    row: dict = {"sessions": n, "turns": len(exchanges), "answered": len(latencies)}
    refusals = sorted({f"{e.close_code}: {e.close_reason}" for e in exchanges if e.close_code is not None})
    if refusals:
        row["closed_by_server"] = refusals
    if latencies:
        row["p50_first_audio_s"] = round(float(np.percentile(latencies, 50)), 3)
        row["p90_first_audio_s"] = round(float(np.percentile(latencies, 90)), 3)
    return row


def largest_within_target(rows: list[dict]) -> int:
    """The largest N such that N and every smaller N measured answered all turns with p90 < 1.5 s."""
    largest = 0
    for row in rows:
        if row["answered"] < row["turns"] or row["p90_first_audio_s"] >= TARGET_P90_S:
            break
        largest = row["sessions"]
    return largest


def run(config: HarkConfig, reporter: Reporter, most: int, rounds: int = 2) -> dict:
    counts = session_counts(most)
    config = serving_config(config.replaced("serve.max_sessions", most))
    models = load_models(config, reporter)
    token = secrets.token_urlsafe(16)
    app = ServeApp(config, models, token, reporter)
    server = ServerThread(app.build(), "127.0.0.1", 0)
    base = f"http://127.0.0.1:{server.start()}"
    try:
        speech = spoken_questions(models)
        rows = []
        for n in counts:
            reporter.info(f"{n} session(s) at once, {rounds} question(s) each")
            exchanges: list[Exchange] = []
            for r in range(rounds):
                exchanges += asyncio.run(_round(base, token, speech, n, r * n))
                settle(app)
            rows.append(summarise(n, exchanges))
    finally:
        server.stop()
        models.close()
    return {
        "backend": models.backend.describe(),
        "rounds": rounds,
        "by_sessions": rows,
        "largest_sessions_p90_under_1_5_s": largest_within_target(rows),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
