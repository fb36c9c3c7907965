"""Where images come from: a file, an http(s) URL, standard input, or bytes already in memory."""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path
from typing import BinaryIO

import httpx

from vision.errors import ImageInputError
from vision.image import DEFAULT_LIMITS, IntakeLimits, PreparedImage, prepare, too_large

STDIN = "-"
URL_TIMEOUT_S = 15.0
"""Connect/read timeout for each network step, and the deadline for the whole download."""

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


def fetch_url(url: str, max_bytes: int, timeout_s: float = URL_TIMEOUT_S) -> bytes:
    """Download an image, refusing more than `max_bytes` (announced or actual) and anything slower than
    `timeout_s` per step or overall."""
    deadline = time.monotonic() + timeout_s
    try:
        with httpx.stream(
            "GET", url, timeout=timeout_s, follow_redirects=True, headers={"Accept": "image/*"}
        ) as response:
            if response.status_code >= 400:
                raise ImageInputError(f"{url} answered HTTP {response.status_code} {response.reason_phrase}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise too_large(url, max_bytes, int(declared))
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > max_bytes:
                    raise too_large(url, max_bytes)
                if time.monotonic() > deadline:
                    raise ImageInputError(f"{url} took longer than {timeout_s:g}s to download")
            return bytes(data)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise ImageInputError(f"could not fetch {url}: {exc or type(exc).__name__}") from exc


def read_source(
    spec: ImageSpec, max_bytes: int, stdin: BinaryIO | None = None, timeout_s: float = URL_TIMEOUT_S
) -> tuple[bytes, str]:
    """The raw bytes behind `spec` and a short description of it for messages."""
    if isinstance(spec, bytes):
        return spec, "the image data"
    text = os.fspath(spec)
    if text == STDIN:
        return _read_capped(stdin or sys.stdin.buffer, "stdin", max_bytes), "stdin"
    if is_url(text):
        return fetch_url(text, max_bytes, timeout_s), text
    if "://" in text:
        raise ImageInputError(f"{text}: only http:// and https:// image URLs are supported")
    return read_file(text, max_bytes), text


def open_image(
    spec: ImageSpec,
    limits: IntakeLimits = DEFAULT_LIMITS,
    stdin: BinaryIO | None = None,
    timeout_s: float = URL_TIMEOUT_S,
) -> PreparedImage:
    """Read, check, decode and normalise one image: a path, an http(s) URL, `-` for stdin, or bytes."""
    data, source = read_source(spec, limits.max_bytes, stdin, timeout_s)
    return prepare(data, source, limits)
