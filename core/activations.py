"""Elementwise activations of the RNN cell and their derivatives.

Derivatives are expressed through the cell output h = f(a), which is all the
backward pass keeps: tanh' = 1 - h^2, sigmoid' = h (1 - h), relu' = [h > 0].
"""

import numpy as np

from core.errors import ActivationError

ACTIVATIONS = ("tanh", "sigmoid", "relu")
# The largest value f'(a) reaches (at a = 0 for tanh and sigmoid, for every a > 0 for ReLU).
PEAK_DERIVATIVE = {"tanh": 1.0, "sigmoid": 0.25, "relu": 1.0}


def check_activation(name):
    """Return `name` if it is a supported activation, else raise ActivationError listing the valid ones."""
    if name not in ACTIVATIONS:
        raise ActivationError(
            f"activation={name!r} is not supported; choose one of {', '.join(repr(a) for a in ACTIVATIONS)}."
        )
    return name


def activate(a, name, out=None):
    """Apply activation `name` to the pre-activation `a` (any shape), writing into `out` if given."""
    if name == "tanh":
        return np.tanh(a, out=out)
    if name == "sigmoid":
        # 0.5 (1 + tanh(a / 2)) is the logistic function without overflow for large |a|.
        out = np.multiply(a, 0.5, out=out)
        np.tanh(out, out=out)
        out += 1
        out *= 0.5
        return out
    if name == "relu":
        return np.maximum(a, 0, out=out)
    raise ActivationError(f"activation={name!r} is not supported; choose one of {ACTIVATIONS}.")


def derivative_from_output(h, name):
    """f'(a) written in terms of h = f(a); same shape as h."""
    if name == "tanh":
        return 1 - h * h
    if name == "sigmoid":
        return h * (1 - h)
    if name == "relu":
        return (h > 0).astype(h.dtype)
    raise ActivationError(f"activation={name!r} is not supported; choose one of {ACTIVATIONS}.")
