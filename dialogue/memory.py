"""Conversation memory: the history that fits the model's context, and a rolling summary of what does not.

Budget: the model's context (`context_length` of the backend, default 2048) minus the reply's `max_tokens`
and a small margin holds the system prompt (persona + summary), the newest whole exchanges that fit
(at most `max_messages`), and the new user turn. Tokens are estimated, not counted: about three characters
per token, which overestimates English (closer to four) on purpose, so the estimate errs towards fitting.
Counting exactly would need each model's tokenizer; the embedded backend does count exactly, and trims as a
last resort.

Summary: after a turn is committed, the exchanges that will no longer fit the next prompt are folded into
the summary by the same backend, on a background thread. The next turn never waits for it: starting a turn
cancels the summary's model call at once (the backend stops at its next chance and frees the model) and the
fold is tried again after that turn, so on two cores the summary only uses time the user spends listening
or talking.

Stable prefix: llama.cpp and Ollama reuse the prompt they read last up to the first token that differs, so
a prompt that only grows at its end costs the model only the new turn. Dropping or folding the oldest
exchange at every turn would change the prompt near its start and make the model read all of it again: on
two cores, 4-5 s before the first word. So history leaves the prompt in large steps (down to
`KEEP_AFTER_DROP` of its room), and after a fold the model reads the new prompt ahead, while the user
listens.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass

from dialogue.backends.base import (
    BackendError,
    Cancel,
    ChatBackend,
    GenerationOptions,
    open_stream,
    read_prompt,
)
from dialogue.messages import MESSAGE_OVERHEAD_TOKENS, Message

CHARS_PER_TOKEN = 3.0
IMAGE_TOKENS = 768
"""What one image costs a vision model (gemma3: 256, llava: 576; some more): a reserve, not a count."""
SAFETY_TOKENS = 32
STOP_S = 10.0
"""Longest wait for a cancelled fold to end before the next one starts."""
KEEP_AFTER_DROP = 0.5
"""What share of its room (tokens and messages) the history keeps when the oldest of it must go."""
DEFAULT_CONTEXT = 2048
"""Assumed when a backend does not say (Ollama's own default context is 2048 or 4096, by version)."""

SPEAKERS = {"user": "User", "system": "Note"}
"""How the summary's transcript names who said what; the assistant and its tools' results are the rest."""
SUMMARY_HEADER = "Notes on the earlier part of this conversation:"
SUMMARY_INSTRUCTIONS = (
    "You write short notes about a conversation so that it can be continued later. Keep the names, facts "
    "and preferences the user gave, what was decided and what is still open. Write plain sentences, at most "
    "{words} words, and nothing else."
)


def estimate_tokens(message: Message) -> int:
    return (
        math.ceil(len(message.content) / CHARS_PER_TOKEN)
        + MESSAGE_OVERHEAD_TOKENS
        + IMAGE_TOKENS * len(message.images)
    )


@dataclass(frozen=True)
class Budget:
    """Tokens of a model's context, and how many of them the reply may use."""

    context: int
    reply: int

    @property
    def prompt(self) -> int:
        return self.context - self.reply - SAFETY_TOKENS


@dataclass(frozen=True)
class MemoryConfig:
    max_messages: int = 20
    """History messages sent at most, whatever the context could hold."""
    summarise: bool = True
    """Fold older turns into a rolling summary (otherwise they are only dropped from the prompt)."""
    summary_tokens: int = 160
    """Longest summary, and the room kept for it in every prompt."""
    next_user_tokens: int = 64
    """Room assumed for the next user turn when deciding what to fold."""

    def __post_init__(self) -> None:
        if self.max_messages < 0 or self.summary_tokens < 16:
            raise ValueError("max_messages must be >= 0 and summary_tokens >= 16")


class Memory:
    """The history not yet summarised, the summary, and the background folding."""

    def __init__(
        self,
        backend: ChatBackend,
        config: MemoryConfig | None = None,
        on_fold: Callable[[int, str], None] | None = None,
    ) -> None:
        """`on_fold(n, summary)`: the `n` oldest messages were folded into `summary` (to persist it)."""
        self.backend = backend
        self.config = config or MemoryConfig()
        self.history: list[Message] = []
        self.summary = ""
        self.last_fold_s: float | None = None
        """Seconds the last successful fold took."""
        self.last_fold_error: str | None = None
        self._on_fold = on_fold
        self._lock = threading.RLock()
        self._cancel = Cancel()
        """Stops the running fold and its model call; a new one is made for each fold."""
        self._thread: threading.Thread | None = None
        self._epoch = 0
        """Bumped by `clear()`, so a fold of a forgotten conversation is thrown away."""
        self._start = 0
        """The oldest history message the prompt shows: it moves only when the history no longer fits."""

    def system_message(self, system_prompt: str) -> Message:
        if not self.summary:
            return Message("system", system_prompt)
        return Message("system", f"{system_prompt}\n\n{SUMMARY_HEADER}\n{self.summary}")

    def _exchanges(self) -> list[list[Message]]:
        """The history cut into exchanges, each starting at a user message."""
        exchanges: list[list[Message]] = []
        for message in self.history:
            if message.role == "user" or not exchanges:
                exchanges.append([])
            exchanges[-1].append(message)
        return exchanges

    def _recent_count(self, room: float, most: float) -> int:
        """How many of the newest messages fit in `room` tokens and `most` messages, in whole exchanges."""
        kept = used = 0
        for exchange in reversed(self._exchanges()):
            cost = sum(estimate_tokens(m) for m in exchange)
            if used + cost > room or kept + len(exchange) > most:
                break
            kept += len(exchange)
            used += cost
        return kept

    def window(self, system_prompt: str, user: Message, budget: Budget) -> list[Message]:
        """What the model is sent: system prompt and summary, the recent history that fits, the turn."""
        with self._lock:
            system = self.system_message(system_prompt)
            room = budget.prompt - estimate_tokens(system) - estimate_tokens(user)
            if self._recent_count(room, self.config.max_messages) < len(self.history) - self._start:
                self._start = len(self.history) - self._recent_count(*self._after_drop(room))
            return [system, *self.history[self._start :], user]

    def add(self, *messages: Message) -> None:
        with self._lock:
            self.history.extend(messages)

    def restore(self, messages: Sequence[Message], summary: str) -> None:
        """Resume a stored conversation."""
        with self._lock:
            self.history = list(messages)
            self.summary = summary
            self._start = 0

    def stop(self) -> None:
        """Cancel a fold in progress and throw its result away."""
        with self._lock:
            self.pause()
            self._epoch += 1

    def clear(self) -> None:
        with self._lock:
            self.stop()
            self.history = []
            self.summary = ""
            self._start = 0

    def pause(self) -> None:
        """Cancel a fold in progress, model call included: a turn is starting and must not wait for it.
        Thread-safe and non-blocking."""
        self._cancel.set()

    def _after_drop(self, room: float) -> tuple[float, float]:
        """The room and message count the history keeps when its oldest part must go."""
        return room * KEEP_AFTER_DROP, self.config.max_messages * KEEP_AFTER_DROP

    def _to_fold(self, system_prompt: str, budget: Budget) -> list[Message]:
        """Nothing while the history fits the next prompt; otherwise the oldest messages (whole exchanges)
        beyond what the history keeps when it must drop some."""
        system = estimate_tokens(Message("system", system_prompt)) + self.config.summary_tokens
        room = budget.prompt - system - self.config.next_user_tokens
        if self._recent_count(room, self.config.max_messages) == len(self.history):
            return []
        return self.history[: len(self.history) - self._recent_count(*self._after_drop(room))]

    def fold_in_background(self, system_prompt: str, budget: Budget) -> None:
        """Start folding what no longer fits, unless summaries are off, nothing overflows, or a fold runs."""
        if not self.config.summarise:
            return
        with self._lock:
            previous = self._thread
            if previous is not None and previous.is_alive() and not self._cancel.is_set():
                return
            if not self._to_fold(system_prompt, budget):
                return
            self._cancel = Cancel()
            self._thread = threading.Thread(
                target=self._fold_loop,
                args=(system_prompt, budget, self._epoch, self._cancel, previous),
                name="hark-summary",
                daemon=True,
            )
            self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a running fold; True when none is running any more."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def _fold_loop(
        self,
        system_prompt: str,
        budget: Budget,
        epoch: int,
        cancel: Cancel,
        previous: threading.Thread | None,
    ) -> None:
        if previous is not None:  # a cancelled fold still ending: one model call at a time, and `wait()`
            previous.join(STOP_S)  # on this thread covers that one too
        folded = False
        while not cancel.is_set():
            with self._lock:
                if epoch != self._epoch:
                    return
                room = self._summary_room(budget.context)
                batch = self._batch(self._to_fold(system_prompt, budget), room)
                summary = self.summary
            if not batch:
                break
            start = time.monotonic()
            text = self._summarise(summary, batch, room, cancel)
            if text is None:
                return
            with self._lock:
                if epoch != self._epoch or self.history[: len(batch)] != batch:
                    return
                del self.history[: len(batch)]
                self._start = max(0, self._start - len(batch))
                self.summary = text
                self.last_fold_s = time.monotonic() - start
                if self._on_fold is not None:
                    self._on_fold(len(batch), text)
            folded = True
        if folded:
            self._read_ahead(system_prompt, epoch, cancel)

    def _read_ahead(self, system_prompt: str, epoch: int, cancel: Cancel) -> None:
        """Have the model read what the next turn's prompt starts with (new summary, shorter history): the
        fold changed it near its start, and reading it now spares the user that wait. The prompt ends with
        the last reply, not with a user turn, which only the next turn has."""
        with self._lock:
            if epoch != self._epoch or cancel.is_set():
                return
            prefix = [self.system_message(system_prompt), *self.history[self._start :]]
        read_prompt(self.backend, prefix, cancel)

    def _summary_room(self, context_tokens: int) -> int:
        """Tokens a summary request has for the conversation to fold (besides old notes and new ones)."""
        instructions = estimate_tokens(Message("system", SUMMARY_INSTRUCTIONS)) + MESSAGE_OVERHEAD_TOKENS
        return context_tokens - 2 * self.config.summary_tokens - SAFETY_TOKENS - instructions

    def _batch(self, overflow: list[Message], room: int) -> list[Message]:
        """As many of the overflowing messages as one summary request can hold (at least one exchange)."""
        used = 0
        for end, message in enumerate(overflow):
            used += estimate_tokens(message)
            if used > room and end > 0 and message.role == "user":
                return overflow[:end]
        return overflow

    def _summarise(self, summary: str, batch: list[Message], room: int, cancel: Cancel) -> str | None:
        words = int(self.config.summary_tokens * 0.7)
        transcript = "\n".join(f"{SPEAKERS.get(m.role, 'Assistant')}: {m.content}" for m in batch)
        transcript = transcript[: max(0, int(room * CHARS_PER_TOKEN))]  # one huge exchange must fit too
        task = f"Notes so far: {summary or 'none'}\n\nConversation:\n{transcript}\n\nWrite the updated notes."
        request = [Message("system", SUMMARY_INSTRUCTIONS.format(words=words)), Message("user", task)]
        options = GenerationOptions(max_tokens=self.config.summary_tokens, temperature=0.2, keep_cache=True)
        parts: list[str] = []
        try:
            with closing(
                open_stream(self.backend, lambda _backend: request, options, cancel=cancel)
            ) as stream:
                parts.extend(stream.text())
        except BackendError as exc:
            self.last_fold_error = str(exc)
            return None
        if cancel.is_set():
            return None
        text = " ".join("".join(parts).split())
        limit = int(self.config.summary_tokens * CHARS_PER_TOKEN)
        if len(text) > limit:
            text = text[:limit].rsplit(" ", 1)[0]
        if not text:
            self.last_fold_error = "the model wrote an empty summary"
            return None
        self.last_fold_error = None
        return text
