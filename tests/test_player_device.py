"""The player on a real (user-space PulseAudio) speaker: the echo-cancelling reference is dated by the
sink's own output latency, so it says when the audio leaves the speaker rather than when it was written."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from pulse import PulseServer

pytestmark = [pytest.mark.integration, pytest.mark.device]

PLAY = """
import json
import numpy as np
from voice.player import Player
from voice.sinks import SpeakerSink

class Reference:
    calls = []
    def process(self, frame, at_s):
        return frame
    def playback(self, audio, sample_rate, at_s):
        self.calls.append((int(audio.size), sample_rate, at_s, player.clock.now()))

sink = SpeakerSink(None)
player = Player(sink, realtime=True)
player.reference = Reference()
player.begin_reply()
tone = (3000 * np.sin(np.arange(4410) / 10)).astype(np.int16)
for _ in range(2):
    player.enqueue("tone", tone, 22050)
playback = player.wait_idle(10)
print(json.dumps({"calls": Reference.calls, "latency_s": sink.latency_s, "error": str(playback.error)}))
player.close()
sink.close()
"""


@pytest.fixture(scope="module")
def pulse(tmp_path_factory):
    server = PulseServer(tmp_path_factory.mktemp("pulse"))
    yield server
    server.stop()


def test_the_playback_reference_is_dated_by_the_speakers_latency(pulse):
    env = {**os.environ, **pulse.env, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", PLAY], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["error"] == "None" and result["latency_s"] > 0
    calls = result["calls"]
    assert [(size, rate) for size, rate, _, _ in calls] == [(4410, 22050)] * 2
    for _, _, at_s, written_s in calls:
        assert at_s > written_s  # the audio is heard after it is handed to the device
