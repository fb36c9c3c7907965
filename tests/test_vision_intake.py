"""Image intake: real photos and made-up images through every check, conversion and source."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image
from skimage import data

from vision.errors import ImageInputError
from vision.image import IntakeLimits, decode, prepare
from vision.sources import open_image

PHOTOS = ["astronaut", "chelsea", "coffee", "rocket", "camera", "text", "page"]
RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def photo(name: str) -> Image.Image:
    return Image.fromarray(getattr(data, name)())


def pixels(prepared) -> np.ndarray:
    """What the model will see: the prepared JPEG decoded again."""
    with Image.open(io.BytesIO(prepared.data)) as image:
        assert image.format == "JPEG"
        return np.asarray(image.convert("RGB")).astype(int)


def near(pixel, colour, tolerance: int = 40) -> bool:
    return all(abs(int(a) - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


def halves(size: tuple[int, int] = (200, 100)) -> Image.Image:
    """Left half red, right half blue: the pixels show where each side ends up."""
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, size[0] // 2, size[1]))
    return image


def png_with_size(width: int, height: int) -> bytes:
    """A tiny real PNG whose header claims `width` x `height`: a decompression bomb's calling card."""
    raw = bytearray(encode(Image.new("L", (8, 8)), "PNG"))
    ihdr = struct.pack(">II", width, height) + bytes(raw[24:29])
    raw[16:29] = ihdr
    raw[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(raw)


@pytest.mark.parametrize("name", PHOTOS)
def test_real_photos_keep_their_content(name, tmp_path):
    original = photo(name).convert("RGB")
    path = tmp_path / f"{name}.jpg"
    path.write_bytes(encode(original, "JPEG", quality=95))
    prepared = open_image(path)
    assert (prepared.width, prepared.height) == original.size
    assert (prepared.original_width, prepared.original_height) == original.size
    assert prepared.original_format == "JPEG" and prepared.mime == "image/jpeg"
    assert prepared.source == str(path) and prepared.original_bytes == path.stat().st_size
    assert np.abs(pixels(prepared) - np.asarray(original).astype(int)).mean() < 6


@pytest.mark.parametrize("max_side", [1024, 300])
def test_large_photo_is_downscaled_to_max_side_keeping_its_shape(max_side):
    big = photo("rocket").resize((3000, 2001))
    prepared = prepare(encode(big, "JPEG", quality=90), "rocket.jpg", IntakeLimits(max_side=max_side))
    assert prepared.width == max_side
    assert abs(prepared.height - round(2001 * max_side / 3000)) <= 1
    assert (prepared.original_width, prepared.original_height) == (3000, 2001)
    assert pixels(prepared).shape[:2] == (prepared.height, prepared.width)
    assert len(prepared.data) < 400_000


def test_small_image_is_not_upscaled():
    prepared = prepare(encode(photo("page"), "PNG"), "page.png", IntakeLimits(max_side=1024))
    assert (prepared.width, prepared.height) == (384, 191)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "GIF", "BMP", "TIFF", "JPEG"])
def test_each_supported_format_is_read(fmt):
    cat = photo("chelsea")
    prepared = prepare(encode(cat, fmt), f"cat.{fmt.lower()}")
    assert prepared.original_format == fmt
    assert (prepared.width, prepared.height) == cat.size
    tolerance = 25 if fmt == "GIF" else 10  # GIF has a 256-colour palette
    assert np.abs(pixels(prepared) - np.asarray(cat).astype(int)).mean() < tolerance


def test_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (64, 48), colour) for colour in (RED, (0, 255, 0), BLUE)]
    gif = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(io.BytesIO(gif)) as check:
        assert check.n_frames == 3
    assert near(pixels(prepare(gif, "anim.gif"))[24, 32], RED)


PROBES = {"left": (50, 20), "right": (50, 180), "top": (20, 50), "bottom": (180, 50)}
OPPOSITE = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}


@pytest.mark.parametrize(
    ("orientation", "size", "red_side"),
    [(1, (200, 100), "left"), (3, (200, 100), "right"), (6, (100, 200), "top"), (8, (100, 200), "bottom")],
)
def test_exif_orientation_is_applied_to_the_pixels(orientation, size, red_side):
    exif = Image.Exif()
    exif[0x0112] = orientation  # stored pixels: red left, blue right; EXIF says how to turn them upright
    prepared = prepare(encode(halves(), "JPEG", exif=exif), "phone.jpg")
    seen = pixels(prepared)
    assert (prepared.width, prepared.height) == size
    assert near(seen[PROBES[red_side]], RED) and near(seen[PROBES[OPPOSITE[red_side]]], BLUE)


def test_metadata_such_as_gps_never_leaves_the_machine():
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(0x8825)[2] = (52.0, 22.0, 1.0)  # GPSLatitude
    prepared = prepare(encode(photo("coffee"), "JPEG", exif=exif), "coffee.jpg")
    with Image.open(io.BytesIO(prepared.data)) as sent:
        assert not sent.getexif() and "exif" not in sent.info


def test_transparency_is_flattened_onto_white():
    image = Image.new("RGBA", (100, 100), (0, 0, 0, 0))  # transparent *black*
    image.paste((0, 0, 0, 255), (25, 25, 75, 75))
    seen = pixels(prepare(encode(image, "PNG"), "logo.png"))
    assert near(seen[5, 5], WHITE, 10) and near(seen[50, 50], (0, 0, 0), 10)


def test_grey_with_alpha_and_palette_with_transparency_are_flattened():
    la = Image.new("LA", (40, 40), (0, 0))
    palette = Image.new("P", (40, 40), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0])
    palette.paste(1, (0, 0, 20, 40))
    seen_la = pixels(prepare(encode(la, "PNG"), "la.png"))
    seen_p = pixels(prepare(encode(palette, "PNG", transparency=0), "p.png"))
    assert near(seen_la[20, 20], WHITE, 10)
    assert near(seen_p[20, 5], RED) and near(seen_p[20, 35], WHITE, 10)


def test_sixteen_bit_grey_is_scaled_not_clipped_to_white():
    ramp = np.tile(np.linspace(0, 65535, 256), (32, 1)).astype(np.uint16)
    image = Image.fromarray(ramp)
    assert image.mode == "I;16"
    png = encode(image, "PNG")
    with Image.open(io.BytesIO(png)) as check:
        assert check.mode.startswith("I")  # stays wide on disk
    row = pixels(prepare(png, "depth.png"))[16, :, 0]
    assert row[2] < 15 and row[-3] > 240 and 110 < row[128] < 145


@pytest.mark.parametrize(
    ("values", "mode"),
    [
        (np.linspace(0.0, 1.0, 256), "F"),
        (np.linspace(0, 65535, 256), "I"),
        (np.linspace(-500, 500, 256), "F"),
    ],
)
def test_wide_integer_and_float_images_become_a_grey_ramp(values, mode):
    array = np.tile(values, (32, 1)).astype(np.float32 if mode == "F" else np.int32)
    image = Image.fromarray(array)
    assert image.mode == mode
    row = pixels(prepare(encode(image, "TIFF"), "science.tif"))[16, :, 0]
    assert row[2] < 15 and row[-3] > 240 and 110 < row[128] < 145


def test_cmyk_jpeg_becomes_rgb():
    cat = photo("chelsea")
    prepared = prepare(encode(cat.convert("CMYK"), "JPEG", quality=95), "print.jpg")
    assert np.abs(pixels(prepared) - np.asarray(cat).astype(int)).mean() < 12


def test_sources_stdin_and_bytes():
    png = encode(photo("camera"), "PNG")
    from_stdin = open_image("-", stdin=io.BytesIO(png))
    from_bytes = open_image(png)
    assert from_stdin.source == "stdin" and from_bytes.source == "the image data"
    assert from_stdin.data == from_bytes.data


@pytest.fixture(scope="module")
def image_server():
    """A local HTTP server: /cat.jpg, /big.jpg (announces 30 MB), anything else 404."""
    jpeg = encode(photo("chelsea"), "JPEG")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/cat.jpg":
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(jpeg)))
                self.end_headers()
                self.wfile.write(jpeg)
            elif self.path == "/big.jpg":
                self.send_response(200)
                self.send_header("Content-Length", str(30 * 1024 * 1024))
                self.end_headers()
                self.wfile.write(jpeg)
            else:
                self.send_error(404)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_url_is_fetched(image_server):
    prepared = open_image(f"{image_server}/cat.jpg", allow_private=True)  # the test server is on loopback
    assert prepared.source == f"{image_server}/cat.jpg" and (prepared.width, prepared.height) == (451, 300)


@pytest.mark.parametrize(
    ("path", "message"),
    [("/missing.jpg", "HTTP 404"), ("/big.jpg", "is 30 MB, over the 20 MB limit")],
)
def test_url_problems_are_clear(image_server, path, message):
    with pytest.raises(ImageInputError, match=message):
        open_image(image_server + path, allow_private=True)


def test_unreachable_url_and_other_schemes():
    with pytest.raises(ImageInputError, match=r"could not fetch http://127\.0\.0\.1:9/x\.jpg"):
        open_image("http://127.0.0.1:9/x.jpg", allow_private=True)
    with pytest.raises(ImageInputError, match="only http:// and https://"):
        open_image("ftp://example.com/x.jpg")


def test_file_problems_name_the_file(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.jpg").write_text("these are my shopping notes, not a photo\n")
    (tmp_path / "album").mkdir()
    (tmp_path / "huge.jpg").write_bytes(b"")
    with open(tmp_path / "huge.jpg", "r+b") as f:
        f.truncate(21 * 1024 * 1024)  # sparse: checked by size before a byte is read
    cases = {
        "missing.jpg": "image not found: .*missing.jpg",
        "album": "album is a directory, not an image",
        "empty.jpg": r"empty.jpg is empty \(0 bytes\)",
        "notes.jpg": r"notes.jpg is not an image \(or is corrupt\)",
        "huge.jpg": "huge.jpg is 21 MB, over the 20 MB limit",
    }
    for name, message in cases.items():
        with pytest.raises(ImageInputError, match=message):
            open_image(tmp_path / name)


def test_truncated_jpeg_is_reported_as_such():
    jpeg = encode(photo("astronaut"), "JPEG")
    with pytest.raises(ImageInputError, match=r"half\.jpg is truncated or corrupt"):
        prepare(jpeg[: len(jpeg) // 2], "half.jpg")


@pytest.mark.parametrize(
    ("width", "height", "message"),
    [
        (8000, 8000, "8000x8000 pixels \\(64 megapixels\\), over the 50 megapixel limit"),  # our limit
        (10000, 10000, "too many pixels to open safely"),  # Pillow's warning, turned into our error
        (30000, 30000, "too many pixels to open safely"),  # Pillow's own error
    ],
)
def test_decompression_bombs_are_refused_from_the_header(width, height, message):
    bomb = png_with_size(width, height)
    assert len(bomb) < 200  # the pixels are not there: only the header can have been read
    with pytest.raises(ImageInputError, match=message):
        prepare(bomb, "bomb.png")


def test_lower_pixel_limit_is_honoured():
    with pytest.raises(ImageInputError, match=r"over the 0\.1 megapixel limit"):
        decode(encode(photo("astronaut"), "PNG"), "astronaut.png", IntakeLimits(max_pixels=100_000))


def test_unsupported_and_heic_formats_say_what_they_are():
    icon = encode(photo("coffee").resize((32, 32)), "ICO")
    with pytest.raises(ImageInputError, match=r"icon\.ico is in ICO format, which is not supported"):
        prepare(icon, "icon.ico")
    heic_header = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)
    with pytest.raises(ImageInputError, match=r"IMG_0001\.HEIC is a HEIC/HEIF photo"):
        prepare(heic_header, "IMG_0001.HEIC")


def test_limits_are_validated():
    with pytest.raises(ValueError, match="16 to 8192"):
        IntakeLimits(max_side=0)


def test_the_vision_package_stands_alone():
    probe = (
        "import sys, vision.sources, vision.camera, vision.describe, vision.intent; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'dialogue', 'hark', 'voice'}))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr
