"""Decoding untrusted image bytes safely, and normalising them into a compact JPEG for the model.

Every check that can be made before the pixels are decoded is made first: size in bytes, format (only the
formats below are parsed at all), and dimensions from the header (the decompression-bomb guard). The result
is upright (EXIF orientation applied), RGB on white, at most `max_side` pixels on its long side, and carries
no metadata (re-encoding drops EXIF, so a photo's GPS position never leaves the machine).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from functools import cache

from PIL import Image, ImageOps, UnidentifiedImageError, features

from vision.errors import MB, ImageInputError, over_limit
from vision.pixels import to_rgb

JPEG_QUALITY = 85
BASE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "DIB", "TIFF")
"""What Pillow may parse (its JPEG reader also opens the multi-picture "MPO" JPEGs many phones write)."""
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"}


@dataclass(frozen=True)
class IntakeLimits:
    """What intake accepts, and the size it sends on."""

    max_bytes: int = 20 * MB
    max_pixels: int = 50_000_000
    """Checked from the header before any pixel is decoded; Pillow's own, larger limit backs it up."""
    max_side: int = 1024
    """The long side of the image sent to the model."""

    def __post_init__(self) -> None:
        if self.max_bytes < 1 or self.max_pixels < 1:
            raise ValueError("image limits must be positive")
        if not 16 <= self.max_side <= 8192:
            raise ValueError(f"the long side of an image must be 16 to 8192 pixels, not {self.max_side}")


DEFAULT_LIMITS = IntakeLimits()


@dataclass(frozen=True)
class DecodedImage:
    """An upright RGB image and what it was before decoding."""

    image: Image.Image
    source: str
    format: str
    width: int
    height: int
    byte_count: int


@dataclass(frozen=True)
class PreparedImage:
    """An image ready to send to a model: compact JPEG bytes and where they came from."""

    data: bytes = field(repr=False)
    mime: str
    width: int
    height: int
    original_width: int
    original_height: int
    original_format: str
    original_bytes: int
    source: str


def too_large(source: str, limit: int, size: int | None = None) -> ImageInputError:
    return ImageInputError(over_limit(source, limit, size, "images"))


@cache
def accepted_formats() -> tuple[str, ...]:
    """The formats read here: the base set, AVIF if Pillow has it, HEIF if pillow_heif is installed."""
    formats = BASE_FORMATS + (("AVIF",) if features.check("avif") else ())
    try:
        import pillow_heif
    except ImportError:
        return formats
    pillow_heif.register_heif_opener()
    return (*formats, "HEIF")


def _not_an_image(data: bytes, source: str) -> ImageInputError:
    """The most useful message for bytes the accepted formats cannot read."""
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return ImageInputError(
            f"{source} is a HEIC/HEIF photo, which this installation cannot read: convert it to JPEG "
            "(or pip install pillow-heif)"
        )
    try:
        with Image.open(io.BytesIO(data)) as other:  # only to name the format in the message
            kind = other.format
    except Exception:
        kind = None
    if kind:
        names = ", ".join(f for f in accepted_formats() if f != "DIB")
        return ImageInputError(f"{source} is in {kind} format, which is not supported (use {names})")
    return ImageInputError(f"{source} is not an image (or is corrupt)")


def _open(data: bytes, source: str) -> Image.Image:
    """Parse the header only. Pillow's decompression-bomb warning is turned into an error, like its error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return Image.open(io.BytesIO(data), formats=accepted_formats())
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageInputError(f"{source} has too many pixels to open safely ({exc})") from exc
        except UnidentifiedImageError:
            raise _not_an_image(data, source) from None
        except (OSError, ValueError, EOFError, SyntaxError) as exc:  # a header its reader chokes on
            raise ImageInputError(f"{source} is not an image (or is corrupt): {exc}") from exc


def decode(data: bytes, source: str, limits: IntakeLimits = DEFAULT_LIMITS) -> DecodedImage:
    """Check and decode image bytes (first frame of an animation) into an upright RGB image."""
    if not data:
        raise ImageInputError(f"{source} is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise too_large(source, limits.max_bytes, len(data))
    image = _open(data, source)
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageInputError(f"{source} is not an image (or is corrupt): it has no pixels")
    if width * height > limits.max_pixels:
        raise ImageInputError(
            f"{source} is {width}x{height} pixels ({width * height / 1e6:.0f} megapixels), over the "
            f"{limits.max_pixels / 1e6:g} megapixel limit"
        )
    if image.format in ("JPEG", "MPO"):
        image.draft("RGB", (limits.max_side, limits.max_side))  # decode at 1/2, 1/4, 1/8 scale when enough
    try:
        image.load()
    except Exception as exc:  # Pillow reports truncation and bad data with OSError, ValueError, EOFError...
        raise ImageInputError(f"{source} is truncated or corrupt ({exc})") from exc
    try:
        upright = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block costs the rotation, not the image
        upright = image
    try:
        rgb = to_rgb(upright)
    except ValueError as exc:
        raise ImageInputError(f"{source} uses the colour mode {upright.mode}, which cannot be shown") from exc
    return DecodedImage(rgb, source, str(image.format), width, height, len(data))


def normalise(decoded: DecodedImage, max_side: int) -> PreparedImage:
    """Downscale so the long side is at most `max_side` and encode as JPEG (no metadata)."""
    image = decoded.image
    scale = max_side / max(image.size)
    if scale < 1:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return PreparedImage(
        data=out.getvalue(),
        mime="image/jpeg",
        width=image.width,
        height=image.height,
        original_width=decoded.width,
        original_height=decoded.height,
        original_format=decoded.format,
        original_bytes=decoded.byte_count,
        source=decoded.source,
    )


def prepare(data: bytes, source: str, limits: IntakeLimits = DEFAULT_LIMITS) -> PreparedImage:
    """Check, decode and normalise image bytes."""
    return normalise(decode(data, source, limits), limits.max_side)
