"""One browser (or program) talking to Hark: its own conversation, persona, memory and turn-taking state,
on the models every session shares.

Each session runs the real voice loop (`voice.loop.VoiceLoop`, built by `hark.assembly.build_loop`) on its
own threads; its microphone and speaker are the socket (`hark.serve.audio`). Only the models are shared:
Whisper and Piper through `hark.serve.fair` (short calls in fair order), the chat backend as it is (Ollama
and OpenAI-compatible servers take concurrent requests; the embedded model answers one reply at a time).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from dialogue.backends.base import ChatBackend
from dialogue.manager import DialogueManager
from hark import assembly
from hark.config import HarkConfig
from hark.conversation import VoiceConversation
from hark.errors import UserError
from hark.report import Reporter
from hark.serve.audio import SocketSink, SocketSource
from hark.serve.fair import SharedSpeaker, SharedTranscriber
from vision.image import decode
from voice.events import VoiceEvent
from voice.turn import EndOfTurnModel

PERSONA_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
"""A client may pick a persona by name, never by path (it would read files on the server)."""
STOP_WAIT_S = 3.0
"""How long closing a session waits for its loop to end (a hung model call is not waited for)."""


@dataclass(frozen=True)
class SharedModels:
    """What every session uses: one Whisper, one Piper, one chat backend, one end-of-turn model."""

    transcriber: SharedTranscriber
    speaker: SharedSpeaker
    backend: ChatBackend
    config: HarkConfig
    reporter: Reporter
    turn_model: EndOfTurnModel | None = None

    def new_manager(self, persona: str | None = None) -> DialogueManager:
        """A conversation of its own (memory, persona, guardrails) on the shared backend. Web sessions are
        not stored: they are anonymous and end when the page closes."""
        config = self.config if persona is None else self.config.replaced("dialogue.persona", persona)
        return assembly.build_manager(config, self.reporter, keep=False, backend=self.backend)

    @staticmethod
    def close_manager(manager: DialogueManager) -> None:
        """End a session's conversation, and its vision model if it has one; the shared backend stays."""
        manager.close()
        if manager.vision_backend is not None:
            manager.vision_backend.close()

    def close(self) -> None:
        self.backend.close()


def session_persona(name: object) -> str | None:
    """The persona a client asked for (None: the server's), checked to be a name: a path would read files
    on the server."""
    if name is None:
        return None
    if not isinstance(name, str) or not PERSONA_NAME.fullmatch(name):
        raise UserError(f"persona must be a name (letters, digits, - and _), not {name!r}")
    return name


class SessionConversation(VoiceConversation):
    """The session's conversation: an image the user sent goes with the next question they ask."""

    def __init__(self, manager: DialogueManager, min_confidence: float) -> None:
        super().__init__(manager, min_confidence)
        self._image: bytes | None = None
        self._image_lock = threading.Lock()

    def attach(self, image: bytes) -> None:
        """Keep `image` for the next turn; raises `vision.errors.ImageInputError` for a non-image."""
        decode(image, "the uploaded image")
        with self._image_lock:
            self._image = image

    def _look(self, text: str) -> list[bytes]:
        with self._image_lock:
            image, self._image = self._image, None
        return [image] if image is not None else super()._look(text)


class Session:
    """A voice loop on a socket. `send_event` and `send_audio` queue for the socket (never block);
    `on_end` is told once the loop has ended, whatever the reason."""

    def __init__(
        self,
        session_id: int,
        config: HarkConfig,
        models: SharedModels,
        send_event: Callable[[dict], None],
        send_audio: Callable[[bytes], None],
        persona: str | None = None,
    ) -> None:
        self.id = session_id
        self.models = models
        self.manager = models.new_manager(persona)
        self.source = SocketSource()
        self._send_event = send_event
        self.conversation = SessionConversation(self.manager, config.stt.min_confidence)
        if models.turn_model is None:
            config = config.replaced("turn.model", "off")  # none loaded: the hang ends turns
        self.loop, self.player = assembly.build_loop(
            config,
            self.source,
            SocketSink(send_audio, send_event),
            models.transcriber,
            models.speaker,
            self.conversation,
            self._on_event,
            realtime=True,
            turn_model=models.turn_model,
        )
        self._thread = threading.Thread(target=self._run, name=f"hark-session-{session_id}", daemon=True)

    def start(self, greet: bool) -> None:
        if greet:
            self.loop.say(self.manager.persona.greeting)
        self._thread.start()

    def _on_event(self, event: VoiceEvent) -> None:
        self._send_event(event.to_json())
        self.conversation.on_event(event)

    def _run(self) -> None:
        try:
            self.loop.run()
        except Exception as exc:  # one session's failure is reported to it, never to the others
            self._send_event({"event": "error", "kind": "session", "message": str(exc)})

    def close(self) -> None:
        """Stop listening and replying, and free the session (blocking: call it off the event loop)."""
        self.loop.stop()
        if self._thread.ident is not None:  # started
            self._thread.join(STOP_WAIT_S)
        self.player.close()
        self.models.close_manager(self.manager)


def serving_config(config: HarkConfig) -> HarkConfig:
    """The voice loop's settings for a socket session: barge-in unless configured otherwise (the browser
    cancels Hark's echo before the audio is sent), and utterances no longer than `serve.max_utterance_s`."""
    if config.origin("audio.turn_taking").kind == "default":
        config = config.replaced("audio.turn_taking", "barge-in")
    longest = min(config.vad.max_utterance_s, config.serve.max_utterance_s)
    return config.replaced("vad.max_utterance_s", longest)


def load_models(config: HarkConfig, reporter: Reporter) -> SharedModels:
    """Load the models once for every session, and have the model read the system prompt once."""
    models = SharedModels(
        SharedTranscriber(assembly.build_transcriber(config, reporter)),
        SharedSpeaker(assembly.build_speaker(config, reporter, assembly.build_persona(config))),
        assembly.build_backend(config, reporter),
        config,
        reporter,
        assembly.build_turn_model(config, reporter),
    )
    first = models.new_manager()
    first.warm_up()
    models.close_manager(first)
    return models
