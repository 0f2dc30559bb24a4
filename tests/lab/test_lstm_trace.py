"""LSTM traces: the gates and cell states are the model's, the two backward paths (through h, along the cell)
add up to its gradients, the forget gate's bias shift, and the gradient reach compared with the vanilla cell."""

import numpy as np
import pytest

from core.engine.activations import sigmoid
from core.engine.rnn_layers import lstm_step_backward, lstm_step_forward, rnn_step_backward, rnn_step_forward
from core.errors import ActivationError, HyperparameterError
from core.lab.trace import (
    MAX_FORGET_BIAS_SHIFT,
    BackwardTrace,
    ForwardTrace,
    LSTMBackwardTrace,
    LSTMForwardTrace,
    trace_example,
)
from tests.helpers.trace_examples import CAPTION, H, traced_example


@pytest.fixture
def example():
    return traced_example("lstm")


def test_lstm_traces_say_what_they_are(example):
    model, feature, caption = example
    trace = trace_example(model, feature, caption)
    assert isinstance(trace.forward, LSTMForwardTrace) and isinstance(trace.forward, ForwardTrace)
    assert isinstance(trace.backward, LSTMBackwardTrace)
    assert trace.cell_type == trace.forward.cell_type == trace.backward.cell_type == "lstm"
    assert trace.forward.activation == "tanh"
    np.testing.assert_allclose(model.recurrent_forward(feature[None], caption[None])[0][0], trace.forward.h)


def test_forward_trace_gates_and_cell_compose(example):
    model, feature, caption = example
    f = trace_example(model, feature, caption).forward
    p = model.params
    T = caption.size - 1
    assert f.wx_x.shape == f.wh_h.shape == f.a.shape == (T, 4 * H) and f.b.shape == (4 * H,)
    np.testing.assert_allclose(f.x, p["W_embed"][caption[:-1]])
    np.testing.assert_allclose(f.wx_x, f.x @ p["Wx"])
    np.testing.assert_allclose(f.wh_h, f.h_prev @ p["Wh"])
    np.testing.assert_allclose(f.a, f.wx_x + f.wh_h + f.b)
    for k, gate in enumerate((f.i, f.f, f.o)):
        np.testing.assert_allclose(gate, 1 / (1 + np.exp(-f.a[:, k * H : (k + 1) * H])), rtol=1e-12)
    np.testing.assert_allclose(f.g, np.tanh(f.a[:, 3 * H :]), rtol=1e-12)
    np.testing.assert_array_equal(f.c_prev[0], 0)
    np.testing.assert_allclose(f.c_prev[1:], f.c[:-1])
    np.testing.assert_allclose(f.c, f.f * f.c_prev + f.i * f.g, rtol=1e-12)
    np.testing.assert_allclose(f.kept + f.written, f.c, rtol=1e-12)
    np.testing.assert_array_equal(f.kept, f.f * f.c_prev)
    np.testing.assert_allclose(f.tanh_c, np.tanh(f.c), rtol=1e-12)
    np.testing.assert_allclose(f.h, f.o * f.tanh_c, rtol=1e-12)
    np.testing.assert_allclose(f.h_prev[0], feature @ p["W_proj"] + p["b_proj"])
    np.testing.assert_allclose(f.h_prev[1:], f.h[:-1])


def test_backward_flows_along_the_cell(example):
    model, feature, caption = example
    trace = trace_example(model, feature, caption)
    f, b = trace.forward, trace.backward
    np.testing.assert_allclose(b.dc, b.dc_carried + b.dc_from_h, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(b.dc_from_h, b.dh_total * f.o * (1 - f.tanh_c**2), rtol=1e-12)
    # along the cell, step t+1 sends back what its forget gate lets through: dc_{t+1} f_{t+1}
    np.testing.assert_allclose(b.dc_carried[:-1], b.dc[1:] * f.f[1:], rtol=1e-12)
    np.testing.assert_array_equal(b.dc_carried[-1], 0)
    # each gate's pre-activation gradient
    da = b.gate_gradients()
    np.testing.assert_allclose(da["i"], b.dc * f.g * f.i * (1 - f.i), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(da["f"], b.dc * f.c_prev * f.f * (1 - f.f), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(da["o"], b.dh_total * f.tanh_c * f.o * (1 - f.o), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(da["g"], b.dc * f.i * (1 - f.g**2), rtol=1e-10, atol=1e-15)
    np.testing.assert_array_equal(da["f"][0], 0)  # c0 = 0: the first forget gate has nothing to forget


def test_norms_and_survival_count_both_paths(example):
    model, feature, caption = example
    b = trace_example(model, feature, caption).backward
    norms = b.norms()
    assert set(norms) == {"from_loss", "carried", "total", "cell_carried", "cell_from_h", "cell"}
    np.testing.assert_allclose(norms["cell"], np.linalg.norm(b.dc, axis=1))
    survival = b.survival()
    receives = np.hypot(norms["total"], norms["cell_carried"])
    sends = np.hypot(
        np.concatenate([[np.linalg.norm(b.dh0)], norms["carried"][:-1]]),
        np.concatenate([[0.0], norms["cell_carried"][:-1]]),
    )
    flowing = receives > 0
    np.testing.assert_array_equal(flowing, [True] * 5 + [False] * 2)  # nothing flows after <END>
    np.testing.assert_allclose(survival[flowing], sends[flowing] / receives[flowing])
    assert np.all(np.isnan(survival[~flowing]))  # no gradient, no ratio


def test_forget_bias_shift_traces_the_shifted_gate_and_leaves_the_model_alone(example):
    model, feature, caption = example
    original = model.params["b"].copy()
    trace = trace_example(model, feature, caption, forget_bias_shift=2.5)
    np.testing.assert_array_equal(model.params["b"], original)
    assert trace.forget_bias_shift == 2.5
    shifted = model.copy()
    shifted.params["b"][H : 2 * H] += 2.5
    loss, grads = shifted.loss(feature[None], caption[None])
    assert trace.forward.loss == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(trace.forward.b[H : 2 * H], original[H : 2 * H] + 2.5)
    np.testing.assert_allclose(trace.forward.b[:H], original[:H])
    np.testing.assert_allclose(trace.backward.dWh, grads["Wh"], rtol=1e-10, atol=1e-14)
    assert trace.forward.f.mean() > trace_example(model, feature, caption).forward.f.mean()


def test_a_shut_forget_gate_carries_nothing_along_the_cell_and_an_open_one_everything(example):
    model, feature, caption = example
    shut = trace_example(model, feature, caption, forget_bias_shift=-MAX_FORGET_BIAS_SHIFT)
    assert shut.forward.f.max() < 1e-6
    assert np.abs(shut.backward.dc_carried).max() < 1e-6 * np.abs(shut.backward.dc).max()
    assert shut.reach.c.max() < 1e-6 * shut.reach.state.max()
    opened = trace_example(model, feature, caption, forget_bias_shift=MAX_FORGET_BIAS_SHIFT)
    assert opened.forward.f.min() > 1 - 1e-6
    np.testing.assert_allclose(opened.backward.dc_carried[:-1], opened.backward.dc[1:], rtol=1e-6)
    # with the cell carrying everything back, more of the last word's gradient reaches the first step
    assert opened.reach.first_step > shut.reach.first_step


def reach_by_stepping(model, feature, caption):
    """||dL_last / d state_t|| by the step functions, run forward then back from the last scored word only:
    an independent computation of GradientReach.state."""
    p = model.params
    h = feature @ p["W_proj"] + p["b_proj"]
    c = np.zeros_like(h)[None]
    h = h[None]
    steps = []
    for word in caption[:-1]:
        x = p["W_embed"][[word]]
        if model.cell_type == "lstm":
            h, c, cache = lstm_step_forward(x, h, c, p["Wx"], p["Wh"], p["b"])
        else:
            h, cache = rnn_step_forward(x, h, p["Wx"], p["Wh"], p["b"], model.activation)
        steps.append((h, cache))
    source = int(np.flatnonzero(caption[1:] != 0)[-1])
    h_source = steps[source][0]
    scores = h_source @ p["W_vocab"] + p["b_vocab"]
    probs = np.exp(scores - scores.max())
    probs /= probs.sum()
    probs[0, caption[source + 1]] -= 1
    dh, dc = probs @ p["W_vocab"].T, np.zeros((1, H))
    norms = np.zeros(caption.size - 1)
    for t in range(source, -1, -1):
        norms[t] = np.hypot(np.linalg.norm(dh), np.linalg.norm(dc))
        if model.cell_type == "lstm":
            _, dh, dc, *_ = lstm_step_backward(dh, dc, steps[t][1])
        else:
            _, dh, *_ = rnn_step_backward(dh, steps[t][1])
    return source, norms


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_gradient_reach_is_the_last_words_gradient_at_every_earlier_step(cell_type):
    model, feature, _ = traced_example(cell_type)
    reach = trace_example(model, feature, CAPTION).reach
    source, expected = reach_by_stepping(model, feature, CAPTION)
    assert reach.source == source == 4
    np.testing.assert_allclose(reach.state, expected, rtol=1e-10, atol=1e-15)
    assert reach.relative[source] == 1.0
    np.testing.assert_array_equal(reach.relative[source + 1 :], 0)
    np.testing.assert_allclose(reach.relative, expected / expected[source])
    assert (reach.c is None) == (cell_type == "rnn")
    if cell_type == "lstm":
        np.testing.assert_allclose(reach.state, np.hypot(reach.h, reach.c))
        assert reach.c[source] == 0  # the cell state of the source step is handed to no later loss


def test_lstm_and_vanilla_traces_of_one_example_compare(example):
    """The pieces the backprop page puts side by side: the same per-step measure for both cells."""
    lstm, feature, caption = example
    vanilla, _, _ = traced_example("rnn")
    lstm_trace, vanilla_trace = (
        trace_example(lstm, feature, caption),
        trace_example(vanilla, feature, caption),
    )
    assert isinstance(vanilla_trace.backward, BackwardTrace) and vanilla_trace.cell_type == "rnn"
    assert vanilla_trace.spectral_radius is not None and lstm_trace.spectral_radius is None
    for trace in (lstm_trace, vanilla_trace):
        assert trace.reach.state.shape == (caption.size - 1,)
        assert 0 < trace.reach.first_step < np.inf
        for key in ("from_loss", "carried", "total"):
            assert trace.backward.norms()[key].shape == (caption.size - 1,)


def test_bad_trace_arguments_name_the_argument(example):
    model, feature, caption = example
    vanilla, _, _ = traced_example("rnn")
    with pytest.raises(HyperparameterError, match="^forget_bias_shift=1.0: only the LSTM has a forget gate"):
        trace_example(vanilla, feature, caption, forget_bias_shift=1.0)
    with pytest.raises(
        HyperparameterError, match="^forget_bias_shift must be a number from -20 to 20, got 50"
    ):
        trace_example(model, feature, caption, forget_bias_shift=50)
    with pytest.raises(ActivationError, match="does not apply to cell_type='lstm'"):
        trace_example(model, feature, caption, activation="relu")
    assert trace_example(vanilla, feature, caption, forget_bias_shift=0.0).forget_bias_shift == 0.0


def test_sigmoid_of_the_traced_gates_is_the_engines(example):
    model, feature, caption = example
    f = trace_example(model, feature, caption).forward
    np.testing.assert_array_equal(f.i, sigmoid(f.a[:, :H]))
