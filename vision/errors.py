"""Errors the vision package raises for problems the user can fix."""


class ImageInputError(ValueError):
    """An image that is missing, unreadable, not an image, too large, or otherwise unusable.

    The message names the input and says what is wrong with it, ready to show the user as is.
    """


class CameraError(ImageInputError):
    """A camera (or video file used as one) that does not open or gives no picture."""


class FetchError(ImageInputError):
    """A URL that may not be fetched (scheme, address) or could not be (unreachable, HTTP error, too big)."""
