"""Errors that end a command with a one-line message and exit code 2."""

from dialogue.backends.base import BackendUnavailable, ModelNotFound
from dialogue.errors import DialogueError
from vision.errors import ImageInputError
from voice.errors import AudioDeviceError, AudioInputError
from voice.processors.wake import WakeWordError
from voice.turn import TurnModelError


class UserError(Exception):
    """Something the user asked for that cannot be done as asked."""


USER_ERRORS: tuple[type[BaseException], ...] = (
    UserError,
    AudioInputError,
    AudioDeviceError,
    BackendUnavailable,
    ModelNotFound,
    FileNotFoundError,
    ImageInputError,
    DialogueError,
    WakeWordError,
    TurnModelError,
)
