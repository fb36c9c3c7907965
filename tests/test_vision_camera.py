"""Camera snapshots, with a video file (made here with OpenCV) standing in for the camera."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from vision.camera import parse_device, snapshot
from vision.errors import CameraError, ImageInputError


def write_video(path, frames: list[np.ndarray], fps: int = 10) -> str:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()
    return str(path)


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> str:
    """640x480: the first frame is red on the left and blue on the right (BGR order on disk), then grey."""
    first = np.zeros((480, 640, 3), np.uint8)
    first[:, :320] = (0, 0, 255)  # BGR red
    first[:, 320:] = (255, 0, 0)  # BGR blue
    grey = np.full((480, 640, 3), 128, np.uint8)
    return write_video(tmp_path_factory.mktemp("camera") / "desk.avi", [first, grey, grey, grey])


def seen(prepared) -> np.ndarray:
    with Image.open(io.BytesIO(prepared.data)) as image:
        assert image.format == "JPEG"
        return np.asarray(image.convert("RGB")).astype(int)


def test_snapshot_of_a_video_is_its_first_frame_in_true_colours(video):
    prepared = snapshot(video)
    pixels = seen(prepared)
    assert (prepared.width, prepared.height) == (640, 480)
    assert prepared.source == video and prepared.original_format == "camera frame"
    assert np.abs(pixels[240, 100] - (255, 0, 0)).max() < 40  # red stays red: BGR was turned into RGB
    assert np.abs(pixels[240, 540] - (0, 0, 255)).max() < 40


def test_snapshot_goes_through_the_same_downscaling(video):
    prepared = snapshot(video, max_side=320)
    assert (prepared.width, prepared.height) == (320, 240)
    assert seen(prepared).shape[:2] == (240, 320)


def test_a_camera_that_does_not_open_is_a_clear_error_without_opencv_noise(capfd):
    with pytest.raises(CameraError, match=r"camera 42 did not open \(is a camera connected"):
        snapshot(42)
    assert "WARN" not in capfd.readouterr().err


def test_missing_or_unreadable_video_files(tmp_path):
    (tmp_path / "notes.avi").write_text("not a video")
    with pytest.raises(CameraError, match=r"camera or video file not found: .*nowhere\.avi"):
        snapshot(str(tmp_path / "nowhere.avi"))
    with pytest.raises(CameraError, match=r"notes\.avi is not a video or camera OpenCV can open"):
        snapshot(str(tmp_path / "notes.avi"))
    with pytest.raises(CameraError, match="is a directory"):
        snapshot(str(tmp_path))


def test_device_specs_and_error_family():
    assert parse_device("0") == 0 and parse_device(" 2 ") == 2
    assert parse_device("/dev/video2") == "/dev/video2"
    assert issubclass(CameraError, ImageInputError)  # so `hark` reports it as a user error
