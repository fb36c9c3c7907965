"""The sequential baseline: wait for silence, transcribe the whole utterance, generate the whole reply,
synthesise all of it, then play. Same models, same endpointer, no overlap of any kind."""

from __future__ import annotations

import threading
from typing import Protocol

import numpy as np

from voice.decode import to_float32
from voice.endpointer import Endpointer, EndpointerConfig, EventKind
from voice.shaper import speakable
from voice.sinks import AudioSink
from voice.sources import AudioSource
from voice.stt import Transcriber
from voice.tts import Speaker
from voice.vad import FRAME_S, FrameVad


class Replier(Protocol):
    def reply(self, text: str) -> str: ...


def run_sequential(
    source: AudioSource,
    vad: FrameVad,
    endpointer_config: EndpointerConfig,
    transcriber: Transcriber,
    manager: Replier,
    speaker: Speaker,
    sink: AudioSink,
) -> int:
    """Process every utterance of `source` one after the other; return how many turns were taken."""
    endpointer = Endpointer(endpointer_config)
    frames: list[np.ndarray] = []
    turns = 0
    never = threading.Event()
    for frame in source.frames():
        frames.append(frame)
        event = endpointer.process(vad.is_speech(frame), FRAME_S)
        if event is None or event.kind is not EventKind.END:
            if not endpointer.in_utterance and event is None:
                frames = frames[-int(endpointer_config.pre_roll_s / FRAME_S) - 4 :]
            continue
        audio = to_float32(np.concatenate(frames))
        frames = []
        text = transcriber.transcribe(audio).text
        if not text:
            continue
        reply = speakable(manager.reply(text))
        sink.play(speaker.synthesize_all(reply), speaker.sample_rate, never)
        turns += 1
    return turns
