"""Per-timestep traces: the forward numbers are the model's, the backward pieces add up to its gradients.
(test_lstm_trace.py has the LSTM's own; the tests of what every cell's trace does alike run for it here.)"""

import dataclasses

import numpy as np
import pytest

from core.engine.activations import ACTIVATIONS, activate, derivative
from core.engine.rnn import CaptioningRNN
from core.errors import ShapeError, VocabularyError
from core.lab.trace import spectral_radius, trace_example
from tests.helpers.trace_examples import D, H, V, W, traced_example
from tests.helpers.vocab import make_vocab

CELLS = [("rnn", activation) for activation in ACTIVATIONS] + [("lstm", "tanh")]


@pytest.fixture(params=ACTIVATIONS)
def example(request):
    """A float64 vanilla model with the given activation, one feature and one padded caption."""
    return traced_example("rnn", request.param)


@pytest.fixture(params=CELLS, ids=[f"{cell}-{activation}" for cell, activation in CELLS])
def cell_example(request):
    """The same example for every cell: the vanilla one with each activation, and the LSTM."""
    return traced_example(*request.param)


def test_forward_trace_matches_model_loss(cell_example):
    model, feature, caption = cell_example
    trace = trace_example(model, feature, caption)
    f = trace.forward
    loss, _ = model.loss(feature[None], caption[None])
    assert f.loss == pytest.approx(loss, rel=1e-12)
    assert f.num_steps == 7
    np.testing.assert_array_equal(f.ids_in, caption[:-1])
    np.testing.assert_array_equal(f.ids_target, caption[1:])
    np.testing.assert_array_equal(f.mask, [True] * 5 + [False] * 2)
    assert f.step_loss.sum() == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(f.running_loss, np.cumsum(f.step_loss))
    assert np.all(f.step_loss[~f.mask] == 0) and np.all(f.step_loss[f.mask] > 0)
    target_probs = f.probs[np.arange(7), f.ids_target]
    np.testing.assert_allclose(f.step_loss[f.mask], -np.log(target_probs[f.mask]))
    # The model scores only the steps whose target is a word: no distribution at the <NULL> targets.
    np.testing.assert_allclose(f.probs.sum(axis=1), f.mask.astype(float))


def test_forward_trace_pieces_compose(example):
    model, feature, caption = example
    f = trace_example(model, feature, caption).forward
    p = model.params
    np.testing.assert_allclose(f.h0, feature @ p["W_proj"] + p["b_proj"])
    np.testing.assert_allclose(f.x, p["W_embed"][caption[:-1]])
    np.testing.assert_allclose(f.wx_x, f.x @ p["Wx"])
    np.testing.assert_allclose(f.wh_h, f.h_prev @ p["Wh"])
    np.testing.assert_allclose(f.a, f.wx_x + f.wh_h + f.b)
    np.testing.assert_allclose(f.h, activate(f.a, f.activation))
    np.testing.assert_allclose(f.h_prev[0], f.h0)
    np.testing.assert_allclose(f.h_prev[1:], f.h[:-1])
    np.testing.assert_allclose(model.recurrent_forward(feature[None], caption[None])[0][0], f.h)


def test_backward_contributions_sum_to_model_gradients(cell_example):
    model, feature, caption = cell_example
    b = trace_example(model, feature, caption).backward
    _, grads = model.loss(feature[None], caption[None])
    T, G = caption.size - 1, model.params["b"].size  # G = H for the vanilla cell, 4H for the LSTM
    assert b.dWx_steps.shape == (T, W, G) and b.dWh_steps.shape == (T, H, G) and b.db_steps.shape == (T, G)
    np.testing.assert_allclose(b.dWx_steps.sum(axis=0), grads["Wx"], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(b.dWh_steps.sum(axis=0), grads["Wh"], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(b.db_steps.sum(axis=0), grads["b"], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(b.dWx, grads["Wx"], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(b.dWh, grads["Wh"], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(b.db, grads["b"], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(np.outer(feature, b.dh0), grads["W_proj"], rtol=1e-10, atol=1e-14)
    # The trace keeps the factors of each step's contributions, never the (T, ·, G) stacks: at the notebook's sizes
    # an LSTM trace held 96 MiB of them.
    kept = [getattr(b, field.name) for field in dataclasses.fields(b)]
    assert all(value.ndim <= 2 for value in kept if isinstance(value, np.ndarray))
    for param, stack in (("Wh", b.dWh_steps), ("Wx", b.dWx_steps)):
        left, da = b.contribution_factors(param)
        np.testing.assert_array_equal(stack[2], np.outer(left[2], da[2]))


def test_backward_flow_through_h(cell_example):
    """For every cell: h_t gets gradient from its own loss and, through Wh, from step t+1."""
    model, feature, caption = cell_example
    trace = trace_example(model, feature, caption)
    f, b = trace.forward, trace.backward
    Wh = model.params["Wh"]
    np.testing.assert_allclose(b.dh_total, b.dh_from_loss + b.dh_carried)
    np.testing.assert_array_equal(b.dh_carried[-1], 0)
    np.testing.assert_allclose(b.dh_carried[:-1], b.da[1:] @ Wh.T, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(b.dh0, b.da[0] @ Wh.T, rtol=1e-10, atol=1e-15)
    # the masked (<NULL>) targets send no gradient into their hidden states
    np.testing.assert_array_equal(b.dh_from_loss[~f.mask], 0)
    np.testing.assert_allclose(
        b.dh_from_loss[f.mask], ((f.probs - np.eye(V)[f.ids_target]) @ model.params["W_vocab"].T)[f.mask]
    )


def test_backward_flow_through_the_activation(example):
    model, feature, caption = example
    trace = trace_example(model, feature, caption)
    f, b = trace.forward, trace.backward
    np.testing.assert_allclose(b.local_derivative, derivative(f.h, f.activation))
    np.testing.assert_allclose(b.da, b.dh_total * b.local_derivative)


def test_norms_and_survival(example):
    model, feature, caption = example
    b = trace_example(model, feature, caption).backward
    norms = b.norms()
    np.testing.assert_allclose(norms["total"], np.linalg.norm(b.dh_from_loss + b.dh_carried, axis=1))
    survival = b.survival()
    assert survival.shape == (7,)
    arriving = np.concatenate([[np.linalg.norm(b.dh0)], norms["carried"][:-1]])
    flowing = norms["total"] > 0
    # the two steps after <END> receive no gradient at all: no ratio (NaN), neither 0 nor 0/0
    np.testing.assert_array_equal(flowing, [True] * 5 + [False] * 2)
    np.testing.assert_allclose(survival[flowing], arriving[flowing] / norms["total"][flowing])
    assert np.all(np.isnan(survival[~flowing]))


def test_spectral_radius_scales_with_wh_scale():
    model = CaptioningRNN(make_vocab(V), D, W, H, seed=3)
    feature, caption = np.ones(D, np.float32), np.asarray([1, 5, 6, 2])
    base = trace_example(model, feature, caption)
    doubled = trace_example(model, feature, caption, wh_scale=2.0)
    assert base.spectral_radius == pytest.approx(spectral_radius(model.params["Wh"]), rel=1e-6)
    assert doubled.spectral_radius == pytest.approx(2 * base.spectral_radius, rel=1e-5)
    assert doubled.wh_scale == 2.0
    np.testing.assert_allclose(spectral_radius(np.diag([0.5, -3.0, 2.0])), 3.0)


def test_wh_scale_traces_the_scaled_network_and_leaves_the_model_alone():
    model = CaptioningRNN(make_vocab(V), D, W, H, dtype=np.float64, seed=4)
    original = model.params["Wh"].copy()
    feature, caption = np.linspace(-1, 1, D), np.asarray([1, 5, 6, 7, 2])
    trace = trace_example(model, feature, caption, wh_scale=0.5)
    np.testing.assert_array_equal(model.params["Wh"], original)
    scaled = model.copy()
    scaled.params["Wh"] = 0.5 * original
    loss, grads = scaled.loss(feature[None], caption[None])
    assert trace.forward.loss == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(trace.backward.dWx, grads["Wx"], rtol=1e-10, atol=1e-14)


def test_activation_override():
    model = CaptioningRNN(make_vocab(V), D, W, H, activation="tanh", seed=5)
    trace = trace_example(model, np.ones(D, np.float32), np.asarray([1, 5, 6, 2]), activation="relu")
    assert trace.forward.activation == "relu" and model.activation == "tanh"
    assert np.all(trace.forward.h >= 0)
    np.testing.assert_array_equal(trace.backward.local_derivative, trace.forward.h > 0)


def test_bad_trace_input_names_the_argument():
    model = CaptioningRNN(make_vocab(V), D, W, H, seed=6)
    with pytest.raises(ShapeError, match=r"^caption must have shape \(T \+ 1,\)"):
        trace_example(model, np.ones(D), np.asarray([[1, 2]]))
    with pytest.raises(ShapeError, match="^feature: expected feature size D = 6"):
        trace_example(model, np.ones(D + 1), np.asarray([1, 2]))
    with pytest.raises(VocabularyError, match="^caption contains token id 20"):
        trace_example(model, np.ones(D), np.asarray([1, 20]))
