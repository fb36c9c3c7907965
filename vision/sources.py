"""Where images come from: a file, an http(s) URL, standard input, or bytes already in memory."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import BinaryIO

from vision.errors import ImageInputError
from vision.fetch import URL_TIMEOUT_S, fetch_url
from vision.image import DEFAULT_LIMITS, IntakeLimits, PreparedImage, prepare, too_large

STDIN = "-"

ImageSpec = str | os.PathLike | bytes


def is_url(spec: str) -> bool:
    return spec.lower().startswith(("http://", "https://"))


def _read_capped(stream: BinaryIO, source: str, max_bytes: int) -> bytes:
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise too_large(source, max_bytes)
    return data


def read_file(spec: str, max_bytes: int) -> bytes:
    """The bytes of an image file, checked before reading: exists, not a directory, not empty, not too big."""
    path = Path(os.path.expanduser(spec))
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ImageInputError(f"image not found: {spec}") from None
    except OSError as exc:
        raise ImageInputError(f"cannot read {spec}: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(info.st_mode):
        raise ImageInputError(f"{spec} is a directory, not an image")
    if stat.S_ISREG(info.st_mode):  # pipes such as <(curl ...) have no size until read
        if info.st_size == 0:
            raise ImageInputError(f"{spec} is empty (0 bytes)")
        if info.st_size > max_bytes:
            raise too_large(spec, max_bytes, info.st_size)
    try:
        with path.open("rb") as stream:
            return _read_capped(stream, spec, max_bytes)
    except OSError as exc:
        raise ImageInputError(f"cannot read {spec}: {exc.strerror or exc}") from exc


def read_source(
    spec: ImageSpec,
    max_bytes: int,
    stdin: BinaryIO | None = None,
    timeout_s: float = URL_TIMEOUT_S,
    allow_private: bool = False,
) -> tuple[bytes, str]:
    """The raw bytes behind `spec` and a short description of it for messages. A URL is fetched only from a
    public address unless `allow_private` (see `vision.fetch`)."""
    if isinstance(spec, bytes):
        return spec, "the image data"
    text = os.fspath(spec)
    if text == STDIN:
        return _read_capped(stdin or sys.stdin.buffer, "stdin", max_bytes), "stdin"
    if is_url(text):
        return fetch_url(text, max_bytes, allow_private, timeout_s)[0], text
    if "://" in text:
        raise ImageInputError(f"{text}: only http:// and https:// image URLs are supported")
    return read_file(text, max_bytes), text


def open_image(
    spec: ImageSpec,
    limits: IntakeLimits = DEFAULT_LIMITS,
    stdin: BinaryIO | None = None,
    timeout_s: float = URL_TIMEOUT_S,
    allow_private: bool = False,
) -> PreparedImage:
    """Read, check, decode and normalise one image: a path, an http(s) URL, `-` for stdin, or bytes."""
    data, source = read_source(spec, limits.max_bytes, stdin, timeout_s, allow_private)
    return prepare(data, source, limits)
