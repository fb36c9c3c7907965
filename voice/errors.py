"""Errors the voice package raises for problems the user can fix."""


class AudioInputError(ValueError):
    """An audio file that is missing, unreadable, not audio, or empty."""


class AudioDeviceError(RuntimeError):
    """No usable audio device, or a device that failed while in use."""
