"""Reading the text in an image with RapidOCR, on the models bundled in its wheel only.

RapidOCR downloads a model whenever its configuration names one that is not on disk. Giving it the explicit
paths of the three bundled ONNX files takes that code path out entirely: a missing file is an error here,
never a download.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

BUNDLED_MODELS = {
    "Det": "PP-OCRv6_det_small.onnx",
    "Cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
    "Rec": "PP-OCRv6_rec_small.onnx",
}
DETECTION_MIN_SIDE = 480
"""Text detection enlarges an image until its short side is this long (RapidOCR's default is 736). A
720x240 sign then becomes 1440x480 instead of 2208x736: measured 1.4 s instead of 2.2 s on a busy 2-core
machine, and the same lines read from it, from skimage's page and from 14-32 px text."""
MIN_SCORE = 0.8
"""RapidOCR keeps lines from 0.5 up, but on photos those below ~0.8 are mostly texture read as letters."""


class OcrUnavailable(RuntimeError):
    """RapidOCR or its bundled models are not installed."""


@dataclass(frozen=True)
class OcrResult:
    lines: tuple[str, ...]
    """Recognised lines, top to bottom, each recognised with a confidence of at least `MIN_SCORE`."""
    seconds: float
    """Time spent recognising (the one-off engine load is not included)."""


def bundled_model_paths() -> dict[str, Path]:
    """The ONNX files inside the installed `rapidocr` package, found without importing it."""
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        raise OcrUnavailable("rapidocr is not installed: pip install rapidocr onnxruntime")
    models = Path(next(iter(spec.submodule_search_locations))) / "models"
    paths = {task: models / name for task, name in BUNDLED_MODELS.items()}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise OcrUnavailable(f"RapidOCR's bundled models are missing: {', '.join(missing)}")
    return paths


def make_engine() -> Any:
    from rapidocr import RapidOCR

    params: dict[str, Any] = {f"{task}.model_path": str(p) for task, p in bundled_model_paths().items()}
    params["Global.log_level"] = "error"  # its "no text found" warning is a normal outcome here
    params["Det.limit_side_len"] = DETECTION_MIN_SIDE
    engine = RapidOCR(params=params)
    engine(_warmup_image())  # RapidOCR loads each model on first use: now, rather than during a question
    return engine


def _warmup_image() -> Image.Image:
    """A word on white, so detection finds a line and the orientation and recognition models load too."""
    image = Image.new("RGB", (200, 64), "white")
    ImageDraw.Draw(image).text((16, 12), "Hark 42", fill="black", font=ImageFont.load_default(size=32))
    return image


class OcrReader:
    """One RapidOCR engine, built on first use and shared by every thread.

    Calls are serialised: RapidOCR's `__call__` stores per-call settings on the engine, so two threads at
    once could mix them up (and on two cores nothing is gained by running them side by side).
    """

    def __init__(self, factory: Callable[[], Any] = make_engine) -> None:
        self._factory = factory
        self._engine: Any = None
        self._lock = threading.Lock()
        self.load_s: float | None = None
        """How long building the engine took, once it is built."""

    def _loaded(self) -> Any:
        """The engine, built if needed. The caller holds the lock."""
        if self._engine is None:
            start = time.perf_counter()
            self._engine = self._factory()
            self.load_s = time.perf_counter() - start
        return self._engine

    def load(self) -> OcrReader:
        """Build the engine now (to time it, or to keep the first read fast)."""
        with self._lock:
            self._loaded()
        return self

    def read(self, image: Image.Image) -> OcrResult:
        with self._lock:
            engine = self._loaded()
            start = time.perf_counter()
            output = engine(image)
            seconds = time.perf_counter() - start
        scored = zip(output.txts or (), output.scores or (), strict=True)
        lines = tuple(line.strip() for line, score in scored if score >= MIN_SCORE and line.strip())
        return OcrResult(lines, seconds)


default_reader = OcrReader()
"""The process-wide reader: the engine takes about a second to build, so it is built once."""
