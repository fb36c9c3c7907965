"""Prometheus metrics of a kiosk, fed from the same events that are logged.

A registry of its own (not prometheus_client's global one), so several kiosks in one process — tests —
do not collide, with the standard process metrics (memory, open files, CPU) included, and the number of
Python objects alive: resident memory moves in steps as native buffers grow, the object count only when
something is kept.
"""

from __future__ import annotations

import gc

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
SESSION_BUCKETS = (10, 30, 60, 120, 300, 600, 1800, 3600)
LATENCY_STAGES = {
    "eos_to_first_audio_s": "eos_to_first_audio",
    "endpoint_s": "endpoint",
    "stt_s": "stt",
    "llm_first_token_s": "llm_first_token",
    "tts_first_audio_s": "tts_first_audio",
}
"""Loop `metrics` event fields → the `stage` label of `hark_latency_seconds`."""


class KioskMetrics:
    """Echo cancellation shows as `hark_echo_erle_db` (from each turn's `metrics` event) and two counters:
    `hark_barge_ins` (replies paused by speech or stopped by the wake word) and `hark_self_interruptions`:
    barge-ins by speech that then had no words Whisper was sure of (`echo_suspected`) — most likely Hark's
    own echo, or a noise, rather than a person."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        r = self.registry
        seconds = {"buckets": LATENCY_BUCKETS, "registry": r}
        self.turns = Counter("hark_turns", "Replies finished, by kind", ["kind"], registry=r)
        self.sessions = Counter("hark_sessions", "Visitor sessions started", registry=r)
        self.session_duration = Histogram(
            "hark_session_duration_seconds", "Length of ended sessions", buckets=SESSION_BUCKETS, registry=r
        )
        self.errors = Counter("hark_errors", "Errors, by kind", ["kind"], registry=r)
        self.interruptions = Counter("hark_interruptions", "Replies cut short by the visitor", registry=r)
        self.barge_ins = Counter("hark_barge_ins", "Replies stopped by the visitor's speech", registry=r)
        self.self_interruptions = Counter(
            "hark_self_interruptions", "Barge-ins whose utterance had no words (echo or noise)", registry=r
        )
        self.erle = Gauge(
            "hark_echo_erle_db", "Echo return loss enhancement of the echo canceller (NaN: off)", registry=r
        )
        self.erle.set(float("nan"))
        self.ignored = Counter("hark_ignored_utterances", "Speech not addressed to Hark", registry=r)
        self.fallback_turns = Counter(
            "hark_llm_fallback_turns", "Replies made by the fallback model", registry=r
        )
        self.latency = Histogram(
            "hark_latency_seconds", "Stage latencies of spoken turns", ["stage"], **seconds
        )
        self.reloads = Counter("hark_config_reloads", "Config reloads, by result", ["result"], registry=r)
        self.session_active = Gauge("hark_session_active", "1 while a visitor session is open", registry=r)
        self.ready = Gauge("hark_ready", "1 while the kiosk can serve (what /healthz says)", registry=r)
        objects = Gauge(
            "hark_python_objects", "Objects the garbage collector tracks (a leak shows here)", registry=r
        )
        objects.set_function(lambda: len(gc.get_objects()))
        for kind in ("answer", "reprompt", "refusal", "greeting", "acknowledgement"):
            self.turns.labels(kind)  # present at 0 from the start, so rates work from the first scrape
        for stage in LATENCY_STAGES.values():
            self.latency.labels(stage)

    def observe(self, event: dict) -> None:
        """Count one loop or kiosk event."""
        kind = event.get("event")
        if kind == "turn":
            self.turns.labels(event["kind"]).inc()
            if event.get("error"):
                self.errors.labels("llm").inc()
            if event.get("fallback"):
                self.fallback_turns.inc()
        elif kind == "reply" and event.get("interrupted"):
            self.interruptions.inc()
        elif kind == "barge_in":
            self.barge_ins.inc()
        elif kind == "echo_suspected" and event.get("barged_in"):
            self.self_interruptions.inc()
        elif kind == "transcript" and event.get("final"):
            if event.get("ignored"):
                self.ignored.inc()
        elif kind == "metrics":
            if isinstance(event.get("erle_db"), (int, float)):
                self.erle.set(event["erle_db"])
            for field, stage in LATENCY_STAGES.items():
                value = event.get(field)
                if isinstance(value, (int, float)):
                    self.latency.labels(stage).observe(value)
        elif kind == "session_start":
            self.sessions.inc()
            self.session_active.set(1)
        elif kind == "session_end":
            self.session_active.set(0)
            self.session_duration.observe(event["duration_s"])
        elif kind == "error":
            self.errors.labels(event.get("kind") or "unknown").inc()
        elif kind == "audio_input" and event.get("status") == "down":
            self.errors.labels("audio_input").inc()  # (a lost speaker comes as the loop's `error` event)
        elif kind == "config_reloaded":
            self.reloads.labels("ok").inc()
        elif kind == "config_error":
            self.reloads.labels("error").inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
