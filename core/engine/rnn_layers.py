"""The layers of the captioning RNN, with the names and signatures of the course's cs231n/rnn_layers.py.

Every forward function returns its outputs and a cache (out, cache; the LSTM step next_h, next_c, cache),
and its backward function takes the upstream gradients and that cache and returns the gradients of the
inputs; temporal_softmax_loss returns (loss, dx) in one function, as in the course. Caches are dataclasses
with named fields, so the explainer shows what a forward pass saw. The course stores vectors
as rows, so W_x·x_t is written x @ Wx. Sizes: N batch, T timesteps, D input, H hidden, V vocabulary.
"""

from dataclasses import dataclass

import numpy as np

from core.engine.activations import (
    activate,
    check_activation,
    derivative,
    sigmoid,
    sigmoid_derivative,
    tanh,
    tanh_derivative,
)
from core.engine.validation import require_dim, require_ndim, require_shape, require_token_ids
from core.errors import ShapeError

# --------------------------------------------------------------------------- vanilla RNN


@dataclass
class RNNStepCache:
    """What one rnn_step_forward saw and computed; every array is (N, ·) for this timestep."""

    x: np.ndarray  # (N, D) the input x_t
    prev_h: np.ndarray  # (N, H) the hidden state h_{t-1}
    Wx: np.ndarray  # (D, H)
    Wh: np.ndarray  # (H, H)
    input_term: np.ndarray  # (N, H) x_t Wx
    carried_term: np.ndarray  # (N, H) h_{t-1} Wh
    a: np.ndarray  # (N, H) the pre-activation
    next_h: np.ndarray  # (N, H) h_t = f(a)
    activation: str


def rnn_step_forward(x, prev_h, Wx, Wh, b, activation="tanh"):
    """One timestep of the vanilla RNN: next_h = f(x Wx + prev_h Wh + b).

    x: (N, D), prev_h: (N, H), Wx: (D, H), Wh: (H, H), b: (H,) -> next_h: (N, H), RNNStepCache.
    activation: f, "tanh" (the course's cell, the default), "sigmoid" or "relu" (core.engine.activations).
    """
    check_rnn_arguments(x, prev_h, Wx, Wh, b, activation)
    input_term = x @ Wx
    carried_term = prev_h @ Wh
    a = input_term + carried_term + b
    next_h = activate(a, activation)
    cache = RNNStepCache(x, prev_h, Wx, Wh, input_term, carried_term, a, next_h, activation)
    return next_h, cache


def rnn_step_backward(dnext_h, cache):
    """dnext_h: (N, H) -> dx: (N, D), dprev_h: (N, H), dWx: (D, H), dWh: (H, H), db: (H,)."""
    require_shape("dnext_h", dnext_h, cache.next_h.shape, "(N, H)")
    da = dnext_h * derivative(cache.next_h, cache.activation)
    dx = da @ cache.Wx.T
    dprev_h = da @ cache.Wh.T
    dWx = cache.x.T @ da
    dWh = cache.prev_h.T @ da
    db = da.sum(axis=0)
    return dx, dprev_h, dWx, dWh, db


@dataclass
class RNNCache:
    """What rnn_forward keeps, time-major: each array is (T, N, ·), so [t] is timestep t's block."""

    x: np.ndarray  # (T, N, D) the inputs
    h0: np.ndarray  # (N, H)
    Wx: np.ndarray  # (D, H)
    Wh: np.ndarray  # (H, H)
    input_term: np.ndarray  # (T, N, H) x_t Wx
    carried_term: np.ndarray  # (T, N, H) h_{t-1} Wh
    a: np.ndarray  # (T, N, H) pre-activations
    h: np.ndarray  # (T, N, H) hidden states
    activation: str


def rnn_forward(x, h0, Wx, Wh, b, activation="tanh"):
    """The RNN over a whole sequence: rnn_step_forward's lines once per timestep.

    x: (N, T, D), h0: (N, H), Wx: (D, H), Wh: (H, H), b: (H,) -> h: (N, T, H), RNNCache.
    activation: f of every step, as in rnn_step_forward. h is a view of the cache's time-major cache.h, not a
    copy: change a copy of it, or rnn_backward sees the change.
    """
    require_sequence("x", x)
    check_rnn_arguments(x[:, 0], h0, Wx, Wh, b, activation, h_name="h0")
    # Time-major (T, N, ·): each timestep's rows are one contiguous block for the loop's products.
    x = np.ascontiguousarray(x.transpose(1, 0, 2))
    # x_t Wx of every timestep in one product of the T·N rows (2x faster than x @ Wx on the (T, N, D)
    # array, which NumPy runs as T separate products).
    input_term = (x.reshape(-1, x.shape[2]) @ Wx).reshape(x.shape[0], x.shape[1], -1)
    carried_term = np.empty_like(input_term)
    a = input_term + b
    h = np.empty_like(a)
    prev_h = h0
    for t in range(x.shape[0]):
        carried_term[t] = prev_h @ Wh
        a[t] += carried_term[t]  # a_t = x_t Wx + b + h_{t-1} Wh
        h[t] = activate(a[t], activation)
        prev_h = h[t]
    cache = RNNCache(x, h0, Wx, Wh, input_term, carried_term, a, h, activation)
    return h.transpose(1, 0, 2), cache


def rnn_backward(dh, cache, record=None):
    """Backpropagation through time: dh (N, T, H), the upstream gradient of every hidden state
    -> dx: (N, T, D), dh0: (N, H), dWx: (D, H), dWh: (H, H), db: (H,).

    record: an optional dict; it receives da (T, N, H), the gradient of every pre-activation, and
    dprev_h (T + 1, N, H), what each step sends back to the step before (for the explainer's pages).
    """
    T, N, H = cache.h.shape
    require_shape("dh", dh, (N, T, H), "(N, T, H)")
    dh = dh.transpose(1, 0, 2)  # time-major, as the cache
    da = np.empty_like(cache.a)
    # dprev_h[t]: what step t sends back to h_{t-1}; nothing comes back from beyond the last step.
    dprev_h = np.zeros((T + 1, N, H), dtype=da.dtype)
    for t in reversed(range(T)):
        # As rnn_step_backward: h_t gets gradient from the loss at t and from step t + 1.
        da[t] = (dh[t] + dprev_h[t + 1]) * derivative(cache.h[t], cache.activation)
        # dprev_h_t = da_t Whᵀ, computed as (Wh da_tᵀ)ᵀ as in lstm_backward: 1.3x faster than with the
        # transposed view, and no contiguous copy of Whᵀ to make (0.6 ms at H = 512).
        dprev_h[t] = (cache.Wh @ da[t].T).T
    # rnn_step_backward's dx, dWx, dWh and db are products with da_t; summed over time, each is one
    # product over the T·N rows, of which those after a caption's end (da = 0) add nothing.
    da_rows, x_rows, h_prev_rows, live = live_rows(da, cache)
    dx = sequence_from_rows(da_rows @ cache.Wx.T, live, T, N)
    dWx = x_rows.T @ da_rows
    dWh = h_prev_rows.T @ da_rows
    db = da_rows.sum(axis=0)
    if record is not None:
        record.update(da=da, dprev_h=dprev_h)
    return dx, dprev_h[0], dWx, dWh, db


def live_rows(da, cache):
    """The rows of a sequence backward pass that carry gradient, for its weight products after the loop.

    da: (T, N, G) pre-activation gradients (G = H for the RNN, 4H for the LSTM); cache: an RNNCache or
    LSTMCache. Rows are the T·N positions t·N + n; those after a caption's end (da = 0) are dropped.
    -> da_rows (R, G), x_rows (R, D) the inputs x_t, h_prev_rows (R, H) the states h_{t-1}, live (T·N,) bool.
    """
    T, N, _ = da.shape
    da_rows = da.reshape(T * N, -1)
    live = da_rows.any(axis=1)
    h_prev = np.concatenate([cache.h0[None], cache.h[:-1]])
    return da_rows[live], cache.x.reshape(T * N, -1)[live], h_prev.reshape(T * N, -1)[live], live


def sequence_from_rows(rows, live, T, N):
    """The (N, T, D) array whose time-major rows t·N + n are `rows` (R, D) where `live` (T·N,) is True and 0
    elsewhere: the gradient of a sequence input from the products over live_rows."""
    out = np.zeros((T * N, rows.shape[1]), dtype=rows.dtype)
    out[live] = rows
    return out.reshape(T, N, -1).transpose(1, 0, 2)


def check_rnn_arguments(x, prev_h, Wx, Wh, b, activation, h_name="prev_h"):
    """ShapeError or ActivationError naming the first argument of rnn_step_forward that does not fit
    (the hidden state is called `h_name`: h0 for rnn_forward)."""
    check_activation(activation)
    check_cell_arguments(x, prev_h, Wx, Wh, b, 1, h_name)


def check_cell_arguments(x, prev_h, Wx, Wh, b, gates, h_name="prev_h"):
    """ShapeError naming the first argument of a cell step that does not fit: x (N, D), prev_h (N, H),
    Wx (D, G), Wh (H, G), b (G,) with G = gates·H (1 for the RNN, 4 for the LSTM)."""
    require_ndim("x", x, 2, "(N, D)")
    require_ndim(h_name, prev_h, 2, "(N, H)")
    N, D = x.shape
    H = prev_h.shape[1]
    require_dim(h_name, prev_h.shape[0], N, "batch size N (rows of x)")
    G = "H" if gates == 1 else f"{gates}H"
    require_shape("Wx", Wx, (D, gates * H), f"(D, {G})")
    require_shape("Wh", Wh, (H, gates * H), f"(H, {G})")
    require_shape("b", b, (gates * H,), f"({G},)")


def require_sequence(name, x):
    """ShapeError unless x is (N, T, D) with at least one timestep."""
    require_ndim(name, x, 3, "(N, T, D)")
    if x.shape[1] < 1:
        raise ShapeError(f"{name} must have at least one timestep, got shape {x.shape}.")


# --------------------------------------------------------------------------- LSTM


class GateViews:
    """The four gates of an LSTM cache, read from its `gates` array, whose last axis holds them side by
    side in the course's order [i | f | o | g], H columns each."""

    @property
    def i(self):
        """Input gate σ(a_i): how much of the candidate g enters the cell."""
        return self.gates[..., : self.hidden_dim]

    @property
    def f(self):
        """Forget gate σ(a_f): how much of c_{t-1} the cell keeps."""
        return self.gates[..., self.hidden_dim : 2 * self.hidden_dim]

    @property
    def o(self):
        """Output gate σ(a_o): how much of tanh(c_t) the cell shows as h_t."""
        return self.gates[..., 2 * self.hidden_dim : 3 * self.hidden_dim]

    @property
    def g(self):
        """Candidate cell values tanh(a_g)."""
        return self.gates[..., 3 * self.hidden_dim :]

    @property
    def hidden_dim(self):
        return self.gates.shape[-1] // 4


@dataclass
class LSTMStepCache(GateViews):
    """What one lstm_step_forward saw and computed; every array is (N, ·) for this timestep."""

    x: np.ndarray  # (N, D) the input x_t
    prev_h: np.ndarray  # (N, H) h_{t-1}
    prev_c: np.ndarray  # (N, H) c_{t-1}
    Wx: np.ndarray  # (D, 4H)
    Wh: np.ndarray  # (H, 4H)
    input_term: np.ndarray  # (N, 4H) x_t Wx
    carried_term: np.ndarray  # (N, 4H) h_{t-1} Wh
    a: np.ndarray  # (N, 4H) the gates' pre-activations [a_i | a_f | a_o | a_g]
    gates: np.ndarray  # (N, 4H) [i | f | o | g], also read as .i, .f, .o, .g (N, H)
    next_c: np.ndarray  # (N, H) c_t = f * c_{t-1} + i * g
    tanh_c: np.ndarray  # (N, H) tanh(c_t)
    next_h: np.ndarray  # (N, H) h_t = o * tanh(c_t)


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One timestep of the LSTM: gates i, f, o = σ(·), g = tanh(·) of a = x Wx + prev_h Wh + b, then
    next_c = f * prev_c + i * g and next_h = o * tanh(next_c).

    x: (N, D), prev_h: (N, H), prev_c: (N, H), Wx: (D, 4H), Wh: (H, 4H), b: (4H,)
    -> next_h: (N, H), next_c: (N, H), LSTMStepCache.
    """
    check_lstm_arguments(x, prev_h, prev_c, Wx, Wh, b)
    H = prev_h.shape[1]
    input_term = x @ Wx
    carried_term = prev_h @ Wh
    a = input_term + carried_term + b
    gates = np.empty_like(a)
    gates[:, : 3 * H] = sigmoid(a[:, : 3 * H])  # i, f, o
    gates[:, 3 * H :] = tanh(a[:, 3 * H :])  # g
    i, f, o, g = np.split(gates, 4, axis=1)
    next_c = f * prev_c + i * g
    tanh_c = tanh(next_c)
    next_h = o * tanh_c
    cache = LSTMStepCache(
        x, prev_h, prev_c, Wx, Wh, input_term, carried_term, a, gates, next_c, tanh_c, next_h
    )
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    """dnext_h: (N, H), dnext_c: (N, H)
    -> dx: (N, D), dprev_h: (N, H), dprev_c: (N, H), dWx: (D, 4H), dWh: (H, 4H), db: (4H,)."""
    i, f, o, g = cache.i, cache.f, cache.o, cache.g
    # c_t gets gradient along the cell (dnext_c) and through h_t = o * tanh(c_t).
    dc = dnext_c + dnext_h * o * tanh_derivative(cache.tanh_c)
    da_i = dc * g * sigmoid_derivative(i)
    da_f = dc * cache.prev_c * sigmoid_derivative(f)
    da_o = dnext_h * cache.tanh_c * sigmoid_derivative(o)
    da_g = dc * i * tanh_derivative(g)
    da = np.concatenate([da_i, da_f, da_o, da_g], axis=1)
    dprev_c = dc * f
    dx = da @ cache.Wx.T
    dprev_h = da @ cache.Wh.T
    dWx = cache.x.T @ da
    dWh = cache.prev_h.T @ da
    db = da.sum(axis=0)
    return dx, dprev_h, dprev_c, dWx, dWh, db


@dataclass
class LSTMCache(GateViews):
    """What lstm_forward keeps, time-major: each array is (T, N, ·), so [t] is timestep t's block."""

    x: np.ndarray  # (T, N, D) the inputs
    h0: np.ndarray  # (N, H); c0 is 0
    Wx: np.ndarray  # (D, 4H)
    Wh: np.ndarray  # (H, 4H)
    input_term: np.ndarray  # (T, N, 4H) x_t Wx
    carried_term: np.ndarray  # (T, N, 4H) h_{t-1} Wh
    a: np.ndarray  # (T, N, 4H) pre-activations [a_i | a_f | a_o | a_g]
    gates: np.ndarray  # (T, N, 4H) [i | f | o | g], also read as .i, .f, .o, .g (T, N, H)
    c: np.ndarray  # (T, N, H) cell states c_t
    tanh_c: np.ndarray  # (T, N, H) tanh(c_t)
    h: np.ndarray  # (T, N, H) hidden states h_t = o * tanh(c_t)

    @property
    def prev_c(self):
        """(T, N, H) the cell state each step receives: c_{t-1}, with c_{-1} = c0 = 0."""
        return np.concatenate([np.zeros_like(self.c[:1]), self.c[:-1]])


def lstm_forward(x, h0, Wx, Wh, b):
    """The LSTM over a whole sequence from h0 and c0 = 0: lstm_step_forward's lines once per timestep.

    x: (N, T, D), h0: (N, H), Wx: (D, 4H), Wh: (H, 4H), b: (4H,) -> h: (N, T, H), LSTMCache.
    h is a view of the cache's time-major cache.h, not a copy: change a copy of it, or lstm_backward sees the
    change.
    """
    require_sequence("x", x)
    check_lstm_arguments(x[:, 0], h0, np.zeros_like(h0), Wx, Wh, b, h_name="h0")
    H = h0.shape[1]
    # Time-major (T, N, ·): each timestep's rows are one contiguous block for the loop's products.
    x = np.ascontiguousarray(x.transpose(1, 0, 2))
    # x_t Wx of every timestep in one product of the T·N rows (2x faster than x @ Wx on the (T, N, D)
    # array, which NumPy runs as T separate products).
    input_term = (x.reshape(-1, x.shape[2]) @ Wx).reshape(x.shape[0], x.shape[1], -1)
    carried_term = np.empty_like(input_term)
    a = input_term + b
    gates = np.empty_like(a)
    i, f, o, g = np.split(gates, 4, axis=2)  # views of gates, (T, N, H) each
    c = np.empty(x.shape[:2] + (H,), dtype=a.dtype)
    tanh_c = np.empty_like(c)
    h = np.empty_like(c)
    prev_h, prev_c = h0, np.zeros_like(c[0])
    for t in range(x.shape[0]):
        carried_term[t] = prev_h @ Wh
        a[t] += carried_term[t]  # a_t = x_t Wx + b + h_{t-1} Wh
        gates[t, :, : 3 * H] = sigmoid(a[t, :, : 3 * H])  # i, f, o
        gates[t, :, 3 * H :] = tanh(a[t, :, 3 * H :])  # g
        c[t] = f[t] * prev_c + i[t] * g[t]
        tanh_c[t] = tanh(c[t])
        h[t] = o[t] * tanh_c[t]
        prev_h, prev_c = h[t], c[t]
    cache = LSTMCache(x, h0, Wx, Wh, input_term, carried_term, a, gates, c, tanh_c, h)
    return h.transpose(1, 0, 2), cache


def lstm_backward(dh, cache, record=None):
    """Backpropagation through time for the LSTM: dh (N, T, H), the upstream gradient of every hidden state
    -> dx: (N, T, D), dh0: (N, H), dWx: (D, 4H), dWh: (H, 4H), db: (4H,).

    record: an optional dict; it receives da (T, N, 4H), the gradient of every gate's pre-activation;
    dc (T, N, H), the gradient reaching each c_t; dprev_c (T + 1, N, H), what each step sends back along
    the cell state to c_{t-1} (dc_t * f_t); and dprev_h (T + 1, N, H), what it sends back through Wh to
    h_{t-1} (for the explainer's pages).
    """
    T, N, H = cache.h.shape
    require_shape("dh", dh, (N, T, H), "(N, T, H)")
    dh = dh.transpose(1, 0, 2)  # time-major, as the cache
    i, f, o, g = cache.i, cache.f, cache.o, cache.g
    prev_c = cache.prev_c
    da = np.empty_like(cache.a)
    da_i, da_f, da_o, da_g = np.split(da, 4, axis=2)  # views of da, (T, N, H) each
    dc = np.empty_like(cache.c)
    # dprev_h[t], dprev_c[t]: what step t sends back to h_{t-1} and c_{t-1}; nothing comes from beyond the end.
    dprev_h = np.zeros((T + 1, N, H), dtype=da.dtype)
    dprev_c = np.zeros((T + 1, N, H), dtype=da.dtype)
    for t in reversed(range(T)):
        # As lstm_step_backward: h_t gets gradient from the loss at t and from step t + 1, c_t from step t + 1.
        dnext_h = dh[t] + dprev_h[t + 1]
        dc[t] = dprev_c[t + 1] + dnext_h * o[t] * tanh_derivative(cache.tanh_c[t])
        da_i[t] = dc[t] * g[t] * sigmoid_derivative(i[t])
        da_f[t] = dc[t] * prev_c[t] * sigmoid_derivative(f[t])
        da_o[t] = dnext_h * cache.tanh_c[t] * sigmoid_derivative(o[t])
        da_g[t] = dc[t] * i[t] * tanh_derivative(g[t])
        dprev_c[t] = dc[t] * f[t]
        # dprev_h_t = da_t Whᵀ, computed as (Wh da_tᵀ)ᵀ: as fast as with a contiguous copy of Whᵀ (which
        # costs 3 ms for the (H, 4H) Wh at H = 512), and 1.3x faster than with the transposed view.
        dprev_h[t] = (cache.Wh @ da[t].T).T
    # As in rnn_backward: dx, dWx, dWh and db summed over time are single products over the live rows.
    da_rows, x_rows, h_prev_rows, live = live_rows(da, cache)
    dx = sequence_from_rows(da_rows @ cache.Wx.T, live, T, N)
    dWx = x_rows.T @ da_rows
    dWh = h_prev_rows.T @ da_rows
    db = da_rows.sum(axis=0)
    if record is not None:
        record.update(da=da, dc=dc, dprev_c=dprev_c, dprev_h=dprev_h)
    return dx, dprev_h[0], dWx, dWh, db


def check_lstm_arguments(x, prev_h, prev_c, Wx, Wh, b, h_name="prev_h"):
    """ShapeError naming the first argument of lstm_step_forward that does not fit (the hidden state is
    called `h_name`: h0 for lstm_forward)."""
    check_cell_arguments(x, prev_h, Wx, Wh, b, 4, h_name)
    require_shape("prev_c", prev_c, np.shape(prev_h), "(N, H), the shape of prev_h")


# --------------------------------------------------------------------------- word embedding


@dataclass
class WordEmbeddingCache:
    x: np.ndarray  # (N, T) word ids
    vocab_size: int


def word_embedding_forward(x, W):
    """x: (N, T) integer word ids in [0, V), W: (V, D) -> out: (N, T, D), the row of W of every word."""
    require_ndim("x", x, 2, "(N, T)")
    require_ndim("W", W, 2, "(V, D)")
    require_token_ids("x", x, W.shape[0])
    out = W[x]
    return out, WordEmbeddingCache(x, W.shape[0])


def word_embedding_backward(dout, cache):
    """dout: (N, T, D) -> dW: (V, D): the rows of dout summed per word (a word used twice gets both)."""
    require_ndim("dout", dout, 3, "(N, T, D)")
    require_dim("dout", dout.shape[:2], cache.x.shape, "(N, T) of the words embedded")
    ids = cache.x.ravel()
    rows = dout.reshape(ids.size, -1)
    dW = np.zeros((cache.vocab_size, rows.shape[1]), dtype=dout.dtype)
    # np.add.at(dW, cache.x, dout), 5x faster: sort the ids and sum each word's run of rows at once.
    order = np.argsort(ids, kind="stable")
    words, starts = np.unique(ids[order], return_index=True)
    if ids.size:
        dW[words] = np.add.reduceat(rows[order], starts, axis=0)
    return dW


# --------------------------------------------------------------------------- temporal affine


@dataclass
class TemporalAffineCache:
    x_rows: np.ndarray  # (R, D) the input rows that were computed
    rows: np.ndarray  # (R,) their positions n * T + t
    w: np.ndarray  # (D, M)
    x_shape: tuple  # (N, T, D)


def temporal_affine_forward(x, w, b, mask=None):
    """The same affine layer at every timestep. x: (N, T, D), w: (D, M), b: (M,) -> out: (N, T, M).

    mask: optional (N, T) bool; positions where it is False are not computed and stay 0, for a loss that
    ignores them (the <NULL> targets of temporal_softmax_loss): the products skip their rows.
    """
    require_ndim("x", x, 3, "(N, T, D)")
    N, T, D = x.shape
    require_dim("w", np.shape(w)[0], D, "rows (input size D)")
    require_shape("b", b, np.shape(w)[1:], "(M,)")
    if mask is None:
        mask = np.ones((N, T), dtype=bool)
    require_shape("mask", mask, (N, T), "(N, T)")
    rows = np.flatnonzero(mask)
    x_rows = x[mask]
    out = np.zeros((N * T, np.shape(w)[1]), dtype=np.result_type(x, w, b))
    out[rows] = x_rows @ w + b
    return out.reshape(N, T, -1), TemporalAffineCache(x_rows, rows, w, x.shape)


def temporal_affine_backward(dout, cache):
    """dout: (N, T, M) -> dx: (N, T, D), dw: (D, M), db: (M,)."""
    N, T, D = cache.x_shape
    require_shape("dout", dout, (N, T, cache.w.shape[1]), "(N, T, M)")
    dout_rows = dout.reshape(N * T, -1)[cache.rows]
    dx = np.zeros((N * T, D), dtype=np.result_type(dout, cache.w))
    dx[cache.rows] = dout_rows @ cache.w.T
    dw = cache.x_rows.T @ dout_rows
    db = dout_rows.sum(axis=0)
    return dx.reshape(N, T, D), dw, db


# --------------------------------------------------------------------------- softmax loss


def log_softmax(scores):
    """log softmax(scores) over the last axis, exact even where a probability would underflow to 0."""
    log_probs = scores - scores.max(axis=-1, keepdims=True)  # shifted, so that exp cannot overflow
    log_probs -= np.log(np.exp(log_probs).sum(axis=-1, keepdims=True))
    return log_probs


def softmax(scores):
    """The probabilities softmax(scores) over the last axis; same shape as scores."""
    return np.exp(log_softmax(scores))


def temporal_softmax_loss(x, y, mask, verbose=False):
    """Softmax cross-entropy summed over the timesteps whose mask is True, divided by N.

    x: (N, T, V) scores, y: (N, T) target ids in [0, V), mask: (N, T) bool -> loss: float, dx: (N, T, V).
    """
    require_ndim("x", x, 3, "(N, T, V)")
    N, T, V = x.shape
    require_shape("y", y, (N, T), "(N, T)")
    require_shape("mask", mask, (N, T), "(N, T)")
    require_token_ids("y", y, V)
    x_flat = x.reshape(N * T, V)
    y_flat = np.asarray(y).reshape(N * T)
    mask_flat = np.asarray(mask, dtype=bool).reshape(N * T)
    rows = np.arange(N * T)

    shifted = x_flat - x_flat.max(axis=1, keepdims=True)  # so that exp cannot overflow
    exp_scores = np.exp(shifted)
    sums = exp_scores.sum(axis=1, keepdims=True)
    # -log p_y = log(sum) - shifted_y, exact even where p_y underflows to 0
    log_probs_y = shifted[rows, y_flat] - np.log(sums[:, 0])
    loss = -log_probs_y[mask_flat].sum(dtype=np.float64) / N
    dx_flat = np.multiply(exp_scores, 1 / (sums * N), out=exp_scores)  # the probabilities / N
    dx_flat[rows, y_flat] -= 1 / N
    dx_flat[~mask_flat] = 0
    if verbose:
        print("dx_flat: ", dx_flat.shape)
    return float(loss), dx_flat.reshape(N, T, V)
