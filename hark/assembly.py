"""The one place that builds Hark's parts from a `HarkConfig`: speech recognition, speech synthesis, the chat
backends, the dialogue manager and the voice loop. Commands, the kiosk, the benchmarks and the evaluation
runner all build through here, so a setting means the same everywhere.

Adding an engine is one module plus one line in a registry below (`STT_ENGINES`, `TTS_ENGINES`; chat
backends register in `dialogue.backends`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from dialogue.analytics import Analytics
from dialogue.backends.base import BackendError, ChatBackend, ModelNotFound
from dialogue.backends.embedded import EmbeddedBackend
from dialogue.backends.ollama_backend import OllamaBackend
from dialogue.backends.resilient import ResilientBackend, RetryPolicy
from dialogue.backends.select import LlmConfig, select_backend
from dialogue.guardrails import Guardrails
from dialogue.manager import DialogueManager
from dialogue.memory import MemoryConfig
from dialogue.persona import Persona, load_persona
from dialogue.store import ConversationStore
from hark.config import HarkConfig, SttSettings, TtsSettings
from hark.errors import UserError
from hark.paths import analytics_path, conversations_path, personas_dir
from hark.report import Reporter
from vision.describe import describe
from voice.endpointer import EndpointerConfig
from voice.loop import Conversation, EventCallback, LoopConfig, TurnTaking, VoiceLoop
from voice.player import Player
from voice.ports import FrameProcessor, ProcessorChain, SpeechToText, TextToSpeech
from voice.silero import SileroConfirmedVad
from voice.sinks import AudioSink
from voice.sources import AudioSource
from voice.stt import SttConfig, Transcriber
from voice.tts import Speaker, TtsConfig
from voice.vad import FrameVad, WebRtcVad

if TYPE_CHECKING:
    from hark.wyoming_server import WyomingServices

T = TypeVar("T")


def _remote(what: str, uri: str, engine: str, *args: object) -> Any:
    """The Wyoming engine `engine` of `voice.wyoming_client`, connected (the `wyoming` package is imported
    only when it is used); a missing address or an unusable service is the user's to fix."""
    from voice import wyoming_client

    if not uri:
        raise UserError(
            f'{what}.engine = "wyoming" needs the service\'s address: {what}.uri = "tcp://HOST:PORT"'
        )
    try:
        return getattr(wyoming_client, engine)(uri, *args)
    except wyoming_client.WyomingServiceError as exc:
        raise UserError(str(exc)) from None


STT_ENGINES: dict[str, Callable[[SttSettings], SpeechToText]] = {
    "whisper": lambda s: Transcriber(SttConfig(model=s.model)),
    "wyoming": lambda s: _remote("stt", s.uri, "WyomingTranscriber"),
}
TTS_ENGINES: dict[str, Callable[[TtsSettings, str, float], TextToSpeech]] = {
    "piper": lambda _s, voice, rate: Speaker(TtsConfig(voice=voice, rate=rate)),
    "wyoming": lambda s, _voice, _rate: _remote("tts", s.uri, "WyomingSpeaker", s.voice or None),
}


def timed_load(reporter: Reporter, what: str, load: Callable[[], T]) -> T:
    start = time.monotonic()
    value = load()
    reporter.info(f"loaded {what} in {time.monotonic() - start:.1f}s")
    return value


# ---- speech ------------------------------------------------------------------------------------------


def build_transcriber(config: HarkConfig, reporter: Reporter) -> SpeechToText:
    make = STT_ENGINES[config.stt.engine]
    return timed_load(reporter, f"speech recognition ({config.stt.engine})", lambda: make(config.stt))


def build_speaker(config: HarkConfig, reporter: Reporter, persona: Persona | None = None) -> TextToSpeech:
    """The configured voice, else the persona's, else the bundled one (a Wyoming service: its voice name
    from the configuration, else its default)."""
    voice = config.tts.voice or (persona.voice if persona else None) or TtsConfig.voice
    rate = persona.rate if persona else 1.0
    make = TTS_ENGINES[config.tts.engine]
    return timed_load(
        reporter, f"speech synthesis ({config.tts.engine})", lambda: make(config.tts, voice, rate)
    )


# ---- language model ----------------------------------------------------------------------------------


def llm_config(config: HarkConfig) -> LlmConfig:
    llm = config.llm
    kwargs: dict = {"backend": llm.backend, "host": llm.ollama_host or None, "timeout_s": llm.timeout_s}
    kwargs.update(base_url=llm.base_url, api_key_env=llm.api_key_env, sees_images=llm.sees_images)
    if llm.model or llm.backend == "openai":  # no openai model id: the server's only one
        kwargs["embedded_model" if llm.backend == "embedded" else "model"] = llm.model
    return LlmConfig(**kwargs)


def retry_policy(config: HarkConfig) -> RetryPolicy:
    recovery = config.recovery
    return RetryPolicy(
        attempts=recovery.retries + 1,
        backoff_s=recovery.backoff_s,
        cooldown_s=recovery.cooldown_s,
        first_token_timeout_s=config.llm.first_token_timeout_s,
    )


SERVED_ENGINES = ("ollama", "openai")
"""Engines behind a model server: wrapped with retries and, unless Ollama was named, the embedded fallback."""


def build_backend(config: HarkConfig, reporter: Reporter) -> ChatBackend:
    """The configured model; a served model is wrapped with retries and, with `auto` (Ollama) or `openai`,
    the embedded model as its fallback."""
    start = time.monotonic()
    settings = llm_config(config)
    backend, note = select_backend(settings)
    reporter.info(f"{note} ({time.monotonic() - start:.1f}s)")
    if backend.name not in SERVED_ENGINES:
        return backend
    fallback = None
    if settings.backend in ("auto", "openai") and config.recovery.fallback:
        server = "Ollama" if backend.name == "ollama" else "the model server"

        def fallback() -> ChatBackend:
            embedded = EmbeddedBackend(settings.embedded_model)
            reporter.info(f"{server} is not answering: the {embedded.describe()} answers until it is back")
            return embedded

    return ResilientBackend(backend, fallback, retry_policy(config))


def build_vision_backend(config: HarkConfig, main: ChatBackend, reporter: Reporter) -> ChatBackend | None:
    """The vision model for images the main model cannot see, when it is set, pulled and sees."""
    name = config.dialogue.vision_model
    if not name or main.sees_images or config.llm.backend == "embedded":
        return None
    settings = llm_config(config)
    vision = OllamaBackend(name, settings.host, settings.timeout_s)
    instead = "images will be described from what can be found on this computer"
    try:
        vision.check()
    except ModelNotFound:
        reporter.info(f"the vision model {name} is not pulled (run: ollama pull {name}); {instead}")
        return None
    except BackendError as exc:
        reporter.info(f"the vision model is not usable ({exc}); {instead}")
        return None
    if not vision.sees_images:
        reporter.info(f"{name} cannot see images either; {instead}")
        return None
    reporter.info(f"images go to {vision.describe()}")
    return ResilientBackend(vision, None, retry_policy(config))


def build_persona(config: HarkConfig) -> Persona:
    return load_persona(config.dialogue.persona or None, personas_dir())


def build_manager(
    config: HarkConfig,
    reporter: Reporter,
    *,
    keep: bool = True,
    resume: str | int | None = None,
    image_describer: Callable[[bytes], str] | None = None,
    backend: ChatBackend | None = None,
) -> DialogueManager:
    """The dialogue manager: persona, guardrails, memory, recovery, vision, and, when `keep` and
    `privacy.log` allow, the conversation store and analytics. `resume`: "latest" or a conversation id.

    `image_describer` defaults to the vision package's local description (size, colours, OCR text).
    `backend`: a chat model already built, shared with other conversations (default: a new one).
    """
    if resume is not None and not (keep and config.privacy.log):
        raise UserError("--resume needs the stored conversations, and storing them is off (privacy.log)")
    persona = build_persona(config)
    guardrails = Guardrails(config.guardrails)
    backend = backend or build_backend(config, reporter)
    conversations = turns = None
    if keep and config.privacy.log:
        retention = config.privacy.retention_days
        conversations = ConversationStore(conversations_path(), retention, redact=guardrails.redact)
        turns = Analytics(analytics_path(), guardrails.redact, retention)
    dialogue = config.dialogue
    manager = DialogueManager(
        backend,
        persona=persona,
        guardrails=guardrails,
        memory=MemoryConfig(
            max_messages=dialogue.max_history_messages,
            summarise=dialogue.summarise,
            summary_tokens=dialogue.summary_tokens,
        ),
        store=conversations,
        analytics=turns,
        vision_backend=build_vision_backend(config, backend, reporter),
        image_describer=image_describer or describe,
    )
    if resume is not None:
        conversation = manager.resume(None if resume == "latest" else resume)
        reporter.info(f"resuming conversation {conversation} ({len(manager.history)} messages)")
    return manager


def close_manager(manager: DialogueManager) -> None:
    """End a command's conversation: background model calls stopped and joined, the stores closed, then the
    models it was built with (so no native model call is still running when the interpreter exits)."""
    manager.close()
    for backend in (manager.backend, manager.vision_backend):
        if backend is not None:
            backend.close()


# ---- the voice loop ----------------------------------------------------------------------------------


def build_vad(config: HarkConfig) -> FrameVad:
    gate = WebRtcVad(config.vad.aggressiveness)
    return SileroConfirmedVad(gate) if config.vad.noisy_room else gate


def endpointer_config(config: HarkConfig) -> EndpointerConfig:
    return EndpointerConfig(hang_s=config.vad.hang_s, max_utterance_s=config.vad.max_utterance_s)


def loop_config(config: HarkConfig, realtime_sink: bool) -> LoopConfig:
    """A sink that does not play in real time (a file) cannot be heard by the microphone: full duplex."""
    mode = TurnTaking(config.audio.turn_taking) if realtime_sink else TurnTaking.FULL_DUPLEX
    return LoopConfig(
        endpointer=endpointer_config(config),
        turn_taking=mode,
        barge_in_min_s=config.audio.barge_in_min_s,
        partial_interval_s=LoopConfig.partial_interval_s if config.stt.partials else None,
        speculate=config.stt.speculate,
    )


def build_loop(
    config: HarkConfig,
    source: AudioSource,
    sink: AudioSink,
    transcriber: SpeechToText,
    speaker: TextToSpeech,
    conversation: Conversation,
    on_event: EventCallback,
    *,
    realtime: bool,
    vad: FrameVad | None = None,
    processors: Sequence[FrameProcessor] = (),
) -> tuple[VoiceLoop, Player]:
    """The voice loop over `source` and `sink`, and its player (close it after `run()`). `processors` clean
    each microphone frame before VAD (echo cancellation, noise suppression, wake word), in order."""
    player = Player(sink, realtime=realtime)
    loop = VoiceLoop(
        source,
        player,
        vad or build_vad(config),
        transcriber,
        speaker,
        conversation,
        loop_config(config, realtime),
        on_event,
        processors=ProcessorChain(processors),
    )
    return loop, player


# ---- network services --------------------------------------------------------------------------------


def build_wyoming_services(
    config: HarkConfig,
    reporter: Reporter,
    *,
    transcriber: SpeechToText | None = None,
    speaker: TextToSpeech | None = None,
    backend: ChatBackend | None = None,
) -> WyomingServices:
    """What `hark.wyoming_server` offers: speech recognition, the persona's voice, and a dialogue manager
    per conversation around one chat model. Pass the parts already loaded to share them."""
    from hark.wyoming_server import WyomingServices, service_info

    persona = build_persona(config)
    shared = backend or build_backend(config, reporter)
    voice = config.tts.voice or persona.voice
    return WyomingServices(
        transcriber=transcriber or build_transcriber(config, reporter),
        speaker=speaker or build_speaker(config, reporter, persona),
        new_manager=lambda: build_manager(config, reporter, backend=shared),
        info=service_info(
            config.stt.model, Path(voice).stem if voice.endswith(".onnx") else voice, persona.name
        ),
        max_utterance_s=config.vad.max_utterance_s,
    )
