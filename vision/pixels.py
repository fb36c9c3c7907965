"""Turning a decoded image of any Pillow mode into plain 8-bit RGB, the way a person would see it."""

from __future__ import annotations

import numpy as np
from PIL import Image

WHITE = (255, 255, 255)

_SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N"}


def _eight_bit(image: Image.Image) -> Image.Image:
    """Grey values of any range as an 8-bit "L" image.

    Pillow's own `convert` clips wide values at 255, which turns most 16-bit photos white. A 16-bit image is
    scaled by its full range; 32-bit integer and float data, whose range the mode does not say, are read as
    0-1 (floats), 0-255 or 0-65535 when they fit one, and stretched between their minimum and maximum if not.
    """
    values = np.nan_to_num(np.asarray(image).astype(np.float64))
    low, high = float(values.min(initial=0.0)), float(values.max(initial=0.0))
    if image.mode in _SIXTEEN_BIT or (low >= 0 and 255 < high <= 65535):
        scaled = values / 257.0
    elif image.mode == "F" and low >= 0 and high <= 1:
        scaled = values * 255.0
    elif low >= 0 and high <= 255:
        scaled = values
    else:
        scaled = (values - low) * (255.0 / max(high - low, 1e-12))
    return Image.fromarray(np.clip(np.round(scaled), 0, 255).astype(np.uint8))  # 2-D uint8: mode "L"


def _has_alpha(image: Image.Image) -> bool:
    return bool({"A", "a"} & set(image.getbands())) or "transparency" in image.info


def to_rgb(image: Image.Image) -> Image.Image:
    """`image` in RGB (itself if it already is): transparency flattened onto white, wide grey values scaled.

    Raises `ValueError` for a mode Pillow cannot convert to RGB.
    """
    if image.mode in _SIXTEEN_BIT or image.mode in ("I", "F"):
        return _eight_bit(image).convert("RGB")
    if _has_alpha(image):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*WHITE, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")
