"""The kiosk runner: builds the stack once, serves visitor after visitor, and stays up through faults.

Threads: the main thread loads everything, then keeps time (session idle timeouts, the systemd watchdog)
and acts on signals; the voice loop runs on its own thread (plus its STT, reply and playback threads); the
health endpoints have theirs.

Signals: SIGTERM/SIGINT stop within a second, exit code 0: the reply under way is cut, queued utterances get
no reply, and a model call that hangs (a turn, a summary, or loading at start-up) is abandoned.
SIGHUP reloads the configuration: kiosk and logging settings, the persona and the guardrails apply at once,
others (devices, models) are named in a `restart_required` log line. SIGUSR1 is push-to-talk.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

from dialogue.errors import DialogueError
from dialogue.guardrails import Guardrails
from dialogue.manager import DialogueManager
from dialogue.persona import Persona
from hark import assembly
from hark.config import ConfigError, HarkConfig
from hark.errors import UserError
from hark.kiosk.audio import MonitoredInput, PortAudio, SpeakerOutput
from hark.kiosk.conversation import KioskConversation
from hark.kiosk.health import HealthServer
from hark.kiosk.log import JsonLog, LogReporter
from hark.kiosk.metrics import KioskMetrics
from hark.kiosk.session import Sessions
from hark.kiosk.systemd import Notifier
from vision.camera import parse_device, snapshot
from voice.events import VoiceEvent
from voice.loop import LoopSummary, VoiceLoop
from voice.player import Player
from voice.sinks import AudioSink, WavSink
from voice.sources import FileSource, ReconnectingSource

STOP_GRACE_S = 0.8
"""After SIGTERM the loop gets this long to wind down (it returns sooner even when a model call hangs: the
loop never waits for the model); its thread is a daemon, so a stuck callback cannot hold the exit."""
TICK_S = 0.2
FRAMES_STALL_S = 5.0
"""No microphone frame for this long (and no reconnect under way) means the capture is stuck: no watchdog
ping, so systemd restarts the kiosk."""
LIVE_PREFIXES = ("kiosk.", "logging.", "guardrails.", "dialogue.persona")
RESTART_ONLY = ("kiosk.health_host", "kiosk.health_port", "guardrails.redact_pii")
"""Settings read once at start: a reload names them in `restart_required` instead of applying them."""


def _wall(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


class _StoppedWhileLoading(Exception):
    """Raised in the main thread by SIGTERM while models load, so that a hung server cannot hold the exit."""


class KioskService:
    def __init__(
        self,
        config: HarkConfig,
        input_path: str | None = None,
        output_path: str | None = None,
        health_port: int | None = None,
        out: TextIO | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """`health_port` (from the command line) wins over the configuration, also after a reload."""
        self.config = config
        self.input_path = input_path
        self.output_path = output_path
        self.health_port = health_port if health_port is not None else config.kiosk.health_port
        self.environ = os.environ if environ is None else environ
        self.log = JsonLog(config.logging, out, redact=Guardrails(config.guardrails).redact)
        self.metrics = KioskMetrics()
        self.systemd = Notifier(self.environ)
        self.sessions = Sessions(config.kiosk, on_event=self._session_event)
        self.conversation: KioskConversation | None = None
        self.state = "starting"
        self.started = time.monotonic()
        self.loaded_at = time.time()
        self.reloads = 0
        self.restart_required: list[str] = []
        self.last_turn_at: float | None = None
        self.llm_error: str | None = None
        self.input: MonitoredInput | None = None
        self.output: SpeakerOutput | None = None
        self._portaudio = PortAudio()
        self._stop = threading.Event()
        self._stop_at: float | None = None
        self._stop_signal = ""
        self._summary: LoopSummary | None = None
        self._reload = threading.Event()
        self._push = threading.Event()
        self._crash: BaseException | None = None
        self._last_ping = 0.0
        self._fallback = config.llm.backend == "auto" and config.recovery.fallback
        """Whether the embedded model stands in for Ollama: as started (a reload does not change it)."""

    # ---- events: logged, counted, and acted on ------------------------------------------------------

    def emit(self, event: dict | VoiceEvent) -> None:
        """Every loop and kiosk event goes through here. It must never raise: the loop's threads call it."""
        try:
            if isinstance(event, VoiceEvent):
                if self.conversation is not None:
                    self.conversation.on_loop_event(event)
                event = event.to_json()
            self.log.emit(event)
            self.metrics.observe(event)
            kind = event.get("event")
            if kind == "turn":
                self.last_turn_at = time.time()
                if event["kind"] == "answer":
                    self.llm_error = event.get("error")
            elif kind == "announcement":
                self.sessions.spoke()
        except Exception as exc:  # logging must not take a turn or the loop down
            self.log.emit({"event": "error", "kind": "internal", "message": f"{type(exc).__name__}: {exc}"})

    def _session_event(self, event: dict) -> None:
        """Called by `Sessions` under its lock: the conversation is forgotten before any next turn starts."""
        if event["event"] == "session_end" and self.conversation is not None:
            manager = self.conversation.manager
            visit = manager.conversation_id
            if (
                visit is not None
                and manager.store is not None
                and not self.config.privacy.keep_kiosk_conversations
            ):
                manager.store.delete(visit)  # the visitor has gone: nothing of the visit stays on disk
            manager.reset()
        self.emit(event)

    # ---- running -----------------------------------------------------------------------------------

    def run(self) -> int:
        self._install_signals()
        source = self._open_input()  # a bad --input fails here, before anything loads
        sink, realtime = self._open_output()
        health = HealthServer(
            self.config.kiosk.health_host, self.health_port, self.health, self.metrics.exposition
        ).start()
        try:
            self.emit(
                {"event": "starting", "health": health.url, "config": self.config.source, "pid": os.getpid()}
            )
            return self._serve(source, sink, realtime)
        except _StoppedWhileLoading:
            self.emit({"event": "stopped", "signal": self._stop_signal, "turns": 0})
            return 0
        finally:
            health.stop()

    def _open_input(self) -> MonitoredInput:
        if self.input_path:
            source = FileSource(self.input_path, paced=True)
            self.input = MonitoredInput(lambda _lost: source, self.emit, f"file {self.input_path}")
        else:
            audio = self._portaudio
            device, backoff = self.config.audio.input, self.config.audio.retry_max_s

            def microphone(lost: Callable[[Exception, float], None]) -> ReconnectingSource:
                return ReconnectingSource(lambda: audio.microphone(device), lost, max_backoff_s=backoff)

            self.input = MonitoredInput(
                microphone,
                self.emit,
                f"microphone {device or '(default)'}",
            )
        return self.input

    def _open_output(self) -> tuple[AudioSink, bool]:
        """The sink and whether it plays in real time (so the microphone may hear it)."""
        if self.output_path:
            if not Path(self.output_path).parent.is_dir():
                raise UserError(f"cannot write {self.output_path}: its folder does not exist")
            return WavSink(self.output_path), False
        self.output = self._portaudio.speaker(self.config.audio.output, self.emit)
        return self.output, True

    def _serve(self, source: MonitoredInput, sink: AudioSink, realtime: bool) -> int:
        cfg = self.config
        reporter = LogReporter(self.log)
        self.systemd.status("loading models")
        manager = assembly.build_manager(cfg, reporter)
        player = None
        try:
            transcriber = assembly.build_transcriber(cfg, reporter)
            speaker = assembly.build_speaker(cfg, reporter, manager.persona)
            self.conversation = KioskConversation(
                self.sessions, manager, cfg.stt.min_confidence, self._camera(), self.emit
            )
            loop, player = assembly.build_loop(
                cfg,
                source,
                sink,
                transcriber,
                speaker,
                self.conversation,
                self.emit,
                realtime=realtime,
            )
            return self._run_loop(loop, player)
        finally:
            if player is not None:
                player.close()
            sink.close()
            assembly.close_manager(manager)

    def _camera(self) -> Callable[[], bytes] | None:
        vision = self.config.vision
        if not vision.camera:
            return None
        device = parse_device(vision.camera)
        return lambda: snapshot(device, max_side=vision.max_side).data

    def _run_loop(self, loop: VoiceLoop, player: Player) -> int:
        if self._stop.is_set():  # stopped while loading
            self.emit({"event": "stopped", "signal": self._stop_signal, "turns": 0})
            return 0
        thread = threading.Thread(target=self._loop_body, args=(loop,), name="hark-loop", daemon=True)
        self.state = "serving"
        thread.start()
        self.emit({"event": "ready", "startup_s": round(time.monotonic() - self.started, 2)})
        self.systemd.ready("serving")
        while thread.is_alive() and not self._stop.wait(TICK_S):
            if self._reload.is_set():
                self._reload.clear()
                self.reload()
            if self._push.is_set():
                self._push.clear()
                self.push_to_talk(loop)
            self.sessions.tick(busy=player.speaking)
            self._watchdog()
        if thread.is_alive():
            self._shut_down(loop, thread)
        if self._crash is not None:
            self.emit({"event": "fatal", "message": f"{type(self._crash).__name__}: {self._crash}"})
            return 1  # systemd restarts the kiosk
        summary = self._summary or LoopSummary()
        self.emit({"event": "stopped", "turns": summary.turns, "errors": summary.errors})
        return 0

    def _loop_body(self, loop: VoiceLoop) -> None:
        try:
            self._summary = loop.run()
        except BaseException as exc:  # reported by the main thread, which decides the exit code
            self._crash = exc

    def _shut_down(self, loop: VoiceLoop, thread: threading.Thread) -> None:
        self.state = "stopping"
        self.emit({"event": "stopping", "signal": self._stop_signal})
        self.systemd.stopping()
        assert self.conversation is not None
        self.conversation.stopping = True
        loop.stop()
        stop_at = self._stop_at if self._stop_at is not None else time.monotonic()
        thread.join(max(0.0, stop_at + STOP_GRACE_S - time.monotonic()))

    def _watchdog(self) -> None:
        """A sign of life for systemd, while audio flows or a lost device is being retried."""
        interval = self.systemd.watchdog_s
        now = time.monotonic()
        if interval is None or now - self._last_ping < interval / 3 or self.input is None:
            return
        if self.input.status == "down" or now - self.input.last_frame < FRAMES_STALL_S:
            self._last_ping = now
            self.systemd.alive()

    # ---- signals -----------------------------------------------------------------------------------

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, lambda _s, _f: self._reload.set())
        signal.signal(signal.SIGUSR1, lambda _s, _f: self._push.set())

    def _on_stop(self, signum: int, _frame: object) -> None:
        """Only notes the request: a signal handler must not take locks the interrupted code may hold."""
        if self._stop_at is None:
            self._stop_at = time.monotonic()
            self._stop_signal = signal.Signals(signum).name
        self._stop.set()
        if self.state == "starting":  # loading can block on a model server: interrupt it
            raise _StoppedWhileLoading

    # ---- operator actions --------------------------------------------------------------------------

    def push_to_talk(self, loop: VoiceLoop) -> None:
        decision = self.sessions.push_to_talk()
        self.emit({"event": "push_to_talk", "session": decision.session})
        if decision.greet and self.conversation is not None:
            loop.say(self.conversation.manager.persona.greeting)

    def reload(self) -> None:
        """Read the configuration again; apply what can change while running, name the rest."""
        try:
            new = self.config.reload(self.environ)
            persona = assembly.build_persona(new)
            guardrails = Guardrails(new.guardrails)
        except (ConfigError, DialogueError) as exc:
            self.emit({"event": "config_error", "error": str(exc), "kept": "the running configuration"})
            return
        changed = self.config.changes(new)
        manager = self.conversation.manager if self.conversation is not None else None
        later = [k for k in changed if k in RESTART_ONLY or not k.startswith(LIVE_PREFIXES)]
        voice = (persona.voice, persona.rate)
        if manager is not None and voice != (manager.persona.voice, manager.persona.rate):
            later.append("persona voice")
        self._apply(new, manager, persona, guardrails)
        self.config = new
        self.loaded_at = time.time()
        self.reloads += 1
        self.restart_required = sorted(set(self.restart_required) | set(later))
        self.emit({"event": "config_reloaded", "changed": changed, "source": new.source})
        if later:
            self.emit({"event": "restart_required", "settings": self.restart_required})

    def _apply(
        self, new: HarkConfig, manager: DialogueManager | None, persona: Persona, guardrails: Guardrails
    ) -> None:
        self.sessions.configure(new.kiosk)
        self.log.settings = new.logging
        if manager is None:
            return
        old_persona = manager.persona
        if persona != old_persona or new.guardrails != self.config.guardrails:
            manager.persona = persona
            manager.guardrails = guardrails
            self.sessions.end("reload")  # the next visitor meets the new persona from the start

    # ---- health ------------------------------------------------------------------------------------

    def health(self) -> tuple[bool, dict]:
        problems: list[str] = []
        if self.state != "serving":
            problems.append(f"the kiosk is {self.state}")
        audio = self._audio_health(problems)
        llm = self._llm_health(problems)
        ok = not problems
        self.metrics.ready.set(1 if ok else 0)
        kiosk = self.config.kiosk
        return ok, {
            "status": "ok" if ok else "unavailable",
            "state": self.state,
            "problems": problems,
            "uptime_s": round(time.monotonic() - self.started, 1),
            "session": self.sessions.snapshot(),
            "last_turn_at": _wall(self.last_turn_at),
            "llm": llm,
            "audio": audio,
            "config": {
                "source": self.config.source,
                "loaded_at": _wall(self.loaded_at),
                "reloads": self.reloads,
                "restart_required": self.restart_required,
                "wake_phrases": list(kiosk.wake_phrases),
                "follow_up_s": kiosk.follow_up_s,
                "idle_timeout_s": kiosk.idle_timeout_s,
            },
        }

    def _audio_health(self, problems: list[str]) -> dict:
        source = self.input
        audio: dict = {}
        if source is not None:
            audio["input"] = {"device": source.description, "status": source.status}
            if source.status == "down":
                audio["input"] |= {"error": source.error, "retry_in_s": source.retry_in_s}
                problems.append(f"the microphone is not available: {source.error}")
        if self.output is not None:
            audio["output"] = {"device": self.output.description, "status": self.output.status}
            if self.output.status == "down":
                audio["output"]["error"] = self.output.error
                problems.append(f"the speaker is not available: {self.output.error}")
        else:
            audio["output"] = {"device": f"file {self.output_path}", "status": "ok"}
        return audio

    def _llm_health(self, problems: list[str]) -> dict:
        if self.conversation is None:
            return {"status": "starting"}
        backend = self.conversation.manager.backend
        fallback = self._fallback and backend.name == "ollama"
        if self.llm_error is not None:
            status = "down"
        elif getattr(backend, "degraded", False):
            status = "fallback" if fallback else "down"
        else:
            status = "ok"
        if status == "down":
            problems.append(f"the language model is not answering: {self.llm_error or 'server unreachable'}")
        report = {
            "status": status,
            "backend": backend.name,
            "model": backend.model,
            "fallback": fallback,
            "degraded": bool(getattr(backend, "degraded", False)),
        }
        if self.llm_error is not None:
            report["error"] = self.llm_error
        return report
