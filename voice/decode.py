"""Decoding any common audio file to mono 16 kHz float32."""

from __future__ import annotations

import os
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from voice import SAMPLE_RATE
from voice.errors import AudioInputError


def _check_file(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise AudioInputError(f"audio file not found: {p}")
    if p.is_dir():
        raise AudioInputError(f"{p} is a directory, not an audio file")
    if p.stat().st_size == 0:
        raise AudioInputError(f"{p} is empty (0 bytes)")
    return p


def decode_file(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read WAV, FLAC, MP3, OGG, ... (any rate, any channel count) as mono float32 in [-1, 1].

    PyAV (a faster-whisper dependency, with FFmpeg inside its wheel) does the decoding and resampling, so
    no system FFmpeg is needed. Every failure becomes an `AudioInputError` that says what is wrong. The
    whole file is held in memory: for long recordings use `decode_chunks`.
    """
    p = _check_file(path)
    try:
        from faster_whisper.audio import decode_audio

        audio = decode_audio(str(p), sampling_rate=sample_rate)
    except Exception as exc:  # PyAV raises a zoo of error types for bad containers and codecs.
        raise AudioInputError(f"{p} is not a readable audio file ({type(exc).__name__})") from exc
    audio = np.asarray(audio, dtype=np.float32)
    if audio.size == 0:
        raise AudioInputError(f"{p} holds no audio samples")
    return audio


def audio_duration(path: str | os.PathLike) -> float | None:
    """The duration the container announces, in seconds (None when it does not say), read without decoding."""
    p = _check_file(path)
    import av

    try:
        with av.open(str(p)) as container:
            stream = next((s for s in container.streams if s.type == "audio"), None)
            if stream is None:
                raise AudioInputError(f"{p} has no audio stream")
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            return container.duration / av.time_base if container.duration is not None else None
    except AudioInputError:
        raise
    except Exception as exc:  # as in decode_file
        raise AudioInputError(f"{p} is not a readable audio file ({type(exc).__name__})") from exc


def decode_chunks(
    path: str | os.PathLike, chunk_s: float, max_s: float, sample_rate: int = SAMPLE_RATE
) -> Iterator[np.ndarray]:
    """Mono float32 chunks of `chunk_s` seconds (the last one shorter), decoded as they are read, so a long
    recording never sits in memory whole. Audio beyond `max_s` is an `AudioInputError`, even when the
    container did not announce its length."""
    p = _check_file(path)
    import av

    chunk = int(chunk_s * sample_rate)
    limit = int(max_s * sample_rate)
    pending: list[np.ndarray] = []
    held = total = 0
    try:
        with av.open(str(p)) as container:
            stream = next((s for s in container.streams if s.type == "audio"), None)
            if stream is None:
                raise AudioInputError(f"{p} has no audio stream")
            # as faster-whisper's decode_audio (what decode_file uses), so both give the same samples
            resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
            frames = (out for frame in container.decode(stream) for out in resampler.resample(frame))
            for out in _with_flush(frames, resampler):
                samples = to_float32(out.to_ndarray().reshape(-1))
                total += samples.size
                if total > limit:
                    raise AudioInputError(f"{p} is longer than the {clock(max_s)} limit")
                pending.append(samples)
                held += samples.size
                while held >= chunk:
                    joined = np.concatenate(pending)
                    yield joined[:chunk]
                    pending, held = [joined[chunk:]], joined.size - chunk
    except AudioInputError:
        raise
    except Exception as exc:  # as in decode_file
        raise AudioInputError(f"{p} is not a readable audio file ({type(exc).__name__})") from exc
    if total == 0:
        raise AudioInputError(f"{p} holds no audio samples")
    if held:
        yield np.concatenate(pending)


def _with_flush(frames: Iterator, resampler) -> Iterator:
    """The resampled frames, then what the resampler still holds."""
    yield from frames
    yield from resampler.resample(None)


def clock(seconds: float) -> str:
    """`2 h`, `90 min`, `45 s`: a limit as a person says it."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def to_int16(audio: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] to int16, clipping what is out of range."""
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16)


def to_float32(audio: np.ndarray) -> np.ndarray:
    """int16 samples to float32 in [-1, 1]."""
    return audio.astype(np.float32) / 32768.0


def resample(audio: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Linear-interpolation resampling, good enough for speech between 16, 22.05, 44.1 and 48 kHz."""
    if src_rate == dst_rate or audio.size == 0:
        return audio
    n_out = max(1, round(audio.size * dst_rate / src_rate))
    x_old = np.arange(audio.size, dtype=np.float64)
    x_new = np.linspace(0, audio.size - 1, n_out)
    out = np.interp(x_new, x_old, audio.astype(np.float64))
    if audio.dtype == np.int16:
        return np.clip(np.round(out), -32768, 32767).astype(np.int16)
    return out.astype(np.float32)


def write_wav(path: str | os.PathLike, samples: np.ndarray, rate: int = SAMPLE_RATE) -> Path:
    """Mono int16 WAV."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype(np.int16).tobytes())
    return Path(path)


AUDIBLE = 300
"""int16 amplitude (about -40 dBFS) above which a sample counts as sound: where first audio is, where
speech truly ends. The one definition for the player, the benchmarks and the tests."""


def audible(samples: np.ndarray) -> np.ndarray:
    """Indices of the audible samples of int16 `samples`."""
    return np.flatnonzero(np.abs(samples.astype(np.int32)) > AUDIBLE)
