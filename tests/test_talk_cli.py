"""`hark talk` end to end on the real models: Piper-spoken questions in, spoken replies out."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile
from audio_fixtures import conversation_wav, silence, write_wav

from hark.evaluation.wer import word_error_rate
from voice.decode import decode_file, resample

pytestmark = pytest.mark.integration

QUESTIONS = ["What is the capital of France?", "Tell me a fun fact about cats."]
PHRASINGS = [
    "How many legs does a spider have?",
    "Could you please tell me what color the sky is",
    "Name three kinds of fruit.",
]


def hark(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "OLLAMA_HOST": "http://127.0.0.1:9", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "hark.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        stdin=subprocess.DEVNULL,
    )


def events(stdout: str) -> list[dict]:
    lines = [line for line in stdout.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every stdout line must be JSON under --json


def check_turns(result: subprocess.CompletedProcess, questions: list[str]) -> list[dict]:
    assert result.returncode == 0, result.stderr
    evs = events(result.stdout)
    finals = [e for e in evs if e["event"] == "transcript" and e["final"]]
    replies = [e for e in evs if e["event"] == "reply"]
    metrics = [e for e in evs if e["event"] == "metrics"]
    assert [f["text"] for f in finals] and len(finals) == len(questions), finals
    for question, final in zip(questions, finals, strict=True):
        assert word_error_rate(question, final["text"]) <= 0.2, (question, final["text"])
    assert len(replies) == len(questions) and all(r["text"].strip() for r in replies)
    assert len(metrics) == len(questions)
    for m in metrics:
        for key in ("eos_to_first_audio_s", "stt_s", "llm_first_token_s", "tts_first_audio_s"):
            assert isinstance(m[key], float) and m[key] >= 0, m
    return replies


@pytest.fixture(scope="module")
def two_questions(speaker, tmp_path_factory):
    path, _ = conversation_wav(speaker, tmp_path_factory.mktemp("talk") / "two.wav", QUESTIONS)
    return path


def test_paced_session_answers_each_question_and_writes_the_replies(two_questions, tmp_path, transcriber):
    out = tmp_path / "replies.wav"
    result = hark("talk", "--input", str(two_questions), "--output", str(out), "--json", "--llm", "embedded")
    replies = check_turns(result, QUESTIONS)
    assert "using the embedded model" in result.stderr
    spoken_back = transcriber.transcribe(decode_file(out)).text
    said = " ".join(r["text"] for r in replies)
    assert word_error_rate(said, spoken_back) <= 0.35, (said, spoken_back)


@pytest.mark.integration
def test_the_demo_answers_its_sample_question_in_a_file(tmp_path, transcriber):
    """`make demo` runs `hark demo`: every option `talk` reads must reach it (a new one once did not)."""
    out = tmp_path / "demo.wav"
    result = hark("demo", "--no-play", "--output", str(out), "--json", env={"HARK_HOME": str(tmp_path)})
    replies = check_turns(result, ["What is the capital of France?"])
    spoken_back = transcriber.transcribe(decode_file(out)).text
    assert word_error_rate(replies[0]["text"], spoken_back) <= 0.35, (replies, spoken_back)


def test_several_phrasings_fast_mode_and_stereo_44k(speaker, tmp_path):
    path, _ = conversation_wav(speaker, tmp_path / "phrasings.wav", PHRASINGS, gap_s=1.2)
    mono44 = resample(decode_file(path), 16_000, 44_100)
    flac = tmp_path / "phrasings.flac"
    soundfile.write(flac, np.stack([mono44, mono44 * 0.9], axis=1), 44_100)
    result = hark("talk", "--input", str(flac), "--output", str(tmp_path / "o.wav"), "--json", "--fast")
    check_turns(result, PHRASINGS)
    assert "not reachable" in result.stderr  # auto fell back, and said so


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["talk", "--input", "/nonexistent/q.wav"], "not found"),
        (["talk", "--input", "{notaudio}"], "not a readable audio file"),
        (["talk", "--input", "{empty}"], "empty"),
        (["talk", "--input", "{silent}", "--output", "{out}", "--fast"], "no speech found"),
        (["talk", "--input", "{question}", "--llm", "gpt"], "invalid choice"),
        (
            [
                "talk",
                "--input",
                "{question}",
                "--output",
                "{out}",
                "--llm",
                "ollama",
                "--ollama-host",
                "http://127.0.0.1:9",
            ],
            "not reachable",
        ),
        (["transcribe", "/nonexistent.mp3"], "not found"),
        (["say"], "the following arguments are required"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, message, tmp_path, two_questions):
    files = {
        "notaudio": tmp_path / "notes.wav",
        "empty": tmp_path / "empty.wav",
        "silent": write_wav(tmp_path / "silent.wav", silence(3.0)),
        "out": tmp_path / "out.wav",
        "question": two_questions,
    }
    files["notaudio"].write_text("this is not audio\n" * 50)
    files["empty"].write_bytes(b"")
    argv = [a.format(**files) for a in args]
    result = hark(*argv)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1


def test_no_microphone_names_doctor_and_input(tmp_path):
    env = {"PULSE_SERVER": f"unix:{tmp_path}/no-such-socket", "AUDIODEV": "null"}
    result = hark("talk", env=env, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "hark doctor" in result.stderr and "--input" in result.stderr
    assert "Traceback" not in result.stderr
