"""Hark as a client of Wyoming speech services (`stt.engine` / `tts.engine` = "wyoming"), with Hark's own
Wyoming server over the real Whisper and Piper models as the remote service."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import spoken
from wyoming_peer import MAX_UTTERANCE_S, client, describe, hark_server

import hark.samples
from hark import assembly
from hark.cli import main
from hark.config import load_config
from hark.errors import UserError
from hark.report import Reporter
from voice import SAMPLE_RATE
from voice.decode import decode_file, resample, to_float32
from voice.wyoming_client import WyomingServiceError, WyomingSpeaker, WyomingTranscriber

QUESTION_WAV = str(Path(hark.samples.__file__).parent / "question.wav")


@pytest.fixture(scope="module")
def service(transcriber, speaker):
    running = hark_server(transcriber, speaker)
    yield running.address
    running.stop()


def remote(engine: str, uri: str):
    """The engine Hark builds from its configuration for `engine` = "wyoming" at `uri`."""
    flags = {f"{engine}.engine": ("test", "wyoming"), f"{engine}.uri": ("test", uri)}
    config = load_config(None, {}, flags)
    build = assembly.build_transcriber if engine == "stt" else assembly.build_speaker
    return build(config, Reporter())


def words(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalpha() or c == " ").strip()


def test_remote_recognition_hears_what_local_whisper_hears(service, transcriber, speaker):
    stt = remote("stt", service)
    assert isinstance(stt, WyomingTranscriber)
    audio = to_float32(spoken(speaker, "Where can I find the nearest pharmacy?"))
    heard = stt.transcribe(audio)
    assert words(heard.text) == "where can i find the nearest pharmacy"
    assert (heard.confidence, heard.no_speech_prob) == (1.0, 0.0)
    assert stt.quick_transcribe(audio).text == heard.text


def test_remote_synthesis_speaks_at_the_services_rate(service, transcriber, speaker):
    tts = remote("tts", service)
    assert isinstance(tts, WyomingSpeaker) and tts.sample_rate == speaker.sample_rate
    pieces = list(tts.synthesize("The library closes in the evening."))
    assert pieces and all(p.dtype == np.int16 for p in pieces)
    heard = transcriber.transcribe(to_float32(resample(np.concatenate(pieces), tts.sample_rate, SAMPLE_RATE)))
    assert "library closes in the evening" in words(heard.text)
    assert list(tts.synthesize("  ")) == []


def test_an_interrupted_synthesis_leaves_the_service_working(service):
    tts = WyomingSpeaker(service)
    pieces = tts.synthesize("One sentence. Another sentence. And a third one to be cut off.")
    next(pieces)
    pieces.close()  # the reply was interrupted: the connection is closed mid-audio

    async def check():
        async with client(service) as peer:
            return await describe(peer)

    assert asyncio.run(check()).tts


def test_the_services_refusal_is_an_error_saying_why(service):
    stt = WyomingTranscriber(service)
    too_long = np.zeros(int((MAX_UTTERANCE_S + 1) * SAMPLE_RATE), dtype=np.float32)
    with pytest.raises(WyomingServiceError, match="refused: an utterance longer than 10 s"):
        stt.transcribe(too_long)


def test_a_missing_or_unreachable_service_is_a_user_error():
    with pytest.raises(UserError, match=r'stt.engine = "wyoming" needs .* stt.uri'):
        remote("stt", "")
    with pytest.raises(UserError, match="not reachable"):
        remote("tts", "tcp://127.0.0.1:9")
    with pytest.raises(UserError, match="tcp://HOST:PORT"):
        remote("stt", "http://127.0.0.1:10300")


def test_hark_transcribe_and_say_use_the_remote_service(service, transcriber, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HARK_STT_ENGINE", "wyoming")
    monkeypatch.setenv("HARK_STT_URI", service)
    monkeypatch.setenv("HARK_TTS_ENGINE", "wyoming")
    monkeypatch.setenv("HARK_TTS_URI", service)
    assert main(["transcribe", QUESTION_WAV]) == 0
    assert capsys.readouterr().out.strip() == transcriber.transcribe(decode_file(QUESTION_WAV)).text
    out = tmp_path / "said.wav"
    assert main(["say", "--output", str(out), "Good morning and welcome."]) == 0
    with wave.open(str(out)) as said:
        assert said.getnframes() > 0
    assert "good morning and welcome" in words(transcriber.transcribe(decode_file(out)).text)
