"""Argument checks shared by the layers and the model; each error names the argument, its value and what
is allowed."""

import numbers

import numpy as np

from core.errors import HyperparameterError, NonFiniteError, ShapeError, VocabularyError


def require_array(name, array, layout):
    """Raise ShapeError unless `array` is a NumPy array of numbers (bool, integer or floating point);
    `layout` names its dimensions, e.g. "(N, T, D)"."""
    if not isinstance(array, np.ndarray):
        raise ShapeError(f"{name} must be a NumPy array of shape {layout}, got {type(array).__name__}.")
    if array.dtype.kind not in "biuf":
        raise ShapeError(f"{name} must hold numbers, got an array of dtype {array.dtype}.")


def require_ndim(name, array, ndim, layout):
    """Raise ShapeError unless `array` is an array of numbers with `ndim` dimensions; `layout` describes them,
    e.g. "(N, T, D)"."""
    require_array(name, array, layout)
    if array.ndim != ndim:
        raise ShapeError(f"{name} must have shape {layout}, got shape {array.shape}.")


def require_dim(name, size, expected, meaning):
    """Raise ShapeError unless a dimension of `name` equals `expected`."""
    if size != expected:
        raise ShapeError(f"{name}: expected {meaning} = {expected}, got {size}.")


def require_shape(name, array, shape, layout):
    """Raise ShapeError unless `array` is an array of numbers of exactly `shape`; `layout` names its
    dimensions, e.g. "(H, H)"."""
    require_array(name, array, layout)
    if array.shape != tuple(shape):
        raise ShapeError(f"{name} must have shape {layout} = {tuple(shape)}, got shape {np.shape(array)}.")


def require_token_ids(name, ids, vocab_size):
    """Raise VocabularyError unless `ids` is an integer array with every id in [0, vocab_size)."""
    ids = np.asarray(ids)
    if not np.issubdtype(ids.dtype, np.integer):
        raise VocabularyError(f"{name} must hold integer token ids, got dtype {ids.dtype}.")
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        bad = ids.min() if ids.min() < 0 else ids.max()
        raise VocabularyError(
            f"{name} contains token id {int(bad)}, outside the vocabulary of size {vocab_size} "
            f"(valid ids are 0..{vocab_size - 1})."
        )


def require_finite(name, array):
    """Raise NonFiniteError if `array` holds NaN or infinity."""
    if not np.all(np.isfinite(array)):
        raise NonFiniteError(f"{name} contains NaN or infinite values; check the input data.")


def require_integer(name, value, low, high):
    """`value` as an int if it is a whole number in [low, high], else HyperparameterError saying so."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        raise HyperparameterError(f"{name} must be a whole number from {low} to {high}, got {value!r}.")
    return int(value)


def require_number(name, value, low, high):
    """`value` as a float if it is a finite number in [low, high], else HyperparameterError saying so."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not np.isfinite(value)
        or not low <= value <= high
    ):
        raise HyperparameterError(f"{name} must be a number from {low:g} to {high:g}, got {value!r}.")
    return float(value)


def require_seed(name, seed):
    """`seed` if it is None or a whole number >= 0 (what np.random.default_rng takes), else
    HyperparameterError."""
    if seed is not None:
        require_integer(name, seed, 0, 2**63 - 1)
    return seed
