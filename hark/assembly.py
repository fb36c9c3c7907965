"""The one place that builds Hark's parts from a `HarkConfig`: speech recognition, speech synthesis, the chat
backends, the dialogue manager and the voice loop. Commands, the kiosk, the benchmarks and the evaluation
runner all build through here, so a setting means the same everywhere.

Adding an engine is one module plus one line in a registry below (`STT_ENGINES`, `TTS_ENGINES`; chat
backends register in `dialogue.backends`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from dialogue.analytics import Analytics
from dialogue.backends.base import BackendError, ChatBackend, ModelNotFound
from dialogue.backends.embedded import EmbeddedBackend
from dialogue.backends.ollama_backend import OllamaBackend
from dialogue.backends.resilient import ResilientBackend, RetryPolicy
from dialogue.backends.select import LlmConfig, select_backend
from dialogue.flows.engine import FlowEngine
from dialogue.flows.spec import load_flows
from dialogue.guardrails import Guardrails
from dialogue.knowledge import DEFAULT_BASE, KnowledgeBase, KnowledgeIndex, RetrievalSettings
from dialogue.knowledge.embeddings import OLLAMA, QUERY_TIMEOUT_S, make_embedder
from dialogue.knowledge.grounding import Grounding
from dialogue.manager import DialogueManager, TurnHelper
from dialogue.memory import MemoryConfig
from dialogue.persona import Persona, load_persona
from dialogue.store import ConversationStore
from dialogue.tools import store as tool_store
from dialogue.tools.registry import ToolRegistry
from dialogue.tools.toolbox import Toolbox
from dialogue.usermemory import FactStore, PersonalMemory
from hark.config import HarkConfig, SttSettings, TtsSettings
from hark.errors import UserError
from hark.paths import (
    analytics_path,
    conversations_path,
    data_dir,
    knowledge_path,
    personas_dir,
    user_memory_path,
)
from hark.report import Reporter
from vision.describe import describe
from voice.devices import find_device
from voice.endpointer import EndpointerConfig
from voice.errors import AudioDeviceError
from voice.events import Metrics, VoiceEvent
from voice.loop import Conversation, EventCallback, LoopConfig, TurnTaking, VoiceLoop
from voice.player import Player
from voice.ports import FrameProcessor, ProcessorChain, SpeechToText, TextToSpeech
from voice.processors.echo import EchoCanceller, EchoCancellerUnavailable, EchoConfig
from voice.processors.wake import WakeWordDetector, wake_word_pair
from voice.silero import SileroConfirmedVad
from voice.sinks import AudioSink
from voice.sources import AudioSource
from voice.stt import SttConfig, Transcriber
from voice.tts import Speaker, TtsConfig
from voice.turn import BUNDLED as BUNDLED_TURN_MODEL
from voice.turn import EndOfTurnModel, TurnConfig, TurnModelError
from voice.turn.worker import TurnPredictor
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


def build_toolbox(config: HarkConfig, reporter: Reporter, *, keep: bool = True) -> Toolbox | None:
    """The tools the model may call: the built-ins (notes and timers only where they can be kept, in
    $HARK_HOME) and the `[[tools.mcp]]` servers, started now; a server that fails is reported, not fatal."""
    from hark.tools.mcp_client import connect_servers  # the `mcp` client is imported only when needed

    tools = config.tools
    if not tools.enabled:
        return None
    store = None
    if tools.builtin and keep and config.privacy.log:
        store = tool_store.ToolStore(data_dir() / tool_store.DB_NAME)
    toolbox = Toolbox.with_builtins(store) if tools.builtin else Toolbox(ToolRegistry())
    connect_servers(toolbox, tools.mcp)
    for problem in toolbox.status.values():
        reporter.info(f"warning: {problem}; the conversation goes on without its tools")
    return toolbox


def build_flows(config: HarkConfig) -> FlowEngine | None:
    """The `[dialogue] flows` files (patterns relative to the config file's folder), checked now."""
    if not config.dialogue.flows:
        return None
    base = Path(config.source).parent if config.source != "defaults" else Path.cwd()
    return FlowEngine(load_flows(config.dialogue.flows, base))


def build_manager(
    config: HarkConfig,
    reporter: Reporter,
    *,
    keep: bool = True,
    resume: str | int | None = None,
    image_describer: Callable[[bytes], str] | None = None,
    backend: ChatBackend | None = None,
    visits: bool = False,
    tool_events: bool = True,
) -> DialogueManager:
    """The dialogue manager: persona, guardrails, memory, recovery, vision, knowledge, the user's long-term
    memory, and, when `keep` and `privacy.log` allow, the conversation store and analytics. `resume`:
    "latest" or a conversation id. `visits`: conversations are kiosk visits (see `build_helpers`).

    `image_describer` defaults to the vision package's local description (size, colours, OCR text).
    `backend`: a chat model already built, shared with other conversations (default: a new one).
    `tool_events`: report each tool call and result through `reporter.event` (the `--json` lines).
    """
    if resume is not None and not (keep and config.privacy.log):
        raise UserError("--resume needs the stored conversations, and storing them is off (privacy.log)")
    persona = build_persona(config)
    flows = build_flows(config)  # a bad flow file stops the command before any model loads
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
        helpers=build_helpers(config, persona, reporter, keep=keep, visits=visits),
        toolbox=build_toolbox(config, reporter, keep=keep),
        flows=flows,
        on_tool_event=(lambda event: reporter.event(event.to_json())) if tool_events else None,
        tools_on_embedded=config.tools.embedded,
    )
    if resume is not None:
        conversation = manager.resume(None if resume == "latest" else resume)
        reporter.info(f"resuming conversation {conversation} ({len(manager.history)} messages)")
    return manager


def build_helpers(
    config: HarkConfig, persona: Persona, reporter: Reporter, *, keep: bool = True, visits: bool = False
) -> list[TurnHelper]:
    """The user's memory first (its requests are answered before anything else), then the knowledge base.

    Memory is the configured user's, in $HARK_HOME, for a home install; a kiosk visitor's facts (`visits`)
    and an evaluation's (`keep=False`) live in memory only, for one visit, unless `memory.kiosk_keep`.
    """
    helpers: list[TurnHelper] = []
    memory = config.memory
    if memory.enabled:
        lasting = keep and (memory.kiosk_keep or not visits)
        store = FactStore(user_memory_path() if lasting else ":memory:")
        helpers.append(PersonalMemory(store, memory.user, memory.context_chars, per_visit=not lasting))
    grounding = build_grounding(config, persona, reporter)
    if grounding is not None:
        helpers.append(grounding)
    return helpers


def build_grounding(config: HarkConfig, persona: Persona, reporter: Reporter) -> Grounding | None:
    """Answers from `knowledge.base`, else the persona's base, else the default base when it has documents.

    A base that was named and does not exist is an error; the default base is simply not used while empty.
    Its embedder is loaded now (MiniLM reads its weights once), so the first question does not pay for it.
    """
    settings = config.knowledge
    name = settings.base or persona.knowledge
    path = knowledge_path()
    if not name and not path.is_file():
        return None
    index = KnowledgeIndex(path)
    spec = index.embedder_of(name or DEFAULT_BASE)
    if spec is None:
        if name:
            raise UserError(
                f"no knowledge base named {name!r} (add documents with `hark knowledge add --kb {name}`)"
            )
        return None
    name = name or DEFAULT_BASE

    def load() -> Grounding:
        embedder = make_embedder(spec, timeout_s=QUERY_TIMEOUT_S)
        if embedder is not None and not spec.startswith(OLLAMA):
            embedder.embed(["warm up"])  # a local model: weights read and first-call set-up done now
        return Grounding(
            KnowledgeBase(index, name, RetrievalSettings(settings.min_score), embedder), settings.k
        )

    return timed_load(reporter, f"knowledge base {name!r} ({spec or 'BM25 only'})", load)


def announce_reminders(manager: DialogueManager, loop: VoiceLoop) -> None:
    """Timers and reminders set with the tools are said by `loop` when due (also those that came due
    while Hark was not running)."""
    if manager.toolbox is not None:
        manager.toolbox.announce_with(loop.say)


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


def turn_config(config: HarkConfig) -> TurnConfig:
    """The end-of-turn decision; `--hang` is its fallback when the model is off or fails mid-session."""
    turn = config.turn
    try:
        return TurnConfig(
            min_pause_s=turn.min_pause_s,
            threshold=turn.threshold,
            recheck_threshold=turn.recheck_threshold,
            max_wait_s=turn.max_wait_s,
            hang_s=min(config.vad.hang_s, turn.max_wait_s),
            use_text=turn.text,
        )
    except ValueError as exc:
        raise UserError(f"[turn]: {exc}") from None


def build_turn_model(config: HarkConfig, reporter: Reporter) -> EndOfTurnModel | None:
    """The end-of-turn model, or None when it is off. A model the user named that cannot be loaded is an
    error; the bundled one missing or broken is a warning, and the fixed hang ends turns instead."""
    spec = config.turn.model
    if spec == "off":
        return None
    try:
        return timed_load(reporter, "end-of-turn model", lambda: EndOfTurnModel(spec))
    except TurnModelError as exc:
        if spec != BUNDLED_TURN_MODEL:
            raise UserError(f"turn.model: {exc}") from None
        reporter.info(f"warning: {exc}; turns end after {config.vad.hang_s:g} s of silence instead")
        return None


def loop_config(config: HarkConfig, realtime_sink: bool, echo_cancelling: bool = False) -> LoopConfig:
    """A sink that does not play in real time (a file) cannot be heard by the microphone: full duplex.
    `auto` turn-taking is barge-in when the echo is cancelled, else half-duplex."""
    setting = config.audio.turn_taking
    if setting == "auto":
        setting = (TurnTaking.BARGE_IN if echo_cancelling else TurnTaking.HALF_DUPLEX).value
    mode = TurnTaking(setting) if realtime_sink else TurnTaking.FULL_DUPLEX
    return LoopConfig(
        endpointer=endpointer_config(config),
        turn_taking=mode,
        barge_in_min_s=config.audio.barge_in_min_s,
        overheard_min_confidence=config.audio.overheard_min_confidence,
        echo_after_pause_s=config.audio.echo_after_pause_s,
        partial_interval_s=LoopConfig.partial_interval_s if config.stt.partials else None,
        speculate=config.stt.speculate,
        turn=turn_config(config),
    )


WakeCallback = Callable[[str, float], None]


@dataclass(frozen=True)
class Processors:
    """The microphone's frame processors, in order, and the echo canceller among them (for its ERLE)."""

    chain: tuple[FrameProcessor, ...] = ()
    echo: EchoCanceller | None = None


def input_latency_s(device: str) -> float:
    """The microphone stream's input latency: how late a captured frame reaches the loop, which is how much
    later than its reference the echo shows in the frame timestamps (the output latency is already in the
    reference's). The echo canceller starts from it and tracks the rest, so a microphone that is missing
    now (the kiosk waits for it) gives 0."""
    import sounddevice as sd

    try:
        info = sd.query_devices(find_device(device or None, "input"), "input")
    except (AudioDeviceError, ValueError, sd.PortAudioError):
        return 0.0
    return float(info["default_high_input_latency"])


def build_processors(
    config: HarkConfig,
    realtime: bool,
    reporter: Reporter,
    *,
    mic_latency_s: float = 0.0,
    wake_word: str = "",
    on_wake: WakeCallback | None = None,
) -> Processors:
    """Echo cancellation whenever Hark plays through a speaker (unless `audio.aec` is off), then the wake
    word (a detector on each side of the canceller, see `wake_word_pair`). When the WebRTC binding does not
    load, that is said once and Hark goes on without it (so `auto` turn-taking stays half-duplex)."""
    echo = None
    if realtime and config.audio.aec:
        try:
            echo = EchoCanceller(EchoConfig(device_delay_s=min(mic_latency_s, 1.0)))
        except EchoCancellerUnavailable as exc:
            reporter.info(f"{exc}; Hark will not listen while it speaks")
    if not wake_word or on_wake is None:
        return Processors((echo,) if echo else (), echo)
    if echo is None:
        return Processors((WakeWordDetector(wake_word, on_wake),), None)
    before, after = wake_word_pair(wake_word, on_wake)
    return Processors((before, echo, after), echo)


def with_erle(on_event: EventCallback, echo: EchoCanceller | None) -> EventCallback:
    """`on_event` with each turn's `metrics` carrying the echo canceller's current ERLE."""
    if echo is None:
        return on_event

    def report(event: VoiceEvent) -> None:
        if isinstance(event, Metrics) and (erle := echo.erle_db) is not None:
            event = dataclasses.replace(event, erle_db=round(erle, 1))
        on_event(event)

    return report


LIVE_MICROPHONE_BUFFER_S = 0.1
"""The speaker's buffer in barge-in mode, against the host's default (35 ms through PulseAudio). With the
microphone live while Hark speaks, Whisper and the turn model run during replies, and on two busy cores the
speaker's callback missed its 9 ms slots: 42 underruns in one run of the peer benchmark's echo path, each
moving Hark's voice against the echo canceller's reference, which then let the echo through (48 barge-ins
over 15 replies). With 0.1 s: no underrun, 7 barge-ins over 12 replies, each a question played over the
reply. It costs 65 ms more to first audio, so half-duplex keeps the default."""


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
    processors: Processors = Processors(),
    turn_model: TurnPredictor | None = None,
    reporter: Reporter | None = None,
) -> tuple[VoiceLoop, Player]:
    """The voice loop over `source` and `sink`, and its player (close it after `run()`). `processors`
    (from `build_processors`) clean each microphone frame before VAD; with an echo canceller among them,
    `auto` turn-taking is barge-in and each `metrics` event carries its ERLE. `turn_model`: an end-of-turn
    model already loaded (a benchmark's, shared by its runs); without it the configured one is loaded here
    (`turn.model`; "off": none)."""
    if turn_model is None:
        turn_model = build_turn_model(config, reporter or Reporter())
    settings = loop_config(config, realtime, processors.echo is not None)
    if settings.turn_taking is TurnTaking.BARGE_IN and hasattr(sink, "buffer_s"):
        sink.buffer_s = LIVE_MICROPHONE_BUFFER_S
    player = Player(sink, realtime=realtime)
    loop = VoiceLoop(
        source,
        player,
        vad or build_vad(config),
        transcriber,
        speaker,
        conversation,
        settings,
        with_erle(on_event, processors.echo),
        processors=ProcessorChain(processors.chain),
        turn_model=turn_model,
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
