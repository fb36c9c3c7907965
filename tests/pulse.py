"""A user-space PulseAudio server for device tests: real audio devices on a machine without a sound card.

One stereo null sink is the "air" of the room: its left channel is what the user says (the `room` sink),
its right channel is Hark's loudspeaker (the `speaker` sink). Hark's microphone (`room_mic`) hears only the
left channel, so a test can record `hark_bus.monitor` once and see both sides on one clock.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

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
            raise RuntimeError(
                f"device tests need {', '.join(missing)}: run `make test` (it installs pulseaudio)"
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
