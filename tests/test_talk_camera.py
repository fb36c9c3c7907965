"""A live session with a camera: questions about what the user shows get a fresh frame on that turn only."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from audio_fixtures import conversation_wav
from dialogue_fakes import FakeBackend
from PIL import Image
from test_vision_camera import write_video

from dialogue.manager import DialogueManager
from hark.conversation import VoiceConversation
from vision.errors import CameraError
from voice.stt import Transcript


def heard(text: str) -> Transcript:
    return Transcript(text, 0.9, 0.1)


def test_only_questions_about_what_is_shown_take_a_picture():
    backend = FakeBackend(sees_images=True)
    shots: list[int] = []

    def snapshot() -> bytes:
        shots.append(1)
        return b"jpeg"

    conversation = VoiceConversation(DialogueManager(backend), snapshot=snapshot)
    for text in ("What is the capital of France?", "What am I holding?", "And what is the time?"):
        turn = conversation.begin_turn(heard(text), 1)
        list(turn.pieces())
        turn.finish()
    assert len(shots) == 1
    assert [bool(sent[-1].images) for sent in backend.seen] == [False, True, False]


def test_a_failing_camera_is_reported_and_the_turn_goes_on_without_it():
    backend = FakeBackend(sees_images=True)
    errors: list[Exception] = []

    def broken() -> bytes:
        raise CameraError("camera 3 could not be opened")

    conversation = VoiceConversation(DialogueManager(backend), snapshot=broken, on_camera_error=errors.append)
    turn = conversation.begin_turn(heard("What is this?"), 1)
    assert "".join(turn.pieces())
    assert errors and not backend.seen[0][-1].images


@pytest.mark.integration
def test_hark_talk_with_a_camera_sends_the_frame_over_the_wire(fake_ollama, speaker, tmp_path):
    frame = np.zeros((240, 320, 3), np.uint8)
    frame[:, :] = (0, 200, 0)  # green, BGR
    video = write_video(tmp_path / "camera.avi", [frame] * 5)
    question, _ = conversation_wav(speaker, tmp_path / "q.wav", ["What am I holding?"])
    env = {**os.environ, "OLLAMA_HOST": fake_ollama.url}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hark.cli",
            "talk",
            "--input",
            str(question),
            "--output",
            str(tmp_path / "o.wav"),
            "--fast",
            "--json",
            "--llm",
            "ollama",
            "--camera",
            video,
            "--no-log",
        ],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["text"] for e in events if e["event"] == "reply"]
    answered = [c for c in fake_ollama.chats() if c["messages"][-1].get("images")]
    assert answered, "no chat request carried the camera frame"
    picture = Image.open(io.BytesIO(base64.b64decode(answered[-1]["messages"][-1]["images"][0])))
    red, green, blue = picture.convert("RGB").getpixel((160, 120))
    assert green > 150 and red < 80 and blue < 80  # the camera's green frame, in the right colour order
