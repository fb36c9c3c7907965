"""The wake-word detector: real microWakeWord models on Piper speech with room noise, and its errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hark.benchmark.echo import EchoPath
from voice import SAMPLE_RATE
from voice.decode import resample
from voice.processors.echo import EchoCanceller
from voice.processors.wake import (
    BUILTIN_WAKE_WORDS,
    WakeWordDetector,
    WakeWordError,
    load_wake_word,
    wake_word_pair,
)
from voice.tts import Speaker, TtsConfig
from voice.vad import FRAME_S, FRAME_SAMPLES

WAKE_PHRASES = ("hey jarvis, what time is it", "hey jarvis, what is the weather like")
HARK_SAYS = (
    "Sure, the meeting is at three o'clock in the main room.",
    "I found two recipes for tomato soup. The first one takes twenty minutes.",
    "The train to Boston leaves at nine fifteen from platform four.",
    "Hello! How can I help you today?",
    "It is currently twenty one degrees and sunny, with a light wind.",
    "I have set a timer for ten minutes. Have a nice day.",
    "Your shopping list has milk, eggs, bread and a bag of apples.",
    "Harvest season is starting, the jars are ready in the cellar.",
)


def room_noise(n: int, rms: float, seed: int) -> np.ndarray:
    """Brownish noise (a fan, traffic): most of its power low in the spectrum, like a room."""
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.normal(0.0, 1.0, n))
    walk -= np.convolve(walk, np.ones(200) / 200, "same")
    return walk / np.std(walk) * rms


def spoken(speaker: Speaker, text: str) -> np.ndarray:
    return resample(speaker.synthesize_all(text), speaker.sample_rate, SAMPLE_RATE).astype(np.float64)


def with_noise(speech: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    level = np.sqrt(np.mean(speech[np.abs(speech) > 100] ** 2))
    return speech + room_noise(speech.size, level * 10 ** (-snr_db / 20), seed)


def to_frames(audio: np.ndarray) -> list[np.ndarray]:
    audio = np.clip(np.round(audio), -32768, 32767).astype(np.int16)
    return [audio[i : i + FRAME_SAMPLES] for i in range(0, audio.size - FRAME_SAMPLES + 1, FRAME_SAMPLES)]


def detections(audio: np.ndarray, spec: str = "hey_jarvis") -> list[float]:
    """Stream times of the detections in `audio`; also checks every frame passes through untouched."""
    found: list[float] = []
    detector = WakeWordDetector(spec, lambda name, at_s: found.append(at_s))
    for i, frame in enumerate(to_frames(audio)):
        assert detector.process(frame, i * FRAME_S) is frame
    return found


@pytest.fixture(scope="module")
def voices(speaker) -> list[Speaker]:
    """The bundled Piper voice (joe, US) at five speaking rates."""
    return (
        [Speaker(TtsConfig(rate=r)) for r in (0.8, 0.9)]
        + [speaker]
        + [Speaker(TtsConfig(rate=r)) for r in (1.1, 1.25)]
    )


def test_detects_piper_spoken_hey_jarvis_in_room_noise(voices):
    """Each phrase at each rate, one after another in a room with a steady noise bed, in three rooms.

    Piper draws fresh noise for every synthesis, so the clips differ from run to run: the threshold is
    on the rate over 30 clips, as the target is stated, not on any single clip."""
    hits, extra = [], 0
    for snr_db in (30.0, 15.0, 8.0):
        parts, spans, t = [np.zeros(SAMPLE_RATE)], [], 1.0
        for voice in voices:
            for phrase in WAKE_PHRASES:
                speech = spoken(voice, phrase)
                parts += [speech, np.zeros(2 * SAMPLE_RATE)]
                spans.append((t, t + speech.size / SAMPLE_RATE))
                t += speech.size / SAMPLE_RATE + 2.0
        found = detections(with_noise(np.concatenate(parts), snr_db, seed=round(snr_db)))
        room = [any(start <= at <= end + 0.5 for at in found) for start, end in spans]
        hits += room
        extra += len(found) - sum(room)
    assert sum(hits) / len(hits) >= 0.95, f"detected {sum(hits)} of {len(hits)}"
    assert extra == 0, "one detection per spoken wake word, none elsewhere"


def test_no_false_trigger_on_harks_own_speech_and_noise(voices):
    speech = np.concatenate([spoken(voice, text) for voice in voices for text in HARK_SAYS])
    audio = np.concatenate([with_noise(speech, 15.0, seed=1), room_noise(30 * SAMPLE_RATE, 300.0, seed=2)])
    assert audio.size / SAMPLE_RATE > 90.0
    assert detections(audio) == []


def test_hears_the_wake_word_over_its_own_reply_with_echo_cancellation(speaker):
    """ "Hey Jarvis — stop" while Hark speaks on an open speaker: detectors before and after the canceller."""
    reply = speaker.synthesize_all(" ".join(HARK_SAYS))
    far = np.concatenate([np.zeros(SAMPLE_RATE // 2), resample(reply, speaker.sample_rate, SAMPLE_RATE)])
    mic = EchoPath(0.08, 15.0).apply(far, np.random.default_rng(0)) + room_noise(far.size, 30.0, seed=3)
    spans = []
    for k, at_s in enumerate((3.0, 5.5, 8.0, 10.5, 13.0, 15.5, 18.0, 20.5)):
        user = spoken(speaker, ("hey jarvis, stop", "hey jarvis, wait a second")[k % 2]) * 0.5
        at = int(at_s * SAMPLE_RATE)
        mic[at : at + user.size] += user
        spans.append((at_s, at_s + user.size / SAMPLE_RATE))
    found: list[tuple[str, float]] = []
    before, after = wake_word_pair("hey_jarvis", lambda name, at_s: found.append((name, at_s)))
    aec = EchoCanceller()
    aec.playback(reply, speaker.sample_rate, 0.5)
    for i, frame in enumerate(to_frames(mic)):
        at_s = i * FRAME_S
        after.process(aec.process(before.process(frame, at_s), at_s), at_s)
    assert {name for name, _ in found} == {"hey_jarvis"}
    heard = [sum(start < at <= end + 0.5 for _, at in found) for start, end in spans]
    assert max(heard) == 1, "both detectors hearing one utterance report it once"
    # Measured 6-8 of 8 over four runs with the echo 15 dB down (Piper's noise differs each time, and the
    # user has the same voice as the reply); 10 dB down gave 3-7, 6 dB down 0-3: see `wake_word_pair`.
    assert sum(heard) >= 5, f"heard {sum(heard)} of {len(heard)} over the reply"
    assert len(found) == sum(heard)


@pytest.mark.parametrize("name", BUILTIN_WAKE_WORDS)
def test_every_builtin_name_loads(name):
    assert load_wake_word(name).id == name


def test_an_unknown_name_lists_the_available_ones():
    with pytest.raises(WakeWordError, match="okay_nabu, hey_jarvis, hey_mycroft, alexa"):
        load_wake_word("hey_computer")


def test_a_missing_model_file_is_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="wake word model not found"):
        load_wake_word(str(tmp_path / "mine.json"))


def copy_builtin(tmp_path: Path) -> Path:
    config = Path(load_wake_word("hey_jarvis").tflite_model).with_suffix(".json")
    shutil.copy(config, tmp_path / "hey_jarvis.json")
    shutil.copy(config.with_suffix(".tflite"), tmp_path / "hey_jarvis.tflite")
    return tmp_path / "hey_jarvis.json"


def test_a_model_file_loads_by_its_config_or_its_tflite(tmp_path, speaker):
    config = copy_builtin(tmp_path)
    assert load_wake_word(str(config)).id == "hey_jarvis"
    assert load_wake_word(str(config.with_suffix(".tflite"))).id == "hey_jarvis"
    audio = np.concatenate([np.zeros(SAMPLE_RATE), spoken(speaker, WAKE_PHRASES[0]), np.zeros(SAMPLE_RATE)])
    assert len(detections(audio, str(config))) == 1


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda d: (d / "notes.txt").write_text("buy milk"), "not a microWakeWord model"),
        (lambda d: (d / "notes.txt").write_bytes(b"\xff\xfe\x00garbage"), "not a microWakeWord model"),
        (lambda d: (d / "notes.txt").write_text(json.dumps({"model": "x.tflite"})), "no 'model' and 'micro'"),
        (lambda d: (d / "notes.txt").write_text("[1, 2]"), "no 'model' and 'micro'"),
    ],
)
def test_a_file_that_is_not_a_model_config_is_a_clear_error(tmp_path, write, message):
    write(tmp_path)
    with pytest.raises(WakeWordError, match=message):
        load_wake_word(str(tmp_path / "notes.txt"))


def test_a_broken_tflite_is_a_clear_error(tmp_path):
    config = copy_builtin(tmp_path)
    config.with_suffix(".tflite").write_bytes(b"this is not a flatbuffer")
    with pytest.raises(WakeWordError, match="not a TFLite wake word model"):
        load_wake_word(str(config))


def test_a_tflite_without_its_config_is_a_clear_error(tmp_path):
    (tmp_path / "mine.tflite").write_bytes(b"\x00" * 16)
    with pytest.raises(WakeWordError, match=r"needs its \.json config"):
        load_wake_word(str(tmp_path / "mine.tflite"))
    config = copy_builtin(tmp_path)
    config.with_suffix(".tflite").unlink()
    with pytest.raises(WakeWordError, match=r"hey_jarvis\.tflite is missing"):
        load_wake_word(str(config))
