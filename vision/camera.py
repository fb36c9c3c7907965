"""One still picture from a camera (OpenCV), or from a video file standing in for one."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from PIL import Image

from vision.errors import CameraError
from vision.image import DEFAULT_LIMITS, DecodedImage, PreparedImage, normalise

WARMUP_FRAMES = 5
"""Frames a live camera gets to settle its exposure and white balance before the one we keep."""
TIMEOUT_MS = 5000
"""How long opening the camera, and reading one frame, may take."""

CameraSpec = int | str


def parse_device(spec: str) -> CameraSpec:
    """`0`, `1`, ... is a device index; anything else is a device or video file path."""
    return int(spec) if spec.strip().isdigit() else spec


def _is_live(device: CameraSpec) -> bool:
    if isinstance(device, int):
        return True
    try:
        return stat.S_ISCHR(os.stat(device).st_mode)  # /dev/video0
    except OSError:
        return False


@contextmanager
def _quiet_opencv() -> Iterator[None]:
    """OpenCV prints warnings to stderr when a device is missing; our error message says it better."""
    import cv2

    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


def _name(device: CameraSpec) -> str:
    return f"camera {device}" if isinstance(device, int) else device


def _open_failure(device: CameraSpec) -> CameraError:
    if _is_live(device):
        return CameraError(f"{_name(device)} did not open (is a camera connected, and may this user use it?)")
    return CameraError(f"{_name(device)} is not a video or camera OpenCV can open")


def _check_path(device: str) -> None:
    if not os.path.exists(device):
        raise CameraError(f"camera or video file not found: {device}")
    if os.path.isdir(device):
        raise CameraError(f"{device} is a directory, not a camera or video file")


def grab_frame(device: CameraSpec, warmup_frames: int = WARMUP_FRAMES) -> np.ndarray:
    """One BGR frame. A live camera first skips `warmup_frames`; a video file gives its first frame."""
    import cv2

    if isinstance(device, str):
        _check_path(device)
    timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, TIMEOUT_MS]
    with _quiet_opencv():
        capture = cv2.VideoCapture(device, cv2.CAP_ANY, timeouts)
        try:
            if not capture.isOpened():
                raise _open_failure(device)
            for _ in range(warmup_frames if _is_live(device) else 0):
                capture.grab()
            ok, frame = capture.read()
        finally:
            capture.release()
    if not ok or frame is None or frame.size == 0:
        raise CameraError(f"{_name(device)} gave no picture")
    return frame


def _to_rgb(frame: np.ndarray) -> np.ndarray:
    import cv2

    if frame.ndim == 2:  # a grey (e.g. infrared) camera
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def snapshot(
    device: CameraSpec = 0, max_side: int = DEFAULT_LIMITS.max_side, warmup_frames: int = WARMUP_FRAMES
) -> PreparedImage:
    """A still from the camera, normalised like any other image (upright RGB JPEG, long side <= max_side)."""
    frame = grab_frame(device, warmup_frames)
    height, width = frame.shape[:2]
    picture = Image.fromarray(_to_rgb(frame))
    decoded = DecodedImage(picture, _name(device), "camera frame", width, height, frame.nbytes)
    return normalise(decoded, max_side)
