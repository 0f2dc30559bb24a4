"""Per-timestep records of one caption's forward and backward pass, for the explainer.

`trace_example` runs the same layer functions as training (N = 1) and keeps every
intermediate the pages show, so no page recomputes anything.
"""

from dataclasses import dataclass

import numpy as np

from core.activations import derivative_from_output
from core.layers import (
    affine_forward,
    backprop_through_time,
    rnn_forward,
    softmax_cross_entropy_terms,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_forward,
)
from core.validation import require_ndim


@dataclass
class ForwardTrace:
    """Forward pass over one caption, T steps. Step t reads ids_in[t] and is scored on ids_target[t].

    x: (T, W) word vectors; h_prev: (T, H) the state each step receives (h_prev[0] = h0 from the image);
    wx_x: (T, H) = x_t Wx; wh_h: (T, H) = h_{t-1} Wh; b: (H,); a: (T, H) pre-activations; h: (T, H);
    probs: (T, V) next-word distributions; step_loss: (T,) -log p(target), 0 where mask is False;
    mask: (T,) False at <NULL> targets; loss = step_loss.sum(); running_loss: (T,) cumulative sum.
    """

    activation: str
    feature: np.ndarray
    ids_in: np.ndarray
    ids_target: np.ndarray
    mask: np.ndarray
    h0: np.ndarray
    x: np.ndarray
    h_prev: np.ndarray
    wx_x: np.ndarray
    wh_h: np.ndarray
    b: np.ndarray
    a: np.ndarray
    h: np.ndarray
    probs: np.ndarray
    step_loss: np.ndarray
    running_loss: np.ndarray
    loss: float

    @property
    def num_steps(self):
        return self.ids_in.shape[0]


@dataclass
class BackwardTrace:
    """Backprop through time over the same caption.

    dh_from_loss: (T, H) gradient reaching h_t from the loss at t; dh_carried: (T, H) gradient reaching h_t
    from step t+1 (0 at the last step); dh_total = their sum; local_derivative: (T, H) f'(a_t);
    da: (T, H) = dh_total * f'(a_t); dWx_steps: (T, W, H), dWh_steps: (T, H, H), db_steps: (T, H) each
    step's contribution (summing over t gives dWx, dWh, db); dh0: (H,) gradient reaching the image projection.
    """

    dh_from_loss: np.ndarray
    dh_carried: np.ndarray
    dh_total: np.ndarray
    local_derivative: np.ndarray
    da: np.ndarray
    dWx_steps: np.ndarray
    dWh_steps: np.ndarray
    db_steps: np.ndarray
    dWx: np.ndarray
    dWh: np.ndarray
    db: np.ndarray
    dh0: np.ndarray

    def norms(self):
        """Per-step L2 norms of the gradient at h_t: dict of (T,) arrays for from_loss, carried and total."""
        return {
            "from_loss": np.linalg.norm(self.dh_from_loss, axis=1),
            "carried": np.linalg.norm(self.dh_carried, axis=1),
            "total": np.linalg.norm(self.dh_total, axis=1),
        }

    def survival(self):
        """(T,) share of gradient norm that crosses from step t back to t-1: ||da_t Wh^T|| / ||dh_total_t||.

        Entry t is the carried gradient arriving at h_{t-1} divided by the total at h_t (the first entry uses dh0).
        """
        total = np.linalg.norm(self.dh_total, axis=1)
        arriving = np.concatenate([[np.linalg.norm(self.dh0)], np.linalg.norm(self.dh_carried[:-1], axis=1)])
        return np.divide(arriving, total, out=np.zeros_like(total), where=total > 0)


@dataclass
class ExampleTrace:
    forward: ForwardTrace
    backward: BackwardTrace
    wh_scale: float
    spectral_radius: float


def spectral_radius(matrix):
    """Largest absolute eigenvalue of a square matrix (H, H)."""
    return float(np.max(np.abs(np.linalg.eigvals(np.asarray(matrix, dtype=np.float64)))))


def trace_example(model, feature, caption, wh_scale=1.0, activation=None):
    """Trace one example through `model` with Wh scaled by `wh_scale` and an optional activation override.

    feature: (D,), caption: (T + 1,) ids starting with <START> -> ExampleTrace.
    """
    require_ndim("caption", caption, 1, "(T + 1,)")
    require_ndim("feature", feature, 1, "(D,)")
    activation = activation or model.activation
    features = np.asarray(feature, dtype=model.dtype)[None]
    captions = np.asarray(caption)[None]
    model.check_features(features, name="feature")
    model.check_captions(captions, 1, name="caption")
    p = model.params
    Wh = (p["Wh"] * wh_scale).astype(model.dtype)
    ids_in, ids_target = captions[:, :-1], captions[:, 1:]
    mask = ids_target != model._null

    h0, _ = affine_forward(features, p["W_proj"], p["b_proj"])
    x, _ = word_embedding_forward(ids_in, p["W_embed"])
    h, rnn_cache = rnn_forward(x, h0, p["Wx"], Wh, p["b"], activation)
    scores, vocab_cache = temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
    probs, step_loss = softmax_cross_entropy_terms(scores, ids_target, mask)
    loss, dscores = temporal_softmax_loss(scores, ids_target, mask)
    dh, _, _ = temporal_affine_backward(dscores, vocab_cache)
    record = backprop_through_time(dh, rnn_cache)

    h_prev = rnn_cache.h_prev_tm()[:, 0]
    x_steps = rnn_cache.x_tm[:, 0]
    da = record.da[:, 0]
    forward = ForwardTrace(
        activation=activation,
        feature=features[0],
        ids_in=ids_in[0],
        ids_target=ids_target[0],
        mask=mask[0],
        h0=h0[0],
        x=x_steps,
        h_prev=h_prev,
        wx_x=x_steps @ p["Wx"],
        wh_h=h_prev @ Wh,
        b=p["b"],
        a=rnn_cache.a_tm[:, 0],
        h=rnn_cache.h_tm[:, 0],
        probs=probs[0],
        step_loss=step_loss[0],
        running_loss=np.cumsum(step_loss[0]),
        loss=loss,
    )
    backward = BackwardTrace(
        dh_from_loss=record.dh_from_loss[:, 0],
        dh_carried=record.dh_carried[:, 0],
        dh_total=record.dh_from_loss[:, 0] + record.dh_carried[:, 0],
        local_derivative=derivative_from_output(rnn_cache.h_tm[:, 0], activation),
        da=da,
        dWx_steps=np.einsum("tw,th->twh", x_steps, da),
        dWh_steps=np.einsum("tk,th->tkh", h_prev, da),
        db_steps=da.copy(),
        dWx=x_steps.T @ da,
        dWh=h_prev.T @ da,
        db=da.sum(axis=0),
        dh0=record.dh0[0],
    )
    return ExampleTrace(forward, backward, float(wh_scale), spectral_radius(Wh))
