"""The dialogue manager: builds what the model sees for each turn and remembers what was said."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from dialogue.backends.base import BackendError, ChatBackend, GenerationOptions
from dialogue.messages import Message
from dialogue.prompts import DEFAULT_SYSTEM_PROMPT

INTERRUPTED_MARK = " [interrupted by the user]"
APOLOGY = "Sorry, I can't reach my language model right now. Please try again in a moment."


@dataclass
class TurnRecord:
    """What happened in one turn, for the caller's metrics and logs."""

    user: str
    reply: str = ""
    generated: str = ""
    interrupted: bool = False
    error: str | None = None
    blocked: bool = False
    """A guardrail refused the turn (the reply is then the polite refusal)."""
    guardrail: str | None = None
    """Which guardrail rule fired, if any."""
    images_seen: bool = False
    """The model itself received the turn's images (False when they were described as text instead)."""


class DialogueTurn:
    """One reply being generated. Iterate `pieces()`, then call `finish()` with what was heard."""

    def __init__(self, manager: DialogueManager, user: Message) -> None:
        self._manager = manager
        self._user = user
        self.record = TurnRecord(user=user.content)
        self._finished = False

    def pieces(self) -> Iterator[str]:
        messages = self._manager.messages_for(self._user)
        try:
            for piece in self._manager.backend.stream(messages, self._manager.options):
                self.record.generated += piece
                yield piece
        except BackendError as exc:
            self.record.error = str(exc)
            if not self.record.generated:
                self.record.generated = APOLOGY
                yield APOLOGY

    def finish(self, heard: str | None = None, interrupted: bool = False) -> None:
        """Commit the turn to the history, keeping only the reply the user heard."""
        if self._finished:
            return
        self._finished = True
        reply = self.record.generated.strip() if heard is None else heard.strip()
        self.record.reply = reply
        self.record.interrupted = interrupted
        self._manager.commit(self._user, reply + (INTERRUPTED_MARK if interrupted else ""))


@dataclass
class DialogueManager:
    backend: ChatBackend
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    options: GenerationOptions = field(default_factory=GenerationOptions)
    max_history_messages: int = 20
    history: list[Message] = field(default_factory=list)
    image_describer: Callable[[bytes], str] | None = None
    """Turns an image into text (OCR, size, colours) for a model that cannot see images."""

    def begin_turn(self, text: str, images: Sequence[bytes] = ()) -> DialogueTurn:
        if images and not self.backend.sees_images:
            turn = DialogueTurn(self, Message("user", self._describe_images(text, images)))
            turn.record.user = text
            return turn
        turn = DialogueTurn(self, Message("user", text, tuple(images)))
        turn.record.images_seen = bool(images)
        return turn

    def _describe_images(self, text: str, images: Sequence[bytes]) -> str:
        """The question with what can be known locally about each image, since the model cannot see."""
        notes = []
        for i, image in enumerate(images, 1):
            facts = self.image_describer(image) if self.image_describer else "no local description available"
            notes.append(f"Image {i}: {facts}")
        return (
            f"{text}\n\n[The user showed {len(images)} image(s), but you cannot see images. Say so briefly "
            "and honestly, then answer only from these facts found on this computer:\n"
            + "\n".join(notes)
            + "]"
        )

    def messages_for(self, user: Message) -> list[Message]:
        """System prompt, the recent history (text only: images are sent with their own turn), the turn."""
        recent = self.history[-self.max_history_messages :]
        return [Message("system", self.system_prompt), *recent, user]

    def commit(self, user: Message, reply: str) -> None:
        note = f" [{len(user.images)} image(s) shown]" if user.images else ""
        self.history.append(Message("user", user.content + note))
        self.history.append(Message("assistant", reply))

    def reply(self, text: str, images: Sequence[bytes] = ()) -> str:
        """Generate a whole reply (no streaming consumer) and commit it."""
        turn = self.begin_turn(text, images)
        for _ in turn.pieces():
            pass
        turn.finish()
        return turn.record.reply

    def reset(self) -> None:
        self.history.clear()
