"""The activation f of the RNN cell, h = f(a), and its derivative.

The derivatives are written through the cell's output h = f(a), which is what a backward pass keeps:
tanh'(a) = 1 - h², sigmoid'(a) = h (1 - h), relu'(a) = [h > 0].
"""

import numpy as np

from core.errors import ActivationError


def tanh(a):
    return np.tanh(a)


def sigmoid(a):
    # 1 / (1 + exp(-a)), written with tanh so that exp cannot overflow for a large negative a.
    return 0.5 * (1 + np.tanh(0.5 * a))


def relu(a):
    return np.maximum(a, 0)


def tanh_derivative(h):
    return 1 - h * h


def sigmoid_derivative(h):
    return h * (1 - h)


def relu_derivative(h):
    return (h > 0).astype(h.dtype)


FUNCTIONS = {"tanh": tanh, "sigmoid": sigmoid, "relu": relu}
DERIVATIVES = {"tanh": tanh_derivative, "sigmoid": sigmoid_derivative, "relu": relu_derivative}
ACTIVATIONS = tuple(FUNCTIONS)
# The largest value f'(a) reaches (at a = 0 for tanh and sigmoid, for every a > 0 for ReLU).
PEAK_DERIVATIVE = {"tanh": 1.0, "sigmoid": 0.25, "relu": 1.0}


def check_activation(name):
    """`name` if it is a supported activation, else ActivationError listing the valid ones."""
    if not isinstance(name, str) or name not in FUNCTIONS:
        raise ActivationError(
            f"activation={name!r} is not supported; choose one of {', '.join(map(repr, ACTIVATIONS))}."
        )
    return name


def activate(a, name):
    """f(a) for the activation `name`; any shape."""
    return FUNCTIONS[check_activation(name)](a)


def derivative(h, name):
    """f'(a) written through h = f(a); same shape as h."""
    return DERIVATIVES[check_activation(name)](h)
