"""A user-space PulseAudio server for device tests and benchmarks: real audio devices on a machine without a
sound card, and `hark talk` run on them.

One stereo null sink is the "air" of the room: its left channel is what the user says (the `room` sink),
its right channel is Hark's loudspeaker (the `speaker` sink). Hark's microphone (`room_mic`) hears only the
left channel, so a test can record `hark_bus.monitor` once and see both sides on one clock.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from hark.errors import UserError

CONFIG = "\n".join(
    [
        "load-module module-native-protocol-unix socket={socket} auth-anonymous=1",
        "load-module module-null-sink sink_name=hark_bus channels=2"
        " channel_map=front-left,front-right rate=48000",
        "load-module module-remap-sink sink_name=room master=hark_bus channels=1"
        " master_channel_map=front-left channel_map=mono remix=no",
        "load-module module-remap-sink sink_name=speaker master=hark_bus channels=1"
        " master_channel_map=front-right channel_map=mono remix=no",
        "load-module module-remap-source source_name=room_mic master=hark_bus.monitor channels=1"
        " master_channel_map=front-left channel_map=mono remix=no",
        "set-default-sink speaker",
        "set-default-source room_mic",
        "",
    ]
)

SETTLE_S = 2.5
"""A fresh null sink buffers ahead; timing is reliable only after this long."""


class PulseServer:
    def __init__(self, directory: Path) -> None:
        missing = [
            tool for tool in ("pulseaudio", "pactl", "paplay", "parecord") if shutil.which(tool) is None
        ]
        if missing:
            raise UserError(
                f"real audio devices need {', '.join(missing)}: install pulseaudio and pulseaudio-utils "
                "(`make test` does)"
            )
        self.dir = directory
        self.socket = directory / "native"
        (directory / "default.pa").write_text(CONFIG.format(socket=self.socket))
        env = {**os.environ, "HOME": str(directory), "XDG_RUNTIME_DIR": str(directory)}
        env.pop("PULSE_SERVER", None)
        self._log = open(directory / "pulseaudio.log", "wb")  # noqa: SIM115 - lives as long as the server
        self._process = subprocess.Popen(
            [
                "pulseaudio",
                "-n",
                "-F",
                str(directory / "default.pa"),
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--use-pid-file=no",
                "--disallow-exit",
                "--log-target=stderr",
            ],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self._wait_ready()
        time.sleep(SETTLE_S)

    @property
    def env(self) -> dict[str, str]:
        """Environment that routes any PortAudio/PulseAudio client to this server."""
        return {"PULSE_SERVER": f"unix:{self.socket}", "PULSE_SOURCE": "room_mic", "PULSE_SINK": "speaker"}

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"pulseaudio exited: {(self.dir / 'pulseaudio.log').read_text()[-2000:]}")
            probe = subprocess.run(
                ["pactl", "list", "short", "sinks"],
                env={**os.environ, **self.env},
                capture_output=True,
                text=True,
            )
            if probe.returncode == 0 and "speaker" in probe.stdout:
                return
            time.sleep(0.2)
        raise RuntimeError("pulseaudio did not start within 15 s")

    def play_into_room(self, wav: Path) -> None:
        """Play a file where the microphone hears it (blocks until it has been played)."""
        subprocess.run(["paplay", "--device=room", str(wav)], env={**os.environ, **self.env}, check=True)

    def record_bus(self, wav: Path) -> subprocess.Popen:
        """Start recording both channels (left: room, right: Hark's speaker) at 16 kHz; stop with SIGINT."""
        return subprocess.Popen(
            [
                "parecord",
                "--device=hark_bus.monitor",
                "--channels=2",
                "--rate=16000",
                "--format=s16le",
                "--file-format=wav",
                str(wav),
            ],
            env={**os.environ, **self.env},
        )

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
        self._log.close()


def add_echo_path(pulse: PulseServer, delay_ms: int, attenuation_db: float) -> None:
    """What the speaker plays comes back into the room (and so into the microphone), later and quieter."""
    env = {**os.environ, **pulse.env}

    def pactl(*args: str) -> str:
        return subprocess.run(["pactl", *args], env=env, capture_output=True, text=True, check=True).stdout

    module = pactl(
        "load-module", "module-loopback", "source=speaker.monitor", "sink=room", f"latency_msec={delay_ms}",
        "source_dont_move=true", "sink_dont_move=true", "adjust_time=0",
    ).strip()  # fmt: skip
    blocks = pactl("list", "sink-inputs").split("Sink Input #")[1:]
    index = next(b.split("\n", 1)[0].strip() for b in blocks if f"Owner Module: {module}" in b)
    pactl("set-sink-input-volume", index, f"{10 ** (-attenuation_db / 20):.4f}")


class HarkProcess:
    """A `hark` command in a subprocess, its JSON lines on stdout collected as they come (tests and
    benchmarks drive Hark as a user would, from outside)."""

    def __init__(self, command: str, *args: str, env: dict[str, str] | None = None) -> None:
        full_env = {**os.environ, "OLLAMA_HOST": "http://127.0.0.1:9", **(env or {})}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hark.cli", command, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=full_env,
        )
        self.events: list[dict] = []
        self.not_json: list[str] = []
        self.stderr: list[str] = []
        self._threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read_stdout(self) -> None:
        for line in self.process.stdout:
            try:
                self.events.append(json.loads(line))
            except json.JSONDecodeError:
                self.not_json.append(line)

    def _read_stderr(self) -> None:
        for line in self.process.stderr:
            self.stderr.append(line)
            self.on_stderr(line)

    def on_stderr(self, line: str) -> None:
        """A line the command wrote to stderr (nothing to do by default)."""

    def events_of(self, kind: str, **match: object) -> list[dict]:
        """The events of one kind so far, with these field values."""
        return [
            e
            for e in list(self.events)
            if e["event"] == kind and all(e.get(k) == v for k, v in match.items())
        ]

    def wait_for(self, kind: str, count: int = 1, timeout: float = 90, **match: object) -> list[dict]:
        """At least `count` such events; raises `TimeoutError` if they do not come (or the command ends)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.events_of(kind, **match)
            if len(found) >= count:
                return found
            if self.process.poll() is not None:
                time.sleep(0.2)  # the last lines may still be in the pipe
                found = self.events_of(kind, **match)
                if len(found) >= count:
                    return found
                break
            time.sleep(0.05)
        raise TimeoutError(
            f"no {count} {kind} event(s) {match}; events={self.events}; stderr={''.join(self.stderr)}"
        )

    def close(self) -> None:
        """Kill the command if it still runs, and wait for it and its readers."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        for thread in self._threads:
            thread.join(timeout=5)


class HarkSession(HarkProcess):
    """`hark talk --json --llm embedded` on the PulseAudio server's devices."""

    def __init__(self, pulse: PulseServer, *args: str, **env: str) -> None:
        """`args`: more options for `hark talk`; `env`: more environment (say, a `HARK_HOME` of its own)."""
        self.listening = threading.Event()
        super().__init__("talk", "--json", "--llm", "embedded", *args, env={**pulse.env, **env})

    def on_stderr(self, line: str) -> None:
        if "listening" in line:
            self.listening.set()

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=15)
