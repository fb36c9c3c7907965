"""Finding audio devices by index or name substring, and describing what is there."""

from __future__ import annotations

from dataclasses import dataclass

from voice.errors import AudioDeviceError

NO_DEVICE_HINT = "run `hark doctor` to check audio, or use --input FILE to read a recording instead"
NO_OUTPUT_HINT = "run `hark doctor` to check audio, or use --output FILE.wav to write the replies instead"


def hint(kind: str) -> str:
    return NO_DEVICE_HINT if kind == "input" else NO_OUTPUT_HINT


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    inputs: int
    outputs: int
    default_rate: float
    is_default_input: bool
    is_default_output: bool


def list_devices() -> list[DeviceInfo]:
    """All devices PortAudio sees (empty when PortAudio itself is missing)."""
    try:
        import sounddevice as sd
    except OSError:
        return []
    try:
        devices = sd.query_devices()
        default_in, default_out = sd.default.device
    except Exception:
        return []
    return [
        DeviceInfo(
            i,
            d["name"],
            d["max_input_channels"],
            d["max_output_channels"],
            d["default_samplerate"],
            i == default_in,
            i == default_out,
        )
        for i, d in enumerate(devices)
    ]


def find_device(spec: str | int | None, kind: str) -> int | None:
    """Resolve `spec` (None for the default, an index, or a name substring) to a device index.

    Raises `AudioDeviceError` when no such device exists, naming what to do.
    """
    channels = "inputs" if kind == "input" else "outputs"
    devices = [d for d in list_devices() if getattr(d, channels) > 0]
    if not devices:
        raise AudioDeviceError(f"no audio {kind} device found; {hint(kind)}")
    if spec is None or spec == "":
        return None
    if isinstance(spec, int) or str(spec).isdigit():
        index = int(spec)
        if any(d.index == index for d in devices):
            return index
        raise AudioDeviceError(f"no audio {kind} device with index {index}; see `hark devices`")
    matches = [d for d in devices if str(spec).lower() in d.name.lower()]
    if not matches:
        raise AudioDeviceError(f"no audio {kind} device matching {spec!r}; see `hark devices`")
    return matches[0].index


def open_error(what: str, device: int | None, exc: Exception) -> AudioDeviceError:
    """`what` is "microphone" or "speaker"."""
    name = "the default device" if device is None else f"device {device}"
    kind = "input" if what == "microphone" else "output"
    return AudioDeviceError(f"could not open the {what} ({name}): {exc}; {hint(kind)}")


def close_stream(stream) -> None:
    """Stop and close a sounddevice stream, ignoring the errors of a device that is already gone."""
    if stream is None:
        return
    try:
        stream.stop()
        stream.close()
    except Exception:
        pass
