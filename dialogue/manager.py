"""The dialogue manager: builds what the model sees for each turn and remembers what was said.

One turn: input guardrails (a blocked turn gets the persona's refusal, no model call) → the prompt (persona,
summary, the history that fits, the turn with its images or, for a model that cannot see, what is known
about them locally) → the reply streamed through the output guardrails → `finish()` commits what the user
heard to memory and the conversation store, writes the analytics row, and starts folding old turns into the
summary in the background.

Foreground first: background model calls (the summary, the warm-up) are cancelled when a turn begins, so a
reply never waits behind them on any backend; the summary is tried again after the turn.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing

from dialogue.analytics import Analytics
from dialogue.backends.base import (
    BackendError,
    Cancel,
    ChatBackend,
    GenerationOptions,
    ModelNotFound,
    StreamInfo,
    open_stream,
)
from dialogue.errors import DialogueError
from dialogue.guardrails import Guardrails
from dialogue.memory import DEFAULT_CONTEXT, Budget, Memory, MemoryConfig
from dialogue.messages import Message
from dialogue.persona import Persona
from dialogue.prompts import DEFAULT_SYSTEM_PROMPT
from dialogue.record import STAGES, TurnRecord
from dialogue.store import ConversationStore

__all__ = ["APOLOGY", "INTERRUPTED_MARK", "DialogueManager", "DialogueTurn", "TurnRecord"]

INTERRUPTED_MARK = " [interrupted by the user]"
APOLOGY = "Sorry, I can't reach my language model right now. Please try again in a moment."
FALLBACK_NOTICE = (
    "My main language model isn't answering, so a smaller model on this computer will reply for now."
)
MISSING_MODEL = "The model {model} is not installed in Ollama; to fix that, run: ollama pull {model}."
MISSING_MODEL_FALLBACK = MISSING_MODEL + " Until then, a smaller model on this computer will reply."
IMAGES_NOT_SEEN = (
    "I can't see images with the model I'm using, so this is from what this computer could make out."
)


class DialogueTurn:
    """One reply in the making. Iterate `pieces()`, then `finish()` with what was heard.

    `cancel()`, from any thread, abandons the model call at once: `pieces()` then ends without an apology.
    A canned turn (a guardrail refusal, a reprompt) replies with fixed text and is not added to the memory,
    nor is a cancelled turn of which nothing was heard (as if it never happened; analytics say interrupted).
    """

    def __init__(
        self, manager: DialogueManager, text: str, images: Sequence[bytes] = (), canned: str | None = None
    ) -> None:
        self._manager = manager
        self.text = text
        self.images = tuple(images)
        self._canned = canned
        self.record = TurnRecord(user=text, images=len(self.images))
        self._facts: list[str] | None = None
        self._finished = False
        self._cancel = Cancel()
        self.announced_fallback = False
        """This turn told the user that the fallback model answers."""

    @property
    def canned(self) -> bool:
        return self._canned is not None

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Stop the model call now (thread-safe, never blocks); `pieces()` then ends soon, quietly."""
        self._cancel.set()

    def pieces(self) -> Iterator[str]:
        if self._cancel.is_set():
            return
        if self._canned is not None:
            self.record.generated = self._canned
            yield self._canned
            return
        persona = self._manager.persona
        guard = self._manager.guardrails.output_guard(persona.system_prompt)
        raw = self._model_pieces()
        try:
            for piece in raw:
                if self._cancel.is_set():
                    return
                for segment in guard.feed(piece):
                    self.record.generated += segment
                    yield segment
                if guard.verdict is not None:
                    break
            if self._cancel.is_set():
                return  # nothing more is to be heard, not even what the guard still holds
            for segment in guard.flush():
                self.record.generated += segment
                yield segment
        finally:
            raw.close()
        if guard.verdict is not None and not self._cancel.is_set():
            self.record.blocked, self.record.guardrail = True, guard.verdict.rule
            generated = self.record.generated
            refusal = (" " if generated and not generated[-1].isspace() else "") + persona.refusal
            self.record.generated += refusal
            yield refusal

    def _model_pieces(self) -> Iterator[str]:
        """The model's reply; on failure what was produced is kept, or a message says what went wrong."""
        manager = self._manager
        routes = manager.routes(self.images)
        start = time.monotonic()
        for i, backend in enumerate(routes):
            info = StreamInfo()
            produced = False
            try:
                stream = open_stream(backend, self._prepare, manager.options, info, self._cancel)
                with closing(stream):
                    for piece in stream.text():
                        if not produced:
                            produced = True
                            self.record.latencies["llm_first_token_s"] = round(time.monotonic() - start, 4)
                            notice = manager.fallback_notice(info) if backend is manager.backend else None
                            if notice:
                                self.announced_fallback = True
                                yield notice + " "
                            if self.images and not self.record.images_seen:
                                yield IMAGES_NOT_SEEN + " "  # said by Hark: a small model may not say it
                        yield piece
            except BackendError as exc:
                if self._cancel.is_set():
                    return
                if not produced and i + 1 < len(routes):
                    continue  # the vision model failed: the main model answers from what is known locally
                self.record.error = str(exc)
                if not produced:
                    yield manager.failure_message(exc)
            finally:
                self._note(info, fallback=i > 0)
                self.record.latencies["llm_s"] = round(time.monotonic() - start, 4)
            return

    def _note(self, info: StreamInfo, fallback: bool) -> None:
        record = self.record
        record.backend, record.model = info.backend or None, info.model or None
        record.fallback = fallback or info.fallback_reason is not None
        record.attempts += info.attempts or 1
        record.prompt_tokens, record.reply_tokens = info.prompt_tokens, info.reply_tokens

    def _prepare(self, backend: ChatBackend) -> list[Message]:
        """The messages for `backend`: the images themselves if it sees, otherwise what is known of them."""
        manager = self._manager
        sees = bool(self.images) and backend.sees_images
        self.record.images_seen = sees
        if sees or not self.images:
            user = Message("user", self.text, self.images)
        else:
            notes = "\n".join(f"Image {i}: {facts}" for i, facts in enumerate(self._image_facts(), 1))
            shown = f"The user showed {len(self.images)} image(s), but you cannot see images"
            told = "and the user has been told so. Answer only from these facts found on this computer"
            user = Message("user", f"{self.text}\n\n[{shown}, {told}:\n{notes}]")
        return manager.memory.window(manager.persona.system_prompt, user, manager.budget(backend))

    def _image_facts(self) -> list[str]:
        if self._facts is None:
            describe = self._manager.image_describer
            self._facts = []
            for image in self.images:
                try:
                    self._facts.append(describe(image) if describe else "no local description available")
                except ValueError as exc:  # vision's ImageInputError: not an image, too large, ...
                    self._facts.append(f"the image could not be read ({exc})")
        return self._facts

    def history_text(self) -> str:
        """The user's turn as the history keeps it: a note of the images replaces them."""
        if not self.images:
            return self.text
        if self.record.images_seen or self._facts is None:
            return f"{self.text} [{len(self.images)} image(s) shown]"
        facts = "; ".join(self._facts)
        return f"{self.text} [{len(self.images)} image(s) shown; found on this computer: {facts}]"

    def finish(self, heard: str | None = None, interrupted: bool = False) -> None:
        """Commit the turn to the history, keeping only the reply the user heard."""
        if self._finished:
            return
        self._finished = True
        self.record.reply = (self.record.generated if heard is None else heard).strip()
        self.record.interrupted = interrupted or self._cancel.is_set()
        self._manager.finish_turn(self)

    @property
    def remembered(self) -> bool:
        """Whether the turn belongs in the history: a real exchange the user heard something of. A turn a
        guardrail blocked (at input or in the reply) is not: a role or an instruction it set up must not
        reach the next model call."""
        if self.canned or self.record.blocked:
            return False
        return not (self._cancel.is_set() and not self.record.reply)


class DialogueManager:
    """Conversation state and policy around a chat backend.

    A bare manager (`DialogueManager(backend)`) keeps the history in memory only and does not summarise;
    `hark.assembly.build_manager` adds the persona, guardrails, summaries, store and analytics.
    """

    def __init__(
        self,
        backend: ChatBackend,
        system_prompt: str = DEFAULT_SYSTEM_PROMPT,
        options: GenerationOptions | None = None,
        max_history_messages: int = 20,
        *,
        image_describer: Callable[[bytes], str] | None = None,
        persona: Persona | None = None,
        guardrails: Guardrails | None = None,
        memory: MemoryConfig | None = None,
        store: ConversationStore | None = None,
        analytics: Analytics | None = None,
        vision_backend: ChatBackend | None = None,
    ) -> None:
        """`image_describer` turns an image into text (OCR, size, colours) for a model that cannot see;
        `vision_backend` answers turns with images when `backend` cannot see them."""
        self.backend = backend
        self.options = options or GenerationOptions()
        self.persona = persona or Persona.plain(system_prompt)
        self.guardrails = guardrails or Guardrails()
        self.image_describer = image_describer
        self.vision_backend = vision_backend
        self.store = store
        self.analytics = analytics
        config = memory or MemoryConfig(max_messages=max_history_messages, summarise=False)
        self.memory = Memory(backend, config, on_fold=self._persist_fold)
        self.conversation_id: int | None = None
        """The stored conversation; created with its first turn."""
        self.last_record: TurnRecord | None = None
        """The record of the last finished turn."""
        self._lock = threading.Lock()
        self._announced_fallback = False
        self._warm_up = Cancel()
        self._warm_up_thread: threading.Thread | None = None

    @property
    def system_prompt(self) -> str:
        return self.persona.system_prompt

    @property
    def history(self) -> list[Message]:
        """The messages not yet folded into the summary, oldest first."""
        return self.memory.history

    def budget(self, backend: ChatBackend) -> Budget:
        return Budget(getattr(backend, "context_length", None) or DEFAULT_CONTEXT, self.options.max_tokens)

    def begin_turn(self, text: str, images: Sequence[bytes] = ()) -> DialogueTurn:
        verdict = self.guardrails.check_input(text)
        if verdict is not None:
            turn = DialogueTurn(self, text, images, canned=self.persona.refusal)
            turn.record.blocked, turn.record.guardrail = True, verdict.rule
            return turn
        self._pause_background()
        return DialogueTurn(self, text, images)

    def _pause_background(self) -> None:
        """Cancel the background model calls, so that the turn starting now does not wait behind them."""
        self.memory.pause()
        self._warm_up.set()

    def reprompt(self, heard: str = "", confidence: float | None = None) -> DialogueTurn:
        """A turn asking the user to repeat (speech empty or not understood): recorded, no model call."""
        turn = DialogueTurn(self, heard, canned=self.persona.reprompt)
        turn.record.reprompt, turn.record.stt_confidence = True, confidence
        return turn

    def routes(self, images: Sequence[bytes]) -> list[ChatBackend]:
        """Who answers, in order: the vision model first for images the main model cannot see."""
        if images and not self.backend.sees_images and self.vision_backend is not None:
            return [self.vision_backend, self.backend]
        return [self.backend]

    def fallback_notice(self, info: StreamInfo) -> str | None:
        """What to say when the fallback answers for the main backend: once per outage.

        The outage is known to be announced only when a turn that said so is finished: a speculative turn
        the voice loop drops must not use up the announcement.
        """
        reason = info.fallback_reason
        if reason is None or self._announced_fallback:
            return None
        if isinstance(reason, ModelNotFound):
            return MISSING_MODEL_FALLBACK.format(model=reason.model or self.backend.model)
        return FALLBACK_NOTICE

    def failure_message(self, error: BackendError) -> str:
        if isinstance(error, ModelNotFound):
            return MISSING_MODEL.format(model=error.model or self.backend.model)
        return APOLOGY

    def finish_turn(self, turn: DialogueTurn) -> None:
        record = turn.record
        self.last_record = record
        if turn.announced_fallback:
            self._announced_fallback = True
        elif record.backend is not None and not record.fallback:
            self._announced_fallback = False  # the main backend answered again: a new outage is news
        with self._lock:
            if self.store is not None and self.conversation_id is None:
                self.conversation_id = self.store.create(self.persona.name)
            record.conversation_id = self.conversation_id
            if turn.remembered:
                reply = record.reply + (INTERRUPTED_MARK if record.interrupted else "")
                messages = (Message("user", turn.history_text()), Message("assistant", reply))
                self.memory.add(*messages)
                if self.store is not None and self.conversation_id is not None:
                    self.store.append(self.conversation_id, messages)
        if self.analytics is not None:
            record.row_id = self.analytics.record(record)
        if turn.remembered:
            self.memory.fold_in_background(self.persona.system_prompt, self.budget(self.backend))

    def _persist_fold(self, count: int, summary: str) -> None:
        if self.store is not None and self.conversation_id is not None:
            self.store.fold(self.conversation_id, count, summary)

    def add_latencies(self, record: TurnRecord, latencies: dict[str, float]) -> None:
        """Stage latencies measured outside the manager (STT, TTS, end of speech to first audio)."""
        known = {k: v for k, v in latencies.items() if k in STAGES and isinstance(v, (int, float))}
        new = {k: v for k, v in known.items() if k not in record.latencies}
        record.latencies.update(new)
        if new and self.analytics is not None and record.row_id is not None:
            self.analytics.add_latencies(record.row_id, new)

    def reply(self, text: str, images: Sequence[bytes] = ()) -> str:
        """Generate a whole reply (no streaming consumer) and commit it."""
        turn = self.begin_turn(text, images)
        for _ in turn.pieces():
            pass
        turn.finish()
        return turn.record.reply

    def resume(self, conversation_id: int | None = None) -> int:
        """Continue a stored conversation (the latest when no id is given); returns its id."""
        if self.store is None:
            raise DialogueError("conversations are not being saved (--no-log), so none can be resumed")
        stored = self.store.load(conversation_id)
        with self._lock:
            self.memory.restore(stored.messages, stored.summary)
            self.conversation_id = stored.id
        return stored.id

    def reset(self) -> None:
        """Forget the conversation (memory and summary); the next turn starts a new stored conversation."""
        with self._lock:
            self.memory.clear()
            self.conversation_id = None
            if self.store is not None:
                self.store.purge()

    def warm_up(self, wait_s: float = 30.0) -> bool:
        """Have the model read the system prompt once before the first user speaks; True when it did.

        The first request otherwise pays for it: Ollama loads the model on first use (seconds), and
        llama.cpp keeps the prompt it last read, so the system prompt becomes a cached prefix (the first
        embedded-model token of the demo went from 0.54 s to under 0.1 s). It runs in the background and
        waits at most `wait_s` for it; a turn that begins cancels it. A failure here is not an error: the
        first turn will report it.
        """
        messages = [Message("system", self.persona.system_prompt), Message("user", "Hello.")]
        cancel = self._warm_up = Cancel()

        def run() -> None:
            try:
                stream = open_stream(
                    self.backend, lambda _b: messages, GenerationOptions(max_tokens=1), None, cancel
                )
                with closing(stream):
                    next(stream, None)
            except BackendError:
                pass

        thread = self._warm_up_thread = threading.Thread(target=run, name="hark-warm-up", daemon=True)
        thread.start()
        thread.join(wait_s)
        return not thread.is_alive() and not cancel.is_set()

    def close(self, timeout_s: float = 5.0) -> bool:
        """Cancel background model calls and wait (at most `timeout_s` each) for them to end, then close the
        store and analytics. True when nothing is left running (no native model call at interpreter exit)."""
        self.memory.stop()
        self._warm_up.set()
        stopped = self.memory.wait(timeout=timeout_s)
        if self._warm_up_thread is not None:
            self._warm_up_thread.join(timeout_s)
            stopped = stopped and not self._warm_up_thread.is_alive()
        for closable in (self.store, self.analytics):
            if closable is not None:
                closable.close()
        return stopped
