"""The few dominant colours of an image, in words a language model (and a listener) understands."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from PIL import Image

NAMED_COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0),
    "dark grey": (64, 64, 64),
    "grey": (128, 128, 128),
    "light grey": (192, 192, 192),
    "white": (255, 255, 255),
    "dark red": (120, 20, 20),
    "red": (200, 30, 30),
    "pink": (240, 150, 170),
    "magenta": (220, 50, 180),
    "orange": (240, 130, 30),
    "dark brown": (70, 40, 20),
    "brown": (130, 80, 40),
    "beige": (220, 200, 160),
    "yellow": (240, 220, 40),
    "olive": (120, 120, 40),
    "dark green": (20, 80, 30),
    "green": (50, 160, 50),
    "teal": (30, 130, 130),
    "light blue": (140, 190, 230),
    "blue": (40, 80, 200),
    "navy": (25, 35, 80),
    "purple": (120, 50, 150),
}
SAMPLE_SIDE = 64
"""Colours are counted on a thumbnail: a photo's dominant colours do not need its detail."""
CLUSTERS = 8


def _to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (0-255, shape (..., 3)) to CIELAB (D65), where distances follow perceived difference."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    to_xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = linear @ to_xyz.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


_NAMES = list(NAMED_COLOURS)
_TABLE_LAB = _to_lab(np.array(list(NAMED_COLOURS.values())))


def colour_name(rgb: Sequence[int]) -> str:
    """The nearest name in `NAMED_COLOURS`, by distance in CIELAB."""
    distances = ((_TABLE_LAB - _to_lab(np.array(rgb))) ** 2).sum(axis=-1)
    return _NAMES[int(np.argmin(distances))]


def dominant_colours(image: Image.Image, count: int = 3, min_share: float = 0.08) -> list[str]:
    """Up to `count` colour names, most common first, each covering at least `min_share` of the image.

    The thumbnail is quantised (median cut) into a few clusters; clusters that get the same name are summed.
    """
    sample = image.convert("RGB")
    sample.thumbnail((SAMPLE_SIDE, SAMPLE_SIDE))
    quantised = sample.quantize(colors=CLUSTERS, method=Image.Quantize.MEDIANCUT)
    palette = quantised.getpalette() or []
    shares: Counter[str] = Counter()
    for pixels, index in quantised.getcolors() or []:
        shares[colour_name(palette[3 * index : 3 * index + 3])] += pixels
    total = sum(shares.values())
    return [name for name, pixels in shares.most_common(count) if pixels >= min_share * total]
