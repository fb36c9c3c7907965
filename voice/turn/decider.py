"""When has the user finished? A clock-free decision taken at pauses, from sound and words.

The loop feeds the decider the silence so far (stream time) at every frame of a pause; when a check is
due it asks for a decision, giving the transcript so far (if known) and a way to get the audio model's
probability. The decider answers "release" (the turn is over: play the held reply now) or "wait" (keep
listening) and schedules its next check. It releases:

* when the text does not say "unfinished" and the audio model gives at least `threshold` at
  `min_pause_s` of silence, or `recheck_threshold` when asked again every `recheck_s` after that;
* without a model, after the fixed `hang_s` of silence, unless the text says "unfinished";
* in any case after `max_wait_s` of silence: a user is never left waiting longer than that.

With a model and the text signal on, a "finished" from the model waits for the transcript (checked again
at every frame) so the words can still veto it: no reply can play before its transcript exists anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from voice.stt import Transcript
from voice.turn.text import unfinished_reading

_EPS = 1e-9
"""Silences are sums of 30 ms frames: compare them with a little slack."""


@dataclass(frozen=True)
class TurnConfig:
    """Timings in seconds of silence after the last speech frame."""

    min_pause_s: float = 0.15
    """First check: shorter gaps are the pauses between words."""
    threshold: float = 0.5
    """Model probability from which the turn counts as finished, at the first check."""
    recheck_s: float | None = 0.3
    """While waiting, ask the model again after this much more silence (None: never). The model now and
    then calls a finished question unfinished (Piper's "What is two plus two?": 0.10); without a second
    opinion that turn waits the full `max_wait_s`."""
    recheck_threshold: float = 0.8
    """The bar for the later answers. Smart Turn was trained on speech followed by a short silence; on
    longer silences its answer drifts towards "finished" even mid-sentence (measured on Piper speech:
    "Add eggs, milk and" 0.30, 0.06, 0.72 at 0.15, 0.45, 0.75 s; finished questions rechecked at 0.45 s
    gave 0.89 and 0.91)."""
    max_wait_s: float = 1.5
    """Answer anyway after this much silence, whatever the signals say."""
    hang_s: float = 0.5
    """Without a model: the fixed silence that ends a turn (`--hang`)."""
    use_text: bool = True
    """Hold on transcripts that cannot be finished (see `voice.turn.text`)."""
    min_confidence: float = 0.5
    """A transcript Whisper is less sure of than this cannot confirm the model's first "finished": the
    model is asked again `recheck_s` later. Halves of sentences heard in a short pause come out garbled
    and unsure ("Add eggs," in a 0.27 s pause: "at x" 0.41, "Add eggs" 0.39), while complete questions
    scored 0.63-0.96 (Piper's voice); below `stt.min_confidence` (0.4) the reply would be "say that again"
    anyway."""

    def __post_init__(self) -> None:
        if not 0.0 < self.min_pause_s <= self.max_wait_s:
            raise ValueError("min_pause_s must be positive and at most max_wait_s")
        if self.recheck_s is not None and self.recheck_s <= 0:
            raise ValueError("recheck_s must be positive (or None)")
        if not all(0.0 <= v <= 1.0 for v in (self.threshold, self.recheck_threshold, self.min_confidence)):
            raise ValueError("thresholds must be between 0 and 1")
        if not 0.0 <= self.hang_s <= self.max_wait_s:
            raise ValueError("hang_s must be between 0 and max_wait_s")


@dataclass(frozen=True)
class TurnDecision:
    release: bool
    """True: the turn is over now."""
    reason: str
    """What decided, for logs and metrics: "model 0.91", "text: preposition 'for'", "max wait", ..."""
    probability: float | None = None
    """The model's answer when it was asked."""


class TurnDecider:
    """One pause at a time: `reset()` when speech starts or resumes, `due()` on each silent frame,
    `decide()` when due."""

    def __init__(self, config: TurnConfig | None = None) -> None:
        self.config = config or TurnConfig()
        self.reset()

    def reset(self) -> None:
        """Speech (re)started: the next pause is judged afresh."""
        self._next_check_s = self.config.min_pause_s
        self._asked: tuple[float, float] | None = None
        """(silence, probability) of the model's latest answer in this pause."""
        self._rechecked = False
        """Whether that answer is a second opinion (held to `recheck_threshold`)."""

    def due(self, silence_s: float) -> bool:
        """Whether a decision is wanted at this much silence."""
        return silence_s + _EPS >= self._next_check_s

    def decide(
        self,
        silence_s: float,
        transcript: str | Transcript | None,
        probability: Callable[[], float | None] | None,
    ) -> TurnDecision:
        """Decide at `silence_s` of silence. `transcript` is None while not yet known (a plain text counts
        as sure, without near readings); `probability` is None without a model, and only called when the
        words and the clock leave the question open (and a fresh answer is wanted). It may return None:
        the answer is being computed elsewhere (the loop runs the model off its capture thread), so ask
        again at the next frame."""
        cfg = self.config
        if silence_s + _EPS >= cfg.max_wait_s:
            return TurnDecision(True, "max wait")
        if silence_s + _EPS < cfg.min_pause_s:
            return self._wait("pause too short", cfg.min_pause_s)
        heard = Transcript(transcript, 1.0, 0.0) if isinstance(transcript, str) else transcript
        reason = None
        if cfg.use_text and heard is not None:
            reason = unfinished_reading(heard.text, heard.alternatives)
        if reason is not None:
            return self._wait(f"text: {reason}", cfg.max_wait_s)
        if probability is None:
            if silence_s + _EPS >= cfg.hang_s:
                return TurnDecision(True, "hang")
            return self._wait("hang", cfg.hang_s)
        p = self._probability(silence_s, probability)
        if p is None:
            return self._wait("model pending", silence_s)
        if p < (cfg.recheck_threshold if self._rechecked else cfg.threshold):
            again = cfg.max_wait_s if cfg.recheck_s is None else silence_s + cfg.recheck_s
            return self._wait(f"model {p:.2f}", again, p)
        if cfg.use_text and heard is None:
            return self._wait(f"model {p:.2f}, transcript pending", silence_s, p)
        if cfg.use_text and heard.confidence < cfg.min_confidence and not self._rechecked:
            again = cfg.max_wait_s if cfg.recheck_s is None else silence_s + cfg.recheck_s
            return self._wait(f"model {p:.2f}, transcript unsure ({heard.confidence:.2f})", again, p)
        return TurnDecision(True, f"model {p:.2f}", p)

    def _probability(self, silence_s: float, probability: Callable[[], float | None]) -> float | None:
        """The model's answer, asked again only once `recheck_s` more silence has passed (None while a
        fresh answer is pending)."""
        recheck = self.config.recheck_s
        if self._asked is None or (recheck is not None and silence_s + _EPS >= self._asked[0] + recheck):
            p = probability()
            if p is None:
                return None
            self._rechecked = self._asked is not None
            self._asked = (silence_s, p)
        return self._asked[1]

    def _wait(self, reason: str, next_check_s: float, probability: float | None = None) -> TurnDecision:
        self._next_check_s = min(next_check_s, self.config.max_wait_s)
        return TurnDecision(False, reason, probability)
