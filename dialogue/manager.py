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

import copy
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from typing import Protocol

from dialogue.analytics import Analytics
from dialogue.backends.base import (
    BackendError,
    Cancel,
    ChatBackend,
    GenerationOptions,
    ModelNotFound,
    StreamInfo,
    StreamItem,
    TextDelta,
    ToolCallItem,
    open_stream,
    read_prompt,
)
from dialogue.errors import DialogueError
from dialogue.feedback import recognise
from dialogue.flows.engine import STATE_MARK, FlowEngine, FlowState, FlowStep
from dialogue.guardrails import Guardrails
from dialogue.memory import DEFAULT_CONTEXT, Budget, Memory, MemoryConfig
from dialogue.messages import Message
from dialogue.persona import Persona
from dialogue.prompts import DEFAULT_SYSTEM_PROMPT
from dialogue.record import STAGES, TurnRecord
from dialogue.store import ConversationStore
from dialogue.tools.calling import TurnTools, describe_call, is_yes
from dialogue.tools.events import ToolEvent
from dialogue.tools.toolbox import Toolbox

__all__ = [
    "APOLOGY",
    "DialogueManager",
    "DialogueTurn",
    "TurnAid",
    "TurnHelper",
    "TurnRecord",
    "interrupted_note",
]


def interrupted_note(heard: str) -> Message:
    """What the model is told of a reply the user cut short, in place of the reply.

    The cut reply itself teaches SmolLM2-135M to cut its own: after five replies interrupted after one to
    four words, it answered new questions with "The" (the cut reply alone), "The [interrupted by the
    user]" (with that note in the reply) or "The" (with a note after the reply). Told as a note, it
    answered them.
    """
    return Message("system", f'You began to answer "{heard}" and the user interrupted you.')


APOLOGY = "Sorry, I can't reach my language model right now. Please try again in a moment."
FALLBACK_NOTICE = (
    "My main language model isn't answering, so a smaller model on this computer will reply for now."
)
MISSING_MODEL = "The model {model} is not installed in Ollama; to fix that, run: ollama pull {model}."
MISSING_MODEL_FALLBACK = MISSING_MODEL + " Until then, a smaller model on this computer will reply."
MAX_TOOL_ROUNDS = 3
"""Model rounds in a turn with tools: the call, one repair of an invalid call, the answer."""
NOT_DONE = "All right, I won't."
IMAGES_NOT_SEEN = (
    "I can't see images with the model I'm using, so this is from what this computer could make out."
)


@dataclass(frozen=True)
class TurnAid:
    """What a `TurnHelper` adds to one turn."""

    reply: str | None = None
    """Say this instead of asking the model (a memory request; "I don't know" when no document says)."""
    context: str = ""
    """System-prompt text for this turn only (retrieved passages, what the user asked Hark to remember)."""
    sources: tuple[dict, ...] = ()
    """Where the context came from, for the reply event (`[{"title", "path", "chunk"}]`)."""
    commit: Callable[[], None] | None = None
    """A lasting change, made only when the turn is finished and heard: a speculative turn the voice loop
    drops changes nothing."""


class TurnHelper(Protocol):
    """Consulted at the start of every model turn, in order, inside the speculative window (the reply's
    pump thread), so its work adds nothing audible to the answer time."""

    def aid(self, text: str) -> TurnAid | None:
        """What to add to the turn whose user text is `text`; None for nothing."""
        ...

    def reset(self) -> None:
        """The conversation is forgotten (`DialogueManager.reset`, e.g. a kiosk visitor left)."""
        ...


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
        self._aids: list[TurnAid] = []
        self.sources: list[dict] = []
        """The sources the helpers gave the model for this turn (known once `pieces()` has begun)."""
        self._finished = False
        self._cancel = Cancel()
        self.announced_fallback = False
        """This turn told the user that the fallback model answers."""
        self.turn_id = 0
        """The caller's number for this turn (the voice loop's), used in tool events."""
        self.confirmed: ToolCallItem | None = None
        """A call the user said yes to: it runs before the model answers."""
        self.tools: TurnTools | None = None
        self.flow_step: FlowStep | None = None
        """This turn's part in a dialogue flow (None: an ordinary turn)."""
        self.answers_confirmation = False
        self._flow_from: tuple[FlowState | None] | None = None
        """The flow state this turn starts from, when flows are on."""
        """The turn settles the call waiting for a yes (it ran, was refused, or a new one waits)."""

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
        answer = self._consult()
        if answer is not None:
            self.record.generated = answer
            yield answer
            return
        step = self._flow_step()
        if step is not None and not step.digress:
            said = yield from self._flow_action(step)
            self.record.generated += said
            yield said
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
        if step is not None and not self._cancel.is_set():  # a digression answered: back to the flow
            back = " " + step.say
            self.record.generated += back
            yield back

    def _flow_step(self) -> FlowStep | None:
        """The turn's part in a flow, decided now (the model may be asked for slot values: cancellable)."""
        manager = self._manager
        if self._flow_from is None or manager.flows is None:
            return None
        extract = getattr(manager.backend, "extract", None)
        cancel = self._cancel
        self.flow_step = manager.flows.step(
            self._flow_from[0], self.text, (lambda m, s: extract(m, s, cancel)) if extract else None
        )
        return self.flow_step

    def _flow_action(self, step: FlowStep) -> Iterator[str]:
        """Run the flow's action when the user confirmed it (the filler said while it runs); returns what
        to say: the prompt, the confirmation, or how the action went."""
        if step.call is None:
            return step.say
        manager = self._manager
        registry = manager.toolbox.registry if manager.toolbox is not None else None
        if registry is None or registry.get(step.call.name) is None:
            return f"Sorry, I can't do that right now: {step.call.name.replace('_', ' ')} is not available."
        tools = self.tools = TurnTools(
            registry, manager.guardrails, self._cancel, self.turn_id, manager.emit_tool_event
        )
        yield from tools.handle([step.call], confirmed=True)
        if not tools.results:
            return ""
        result = tools.results[-1]
        if not result.ok:
            return f"Sorry, that did not work: {result.content.removeprefix('error: ')}"
        return step.say.format(result=result.content, **step.call.arguments)

    def _consult(self) -> str | None:
        """Ask the manager's helpers, in order; the first that answers the turn itself ends the round."""
        for helper in self._manager.helpers:
            if self._cancel.is_set():
                break
            aid = helper.aid(self.text)
            if aid is not None:
                self._aids.append(aid)
                self.sources.extend(aid.sources)
                if aid.reply is not None:
                    return aid.reply
        return None

    def _model_pieces(self) -> Iterator[str]:
        """The model's reply; on failure what was produced is kept, or a message says what went wrong."""
        manager = self._manager
        routes = manager.routes(self.images)
        start = time.monotonic()
        for i, backend in enumerate(routes):
            info = StreamInfo()
            produced = False
            try:
                with closing(self._rounds(backend, info)) as pieces:
                    for piece in pieces:
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

    def _items(
        self, backend: ChatBackend, options: GenerationOptions, info: StreamInfo
    ) -> Iterator[StreamItem]:
        with closing(open_stream(backend, self._prepare, options, info, self._cancel)) as stream:
            yield from stream

    def _rounds(self, backend: ChatBackend, info: StreamInfo) -> Iterator[str]:
        """The reply's text over the model rounds of the turn: while the model calls tools, they run and
        their results go back to it; tools are offered in the first round, and again only to repair an
        invalid call, so one fast tool adds one model round-trip."""
        manager = self._manager
        if manager.toolbox is None:
            yield from (
                item.text
                for item in self._items(backend, manager.options, info)
                if isinstance(item, TextDelta)
            )
            return
        tools = self.tools = TurnTools(
            manager.toolbox.registry, manager.guardrails, self._cancel, self.turn_id, manager.emit_tool_event
        )
        if self.confirmed is not None:
            yield from tools.handle([self.confirmed], confirmed=True)
        offer = self.confirmed is None and not self.images  # a turn with images is about them
        offer = offer and (backend.name != "embedded" or manager.tools_on_embedded)
        reserved = manager.flows.actions if manager.flows is not None else frozenset()
        specs = tuple(s for s in manager.toolbox.registry.specs() if s["function"]["name"] not in reserved)
        for _ in range(MAX_TOOL_ROUNDS):
            options = replace(manager.options, tools=specs if offer else ())
            calls: list[ToolCallItem] = []
            for item in self._items(backend, options, info):
                if isinstance(item, TextDelta):
                    yield item.text
                else:
                    calls.append(item)
            if not calls or self._cancel.is_set():
                return
            yield from tools.handle(calls)
            if tools.confirmation is not None:
                yield describe_call(tools.confirmation.name, tools.confirmation.arguments) + ", shall I?"
                return
            offer = tools.needs_repair

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
        system = "\n\n".join([manager.persona.system_prompt, *(a.context for a in self._aids if a.context)])
        messages = manager.memory.window(system, user, manager.budget(backend))
        return messages + (self.tools.messages if self.tools is not None else [])

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
        if self.remembered:
            for aid in self._aids:
                if aid.commit is not None:
                    aid.commit()
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
        helpers: Sequence[TurnHelper] = (),
        toolbox: Toolbox | None = None,
        flows: FlowEngine | None = None,
        on_tool_event: Callable[[ToolEvent], None] | None = None,
        tools_on_embedded: bool = False,
    ) -> None:
        """`image_describer` turns an image into text (OCR, size, colours) for a model that cannot see;
        `vision_backend` answers turns with images when `backend` cannot see them; `helpers` may add
        context to each turn or answer it before the model (knowledge, personal memory). `toolbox`: the
        tools the model may call; `on_tool_event` hears of each call and result (from the turn's thread);
        `tools_on_embedded`: offer them to the small embedded model too (flows call their actions anyway)."""
        self.backend = backend
        self.options = options or GenerationOptions()
        self.persona = persona or Persona.plain(system_prompt)
        self.guardrails = guardrails or Guardrails()
        self.image_describer = image_describer
        self.vision_backend = vision_backend
        self.helpers = tuple(helpers)
        self.store = store
        self.analytics = analytics
        self.toolbox = toolbox
        self.tools_on_embedded = tools_on_embedded
        self.on_tool_event = on_tool_event
        self.pending_call: ToolCallItem | None = None
        """A call that asked the user "shall I?": it runs only if the next turn says yes."""
        self.flows = flows
        self.flow_state: FlowState | None = None
        """The dialogue flow under way, as of the last finished turn."""
        self._turn_ids = itertools.count(1)
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

    @property
    def awaiting_answer(self) -> bool:
        """Whether the last reply asked the user something a flow or a tool call waits on ("Shall I book
        it?", "For how many people?"): then "cancel" or "stop" is an answer to it."""
        return self.pending_call is not None or self.flow_state is not None

    def budget(self, backend: ChatBackend) -> Budget:
        return Budget(getattr(backend, "context_length", None) or DEFAULT_CONTEXT, self.options.max_tokens)

    def begin_turn(self, text: str, images: Sequence[bytes] = ()) -> DialogueTurn:
        verdict = self.guardrails.check_input(text)
        if verdict is not None:
            turn = DialogueTurn(self, text, images, canned=self.persona.refusal)
            turn.record.blocked, turn.record.guardrail = True, verdict.rule
            return turn
        self._pause_background()
        pending = self.pending_call  # settled when the turn is finished: a speculative turn may be dropped
        if pending is not None and not is_yes(text):
            turn = DialogueTurn(self, text, images, canned=NOT_DONE)
            turn.answers_confirmation = True
            return turn
        turn = DialogueTurn(self, text, images)
        turn.turn_id, turn.confirmed = next(self._turn_ids), pending
        turn.answers_confirmation = True
        if self.flows is not None and pending is None:
            turn._flow_from = (copy.deepcopy(self.flow_state),)
        return turn

    def emit_tool_event(self, event: ToolEvent) -> None:
        if self.on_tool_event is not None:
            self.on_tool_event(event)

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
        previous, self.last_record = self.last_record, record
        if turn.announced_fallback:
            self._announced_fallback = True
        elif record.backend is not None and not record.fallback:
            self._announced_fallback = False  # the main backend answered again: a new outage is news
        with self._lock:
            if self.store is not None and self.conversation_id is None:
                self.conversation_id = self.store.create(self.persona.name)
            record.conversation_id = self.conversation_id
            tools = turn.tools
            if tools is not None:
                record.tool_calls = tools.calls
            if turn.answers_confirmation and (record.reply or not turn.cancelled):
                self.pending_call = tools.confirmation if tools is not None else None
            if turn.remembered:
                called = tuple(tools.history) if tools is not None else ()
                called += self._flow_done(turn)
                reply = record.reply
                answer = interrupted_note(reply) if record.interrupted else Message("assistant", reply)
                messages = (Message("user", turn.history_text()), *called, answer)
                self.memory.add(*messages)
                if self.store is not None and self.conversation_id is not None:
                    self.store.append(self.conversation_id, messages)
        if self.analytics is not None:
            record.row_id = self.analytics.record(record, self.persona.name)
            self._record_feedback(previous, record)
        if turn.remembered:
            self.memory.fold_in_background(self.persona.system_prompt, self.budget(self.backend))

    def _record_feedback(self, previous: TurnRecord | None, record: TurnRecord) -> None:
        """What the user said about the previous reply of this conversation ("that's wrong") rates it."""
        said = recognise(record.user)
        if said is None or previous is None or previous.row_id is None or self.analytics is None:
            return
        if previous.conversation_id == record.conversation_id:
            self.analytics.set_feedback(previous.row_id, said.rating, record.user, source="said")

    def _flow_done(self, turn: DialogueTurn) -> tuple[Message, ...]:
        """Move the flow on as the finished turn says; the history line that records where it stands."""
        step = turn.flow_step
        if step is None:
            return ()
        self.flow_state = step.state
        turn.record.flow = step.flow
        turn.record.slots = dict(step.state.slots if step.state else step.call.arguments if step.call else {})
        line = step.state.line() if step.state else FlowState.ended_line(step.flow, "ended")
        return (Message("tool", line),)

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
            lines = [
                m.content for m in stored.messages if m.role == "tool" and m.content.startswith(STATE_MARK)
            ]
            self.flow_state = FlowState.from_line(lines[-1]) if lines else None
        return stored.id

    def reset(self) -> None:
        """Forget the conversation (memory and summary); the next turn starts a new stored conversation."""
        with self._lock:
            self.memory.clear()
            self.conversation_id = None
            self.flow_state = self.pending_call = None
            if self.store is not None:
                self.store.purge()
        for helper in self.helpers:
            helper.reset()

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
        thread = self._warm_up_thread = threading.Thread(
            target=read_prompt, args=(self.backend, messages, cancel), name="hark-warm-up", daemon=True
        )
        thread.start()
        thread.join(wait_s)
        return not thread.is_alive() and not cancel.is_set()

    def close(self, timeout_s: float = 5.0) -> bool:
        """Cancel background model calls and wait (at most `timeout_s` each) for them to end, then close the
        store, analytics and tools. True when nothing is left running (no native model call at interpreter
        exit)."""
        self.memory.stop()
        self._warm_up.set()
        stopped = self.memory.wait(timeout=timeout_s)
        if self._warm_up_thread is not None:
            self._warm_up_thread.join(timeout_s)
            stopped = stopped and not self._warm_up_thread.is_alive()
        for closable in (self.store, self.analytics, self.toolbox):
            if closable is not None:
                closable.close()
        return stopped
