"""The frame-processor chain: each processor cleans what the previous one returned; all hear the playback."""

from __future__ import annotations

import numpy as np

from voice.ports import ProcessorChain
from voice.vad import FRAME_SAMPLES


class Step:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    def process(self, frame: np.ndarray, at_s: float) -> np.ndarray:
        self.log.append(f"{self.name}@{at_s}:{int(frame[0])}")
        return frame + 1

    def playback(self, audio: np.ndarray, sample_rate: int, at_s: float) -> None:
        self.log.append(f"{self.name} plays {audio.size}@{sample_rate} at {at_s}")


def test_processors_run_in_chain_order_and_all_hear_the_playback():
    log: list[str] = []
    chain = ProcessorChain([Step("echo", log), Step("noise", log)])
    out = chain.process(np.zeros(FRAME_SAMPLES, np.int16), 1.5)
    assert out.dtype == np.int16 and out.shape == (FRAME_SAMPLES,) and int(out[0]) == 2
    chain.playback(np.zeros(100, np.int16), 22_050, 2.0)
    assert log == ["echo@1.5:0", "noise@1.5:1", "echo plays 100@22050 at 2.0", "noise plays 100@22050 at 2.0"]


def test_an_empty_chain_returns_the_frame_untouched():
    frame = np.arange(FRAME_SAMPLES, dtype=np.int16)
    assert ProcessorChain().process(frame, 0.0) is frame
