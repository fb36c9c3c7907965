"""Errors the vision package raises for problems the user can fix."""

MB = 1024 * 1024


class ImageInputError(ValueError):
    """An image that is missing, unreadable, not an image, too large, or otherwise unusable.

    The message names the input and says what is wrong with it, ready to show the user as is.
    """


class CameraError(ImageInputError):
    """A camera (or video file used as one) that does not open or gives no picture."""


class FetchError(ImageInputError):
    """A URL that may not be fetched (scheme, address) or could not be (unreachable, HTTP error, too big)."""


def over_limit(source: str, limit: int, size: int | None, of: str) -> str:
    """The message for an input over a byte limit (`size` is unknown when reading stopped at the limit)."""
    what = f"is {_megabytes(size)}, over" if size is not None else "is over"
    return f"{source} {what} the {_megabytes(limit)} limit for {of}"


def _megabytes(n: int) -> str:
    return f"{round(n / MB, 1):g} MB"
