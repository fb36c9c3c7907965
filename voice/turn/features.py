"""Whisper-style log-mel features, the input Smart Turn v3 was trained on, in plain numpy.

Smart Turn's audio encoder is Whisper's, fed with what `transformers.WhisperFeatureExtractor` computes
with an 8 s chunk: the waveform normalised to zero mean and unit variance (over the whole padded window,
silence included), a centred 400-point STFT with a periodic Hann window every 10 ms, the power spectrum
projected onto 80 Slaney mel filters (0-8 kHz, area-normalised), log10 with a 1e-10 floor, everything
more than 8 decades under the loudest cell raised to that level, then scaled as (x + 4) / 4. The last
STFT frame is dropped, so 8 s give exactly 800 frames. Written from that description; it matches
Pipecat's numpy extractor bit for bit on real speech (see tests/test_turn_features.py).
"""

from __future__ import annotations

import numpy as np

from voice import SAMPLE_RATE

N_FFT = 400
"""25 ms analysis window."""
HOP = 160
"""10 ms between frames."""
N_MELS = 80
WINDOW_S = 8
WINDOW_SAMPLES = WINDOW_S * SAMPLE_RATE
N_FRAMES = WINDOW_SAMPLES // HOP
"""800 feature frames per 8 s window."""
_DYNAMIC_RANGE = 8.0
"""Decades of log10 power kept under the window's maximum."""
_VARIANCE_EPS = 1e-7


def last_window(audio: np.ndarray) -> np.ndarray:
    """The last 8 s of `audio`, with silence prepended when it is shorter: the end of speech (what the
    model judges) always sits at the right edge of the window."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.size >= WINDOW_SAMPLES:
        return audio[audio.size - WINDOW_SAMPLES :]
    return np.concatenate([np.zeros(WINDOW_SAMPLES - audio.size, np.float32), audio])


def _hz_to_slaney_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear (3 mels per 200 Hz) up to 1 kHz, logarithmic above (27 mels per
    factor 6.4)."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz * 3.0 / 200.0
    log = 15.0 + np.log(np.maximum(hz, 1e-12) / 1000.0) * 27.0 / np.log(6.4)
    return np.where(hz < 1000.0, linear, log)


def _slaney_mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * 200.0 / 3.0
    log = 1000.0 * np.exp((mel - 15.0) * np.log(6.4) / 27.0)
    return np.where(mel < 15.0, linear, log)


def mel_filterbank(n_mels: int = N_MELS, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Triangular filters, shape (n_mels, n_fft // 2 + 1), each with unit area in Hz (Slaney norm).

    Filter i rises from edge i to edge i + 1 and falls to edge i + 2, the edges evenly spaced in mels
    from 0 Hz to Nyquist.
    """
    edges = _slaney_mel_to_hz(np.linspace(0.0, _hz_to_slaney_mel(sample_rate / 2.0), n_mels + 2))
    bins = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None, :] - lower) / (centre - lower)
    falling = (upper - bins[None, :]) / (upper - centre)
    weights = np.clip(np.minimum(rising, falling), 0.0, None)
    return weights * (2.0 / (upper - lower))


_FILTERS = mel_filterbank()
_HANN = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)
"""Periodic Hann window (the DFT-even form torch and librosa use)."""
_FRAME_INDEX = np.arange(N_FFT)[None, :] + HOP * np.arange(N_FRAMES)[:, None]
"""Sample indices of each analysis frame in the centre-padded window (the 801st frame is never used)."""


def log_mel(audio: np.ndarray) -> np.ndarray:
    """Features of the last 8 s of 16 kHz float audio in [-1, 1]: float32, shape (80, 800)."""
    if np.ndim(audio) != 1:
        raise ValueError(f"expected mono audio (one dimension), got shape {np.shape(audio)}")
    x = last_window(audio)
    x = (x - x.mean()) / np.sqrt(x.var() + np.float32(_VARIANCE_EPS))
    padded = np.pad(x.astype(np.float64), N_FFT // 2, mode="reflect")
    spectrum = np.fft.rfft(padded[_FRAME_INDEX] * _HANN, axis=1)
    power = spectrum.real**2 + spectrum.imag**2
    mel = np.log10(np.maximum(_FILTERS @ power.T, 1e-10))
    mel = np.maximum(mel, mel.max() - _DYNAMIC_RANGE)
    return ((mel + 4.0) / 4.0).astype(np.float32)
