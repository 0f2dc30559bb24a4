"""LSTM layers: the LSTM_Captioning notebook's reference values, float64 numeric gradient checks, the
sequence functions against the step, what the caches and the backward record hold, bad input."""

import json
from pathlib import Path

import numpy as np
import pytest

import core
from core.engine.activations import sigmoid
from core.engine.gradient_check import eval_numerical_gradient_array, rel_error
from core.engine.rnn_layers import (
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
)
from core.errors import ShapeError

NOTEBOOK = json.loads((Path(__file__).parent / "notebook_lstm_values.json").read_text())
LAYER_TOLERANCE = 1e-7


def _rng(seed=0):
    return np.random.default_rng(seed)


def lstm_weights(rng, D, H, scale=0.5):
    """Wx (D, 4H), Wh (H, 4H), b (4H,): scaled so that the gates stay out of saturation, where finite
    differences lose their digits (as the vanilla tests scale theirs)."""
    return (
        scale * rng.standard_normal((D, 4 * H)),
        scale * rng.standard_normal((H, 4 * H)),
        scale * rng.standard_normal(4 * H),
    )


# --------------------------------------------------------------------------- reference values (CS231n notebook)


def test_lstm_step_forward_matches_notebook():
    N, D, H = 3, 4, 5
    x = np.linspace(-0.4, 1.2, num=N * D).reshape(N, D)
    prev_h = np.linspace(-0.3, 0.7, num=N * H).reshape(N, H)
    prev_c = np.linspace(-0.4, 0.9, num=N * H).reshape(N, H)
    Wx = np.linspace(-2.1, 1.3, num=4 * D * H).reshape(D, 4 * H)
    Wh = np.linspace(-0.7, 2.2, num=4 * H * H).reshape(H, 4 * H)
    b = np.linspace(0.3, 0.7, num=4 * H)
    next_h, next_c, cache = lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
    expected = NOTEBOOK["lstm_step_forward"]
    assert rel_error(np.asarray(expected["expected_next_h"]), next_h) < 1e-8
    assert rel_error(np.asarray(expected["expected_next_c"]), next_c) < 1e-8
    assert cache.next_h is next_h and cache.next_c is next_c


def test_lstm_forward_matches_notebook():
    N, D, H, T = 2, 5, 4, 3
    x = np.linspace(-0.4, 0.6, num=N * T * D).reshape(N, T, D)
    h0 = np.linspace(-0.4, 0.8, num=N * H).reshape(N, H)
    Wx = np.linspace(-0.2, 0.9, num=4 * D * H).reshape(D, 4 * H)
    Wh = np.linspace(-0.3, 0.6, num=4 * H * H).reshape(H, 4 * H)
    b = np.linspace(0.2, 0.7, num=4 * H)
    h, cache = lstm_forward(x, h0, Wx, Wh, b)
    assert h.shape == (N, T, H)
    assert rel_error(np.asarray(NOTEBOOK["lstm_forward"]["expected_h"]), h) < 1e-7
    np.testing.assert_array_equal(cache.prev_c[0], 0)  # c0 = 0


def test_core_exports_the_course_names():
    for name in ("lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward"):
        assert name in core.__all__
    assert core.lstm_forward is lstm_forward and core.lstm_step_backward is lstm_step_backward


# --------------------------------------------------------------------------- the step's numbers


def test_step_gates_follow_the_course_order():
    """a = x Wx + h Wh + b holds the gates' pre-activations side by side: i, f, o = σ, g = tanh."""
    rng = _rng(1)
    N, D, H = 3, 4, 5
    x, prev_h, prev_c = rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    Wx, Wh, b = lstm_weights(rng, D, H, scale=1.0)
    next_h, next_c, cache = lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
    a = x @ Wx + prev_h @ Wh + b
    np.testing.assert_allclose(cache.input_term, x @ Wx)
    np.testing.assert_allclose(cache.carried_term, prev_h @ Wh)
    np.testing.assert_allclose(cache.a, a)
    i, f, o = (1 / (1 + np.exp(-a[:, k * H : (k + 1) * H])) for k in range(3))
    g = np.tanh(a[:, 3 * H :])
    for got, want in ((cache.i, i), (cache.f, f), (cache.o, o), (cache.g, g)):
        assert got.shape == (N, H)
        np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(next_c, f * prev_c + i * g, rtol=1e-12)
    np.testing.assert_allclose(cache.tanh_c, np.tanh(next_c), rtol=1e-12)
    np.testing.assert_allclose(next_h, o * np.tanh(next_c), rtol=1e-12)


# --------------------------------------------------------------------------- numeric gradient checks (float64)


def test_lstm_step_gradients():
    """Every gradient of the step against finite differences of sum(next_h dnext_h) + sum(next_c dnext_c)."""
    rng = _rng(3)
    N, D, H = 4, 5, 6
    x, prev_h, prev_c = rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    Wx, Wh, b = lstm_weights(rng, D, H)
    next_h, next_c, cache = lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
    dnext_h, dnext_c = rng.standard_normal(next_h.shape), rng.standard_normal(next_c.shape)
    analytic = lstm_step_backward(dnext_h, dnext_c, cache)
    args = [x, prev_h, prev_c, Wx, Wh, b]
    for k, value in enumerate(args):

        def output(perturbed, which, k=k):
            return lstm_step_forward(*[perturbed if j == k else a for j, a in enumerate(args)])[which]

        numeric = eval_numerical_gradient_array(lambda v: output(v, 0), value, dnext_h)
        numeric += eval_numerical_gradient_array(lambda v: output(v, 1), value, dnext_c)
        assert analytic[k].shape == value.shape, k
        assert rel_error(analytic[k], numeric) < LAYER_TOLERANCE, k


def check_sequence_gradients(x, h0, Wx, Wh, b, dh, tolerance=LAYER_TOLERANCE):
    _, cache = lstm_forward(x, h0, Wx, Wh, b)
    analytic = lstm_backward(dh, cache)
    args = [x, h0, Wx, Wh, b]
    for k, value in enumerate(args):

        def forward(perturbed, k=k):
            return lstm_forward(*[perturbed if j == k else a for j, a in enumerate(args)])[0]

        numeric = eval_numerical_gradient_array(forward, value, dh)
        assert analytic[k].shape == value.shape, k
        assert rel_error(analytic[k], numeric) < tolerance, k
    return analytic


def test_lstm_sequence_gradients():
    rng = _rng(4)
    N, T, D, H = 2, 10, 3, 6  # the notebook's sizes
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    check_sequence_gradients(x, h0, *lstm_weights(rng, D, H), rng.standard_normal((N, T, H)))


def test_lstm_sequence_gradients_when_captions_end_early():
    """Zero upstream gradient after each sequence's end (padding) takes the skip-dead-rows path; still exact."""
    rng = _rng(14)
    N, T, D, H = 3, 5, 4, 6
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    dh = rng.standard_normal((N, T, H))
    dh[0, 2:] = 0
    dh[1, 4:] = 0
    dh[2, 3:] = 0
    # dWh's smallest entry here (4.1e-5) carries the finite differences' round-off at h = 1e-5 (1.2e-11): a
    # relative error of 1.5e-7 with the course's eval_numerical_gradient_array (at h = 1e-4 the truncation is
    # 7e-11 and shrinks 100x from there). Rows of the padding handled wrongly would be off by order 1.
    dx, *_ = check_sequence_gradients(x, h0, *lstm_weights(rng, D, H), dh, tolerance=1e-6)
    np.testing.assert_array_equal(dx[0, 2:], 0)
    np.testing.assert_array_equal(dx[1, 4:], 0)


# --------------------------------------------------------------------------- sequence = steps


def test_lstm_forward_equals_stepping_by_hand():
    """lstm_forward's loop (x Wx hoisted, time-major) gives what calling lstm_step_forward per step gives."""
    rng = _rng(1)
    N, T, D, H = 3, 5, 4, 6
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    Wx, Wh, b = lstm_weights(rng, D, H, scale=1.0)
    h, cache = lstm_forward(x, h0, Wx, Wh, b)
    prev_h, prev_c = h0, np.zeros((N, H))
    for t in range(T):
        prev_h, prev_c, step = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        np.testing.assert_allclose(h[:, t], prev_h, rtol=1e-12, atol=1e-12)
        for name in ("input_term", "carried_term", "a", "gates", "i", "f", "o", "g", "tanh_c"):
            np.testing.assert_allclose(getattr(cache, name)[t], getattr(step, name), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(cache.c[t], step.next_c, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(cache.prev_c[t], step.prev_c, rtol=1e-12, atol=1e-12)


def test_lstm_backward_equals_stepping_back_by_hand():
    """lstm_backward (weight products after the loop, dead rows skipped) gives what calling
    lstm_step_backward per step, from the last to the first, gives; its record holds the gradients each
    step sends back along the cell and through h."""
    rng = _rng(3)
    N, T, D, H = 3, 5, 4, 6
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    Wx, Wh, b = lstm_weights(rng, D, H, scale=1.0)
    dh = rng.standard_normal((N, T, H))
    dh[0, 3:] = 0  # the first sequence ends early
    _, cache = lstm_forward(x, h0, Wx, Wh, b)
    record = {}
    dx, dh0, dWx, dWh, db = lstm_backward(dh, cache, record)
    steps, prev_h, prev_c = [], h0, np.zeros((N, H))
    for t in range(T):
        prev_h, prev_c, step = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        steps.append(step)
    dprev_h, dprev_c = np.zeros((N, H)), np.zeros((N, H))
    totals = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(4 * H)]
    for t in reversed(range(T)):
        np.testing.assert_allclose(record["dprev_h"][t + 1], dprev_h, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(record["dprev_c"][t + 1], dprev_c, rtol=1e-10, atol=1e-12)
        dnext_h = dh[:, t] + dprev_h
        # the gradient at c_t: carried along the cell from t + 1, plus through h_t = o tanh(c_t)
        dc = dprev_c + dnext_h * steps[t].o * (1 - steps[t].tanh_c ** 2)
        np.testing.assert_allclose(record["dc"][t], dc, rtol=1e-10, atol=1e-12)
        dx_t, dprev_h, dprev_c, *weights = lstm_step_backward(dnext_h, dprev_c, steps[t])
        np.testing.assert_allclose(dx[:, t], dx_t, rtol=1e-10, atol=1e-12)
        totals = [total + w for total, w in zip(totals, weights, strict=True)]
    np.testing.assert_allclose(record["dprev_h"][0], dh0)
    np.testing.assert_allclose(record["dprev_c"][0], dprev_c, rtol=1e-10, atol=1e-12)
    for got, want in zip((dh0, dWx, dWh, db), (dprev_h, *totals), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert record["da"].shape == (T, N, 4 * H)
    np.testing.assert_allclose(record["da"].sum(axis=(0, 1)), db, rtol=1e-10, atol=1e-12)
    # dprev_c_t = dc_t * f_t: what the forget gate lets through to the step before
    np.testing.assert_allclose(record["dprev_c"][:T], record["dc"] * cache.f, rtol=1e-12)


def test_lstm_backward_record_reaches_the_step_before_only_through_the_cell_and_h():
    """With the forget gate shut (f = 0) nothing travels back along the cell."""
    rng = _rng(5)
    N, T, D, H = 2, 4, 3, 5
    Wx, Wh, b = lstm_weights(rng, D, H)
    b[H : 2 * H] = -1e3  # σ(-1000) = 0: every forget gate closed
    _, cache = lstm_forward(rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), Wx, Wh, b)
    record = {}
    lstm_backward(rng.standard_normal((N, T, H)), cache, record)
    np.testing.assert_array_equal(cache.f, 0)
    np.testing.assert_array_equal(record["dprev_c"], 0)
    assert np.abs(record["dprev_h"][:T]).max() > 0


# --------------------------------------------------------------------------- float32 stays float32


def test_lstm_keeps_float32():
    rng = _rng(9)
    N, T, D, H = 2, 3, 4, 5
    f32 = np.float32
    x, h0 = rng.standard_normal((N, T, D)).astype(f32), rng.standard_normal((N, H)).astype(f32)
    Wx, Wh, b = (w.astype(f32) for w in lstm_weights(rng, D, H))
    h, cache = lstm_forward(x, h0, Wx, Wh, b)
    assert h.dtype == cache.c.dtype == cache.gates.dtype == f32
    assert all(g.dtype == f32 for g in lstm_backward(np.ones_like(h), cache))
    next_h, next_c, step = lstm_step_forward(x[:, 0], h0, np.zeros_like(h0), Wx, Wh, b)
    assert next_h.dtype == next_c.dtype == f32
    assert all(g.dtype == f32 for g in lstm_step_backward(next_h, next_c, step))


# --------------------------------------------------------------------------- bad input


def test_wrong_shapes_name_the_argument():
    N, D, H = 2, 3, 4
    x, h, c = np.zeros((N, D)), np.zeros((N, H)), np.zeros((N, H))
    Wx, Wh, b = np.zeros((D, 4 * H)), np.zeros((H, 4 * H)), np.zeros(4 * H)
    with pytest.raises(ShapeError, match=r"^Wx must have shape \(D, 4H\) = \(3, 16\), got shape \(3, 4\)"):
        lstm_step_forward(x, h, c, np.zeros((D, H)), Wh, b)
    with pytest.raises(ShapeError, match=r"^Wh must have shape \(H, 4H\) = \(4, 16\), got shape \(4, 4\)"):
        lstm_step_forward(x, h, c, Wx, np.zeros((H, H)), b)
    with pytest.raises(ShapeError, match=r"^b must have shape \(4H,\) = \(16,\), got shape \(4,\)"):
        lstm_step_forward(x, h, c, Wx, Wh, np.zeros(H))
    with pytest.raises(ShapeError, match=r"^prev_c must have shape \(N, H\), the shape of prev_h = \(2, 4\)"):
        lstm_step_forward(x, h, np.zeros((N, H + 1)), Wx, Wh, b)
    with pytest.raises(ShapeError, match=r"^prev_h: expected batch size N \(rows of x\) = 2, got 3"):
        lstm_step_forward(x, np.zeros((3, H)), c, Wx, Wh, b)
    with pytest.raises(ShapeError, match=r"^x must have shape \(N, T, D\)"):
        lstm_forward(x, h, Wx, Wh, b)
    with pytest.raises(ShapeError, match="^x must have at least one timestep"):
        lstm_forward(np.zeros((N, 0, D)), h, Wx, Wh, b)
    with pytest.raises(ShapeError, match=r"^h0: expected batch size N \(rows of x\) = 2, got 1"):
        lstm_forward(np.zeros((N, 3, D)), np.zeros((1, H)), Wx, Wh, b)
    _, cache = lstm_forward(np.zeros((N, 3, D)), h, Wx, Wh, b)
    with pytest.raises(ShapeError, match=r"^dh must have shape \(N, T, H\) = \(2, 3, 4\)"):
        lstm_backward(np.zeros((N, 3, H + 1)), cache)


def test_sigmoid_gates_of_extreme_pre_activations_stay_finite():
    """σ written with tanh: a gate pre-activation of -1000 gives 0, not an overflow warning."""
    with np.errstate(all="raise"):
        assert sigmoid(np.float64(-1000.0)) == 0.0
        _, next_c, _ = lstm_step_forward(
            np.ones((1, 1)),
            np.zeros((1, 1)),
            np.ones((1, 1)),
            np.full((1, 4), -1000.0),
            np.zeros((1, 4)),
            np.zeros(4),
        )
    np.testing.assert_array_equal(next_c, 0)
