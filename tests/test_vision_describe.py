"""Local facts for a model that cannot see: colours, orientation, and OCR on the real bundled models."""

from __future__ import annotations

import io
import socket
import threading
import time
from types import SimpleNamespace

import pytest
from PIL import Image, ImageDraw, ImageFont
from skimage import data

from vision.colours import colour_name, dominant_colours
from vision.describe import MAX_TEXT_CHARS, ImageFacts, describe, image_facts
from vision.errors import ImageInputError
from vision.ocr import OcrReader, OcrUnavailable, make_engine

SIGN = ("Platform 9 closed today", "Trains leave from Platform 4")


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def rendered(lines: tuple[str, ...], size: tuple[int, int] = (720, 240)) -> Image.Image:
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=40)
    for i, line in enumerate(lines):
        draw.text((30, 40 + 90 * i), line, fill="black", font=font)
    return image


@pytest.fixture(scope="module")
def sign_facts(ocr_reader) -> ImageFacts:
    """The facts of the rendered sign, computed once: OCR is the slow part."""
    return image_facts(jpeg(rendered(SIGN)), ocr_reader)


def test_ocr_reads_rendered_text_exactly(sign_facts):
    assert sign_facts.text_lines == SIGN
    assert sign_facts.ocr_s is not None and 0 < sign_facts.ocr_s < 30


def test_facts_as_text_carry_size_orientation_colours_and_text(sign_facts):
    text = sign_facts.as_text()
    assert text.startswith("720x240 pixels, landscape; main colours: white")
    assert 'text read by OCR: "Platform 9 closed today / Trains leave from Platform 4"' in text


def test_ocr_reads_a_real_page(ocr_reader):
    lines = ocr_reader.read(Image.fromarray(data.page())).lines
    assert "Region-based segmentation" in lines
    assert any("markers" in line for line in lines)


def test_photo_without_text_says_so(ocr_reader):
    text = describe(jpeg(Image.fromarray(data.chelsea())))
    assert text.startswith("451x300 pixels, landscape; main colours: brown")
    assert text.endswith("no readable text")


def test_building_and_running_the_engine_never_touches_the_network(monkeypatch):
    """RapidOCR downloads models it cannot find; with the bundled files named explicitly it must not try."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("OCR tried to use the network")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    from rapidocr.utils.download_file import DownloadFile

    monkeypatch.setattr(DownloadFile, "run", refuse)
    engine = make_engine()
    loaded = (engine.text_det, engine.text_cls, engine.text_rec)  # the warm-up loaded all three models
    assert all(model is not None for model in loaded)
    assert engine(rendered(("Offline",), (300, 120))).txts == ("Offline",)


class FakeEngine:
    """Stands in for RapidOCR to test the reader's own logic: one build, one call at a time, scores."""

    def __init__(self, lines=(("clear text", 0.97), ("texture read as letters", 0.6))) -> None:
        self.lines = lines
        self.active = 0
        self.most_active = 0
        self.lock = threading.Lock()

    def __call__(self, _image):
        with self.lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        time.sleep(0.01)
        with self.lock:
            self.active -= 1
        return SimpleNamespace(txts=tuple(t for t, _ in self.lines), scores=tuple(s for _, s in self.lines))


def test_reader_builds_once_and_serialises_calls_across_threads():
    engine = FakeEngine()
    builds = []

    def factory():
        time.sleep(0.05)  # a slow build: every thread arrives while it is under way
        builds.append(1)
        return engine

    reader = OcrReader(factory)
    results = []

    def read() -> None:
        results.append(reader.read(Image.new("RGB", (8, 8))))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1 and reader.load_s is not None and reader.load_s >= 0.05
    assert engine.most_active == 1
    assert [r.lines for r in results] == [("clear text",)] * 8  # the low-confidence line is dropped


def test_without_ocr_the_facts_say_so_instead_of_failing():
    def unavailable():
        raise OcrUnavailable("rapidocr is not installed")

    facts = image_facts(jpeg(Image.new("RGB", (300, 400), (200, 30, 30))), OcrReader(unavailable))
    assert facts.ocr_s is None
    assert facts.as_text() == (
        "300x400 pixels, portrait; main colours: red; text could not be read (rapidocr is not installed)"
    )


def test_very_long_text_is_cut_for_small_models():
    lines = tuple(f"line {i} of a very long scanned contract with many words" for i in range(60))
    facts = ImageFacts(1000, 1000, ("white",), lines, 0.1)
    text = facts.as_text()
    assert facts.orientation == "square"
    assert len(text) < MAX_TEXT_CHARS + 120 and text.endswith(' ..."')


def test_describe_rejects_bytes_that_are_not_an_image():
    with pytest.raises(ImageInputError, match=r"the image is not an image \(or is corrupt\)"):
        describe(b"definitely not a picture")


@pytest.mark.parametrize(
    ("rgb", "name"),
    [((250, 250, 250), "white"), ((5, 5, 5), "black"), ((210, 20, 25), "red"), ((30, 60, 220), "blue")],
)
def test_colour_names(rgb, name):
    assert colour_name(rgb) == name


def test_dominant_colours_by_area_and_share():
    image = Image.new("RGB", (100, 100), (25, 35, 80))  # navy
    image.paste((255, 255, 255), (0, 0, 100, 30))  # white: 30 %
    image.paste((240, 220, 40), (0, 0, 5, 10))  # yellow: 0.5 %, below the share that counts
    assert dominant_colours(image) == ["navy", "white"]


def test_dominant_colours_of_real_photos():
    assert dominant_colours(Image.fromarray(data.coffee()))[0] in ("brown", "dark brown")
    assert "navy" in dominant_colours(Image.fromarray(data.rocket()))
    greys = {"black", "dark grey", "grey", "light grey", "white"}
    assert set(dominant_colours(Image.fromarray(data.camera()))) <= greys  # a black-and-white photo
