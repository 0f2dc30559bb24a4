"""The straightforward per-timestep form of the captioning RNN, as the course notes write it.

Kept only as the benchmark's baseline: rnn_forward calls rnn_step_forward once per timestep,
rnn_backward calls rnn_step_backward once per timestep and accumulates dWx, dWh, db step by step,
the embedding gradient uses np.add.at, caches are tuples, buffers are allocated with np.zeros
(float64, so float32 inputs are upcast as in the typical course solution) and Adam allocates
new arrays every update. Sizes: N batch, T time, D feature, W word vector, H hidden, V vocabulary.
"""

import numpy as np


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """x: (N, W), prev_h: (N, H) -> next_h: (N, H), cache."""
    next_h = np.tanh(x.dot(Wx) + prev_h.dot(Wh) + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    """dnext_h: (N, H) -> dx (N, W), dprev_h (N, H), dWx (W, H), dWh (H, H), db (H,)."""
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h**2)
    return da.dot(Wx.T), da.dot(Wh.T), x.T.dot(da), prev_h.T.dot(da), np.sum(da, axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    """x: (N, T, W), h0: (N, H) -> h: (N, T, H), list of step caches."""
    N, T, _ = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H))
    caches = []
    prev_h = h0
    for t in range(T):
        prev_h, cache = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)
        h[:, t, :] = prev_h
        caches.append(cache)
    return h, caches


def rnn_backward(dh, caches):
    """dh: (N, T, H) -> dx (N, T, W), dh0 (N, H), dWx, dWh, db."""
    N, T, H = dh.shape
    W = caches[0][0].shape[1]
    dx = np.zeros((N, T, W))
    dprev_h = np.zeros((N, H))
    dWx = np.zeros((W, H))
    dWh = np.zeros((H, H))
    db = np.zeros(H)
    for t in reversed(range(T)):
        dx_t, dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t, :] + dprev_h, caches[t])
        dx[:, t, :] = dx_t
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db


def word_embedding_forward(x, W):
    """x: (N, T) ids, W: (V, W) -> (N, T, W)."""
    return W[x], (x, W)


def word_embedding_backward(dout, cache):
    """dout: (N, T, W) -> dW: (V, W)."""
    x, W = cache
    dW = np.zeros_like(W)
    np.add.at(dW, x, dout)
    return dW


def temporal_affine_forward(x, w, b):
    """x: (N, T, H), w: (H, V), b: (V,) -> (N, T, V)."""
    N, T, D = x.shape
    M = b.shape[0]
    out = x.reshape(N * T, D).dot(w).reshape(N, T, M) + b
    return out, (x, w, b, out)


def temporal_affine_backward(dout, cache):
    """dout: (N, T, V) -> dx (N, T, H), dw (H, V), db (V,)."""
    x, w, b, out = cache
    N, T, D = x.shape
    M = b.shape[0]
    dx = dout.reshape(N * T, M).dot(w.T).reshape(N, T, D)
    dw = dout.reshape(N * T, M).T.dot(x.reshape(N * T, D)).T
    db = dout.sum(axis=(0, 1))
    return dx, dw, db


def temporal_softmax_loss(x, y, mask):
    """x: (N, T, V), y: (N, T), mask: (N, T) -> loss, dx (N, T, V)."""
    N, T, V = x.shape
    x_flat = x.reshape(N * T, V)
    y_flat = y.reshape(N * T)
    mask_flat = mask.reshape(N * T)
    probs = np.exp(x_flat - np.max(x_flat, axis=1, keepdims=True))
    probs /= np.sum(probs, axis=1, keepdims=True)
    loss = -np.sum(mask_flat * np.log(probs[np.arange(N * T), y_flat])) / N
    dx_flat = probs.copy()
    dx_flat[np.arange(N * T), y_flat] -= 1
    dx_flat /= N
    dx_flat *= mask_flat[:, None]
    return loss, dx_flat.reshape(N, T, V)


def loss_and_grads(params, features, captions, null=0):
    """The CaptioningRNN loss with the layers above: features (N, D), captions (N, T + 1)."""
    captions_in, captions_out = captions[:, :-1], captions[:, 1:]
    mask = captions_out != null
    h0 = features.dot(params["W_proj"]) + params["b_proj"]
    x, embed_cache = word_embedding_forward(captions_in, params["W_embed"])
    h, rnn_caches = rnn_forward(x, h0, params["Wx"], params["Wh"], params["b"])
    scores, affine_cache = temporal_affine_forward(h, params["W_vocab"], params["b_vocab"])
    loss, dscores = temporal_softmax_loss(scores, captions_out, mask)
    grads = {}
    dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, affine_cache)
    dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = rnn_backward(dh, rnn_caches)
    grads["W_embed"] = word_embedding_backward(dx, embed_cache)
    grads["W_proj"] = features.T.dot(dh0)
    grads["b_proj"] = np.sum(dh0, axis=0)
    return loss, grads


def adam(w, dw, config):
    """CS231n's Adam: returns a new array every call."""
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)
    config["t"] += 1
    config["m"] = config["beta1"] * config["m"] + (1 - config["beta1"]) * dw
    config["v"] = config["beta2"] * config["v"] + (1 - config["beta2"]) * dw**2
    m_hat = config["m"] / (1 - config["beta1"] ** config["t"])
    v_hat = config["v"] / (1 - config["beta2"] ** config["t"])
    next_w = w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"])
    return next_w, config


class BaselineTrainer:
    """One Adam training iteration on fixed params, the way the course's solver runs it."""

    def __init__(self, params, learning_rate=5e-3):
        self.params = {k: v.copy() for k, v in params.items()}
        self.configs = {k: {"learning_rate": learning_rate} for k in params}

    def iteration(self, features, captions):
        loss, grads = loss_and_grads(self.params, features, captions)
        for name, w in self.params.items():
            next_w, self.configs[name] = adam(w, grads[name], self.configs[name])
            self.params[name] = next_w.astype(w.dtype)
        return loss
