"""Layers of the captioning RNN as forward/backward pairs (CS231n names and argument order).

Every forward function returns (out, cache) where cache is a dataclass with named
fields, so the explainer can read what the forward pass saw.
"""

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from core.activations import activate, check_activation, derivative_from_output
from core.validation import require_dim, require_ndim, require_token_ids

# --------------------------------------------------------------------------- affine


@dataclass
class AffineCache:
    x: np.ndarray
    w: np.ndarray


def affine_forward(x, w, b):
    """x: (N, d_1, ..., d_k) flattened to (N, D); w: (D, M); b: (M,) -> out: (N, M)."""
    x2 = x.reshape(x.shape[0], -1)
    require_dim("w", w.shape[0], x2.shape[1], "rows (input size D)")
    return x2 @ w + b, AffineCache(x, w)


def affine_backward(dout, cache):
    """dout: (N, M) -> dx (shape of x), dw: (D, M), db: (M,)."""
    x2 = cache.x.reshape(cache.x.shape[0], -1)
    dx = (dout @ cache.w.T).reshape(cache.x.shape)
    return dx, x2.T @ dout, dout.sum(axis=0)


# --------------------------------------------------------------------------- vanilla RNN


@dataclass
class RNNStepCache:
    x: np.ndarray
    prev_h: np.ndarray
    next_h: np.ndarray
    Wx: np.ndarray
    Wh: np.ndarray
    activation: str


def rnn_step_forward(x, prev_h, Wx, Wh, b, activation="tanh"):
    """One timestep h_t = f(x_t Wx + h_{t-1} Wh + b).

    x: (N, D), prev_h: (N, H), Wx: (D, H), Wh: (H, H), b: (H,) -> next_h: (N, H).
    """
    check_activation(activation)
    require_ndim("x", x, 2, "(N, D)")
    require_ndim("prev_h", prev_h, 2, "(N, H)")
    require_dim("Wx", Wx.shape[0], x.shape[1], "rows (input size D)")
    require_dim("Wh", Wh.shape[0], prev_h.shape[1], "rows (hidden size H)")
    next_h = activate(x @ Wx + prev_h @ Wh + b, activation)
    return next_h, RNNStepCache(x, prev_h, next_h, Wx, Wh, activation)


def rnn_step_backward(dnext_h, cache):
    """dnext_h: (N, H) -> dx: (N, D), dprev_h: (N, H), dWx: (D, H), dWh: (H, H), db: (H,)."""
    da = dnext_h * derivative_from_output(cache.next_h, cache.activation)
    return da @ cache.Wx.T, da @ cache.Wh.T, cache.x.T @ da, cache.prev_h.T @ da, da.sum(axis=0)


@dataclass
class RNNCache:
    """What rnn_forward keeps, time-major so each timestep is a contiguous block.

    x_tm: (T, N, D) inputs, h0: (N, H), h_tm: (T, N, H) hidden states, a_tm: (T, N, H) pre-activations.
    """

    x_tm: np.ndarray
    h0: np.ndarray
    h_tm: np.ndarray
    a_tm: np.ndarray
    Wx: np.ndarray
    Wh: np.ndarray
    activation: str

    def h_prev_tm(self):
        """(T, N, H): the hidden state each step received, h_{t-1}, with h_{-1} = h0."""
        return np.concatenate([self.h0[None], self.h_tm[:-1]], axis=0)


def rnn_forward(x, h0, Wx, Wh, b, activation="tanh"):
    """Run the RNN over a whole sequence.

    x: (N, T, D), h0: (N, H), Wx: (D, H), Wh: (H, H), b: (H,) -> h: (N, T, H).
    The input projection x Wx + b is one matrix product for all timesteps; only h Wh stays in the loop.
    """
    check_activation(activation)
    require_ndim("x", x, 3, "(N, T, D)")
    require_ndim("h0", h0, 2, "(N, H)")
    N, T, D = x.shape
    H = h0.shape[1]
    require_dim("h0", h0.shape[0], N, "batch size N")
    require_dim("Wx", Wx.shape[0], D, "rows (input size D)")
    require_dim("Wh", Wh.shape[0], H, "rows (hidden size H)")
    # A time-major view of x (the model passes one) makes this a no-op instead of a copy.
    x_tm = np.ascontiguousarray(x.transpose(1, 0, 2))
    a_tm = np.matmul(x_tm.reshape(T * N, D), Wx).reshape(T, N, H)
    a_tm += b
    h_tm = np.empty_like(a_tm)
    recurrent = np.empty((N, H), dtype=np.result_type(h0, Wh))
    prev_h = h0
    for t in range(T):
        np.matmul(prev_h, Wh, out=recurrent)
        a_tm[t] += recurrent
        activate(a_tm[t], activation, out=h_tm[t])
        prev_h = h_tm[t]
    cache = RNNCache(x_tm, h0, h_tm, a_tm, Wx, Wh, activation)
    return h_tm.transpose(1, 0, 2), cache


@dataclass
class BPTTRecord:
    """The gradient flow through time, time-major.

    dh_from_loss: (T, N, H) gradient reaching h_t from the output at t;
    dh_carried: (T, N, H) gradient reaching h_t from step t+1 (zero at the last step);
    da: (T, N, H) gradient of the pre-activation a_t; dh0: (N, H).
    """

    dh_from_loss: np.ndarray
    dh_carried: np.ndarray
    da: np.ndarray
    dh0: np.ndarray


def backprop_through_time(dh, cache):
    """Walk the sequence backwards. dh: (N, T, H) upstream gradient of every hidden state."""
    require_ndim("dh", dh, 3, "(N, T, H)")
    dh_from_loss = dh.transpose(1, 0, 2)
    T, N, H = dh_from_loss.shape
    dtype = np.result_type(dh, cache.h_tm)
    # f'(a_t) for every step in one vectorised pass; the loop then scales it in place into da.
    da = derivative_from_output(cache.h_tm, cache.activation).astype(dtype, copy=False)
    dh_carried = np.empty((T, N, H), dtype=dtype)
    dh_carried[T - 1] = 0
    total = np.empty((N, H), dtype=dtype)
    # One contiguous copy of Wh^T: OpenBLAS multiplies the small (N, H) blocks by it markedly faster
    # than by the transposed view.
    WhT = np.ascontiguousarray(cache.Wh.T)
    for t in range(T - 1, -1, -1):
        np.add(dh_from_loss[t], dh_carried[t], out=total)
        da[t] *= total
        if t > 0:
            # Once every caption in the batch has ended, da is zero and so is what it carries back.
            if da[t].any():
                np.matmul(da[t], WhT, out=dh_carried[t - 1])
            else:
                dh_carried[t - 1] = 0
    dh0 = da[0] @ WhT
    return BPTTRecord(dh_from_loss, dh_carried, da, dh0)


def rnn_backward(dh, cache):
    """dh: (N, T, H) -> dx: (N, T, D), dh0: (N, H), dWx: (D, H), dWh: (H, H), db: (H,).

    dWx, dWh and dx are single matrix products over all timesteps after the time loop. Steps whose da is
    exactly zero (after a caption's last scored word nothing flows back) add nothing to them, so when there
    are such rows the products run on the others only.
    """
    record = backprop_through_time(dh, cache)
    dx_tm, dWx, dWh, db = rnn_weight_gradients(record.da, cache)
    return dx_tm.transpose(1, 0, 2), record.dh0, dWx, dWh, db


def rnn_weight_gradients(da, cache, pool=None):
    """da: (T, N, H) from backprop_through_time -> dx_tm: (T, N, D), dWx: (D, H), dWh: (H, H), db: (H,).

    With a worker `pool` (see two_cores), dWh is formed on the worker while this thread forms dWx and dx.
    """
    T, N, H = da.shape
    D = cache.x_tm.shape[2]
    da_flat = da.reshape(T * N, H)
    x_flat = cache.x_tm.reshape(T * N, D)
    live = np.flatnonzero(da_flat.any(axis=1))
    if live.size < T * N:
        da_live = da_flat[live]

        def weight_h():
            return cache.h_prev_tm().reshape(T * N, H)[live].T @ da_live

        pending = pool.submit(weight_h) if pool is not None else None
        dWx = x_flat[live].T @ da_live
        dx_flat = np.zeros((T * N, D), dtype=np.result_type(da_flat, cache.Wx))
        dx_flat[live] = da_live @ cache.Wx.T
    else:

        def weight_h():
            dWh = cache.h0.T @ da[0]
            if T > 1:
                dWh += cache.h_tm[:-1].reshape((T - 1) * N, H).T @ da[1:].reshape((T - 1) * N, H)
            return dWh

        pending = pool.submit(weight_h) if pool is not None else None
        dWx = x_flat.T @ da_flat
        dx_flat = da_flat @ cache.Wx.T
    db = da_flat.sum(axis=0)
    dWh = pending.result() if pending is not None else weight_h()
    return dx_flat.reshape(T, N, D), dWx, dWh, db


# --------------------------------------------------------------------------- embedding


@dataclass
class EmbeddingCache:
    x: np.ndarray
    vocab_size: int


def word_embedding_forward(x, W):
    """x: (N, T) int ids in [0, V), W: (V, D) -> out: (N, T, D)."""
    require_ndim("x", x, 2, "(N, T)")
    require_token_ids("x", x, W.shape[0])
    return W[x], EmbeddingCache(x, W.shape[0])


def word_embedding_backward(dout, cache):
    """dout: (N, T, D) -> dW: (V, D): rows of dout summed per word id.

    Sorting the ids and summing runs with np.add.reduceat avoids the slow unbuffered np.add.at.
    """
    ids = cache.x.ravel()
    rows = dout.reshape(ids.size, -1)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    unique_ids, run_starts = np.unique(sorted_ids, return_index=True)
    dW = np.zeros((cache.vocab_size, rows.shape[1]), dtype=dout.dtype)
    if ids.size:
        dW[unique_ids] = np.add.reduceat(rows[order], run_starts, axis=0)
    return dW


# --------------------------------------------------------------------------- temporal affine


@dataclass
class TemporalAffineCache:
    x: np.ndarray
    w: np.ndarray


def temporal_affine_forward(x, w, b):
    """x: (N, T, D), w: (D, M), b: (M,) -> out: (N, T, M)."""
    require_ndim("x", x, 3, "(N, T, D)")
    N, T, D = x.shape
    require_dim("w", w.shape[0], D, "rows (input size D)")
    out = (x.reshape(N * T, D) @ w).reshape(N, T, -1)
    out += b
    return out, TemporalAffineCache(x, w)


def temporal_affine_backward(dout, cache):
    """dout: (N, T, M) -> dx: (N, T, D), dw: (D, M), db: (M,)."""
    N, T, D = cache.x.shape
    dout_flat = dout.reshape(N * T, -1)
    dx = (dout_flat @ cache.w.T).reshape(N, T, D)
    dw = cache.x.reshape(N * T, D).T @ dout_flat
    return dx, dw, dout_flat.sum(axis=0)


# --------------------------------------------------------------------------- softmax loss


def _softmax_parts(scores, targets):
    """scores: (M, V), targets: (M,) -> e = exp(scores - row max) (M, V) as a new array, its row sums (M,)
    and log p(target) (M,). Three passes over the scores; the caller normalises e however it needs."""
    e = scores - scores.max(axis=1, keepdims=True)
    shifted_target = e[np.arange(targets.size), targets]
    np.exp(e, out=e)
    sums = e.sum(axis=1)
    return e, sums, shifted_target - np.log(sums)


def softmax_loss_rows(scores, targets, batch_size, mask=None):
    """Softmax cross-entropy over flat rows, summed over the rows where mask is True, divided by batch_size.

    scores: (M, V), targets: (M,) ids in [0, V), mask: (M,) bool or None for every row
    -> loss: float, dscores: (M, V) (zero on masked rows). scores is left unchanged.
    """
    dscores, sums, log_p = _softmax_parts(scores, targets)
    if mask is None:
        weight = np.full(targets.size, 1 / batch_size, dtype=scores.dtype)
        loss = -log_p.sum(dtype=np.float64) / batch_size
    else:
        weight = (mask / batch_size).astype(scores.dtype)
        loss = -log_p[mask].sum(dtype=np.float64) / batch_size
    # d loss / d scores = weight * (softmax - onehot(target)); normalising and weighting share one pass.
    dscores *= (weight / sums)[:, None]
    dscores[np.arange(targets.size), targets] -= weight
    return float(loss), dscores


def softmax_gradient_rows(scores, targets, batch_size, log_p):
    """In place: scores (M, V) becomes d loss / d scores for rows scored on targets (M,), each weighted
    1 / batch_size; log_p (M,) receives log p(target). The loss is -log_p.sum() / batch_size.

    The same arithmetic as softmax_loss_rows without a mask, without its copy of the scores; rows are
    independent, so any split of the rows gives the same numbers.
    """
    rows = np.arange(targets.size)
    scores -= scores.max(axis=1, keepdims=True)
    shifted_target = scores[rows, targets]
    np.exp(scores, out=scores)
    sums = scores.sum(axis=1)
    np.subtract(shifted_target, np.log(sums), out=log_p)
    weight = np.full(targets.size, 1 / batch_size, dtype=scores.dtype)
    scores *= (weight / sums)[:, None]
    scores[rows, targets] -= weight
    return scores


def _check_softmax_arguments(x, y, mask):
    require_ndim("x", x, 3, "(N, T, V)")
    require_ndim("y", y, 2, "(N, T)")
    require_dim("y", y.shape, x.shape[:2], "shape (N, T)")
    require_dim("mask", np.shape(mask), x.shape[:2], "shape (N, T)")
    require_token_ids("y", y, x.shape[2])


def softmax_cross_entropy_terms(x, y, mask):
    """Per-step pieces of the temporal softmax loss.

    x: (N, T, V) scores, y: (N, T) targets, mask: (N, T) -> probs: (N, T, V), step_loss: (N, T)
    where step_loss is -log p(y) at unmasked positions and 0 where mask is False.
    """
    _check_softmax_arguments(x, y, mask)
    N, T, V = x.shape
    probs, sums, log_p = _softmax_parts(x.reshape(N * T, V), np.asarray(y).reshape(N * T))
    probs /= sums[:, None]
    step_loss = np.where(np.asarray(mask, dtype=bool).reshape(N * T), -log_p, 0).astype(x.dtype)
    return probs.reshape(N, T, V), step_loss.reshape(N, T)


def temporal_softmax_loss(x, y, mask, verbose=False):
    """Softmax cross-entropy summed over time and unmasked tokens, divided by N.

    x: (N, T, V), y: (N, T) ids in [0, V), mask: (N, T) bool -> loss: float, dx: (N, T, V).
    """
    _check_softmax_arguments(x, y, mask)
    N, T, V = x.shape
    flat_mask = np.asarray(mask, dtype=bool).reshape(N * T)
    loss, dx = softmax_loss_rows(x.reshape(N * T, V), np.asarray(y).reshape(N * T), N, flat_mask)
    if verbose:
        print("dx:", dx.shape)
    return loss, dx.reshape(N, T, V)


# --------------------------------------------------------------------------- two cores
#
# With two or more BLAS threads allowed, CaptioningRNN.loss and core.optim.update_parameters split their work
# over two Python threads (this one and one pool worker) instead of over BLAS's threads: the 2 x 16 small
# sequential products of the time loops do not speed up on two BLAS threads, and NumPy's elementwise passes
# (softmax, Adam) run on one core. NumPy releases the GIL inside BLAS and ufunc loops, so two Python threads
# each running one-thread BLAS keep both cores busy. Inside such a region the process's BLAS limit is 1 and
# is restored on exit. With one BLAS thread (the Streamlit server sets that for the whole process so that
# concurrent learners each get a core; the tests do too) or one CPU, everything runs serially as before.
# Both paths compute every element with the same operations; only the grouping of some products by rows
# differs, so results agree to float32 rounding (see tests/test_model.py, tests/test_optim.py).

# "auto": two threads when BLAS allows more than one thread and there is more than one CPU;
# "never": always serial; "always": two threads whatever the BLAS limit (for tests).
PARALLEL = "auto"

_parallel_lock = threading.Lock()
_pool = None
_blas = None


def _blas_controllers():
    """threadpoolctl controllers of the loaded BLAS libraries (an empty list without threadpoolctl)."""
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController

            _blas = list(ThreadpoolController().select(user_api="blas").lib_controllers)
        except Exception:  # threadpoolctl is optional; anything it cannot inspect means: stay serial
            _blas = []
    return _blas


def _worker_pool():
    """The one-worker pool of the two-core paths, created on first use and kept for the process."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="core-two-cores")
    return _pool


def _two_cores_wanted():
    if PARALLEL == "never" or (os.cpu_count() or 1) < 2:
        return False
    if PARALLEL == "always":
        return True
    controllers = _blas_controllers()
    return bool(controllers) and min(c.num_threads for c in controllers) > 1


@contextlib.contextmanager
def two_cores():
    """Yield the worker pool (ThreadPoolExecutor) for a two-thread region, or None to run serially.

    Serial when one BLAS thread is allowed, on one CPU, or while another thread is inside such a region.
    Inside the region BLAS runs one thread per caller, so this thread and the worker each use one core.
    """
    if not _two_cores_wanted() or not _parallel_lock.acquire(blocking=False):
        yield None
        return
    controllers = _blas_controllers()
    saved = [c.num_threads for c in controllers]
    try:
        for c in controllers:
            c.set_num_threads(1)
        yield _worker_pool()
    finally:
        for c, n in zip(controllers, saved, strict=True):
            c.set_num_threads(n)
        _parallel_lock.release()
