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
from typing import TypeVar

from dialogue.analytics import Analytics
from dialogue.backends.base import BackendError, ChatBackend, ModelNotFound
from dialogue.backends.embedded import EmbeddedBackend
from dialogue.backends.ollama_backend import OllamaBackend
from dialogue.backends.resilient import ResilientBackend, RetryPolicy
from dialogue.backends.select import LlmConfig, select_backend
from dialogue.flows.engine import FlowEngine
from dialogue.flows.spec import load_flows
from dialogue.guardrails import Guardrails
from dialogue.manager import DialogueManager
from dialogue.memory import MemoryConfig
from dialogue.persona import Persona, load_persona
from dialogue.store import ConversationStore
from dialogue.tools import store as tool_store
from dialogue.tools.registry import ToolRegistry
from dialogue.tools.toolbox import Toolbox
from hark.config import HarkConfig, SttSettings, TtsSettings
from hark.errors import UserError
from hark.paths import analytics_path, conversations_path, data_dir, personas_dir
from hark.report import Reporter
from vision.describe import describe
from voice.endpointer import EndpointerConfig
from voice.loop import Conversation, EventCallback, LoopConfig, TurnTaking, VoiceLoop
from voice.player import Player
from voice.ports import FrameProcessor, ProcessorChain
from voice.silero import SileroConfirmedVad
from voice.sinks import AudioSink
from voice.sources import AudioSource
from voice.stt import SttConfig, Transcriber
from voice.tts import Speaker, TtsConfig
from voice.vad import FrameVad, WebRtcVad

T = TypeVar("T")

STT_ENGINES: dict[str, Callable[[SttSettings], Transcriber]] = {
    "whisper": lambda s: Transcriber(SttConfig(model=s.model)),
}
TTS_ENGINES: dict[str, Callable[[TtsSettings, str, float], Speaker]] = {
    "piper": lambda _s, voice, rate: Speaker(TtsConfig(voice=voice, rate=rate)),
}


def timed_load(reporter: Reporter, what: str, load: Callable[[], T]) -> T:
    start = time.monotonic()
    value = load()
    reporter.info(f"loaded {what} in {time.monotonic() - start:.1f}s")
    return value


# ---- speech ------------------------------------------------------------------------------------------


def build_transcriber(config: HarkConfig, reporter: Reporter) -> Transcriber:
    make = STT_ENGINES[config.stt.engine]
    return timed_load(reporter, f"speech recognition ({config.stt.engine})", lambda: make(config.stt))


def build_speaker(config: HarkConfig, reporter: Reporter, persona: Persona | None = None) -> Speaker:
    """The configured voice, else the persona's, else the bundled one."""
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
    if llm.model:
        kwargs["embedded_model" if llm.backend == "embedded" else "model"] = llm.model
    return LlmConfig(**kwargs)


def retry_policy(config: HarkConfig) -> RetryPolicy:
    recovery = config.recovery
    return RetryPolicy(
        attempts=recovery.retries + 1, backoff_s=recovery.backoff_s, cooldown_s=recovery.cooldown_s
    )


def build_backend(config: HarkConfig, reporter: Reporter) -> ChatBackend:
    """The configured model; an Ollama model is wrapped with retries and, with `auto`, the embedded
    model as its fallback."""
    start = time.monotonic()
    settings = llm_config(config)
    backend, note = select_backend(settings)
    reporter.info(f"{note} ({time.monotonic() - start:.1f}s)")
    if backend.name != "ollama":
        return backend
    fallback = None
    if settings.backend == "auto" and config.recovery.fallback:

        def fallback() -> ChatBackend:
            embedded = EmbeddedBackend(settings.embedded_model)
            reporter.info(f"Ollama is not answering: the {embedded.describe()} answers until it is back")
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
    tool_events: bool = True,
) -> DialogueManager:
    """The dialogue manager: persona, guardrails, memory, recovery, vision, and, when `keep` and
    `privacy.log` allow, the conversation store and analytics. `resume`: "latest" or a conversation id.

    `image_describer` defaults to the vision package's local description (size, colours, OCR text).
    `tool_events`: report each tool call and result through `reporter.event` (the `--json` lines).
    """
    if resume is not None and not (keep and config.privacy.log):
        raise UserError("--resume needs the stored conversations, and storing them is off (privacy.log)")
    persona = build_persona(config)
    flows = build_flows(config)  # a bad flow file stops the command before any model loads
    guardrails = Guardrails(config.guardrails)
    backend = build_backend(config, reporter)
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
        toolbox=build_toolbox(config, reporter, keep=keep),
        flows=flows,
        on_tool_event=(lambda event: reporter.event(event.to_json())) if tool_events else None,
    )
    if resume is not None:
        conversation = manager.resume(None if resume == "latest" else resume)
        reporter.info(f"resuming conversation {conversation} ({len(manager.history)} messages)")
    return manager


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
    transcriber: Transcriber,
    speaker: Speaker,
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
