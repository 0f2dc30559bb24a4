"""Centred finite differences, as in CS231n's gradient_check.py."""

import numpy as np


def eval_numerical_gradient(f, x, verbose=True, h=1e-5):
    """Numeric gradient of a scalar function f at x (x is perturbed in place and restored)."""
    grad = np.zeros_like(x)
    for ix, fxph, fxmh in _nudged(f, x, h):
        grad[ix] = (fxph - fxmh) / (2 * h)
        if verbose:
            print(ix, grad[ix])
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Numeric gradient of sum(f(x) * df) at x, for functions returning arrays (x is perturbed in place and
    restored). The outputs are subtracted before they are weighted by df, as in the course: the outputs a
    nudge does not change cancel exactly instead of leaving the round-off of two large sums."""
    grad = np.zeros_like(x)
    for ix, pos, neg in _nudged(lambda value: f(value).copy(), x, h):
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
    return grad


def _nudged(f, x, h):
    """For every index ix of x: (ix, f(x with x[ix] + h), f(x with x[ix] - h)), x[ix] restored after each."""
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        pos = f(x)
        x[ix] = old - h
        neg = f(x)
        x[ix] = old
        yield ix, pos, neg
        it.iternext()


def rel_error(x, y):
    """Largest relative error max |x - y| / max(1e-8, |x| + |y|)."""
    return float(np.max(elementwise_rel_error(x, y)))


def elementwise_rel_error(x, y):
    """Relative error of every element, same shape as x."""
    return np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))
