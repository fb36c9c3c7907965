"""`hark transcribe` on long recordings: chunked decoding, VAD-gated transcription, a length limit, progress.

Real Piper speech and real Whisper; only the one-hour measurement lives outside the suite (see the report).
"""

from __future__ import annotations

import io
import json
import wave

import av
import numpy as np
import pytest
from audio_fixtures import silence, spoken

from hark import assembly
from hark.cli import main
from hark.commands import transcribe
from voice import SAMPLE_RATE
from voice.decode import decode_chunks, decode_file, write_wav
from voice.errors import AudioInputError
from voice.stt import MAX_UTTERANCE_S, PAD_S, SpeechSegmenter
from voice.tts import TtsConfig

pytestmark = pytest.mark.integration


class CountingTranscriber:
    """The session's Whisper, counting the audio it was given."""

    def __init__(self, transcriber) -> None:
        self._transcriber = transcriber
        self.calls: list[float] = []

    def transcribe(self, audio):
        self.calls.append(audio.size / SAMPLE_RATE)
        return self._transcriber.transcribe(audio)


@pytest.fixture
def whisper(transcriber, monkeypatch):
    counting = CountingTranscriber(transcriber)
    monkeypatch.setattr(assembly, "build_transcriber", lambda config, reporter: counting)
    return counting


def test_speech_between_long_silences_gives_one_line_per_utterance(speaker, whisper, tmp_path, capsys):
    # the same audio each run: with Piper's noise, Whisper heard "France" as "friends" in 2 of 9 runs
    speaker = speaker.derive(TtsConfig(deterministic=True))
    audio = np.concatenate(
        [
            silence(40.0),
            spoken(speaker, "What is the capital of France?"),
            silence(75.0),  # across chunk boundaries
            spoken(speaker, "Please turn on the kitchen lights."),
            silence(20.0),
        ]
    )
    path = write_wav(tmp_path / "long.wav", audio)
    assert main(["transcribe", str(path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert "capital of france" in lines[0].lower() and "kitchen lights" in lines[1].lower()
    assert sum(whisper.calls) < 15  # only the speech (with its padding) went to Whisper, not 137 s


def test_json_gives_the_utterances_with_their_times(speaker, whisper, tmp_path, capsys):
    audio = np.concatenate([silence(5.0), spoken(speaker, "Good morning."), silence(2.0)])
    path = write_wav(tmp_path / "short.wav", audio)
    assert main(["transcribe", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    (utterance,) = result["utterances"]
    assert "morning" in result["text"].lower() and 4.5 <= utterance["start_s"] <= 5.0
    assert result["duration_s"] == pytest.approx(audio.size / SAMPLE_RATE, abs=0.01)


def test_silence_gives_no_text_and_never_reaches_whisper(whisper, tmp_path, capsys):
    path = write_wav(tmp_path / "silence.wav", silence(600.0))
    assert main(["transcribe", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "error: no speech recognised" in captured.err
    assert whisper.calls == []


def test_a_recording_over_the_limit_is_refused_before_loading_anything(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(assembly, "build_transcriber", pytest.fail)
    path = write_wav(tmp_path / "ten.wav", silence(10.0))
    assert main(["transcribe", str(path), "--max-duration", "5"]) == 2
    assert "error: " in (err := capsys.readouterr().err) and "over the 5 s limit" in err


def silent_flac(path, minutes: int, rate: int = 8000):
    """A long, tiny FLAC file of silence (2 h is about 1.3 MB)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("flac", rate=rate, layout="mono")
        minute = np.zeros((1, rate * 60), dtype=np.int16)
        for i in range(minutes):
            frame = av.AudioFrame.from_ndarray(minute, format="s16", layout="mono")
            frame.sample_rate, frame.pts = rate, i * minute.size
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def test_by_default_two_hours_is_the_limit(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(assembly, "build_transcriber", pytest.fail)
    path = silent_flac(tmp_path / "long.flac", minutes=121)
    assert main(["transcribe", str(path)]) == 2
    assert "is 121 min long, over the 2 h limit" in capsys.readouterr().err


def test_a_length_the_file_does_not_announce_is_limited_while_decoding(tmp_path):
    path = write_wav(tmp_path / "three.wav", silence(3.0))
    with pytest.raises(AudioInputError, match="longer than the 1 s limit"):
        list(decode_chunks(path, 0.5, max_s=1.0))


def test_chunks_add_up_to_the_whole_file(tmp_path):
    rng = np.random.default_rng(0)
    samples = (rng.standard_normal(int(7.3 * 44_100)) * 3000).astype(np.int16)
    path = tmp_path / "noise.wav"
    with wave.open(str(path), "wb") as w:  # 44.1 kHz stereo: resampled and mixed down
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44_100)
        w.writeframes(np.repeat(samples, 2).tobytes())
    chunks = list(decode_chunks(path, 2.0, max_s=60.0))
    assert [c.size for c in chunks[:-1]] == [2 * SAMPLE_RATE] * 3
    whole = decode_file(path)
    assert abs(sum(c.size for c in chunks) - whole.size) <= SAMPLE_RATE // 100
    assert np.allclose(np.concatenate(chunks)[:SAMPLE_RATE], whole[:SAMPLE_RATE], atol=1e-3)


class ScriptedVad:
    """Speech probability from a list, one value per 512-sample window."""

    def __init__(self, probabilities: list[float]) -> None:
        self._probabilities = iter(probabilities)

    def feed(self, frame: np.ndarray) -> float:
        assert frame.size == 512 and frame.dtype == np.int16
        return next(self._probabilities)


def test_the_segmenter_pads_utterances_and_cuts_long_ones():
    window_s = 512 / SAMPLE_RATE
    long_speech = int(MAX_UTTERANCE_S / window_s) + 10
    script = [0.0] * 100 + [0.9] * 50 + [0.0] * 100 + [0.9] * long_speech + [0.0] * 5
    segmenter = SpeechSegmenter(ScriptedVad(script))
    audio = np.zeros(len(script) * 512, dtype=np.float32)
    found = [*segmenter.feed(audio[:70_000]), *segmenter.feed(audio[70_000:]), *segmenter.flush()]
    pad = int(PAD_S * SAMPLE_RATE) // 512
    starts = [round(start / window_s) for start, _ in found]
    assert starts[0] == 100 - pad  # lead-in kept
    first_windows = found[0][1].size // 512
    assert first_windows == pad + 50 + pad  # lead-in, speech, tail
    assert len(found) == 3 and max(a.size for _, a in found) / SAMPLE_RATE <= MAX_UTTERANCE_S


def test_progress_is_one_rewritten_line():
    err = io.StringIO()
    progress = transcribe.Progress("talk.mp3", 3600.0, err)
    progress.show(750.0)
    progress.clear()
    assert err.getvalue().startswith("\rtranscribing talk.mp3: 12:30 of 60:00 (21 %)")
    assert "\n" not in err.getvalue()
