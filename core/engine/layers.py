"""The affine layer (the course's cs231n/layers.py): the image feature's projection to h0, and one step's
vocabulary scores when sampling.

The forward function returns (out, cache); the backward function takes that cache.
"""

from dataclasses import dataclass

import numpy as np

from core.engine.validation import require_array, require_dim, require_shape


@dataclass
class AffineCache:
    x: np.ndarray  # (N, d_1, ..., d_k) input
    w: np.ndarray  # (D, M)


def affine_forward(x, w, b):
    """x: (N, d_1, ..., d_k), flattened to (N, D); w: (D, M); b: (M,) -> out: (N, M), AffineCache."""
    require_array("x", x, "(N, d_1, ..., d_k)")
    x_rows = x.reshape(x.shape[0], -1)
    require_dim("w", np.shape(w)[0], x_rows.shape[1], "rows (input size D)")
    require_shape("b", b, np.shape(w)[1:], "(M,)")
    out = x_rows @ w + b
    return out, AffineCache(x, w)


def affine_backward(dout, cache):
    """dout: (N, M) -> dx: (N, d_1, ..., d_k), dw: (D, M), db: (M,)."""
    require_shape("dout", dout, (cache.x.shape[0], cache.w.shape[1]), "(N, M)")
    x_rows = cache.x.reshape(cache.x.shape[0], -1)
    dx = (dout @ cache.w.T).reshape(cache.x.shape)
    dw = x_rows.T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db
