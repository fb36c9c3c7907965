"""What can be known about an image on this machine, for a language model that cannot see it."""

from __future__ import annotations

from dataclasses import dataclass

from vision.colours import dominant_colours
from vision.image import decode
from vision.ocr import OcrReader, default_reader

MAX_TEXT_CHARS = 1000
"""OCR text beyond this is cut: a small model's context (2048 tokens) must still hold the question."""
SQUARE_TOLERANCE = 0.03


@dataclass(frozen=True)
class ImageFacts:
    """What is known about one image without seeing it."""

    width: int
    height: int
    colours: tuple[str, ...]
    text_lines: tuple[str, ...]
    ocr_s: float | None
    """Seconds OCR took; None when it could not run."""
    ocr_problem: str | None = None

    @property
    def orientation(self) -> str:
        if abs(self.width - self.height) <= SQUARE_TOLERANCE * max(self.width, self.height):
            return "square"
        return "landscape" if self.width > self.height else "portrait"

    def as_text(self) -> str:
        """One line of facts, e.g. `640x200 pixels, landscape; main colours: white, black; text: "..."`."""
        parts = [f"{self.width}x{self.height} pixels, {self.orientation}"]
        if self.colours:
            parts.append("main colours: " + ", ".join(self.colours))
        if self.ocr_problem:
            parts.append(f"text could not be read ({self.ocr_problem})")
        elif self.text_lines:
            text = " / ".join(self.text_lines)
            if len(text) > MAX_TEXT_CHARS:
                text = text[:MAX_TEXT_CHARS].rsplit(" ", 1)[0] + " ..."
            parts.append(f'text read by OCR: "{text}"')
        else:
            parts.append("no readable text")
        return "; ".join(parts)


def image_facts(image_bytes: bytes, reader: OcrReader = default_reader) -> ImageFacts:
    """Size, orientation, dominant colours and OCR text of an encoded image.

    Raises `ImageInputError` for bytes that are not a usable image. OCR is best effort: when it cannot run,
    the facts say so instead of failing the turn.
    """
    image = decode(image_bytes, "the image").image
    colours = tuple(dominant_colours(image))
    try:
        ocr = reader.read(image)
    except Exception as exc:  # a missing model or an ONNX runtime failure must not cost the whole answer
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]  # not a whole traceback
        return ImageFacts(image.width, image.height, colours, (), None, reason)
    return ImageFacts(image.width, image.height, colours, ocr.lines, ocr.seconds)


def describe(image_bytes: bytes) -> str:
    """Facts about an image as one line of text: the `image_describer` for a model that cannot see."""
    return image_facts(image_bytes).as_text()
