"""Decoding any common audio file to mono 16 kHz float32."""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np

from voice import SAMPLE_RATE
from voice.errors import AudioInputError


def decode_file(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read WAV, FLAC, MP3, OGG, ... (any rate, any channel count) as mono float32 in [-1, 1].

    PyAV (a faster-whisper dependency, with FFmpeg inside its wheel) does the decoding and resampling, so
    no system FFmpeg is needed. Every failure becomes an `AudioInputError` that says what is wrong.
    """
    p = Path(path)
    if not p.exists():
        raise AudioInputError(f"audio file not found: {p}")
    if p.is_dir():
        raise AudioInputError(f"{p} is a directory, not an audio file")
    if p.stat().st_size == 0:
        raise AudioInputError(f"{p} is empty (0 bytes)")
    try:
        from faster_whisper.audio import decode_audio

        audio = decode_audio(str(p), sampling_rate=sample_rate)
    except Exception as exc:  # PyAV raises a zoo of error types for bad containers and codecs.
        raise AudioInputError(f"{p} is not a readable audio file ({type(exc).__name__})") from exc
    audio = np.asarray(audio, dtype=np.float32)
    if audio.size == 0:
        raise AudioInputError(f"{p} holds no audio samples")
    return audio


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
