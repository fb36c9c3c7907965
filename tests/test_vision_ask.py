"""`hark ask` end to end: the real `ollama` client over real HTTP to the fake server, real OCR, real voice."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from itertools import islice
from types import SimpleNamespace

import numpy as np
import pytest
from audio_fixtures import silence, spoken, write_wav
from fake_ollama import FakeModel, FakeOllama
from PIL import Image
from skimage import data
from test_vision_camera import write_video
from test_vision_describe import SIGN, rendered

from dialogue.backends.base import ReplyStream, TextStreaming
from dialogue.backends.ollama_backend import OllamaBackend
from dialogue.manager import DialogueManager
from hark import assembly
from hark.cli import main
from hark.evaluation.wer import word_error_rate
from vision.sources import open_image
from voice.decode import decode_file

TEXT_ONLY = "textonly:1b"


def run_ask(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["ask", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def ollama(server, model: str | None = None) -> list[str]:
    return ["--llm", "ollama", "--ollama-host", server.url, *(["--model", model] if model else [])]


def events(stdout: str) -> dict[str, list[dict]]:
    by_kind: dict[str, list[dict]] = {}
    for line in stdout.splitlines():  # under --json every stdout line must be JSON
        event = json.loads(line)
        by_kind.setdefault(event["event"], []).append(event)
    return by_kind


def sent_sizes(message: dict) -> list[tuple[int, int]]:
    """The sizes of the images in one message as the server received them (base64 JPEG)."""
    sizes = []
    for encoded in message.get("images") or []:
        with Image.open(io.BytesIO(base64.b64decode(encoded))) as image:
            assert image.format == "JPEG"
            sizes.append(image.size)
    return sizes


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> SimpleNamespace:
    folder = tmp_path_factory.mktemp("ask")
    photo = folder / "rocket.jpg"
    Image.fromarray(data.rocket()).resize((1600, 1068)).save(photo, quality=90)
    sign = folder / "sign.png"
    rendered(SIGN).save(sign)
    return SimpleNamespace(photo=str(photo), sign=str(sign), folder=folder)


def test_a_model_that_sees_gets_the_images_downscaled_with_that_turn_only(fake_ollama, capsys, pictures):
    code, out, err = run_ask(
        capsys,
        *("--image", pictures.photo, "--image", pictures.sign, "--max-side", "512", "--json"),
        *ollama(fake_ollama),
        "What is in these pictures?",
    )
    assert code == 0, err
    evs = events(out)
    assert evs["reply"][0]["text"].startswith("You said: What is in these pictures?")
    assert evs["reply"][0]["images_seen"] is True
    metrics = evs["metrics"][0]
    assert isinstance(metrics["llm_first_token_s"], float) and metrics["images"] == 2
    assert "ocr_s" not in metrics  # a model that sees needs no OCR
    (chat,) = fake_ollama.chats()
    messages = chat["messages"]
    assert [m for m in messages if m.get("images")] == [messages[-1]] and messages[-1]["role"] == "user"
    assert sent_sizes(messages[-1]) == [(512, 342), (512, 171)]


def test_later_turns_do_not_resend_earlier_images(fake_ollama, pictures):
    backend = OllamaBackend(host=fake_ollama.url)
    backend.check()
    manager = DialogueManager(backend)
    manager.reply("What is this?", [open_image(pictures.photo).data])
    manager.reply("And what colour is it?")
    first, second = fake_ollama.chats()
    assert [m for m in first["messages"] if m.get("images")] == [first["messages"][-1]]
    assert not any(m.get("images") for m in second["messages"])
    assert any("What is this?" in m["content"] for m in second["messages"])  # the history is text


def test_the_answer_streams_to_stdout_and_notes_go_to_stderr(fake_ollama, capsys, pictures):
    code, out, err = run_ask(capsys, "--image", pictures.photo, *ollama(fake_ollama), "Describe", "it")
    assert code == 0
    assert out == "You said: Describe it. That is all I know.\n"
    assert f"image {pictures.photo}: JPEG 1600x1068 -> JPEG 1024x684" in err
    assert "latency:" in err and "llm first token" in err


def test_a_text_only_model_gets_the_ocr_facts_and_no_image(fake_ollama, capsys, pictures):
    fake_ollama.models.append(FakeModel(TEXT_ONLY, ["completion"]))
    code, out, err = run_ask(
        capsys, "--image", pictures.sign, "--json", *ollama(fake_ollama, TEXT_ONLY), "What does the sign say?"
    )
    assert code == 0, err
    (chat,) = fake_ollama.chats()
    assert not any(m.get("images") for m in chat["messages"])
    prompt = chat["messages"][-1]["content"]
    assert prompt.startswith("What does the sign say?") and "you cannot see images" in prompt
    assert "720x240 pixels, landscape" in prompt and " / ".join(SIGN) in prompt
    evs = events(out)
    assert evs["reply"][0]["images_seen"] is False and evs["metrics"][0]["ocr_s"] > 0


def test_camera_snapshot_and_stdin_image_are_sent(fake_ollama, capsys, pictures, monkeypatch):
    frame = np.full((600, 800, 3), 90, np.uint8)
    video = write_video(pictures.folder / "desk.avi", [frame, frame])
    with open(pictures.sign, "rb") as f:
        monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(f.read())))
    code, _, err = run_ask(
        capsys, "--camera", video, "--image", "-", "--max-side", "400", *ollama(fake_ollama), "Compare them"
    )
    assert code == 0, err
    (chat,) = fake_ollama.chats()
    assert sent_sizes(chat["messages"][-1]) == [(400, 133), (400, 300)]  # --image first, then the camera


def test_a_question_about_something_shown_without_an_image_gets_a_hint(fake_ollama, capsys):
    code, out, err = run_ask(capsys, *ollama(fake_ollama), "What am I holding?")
    assert code == 0 and out.startswith("You said: What am I holding?")
    assert "hint: to ask about something you are showing, add --camera or --image" in err


def test_spoken_question_in_spoken_answer_out(fake_ollama, capsys, pictures, speaker, transcriber):
    question = "What is written on this sign?"
    audio = np.concatenate([silence(0.3), spoken(speaker, question), silence(0.5)])
    wav_in = write_wav(pictures.folder / "question.wav", audio)
    wav_out = pictures.folder / "answer.wav"
    code, out, err = run_ask(
        capsys,
        *("--audio", str(wav_in), "--image", pictures.sign, "--output", str(wav_out), "--json"),
        *ollama(fake_ollama),
    )
    assert code == 0, err
    evs = events(out)
    heard = evs["transcript"][0]
    assert heard["final"] is True and word_error_rate(question, heard["text"]) <= 0.2, heard
    (chat,) = fake_ollama.chats()
    assert chat["messages"][-1]["content"] == heard["text"]
    metrics = evs["metrics"][0]
    for key in ("stt_s", "llm_first_token_s", "tts_first_audio_s"):
        assert isinstance(metrics[key], float) and metrics[key] >= 0, metrics
    reply = evs["reply"][0]["text"]
    said_back = transcriber.transcribe(decode_file(wav_out)).text
    assert word_error_rate(reply, said_back) <= 0.35, (reply, said_back)


class RecordingBackend(TextStreaming):
    """Stands in for the real backend: forwards each request to it and keeps the messages sent.

    Replies are cut after `max_pieces`: on two busy cores SmolLM2 can take half a minute for a full reply,
    and the plumbing under test is the same for a short one.
    """

    def __init__(self, backend, max_pieces: int = 16) -> None:
        self._backend = backend
        self.name, self.model, self.sees_images = backend.name, backend.model, backend.sees_images
        self.max_pieces = max_pieces
        self.sent: list[list] = []

    def open_stream(self, prepare, options, info, cancel):
        def recorded(backend):
            messages = prepare(backend)
            self.sent.append(list(messages))
            return messages

        inner = self._backend.open_stream(recorded, options, info, cancel)

        def limited():
            try:
                yield from islice(inner, self.max_pieces)
            finally:
                inner.close()  # cancels the generation (and frees the model for the next caller)

        return ReplyStream(limited(), info, cancel)

    def close(self) -> None:
        self._backend.close()

    def describe(self) -> str:
        return self._backend.describe()


def test_embedded_model_answers_from_the_ocr_facts(capsys, pictures, monkeypatch, no_ollama_env):
    real_build_backend = assembly.build_backend
    backends: list[RecordingBackend] = []

    def build_and_record(config, reporter):
        backends.append(RecordingBackend(real_build_backend(config, reporter)))
        return backends[-1]

    monkeypatch.setattr(assembly, "build_backend", build_and_record)
    code, out, err = run_ask(capsys, "--image", pictures.sign, "--json", "--llm", "embedded", "What is it?")
    assert code == 0, err
    assert "using the embedded model" in err
    assert events(out)["reply"][0]["text"].strip()
    (messages,) = backends[0].sent
    prompt = messages[-1].content
    assert not messages[-1].images and "you cannot see images" in prompt
    assert 'text read by OCR: "Platform 9 closed today / Trains leave from Platform 4"' in prompt


@pytest.fixture(scope="module")
def shared_ollama():
    """One fake server for the parametrised tests (the per-test fixture costs 0.5 s to stop)."""
    models = [FakeModel("gemma3:4b", ["completion", "vision"]), FakeModel(TEXT_ONLY, ["completion"])]
    server = FakeOllama(models)
    yield server.start()
    server.stop()


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory) -> dict[str, str]:
    """One file for each way an image can be bad; formatted into the arguments by name."""
    folder = tmp_path_factory.mktemp("bad")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("my shopping list: milk, eggs\n")
    jpeg = io.BytesIO()
    Image.fromarray(data.astronaut()).save(jpeg, "JPEG")
    (folder / "half.jpg").write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 2])
    Image.new("1", (9000, 9000)).save(folder / "bomb.png")  # 81 megapixels of nothing: 10 kB as PNG
    with open(folder / "huge.jpg", "wb") as f:
        f.truncate(21 * 1024 * 1024)  # sparse: no disk space used
    paths = {p.stem: str(p) for p in folder.iterdir()}
    return {**paths, "dir": str(folder), "missing": str(folder / "missing.jpg")}


BAD_ASKS = [
    (["--image", "{missing}", "q?"], "image not found: {missing}"),
    (["--image", "{dir}", "q?"], "{dir} is a directory, not an image"),
    (["--image", "{empty}", "q?"], "{empty} is empty (0 bytes)"),
    (["--image", "{notes}", "q?"], "{notes} is not an image (or is corrupt)"),
    (["--image", "{half}", "q?"], "{half} is truncated or corrupt"),
    (["--image", "{bomb}", "q?"], "{bomb} is 9000x9000 pixels (81 megapixels), over the 50 megapixel limit"),
    (["--image", "{huge}", "q?"], "{huge} is 21 MB, over the 20 MB limit for images"),
    (["--image", "http://127.0.0.1:9/cat.jpg", "q?"], "refused to fetch http://127.0.0.1:9/cat.jpg"),
    (["--camera", "7", "q?"], "camera 7 did not open"),
    (["--camera", "what is this?"], "camera 0 did not open"),  # the question is not taken as a device
    (["--image", "-", "--image", "-", "q?"], "only one --image can be -"),
    (["--max-side", "0", "--image", "{notes}", "q?"], "--max-side vision.max_side: must be a whole number"),
    (["--image", "{notes}"], "no question: type one"),
    (["--audio", "{notes}", "typed too"], "give the question either typed or with --audio, not both"),
    (["--audio", "{missing}"], "audio file not found"),
]


@pytest.mark.parametrize(("args", "message"), BAD_ASKS)
def test_bad_input_is_one_clear_line_and_exit_2_before_any_model_loads(
    shared_ollama, capsys, bad_inputs, args, message
):
    asked_before = len(shared_ollama.requests)
    code, out, err = run_ask(capsys, *[a.format(**bad_inputs) for a in args], *ollama(shared_ollama))
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message.format(**bad_inputs) in err
    assert len(shared_ollama.requests) == asked_before  # failed before asking the server anything


def test_a_real_process_reports_a_bad_image_without_a_traceback(tmp_path):
    notes = tmp_path / "photo.jpg"
    notes.write_text("not a photo")
    result = subprocess.run(
        [sys.executable, "-m", "hark.cli", "ask", "--image", str(notes), "What is this?"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "OLLAMA_HOST": "http://127.0.0.1:9"},
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2 and result.stdout == "", result.stderr
    assert result.stderr == f"error: {notes} is not an image (or is corrupt)\n", result.stderr


@pytest.mark.parametrize(("model", "fix"), [("gemma3:4b", ""), (TEXT_ONLY, "ollama pull gemma3:4b")])
def test_doctor_suggests_a_vision_model_for_a_text_only_one(shared_ollama, capsys, model, fix):
    main(["doctor", "--json", *ollama(shared_ollama, model)])
    checks = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (check,) = [c for c in checks if c["name"] == "ollama model"]
    assert check["ok"] and (fix in check["fix"] if fix else check["fix"] == "")
