"""The player on a real (user-space PulseAudio) speaker: the echo-cancelling reference is dated by the
device itself, block by block as its stream takes the audio, with the time the block reaches the speaker
rather than when it was written."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys

import pytest

from hark.benchmark.pulse import PulseServer

pytestmark = [pytest.mark.integration, pytest.mark.device]

PLAY = """
import json
import time
import numpy as np
from voice.player import Player
from voice.sinks import SpeakerSink

class Reference:
    calls = []
    def process(self, frame, at_s):
        return frame
    def playback(self, audio, sample_rate, at_s):
        self.calls.append((int(audio.size), sample_rate, at_s, time.monotonic()))

sink = SpeakerSink(None)
player = Player(sink, realtime=True)
player.reference = Reference()
player.begin_reply()
tone = (3000 * np.sin(np.arange(4410) / 10)).astype(np.int16)
for _ in range(2):
    player.enqueue("tone", tone, 22050)
playback = player.wait_idle(10)
player.close()
sink.close()  # plays out what is still queued
print(json.dumps({"calls": Reference.calls, "error": str(playback.error)}))
"""


@pytest.fixture(scope="module")
def pulse(tmp_path_factory):
    server = PulseServer(tmp_path_factory.mktemp("pulse"))
    yield server
    server.stop()


def test_the_playback_reference_is_dated_by_the_device_as_it_takes_each_block(pulse):
    env = {**os.environ, **pulse.env, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", PLAY], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["error"] == "None"
    calls = result["calls"]
    (rate,) = {rate for _, rate, _, _ in calls}
    assert sum(size for size, _, _, _ in calls) == round(2 * 4410 * rate / 22050)  # all of it, once
    for _, _, at_s, handed_s in calls:
        assert at_s > handed_s  # the audio is heard after it is handed to the device
    for (size, _, at_s, _), (_, _, next_s, _) in itertools.pairwise(calls):
        assert abs(next_s - (at_s + size / rate)) < 0.01  # block after block, as the speaker plays them
