"""Layers: CS231n reference values, float64 numeric gradient checks for every activation, bad input."""

import numpy as np
import pytest

from core.engine.activations import ACTIVATIONS
from core.engine.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error
from core.engine.layers import affine_backward, affine_forward
from core.engine.rnn_layers import (
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)
from core.errors import ActivationError, ShapeError, VocabularyError

LAYER_TOLERANCE = 1e-7


def _rng(seed=0):
    return np.random.default_rng(seed)


def assert_gradients(forward, args, analytic, dout, **options):
    """Each analytic gradient (in the order of args) against finite differences of
    sum(forward(*args, **options)[0] * dout), the way the notebook checks them."""
    for i, value in enumerate(args):

        def f(perturbed, i=i):
            return forward(*[perturbed if j == i else a for j, a in enumerate(args)], **options)[0]

        numeric = eval_numerical_gradient_array(f, value, dout)
        assert analytic[i].shape == value.shape, i
        assert rel_error(analytic[i], numeric) < LAYER_TOLERANCE, i


# --------------------------------------------------------------------------- reference values (CS231n notebook)


def test_rnn_step_forward_matches_notebook():
    N, D, H = 3, 10, 4
    x = np.linspace(-0.4, 0.7, num=N * D).reshape(N, D)
    prev_h = np.linspace(-0.2, 0.5, num=N * H).reshape(N, H)
    Wx = np.linspace(-0.1, 0.9, num=D * H).reshape(D, H)
    Wh = np.linspace(-0.3, 0.7, num=H * H).reshape(H, H)
    b = np.linspace(-0.2, 0.4, num=H)
    next_h, cache = rnn_step_forward(x, prev_h, Wx, Wh, b)
    expected_next_h = np.asarray(
        [
            [-0.58172089, -0.50182032, -0.41232771, -0.31410098],
            [0.66854692, 0.79562378, 0.87755553, 0.92795967],
            [0.97934501, 0.99144213, 0.99646691, 0.99854353],
        ]
    )
    assert rel_error(expected_next_h, next_h) < 1e-8
    assert cache.activation == "tanh"
    assert cache.next_h is next_h


def test_rnn_forward_matches_notebook():
    N, T, D, H = 2, 3, 4, 5
    x = np.linspace(-0.1, 0.3, num=N * T * D).reshape(N, T, D)
    h0 = np.linspace(-0.3, 0.1, num=N * H).reshape(N, H)
    Wx = np.linspace(-0.2, 0.4, num=D * H).reshape(D, H)
    Wh = np.linspace(-0.4, 0.1, num=H * H).reshape(H, H)
    b = np.linspace(-0.7, 0.1, num=H)
    h, _ = rnn_forward(x, h0, Wx, Wh, b)
    expected_h = np.asarray(
        [
            [
                [-0.42070749, -0.27279261, -0.11074945, 0.05740409, 0.22236251],
                [-0.39525808, -0.22554661, -0.0409454, 0.14649412, 0.32397316],
                [-0.42305111, -0.24223728, -0.04287027, 0.15997045, 0.35014525],
            ],
            [
                [-0.55857474, -0.39065825, -0.19198182, 0.02378408, 0.23735671],
                [-0.27150199, -0.07088804, 0.13562939, 0.33099728, 0.50158768],
                [-0.51014825, -0.30524429, -0.06755202, 0.17806392, 0.40333043],
            ],
        ]
    )
    assert h.shape == (N, T, H)
    assert rel_error(expected_h, h) < 1e-7


def test_word_embedding_forward_matches_notebook():
    V, D = 5, 3
    x = np.asarray([[0, 3, 1, 2], [2, 1, 0, 3]])
    W = np.linspace(0, 1, num=V * D).reshape(V, D)
    out, _ = word_embedding_forward(x, W)
    expected_out = np.asarray(
        [
            [
                [0.0, 0.07142857, 0.14285714],
                [0.64285714, 0.71428571, 0.78571429],
                [0.21428571, 0.28571429, 0.35714286],
                [0.42857143, 0.5, 0.57142857],
            ],
            [
                [0.42857143, 0.5, 0.57142857],
                [0.21428571, 0.28571429, 0.35714286],
                [0.0, 0.07142857, 0.14285714],
                [0.64285714, 0.71428571, 0.78571429],
            ],
        ]
    )
    assert rel_error(expected_out, out) < 1e-7


def test_rnn_forward_equals_stepping_by_hand():
    """rnn_forward's loop (x Wx hoisted, time-major) gives what calling rnn_step_forward per step gives."""
    rng = _rng(1)
    N, T, D, H = 3, 5, 4, 6
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    Wx, Wh, b = rng.standard_normal((D, H)), rng.standard_normal((H, H)) * 0.3, rng.standard_normal(H)
    for activation in ACTIVATIONS:
        h, cache = rnn_forward(x, h0, Wx, Wh, b, activation)
        prev = h0
        for t in range(T):
            prev, step = rnn_step_forward(x[:, t], prev, Wx, Wh, b, activation)
            np.testing.assert_allclose(h[:, t], prev, rtol=1e-12, atol=1e-12)
            for name in ("input_term", "carried_term", "a"):
                np.testing.assert_allclose(
                    getattr(cache, name)[t], getattr(step, name), rtol=1e-12, atol=1e-12
                )
            np.testing.assert_allclose(cache.h[t], step.next_h, rtol=1e-12, atol=1e-12)


def test_rnn_backward_equals_stepping_back_by_hand():
    """rnn_backward (weight products after the loop, dead rows skipped) gives what calling
    rnn_step_backward per step, from the last to the first, gives."""
    rng = _rng(3)
    N, T, D, H = 3, 5, 4, 6
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    Wx, Wh, b = rng.standard_normal((D, H)), rng.standard_normal((H, H)) * 0.3, rng.standard_normal(H)
    dh = rng.standard_normal((N, T, H))
    dh[0, 3:] = 0  # the first sequence ends early
    for activation in ACTIVATIONS:
        _, cache = rnn_forward(x, h0, Wx, Wh, b, activation)
        dx, dh0, dWx, dWh, db = rnn_backward(dh, cache)
        steps, prev = [], h0
        for t in range(T):
            prev, step = rnn_step_forward(x[:, t], prev, Wx, Wh, b, activation)
            steps.append(step)
        dprev = np.zeros((N, H))
        totals = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(H)]
        for t in reversed(range(T)):
            dx_t, dprev, *weights = rnn_step_backward(dh[:, t] + dprev, steps[t])
            np.testing.assert_allclose(dx[:, t], dx_t, rtol=1e-10, atol=1e-12)
            totals = [total + w for total, w in zip(totals, weights, strict=True)]
        for got, want in zip((dh0, dWx, dWh, db), (dprev, *totals), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- numeric gradient checks (float64)


def test_affine_gradients():
    rng = _rng(2)
    x, w, b = rng.standard_normal((10, 2, 3)), rng.standard_normal((6, 5)), rng.standard_normal(5)
    dout = rng.standard_normal((10, 5))
    out, cache = affine_forward(x, w, b)
    assert out.shape == (10, 5)
    assert_gradients(affine_forward, [x, w, b], affine_backward(dout, cache), dout)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_rnn_step_gradients(activation):
    rng = _rng(3)
    N, D, H = 4, 5, 6
    x, h = rng.standard_normal((N, D)), rng.standard_normal((N, H))
    Wx, Wh, b = rng.standard_normal((D, H)), rng.standard_normal((H, H)), rng.standard_normal(H)
    dnext_h = rng.standard_normal((N, H))
    _, cache = rnn_step_forward(x, h, Wx, Wh, b, activation)
    analytic = rnn_step_backward(dnext_h, cache)
    assert_gradients(rnn_step_forward, [x, h, Wx, Wh, b], analytic, dnext_h, activation=activation)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_rnn_sequence_gradients(activation):
    rng = _rng(4)
    N, T, D, H = 2, 4, 3, 5
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    Wx, Wh, b = rng.standard_normal((D, H)), rng.standard_normal((H, H)), rng.standard_normal(H)
    dh = rng.standard_normal((N, T, H))
    _, cache = rnn_forward(x, h0, Wx, Wh, b, activation)
    assert_gradients(rnn_forward, [x, h0, Wx, Wh, b], rnn_backward(dh, cache), dh, activation=activation)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_rnn_sequence_gradients_when_captions_end_early(activation):
    """Zero upstream gradient after each sequence's end (padding) takes the skip-dead-rows path; still exact."""
    rng = _rng(14)
    N, T, D, H = 3, 5, 4, 6
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    # Weights of scale 0.5 keep tanh out of saturation, where finite differences lose their digits.
    Wx, Wh, b = 0.5 * rng.standard_normal((D, H)), 0.5 * rng.standard_normal((H, H)), rng.standard_normal(H)
    dh = rng.standard_normal((N, T, H))
    dh[0, 2:] = 0
    dh[1, 4:] = 0
    dh[2, 3:] = 0  # no sequence is scored at the last step, so BPTT skips its product too
    _, cache = rnn_forward(x, h0, Wx, Wh, b, activation)
    analytic = rnn_backward(dh, cache)
    assert_gradients(rnn_forward, [x, h0, Wx, Wh, b], analytic, dh, activation=activation)
    np.testing.assert_array_equal(analytic[0][0, 2:], 0)
    np.testing.assert_array_equal(analytic[0][1, 4:], 0)


def test_word_embedding_gradient_sums_repeated_words():
    rng = _rng(5)
    N, T, V, D = 50, 3, 5, 6
    x = rng.integers(V, size=(N, T))
    W = rng.standard_normal((V, D))
    dout = rng.standard_normal((N, T, D))
    _, cache = word_embedding_forward(x, W)
    dW = word_embedding_backward(dout, cache)
    numeric = eval_numerical_gradient_array(lambda v: word_embedding_forward(x, v)[0], W, dout)
    assert rel_error(dW, numeric) < LAYER_TOLERANCE
    expected = np.zeros_like(W)
    np.add.at(expected, x.ravel(), dout.reshape(-1, D))
    np.testing.assert_allclose(dW, expected, rtol=1e-12, atol=1e-12)


def test_the_notebooks_word_embedding_check_meets_its_bound():
    """RNN_Captioning's "Word embedding: backward" cell, as written (np.random.seed(231)): "The error should be
    around e-11 or less". Met only when the numeric gradient subtracts the outputs before weighting them, as the
    course's eval_numerical_gradient_array does (two weighted sums subtracted gave 6e-10 here)."""
    np.random.seed(231)
    N, T, V, D = 50, 3, 5, 6
    x = np.random.randint(V, size=(N, T))
    W = np.random.randn(V, D)
    out, cache = word_embedding_forward(x, W)
    dout = np.random.randn(*out.shape)
    dW = word_embedding_backward(dout, cache)
    dW_num = eval_numerical_gradient_array(lambda W: word_embedding_forward(x, W)[0], W, dout)
    assert rel_error(dW, dW_num) < 1e-11


def test_word_embedding_gradient_of_unused_words_is_zero():
    x = np.asarray([[1, 1, 3]])
    _, cache = word_embedding_forward(x, np.ones((6, 2)))
    dW = word_embedding_backward(np.ones((1, 3, 2)), cache)
    np.testing.assert_array_equal(dW, [[0, 0], [2, 2], [0, 0], [1, 1], [0, 0], [0, 0]])


def test_temporal_affine_gradients():
    rng = _rng(6)
    N, T, D, M = 2, 3, 4, 5
    x, w, b = rng.standard_normal((N, T, D)), rng.standard_normal((D, M)), rng.standard_normal(M)
    dout = rng.standard_normal((N, T, M))
    out, cache = temporal_affine_forward(x, w, b)
    np.testing.assert_allclose(out, np.einsum("ntd,dm->ntm", x, w) + b)
    assert_gradients(temporal_affine_forward, [x, w, b], temporal_affine_backward(dout, cache), dout)


def test_temporal_affine_with_a_mask_computes_only_its_positions():
    rng = _rng(16)
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    mask = np.array([[True, False, True], [False, False, True]])
    out, cache = temporal_affine_forward(x, w, b, mask)
    full, _ = temporal_affine_forward(x, w, b)
    np.testing.assert_allclose(out[mask], full[mask])
    np.testing.assert_array_equal(out[~mask], 0)
    dout = rng.standard_normal(out.shape) * mask[..., None]  # a loss that ignores the other positions
    assert_gradients(
        temporal_affine_forward, [x, w, b], temporal_affine_backward(dout, cache), dout, mask=mask
    )


def test_temporal_softmax_gradient():
    rng = _rng(7)
    N, T, V = 7, 8, 9
    x = rng.standard_normal((N, T, V))
    y = rng.integers(V, size=(N, T))
    mask = rng.random((N, T)) > 0.5
    _, dx = temporal_softmax_loss(x, y, mask)
    numeric = eval_numerical_gradient(lambda v: temporal_softmax_loss(v, y, mask)[0], x, verbose=False)
    assert rel_error(dx, numeric) < LAYER_TOLERANCE
    np.testing.assert_array_equal(dx[~mask], 0)


@pytest.mark.parametrize(
    ("N", "T", "V", "p", "expected"),
    [(100, 1, 10, 1.0, 2.3), (100, 10, 10, 1.0, 23.0), (5000, 10, 10, 0.1, 2.3)],
)
def test_temporal_softmax_loss_sanity(N, T, V, p, expected):
    """Near-uniform scores cost log(V) per unmasked token: about 2.3, 23 and 2.3 as in the notebook."""
    rng = _rng(8)
    x = 0.001 * rng.standard_normal((N, T, V))
    y = rng.integers(V, size=(N, T))
    mask = rng.random((N, T)) <= p
    loss, _ = temporal_softmax_loss(x, y, mask)
    assert loss == pytest.approx(expected, rel=0.05)
    assert loss == pytest.approx(np.log(V) * mask.sum() / N, rel=1e-3)


def test_temporal_softmax_loss_is_stable_for_huge_scores():
    x = np.asarray([[[1000.0, 0.0, -1000.0]]], dtype=np.float32)
    loss, dx = temporal_softmax_loss(x, np.asarray([[1]]), np.asarray([[True]]))
    assert loss == pytest.approx(1000.0)
    assert np.all(np.isfinite(dx))
    np.testing.assert_allclose(dx[0, 0], [1, -1, 0], atol=1e-6)


# --------------------------------------------------------------------------- float32 stays float32


def test_layers_keep_float32():
    rng = _rng(9)
    N, T, D, H, V = 2, 3, 4, 5, 7
    f32 = np.float32
    x = rng.standard_normal((N, T, D)).astype(f32)
    h0 = rng.standard_normal((N, H)).astype(f32)
    Wx, Wh, b = (rng.standard_normal(s).astype(f32) for s in ((D, H), (H, H), (H,)))
    h, cache = rnn_forward(x, h0, Wx, Wh, b)
    assert h.dtype == f32
    grads = rnn_backward(np.ones_like(h), cache)
    assert all(g.dtype == f32 for g in grads)
    scores, acache = temporal_affine_forward(h, rng.standard_normal((H, V)).astype(f32), np.zeros(V, f32))
    loss, dscores = temporal_softmax_loss(scores, rng.integers(V, size=(N, T)), np.ones((N, T), bool))
    assert isinstance(loss, float)
    assert dscores.dtype == f32
    assert all(g.dtype == f32 for g in temporal_affine_backward(dscores, acache))


# --------------------------------------------------------------------------- bad input


def test_unknown_activation_lists_valid_names():
    x = np.zeros((1, 2))
    with pytest.raises(ActivationError) as info:
        rnn_step_forward(
            x, np.zeros((1, 3)), np.zeros((2, 3)), np.zeros((3, 3)), np.zeros(3), activation="softplus"
        )
    message = str(info.value)
    assert "'softplus'" in message
    for name in ACTIVATIONS:
        assert repr(name) in message
    with pytest.raises(ValueError, match="activation"):
        rnn_forward(
            np.zeros((1, 2, 2)), np.zeros((1, 3)), np.zeros((2, 3)), np.zeros((3, 3)), np.zeros(3), "gelu"
        )


def test_wrong_shapes_name_the_argument():
    with pytest.raises(ShapeError, match=r"^x must have shape \(N, T, D\)"):
        rnn_forward(np.zeros((2, 3)), np.zeros((2, 4)), np.zeros((3, 4)), np.zeros((4, 4)), np.zeros(4))
    with pytest.raises(ShapeError, match=r"^Wx must have shape \(D, H\) = \(5, 4\), got shape \(3, 4\)"):
        rnn_forward(np.zeros((2, 3, 5)), np.zeros((2, 4)), np.zeros((3, 4)), np.zeros((4, 4)), np.zeros(4))
    with pytest.raises(ShapeError, match=r"^h0: expected batch size N \(rows of x\) = 2, got 1"):
        rnn_forward(np.zeros((2, 3, 3)), np.zeros((1, 4)), np.zeros((3, 4)), np.zeros((4, 4)), np.zeros(4))
    step = (np.zeros((2, 3)), np.zeros((2, 4)), np.zeros((3, 4)))
    with pytest.raises(ShapeError, match=r"^b must have shape \(H,\) = \(4,\), got shape \(5,\)"):
        rnn_step_forward(*step, np.zeros((4, 4)), np.zeros(5))
    with pytest.raises(ShapeError, match=r"^Wh must have shape \(H, H\) = \(4, 4\), got shape \(4, 3\)"):
        rnn_step_forward(*step, np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(ShapeError, match=r"^prev_h: expected batch size N \(rows of x\) = 2, got 3"):
        rnn_step_forward(np.zeros((2, 3)), np.zeros((3, 4)), np.zeros((3, 4)), np.zeros((4, 4)), np.zeros(4))
    with pytest.raises(ShapeError, match="^x must have at least one timestep"):
        rnn_forward(np.zeros((2, 0, 3)), np.zeros((2, 4)), np.zeros((3, 4)), np.zeros((4, 4)), np.zeros(4))
    with pytest.raises(ShapeError, match="^w: expected rows"):
        affine_forward(np.zeros((2, 3)), np.zeros((4, 5)), np.zeros(5))
    with pytest.raises(ShapeError, match="^mask"):
        temporal_softmax_loss(np.zeros((2, 3, 4)), np.zeros((2, 3), int), np.ones((2, 2), bool))


def test_token_ids_outside_vocabulary_are_refused():
    W = np.zeros((5, 2))
    with pytest.raises(VocabularyError, match=r"^x contains token id 5, outside the vocabulary of size 5"):
        word_embedding_forward(np.asarray([[0, 5]]), W)
    with pytest.raises(VocabularyError, match="token id -1"):
        word_embedding_forward(np.asarray([[-1, 2]]), W)
    with pytest.raises(VocabularyError, match="^x must hold integer token ids"):
        word_embedding_forward(np.asarray([[0.0, 1.0]]), W)
    with pytest.raises(VocabularyError, match="^y contains token id 9"):
        temporal_softmax_loss(np.zeros((1, 2, 4)), np.asarray([[0, 9]]), np.ones((1, 2), bool))
