"""Exceptions raised for bad input.

Every message names the argument, file or value at fault and says what to do,
so the UI can show it to a learner as is.
"""


class CaptioningError(Exception):
    """Base class: a problem the user can fix (bad input, missing data, divergence)."""


class ShapeError(CaptioningError, ValueError):
    """An array argument is not an array of numbers, or has the wrong number of dimensions or sizes."""


class ActivationError(CaptioningError, ValueError):
    """An activation name that is not one of the supported ones."""


class VocabularyError(CaptioningError, ValueError):
    """Token ids outside the vocabulary, or a vocabulary missing special tokens."""


class HyperparameterError(CaptioningError, ValueError):
    """A hyperparameter outside its allowed range."""


class NonFiniteError(CaptioningError, FloatingPointError):
    """NaN or infinite values in input data, or a loss that diverged during training."""


class DataFileError(CaptioningError, OSError):
    """A data file is missing, truncated, unreadable, or has missing keys / wrong shapes / dtypes."""


class ImageLoadError(CaptioningError):
    """An image could not be loaded; `reason` says why in a few words."""

    def __init__(self, source, reason):
        self.source = str(source)
        self.reason = reason
        super().__init__(f"Could not load image {self.source}: {reason}")


class DownloadError(CaptioningError):
    """The dataset download failed (no network, bad archive, disk full)."""


class SceneError(CaptioningError, ValueError):
    """A scene specification with an unknown shape, colour, size, background or an out-of-range value."""
