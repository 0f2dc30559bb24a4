"""Per-timestep records of one caption's forward and backward pass, for the explainer pages.

`trace_example` runs the model's own loss (N = 1) and reads every number the pages show from what the
layers recorded: the step caches of rnn_forward and the gradients rnn_backward walked back through time.
No page recomputes anything.
"""

from dataclasses import dataclass

import numpy as np

from core.engine.activations import derivative
from core.engine.rnn_layers import log_softmax
from core.engine.validation import require_ndim


@dataclass
class ForwardTrace:
    """Forward pass over one caption, T steps. Step t reads ids_in[t] and is scored on ids_target[t].

    x: (T, W) word vectors; h_prev: (T, H) the state each step receives (h_prev[0] = h0 from the image);
    wx_x: (T, H) = x_t Wx; wh_h: (T, H) = h_{t-1} Wh; b: (H,); a: (T, H) pre-activations; h: (T, H);
    probs: (T, V) next-word distributions (zeros where mask is False: the model scores no <NULL> target);
    step_loss: (T,) -log p(target), 0 where mask is False;
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

        Entry t is the carried gradient arriving at h_{t-1} divided by the total at h_t (the first entry uses
        dh0); NaN where no gradient reaches h_t at all (after the caption's end), where there is no ratio.
        """
        total = np.linalg.norm(self.dh_total, axis=1)
        arriving = np.concatenate([[np.linalg.norm(self.dh0)], np.linalg.norm(self.dh_carried[:-1], axis=1)])
        return np.divide(arriving, total, out=np.full(total.shape, np.nan), where=total > 0)


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
    features = np.asarray(feature, dtype=model.dtype)[None]
    captions = np.asarray(caption)[None]
    model.check_features(features, name="feature")
    model.check_captions(captions, 1, name="caption")
    traced = model.copy(activation=activation)
    traced.params["Wh"] = (traced.params["Wh"] * wh_scale).astype(model.dtype)
    record = {}
    loss, grads = traced.loss(features, captions, record)

    cache = record["rnn_cache"]  # time-major: [t, 0] is this example at timestep t
    mask = record["mask"][0]
    ids_target = captions[0, 1:]
    # The model scores only the steps whose target is a word; the others have no distribution (zeros).
    log_probs = log_softmax(record["scores"][0][mask])
    probs = np.zeros(record["scores"][0].shape, dtype=log_probs.dtype)
    probs[mask] = np.exp(log_probs)
    step_loss = np.zeros(mask.shape, dtype=np.float64)
    step_loss[mask] = -log_probs[np.arange(log_probs.shape[0]), ids_target[mask]]
    forward = ForwardTrace(
        activation=traced.activation,
        feature=np.asarray(feature),
        ids_in=captions[0, :-1],
        ids_target=ids_target,
        mask=mask,
        h0=record["h0"][0],
        x=cache.x[:, 0],
        h_prev=np.concatenate([cache.h0, cache.h[:-1, 0]]),
        wx_x=cache.input_term[:, 0],
        wh_h=cache.carried_term[:, 0],
        b=traced.params["b"],
        a=cache.a[:, 0],
        h=cache.h[:, 0],
        probs=probs,
        step_loss=step_loss,
        running_loss=np.cumsum(step_loss),
        loss=loss,
    )
    dh_from_loss = record["dh"][0]
    dh_carried = record["dprev_h"][1:, 0]
    da = record["da"][:, 0]
    backward = BackwardTrace(
        dh_from_loss=dh_from_loss,
        dh_carried=dh_carried,
        dh_total=dh_from_loss + dh_carried,
        local_derivative=derivative(forward.h, traced.activation),
        da=da,
        dWx_steps=np.einsum("tw,th->twh", forward.x, da),
        dWh_steps=np.einsum("tk,th->tkh", forward.h_prev, da),
        db_steps=da.copy(),
        dWx=grads["Wx"],
        dWh=grads["Wh"],
        db=grads["b"],
        dh0=record["dh0"][0],
    )
    return ExampleTrace(forward, backward, float(wh_scale), spectral_radius(traced.params["Wh"]))
