"""The backprop figures and texts show the gradients of the trace they are given."""

import dataclasses

import numpy as np
import pytest

from core.engine.rnn import CaptioningRNN
from core.lab.trace import trace_example
from explainer import backward, code, text
from explainer.colors import HIGHLIGHT, TERM_COLORS
from tests.helpers.plotly_json import decode, figure_json
from tests.helpers.shown_code import define_shown

WORD_TO_IDX = {w: i for i, w in enumerate(["<NULL>", "<START>", "<END>", "a", "red", "circle", "left"])}
CAPTION = np.array([1, 3, 4, 5, 2, 0])  # T = 5, the last target is <NULL>
MASK = CAPTION[1:] != 0


def make_trace_of(caption, wh_scale=1.0, activation="tanh"):
    model = CaptioningRNN(WORD_TO_IDX, input_dim=6, wordvec_dim=4, hidden_dim=5, seed=7)
    return trace_example(model, np.linspace(-2, 2, 6), caption, wh_scale=wh_scale, activation=activation)


def make_trace(wh_scale=1.0, activation="tanh"):
    return make_trace_of(CAPTION, wh_scale, activation)


@pytest.fixture(scope="module")
def bwd():
    return make_trace().backward


def test_gradient_heatmap_rows_are_dh0_then_dh_total(bwd):
    spec = figure_json(backward.gradient_view(bwd, MASK).at(2))
    z = decode(spec["data"][0]["z"])
    assert z.shape == (6, 5)
    np.testing.assert_allclose(z[0], bwd.dh0, rtol=1e-6)
    np.testing.assert_allclose(z[1:], bwd.dh_from_loss + bwd.dh_carried, rtol=1e-5, atol=1e-8)
    rect = spec["layout"]["shapes"][0]
    assert (rect["y0"], rect["y1"]) == (1.5, 2.5) and rect["line"]["color"] == HIGHLIGHT
    assert spec["data"][0]["zmid"] == 0


def test_norms_split_into_loss_and_carried(bwd):
    spec = figure_json(backward.norms_view(bwd, log_scale=False).at(4))
    lines = {d["name"]: decode(d["y"]) for d in spec["data"]}
    total = lines["total ||dL/dh_t||"]
    np.testing.assert_allclose(total[1:], np.linalg.norm(bwd.dh_total, axis=1), rtol=1e-6)
    np.testing.assert_allclose(
        lines["from the loss at t"][1:], np.linalg.norm(bwd.dh_from_loss, axis=1), rtol=1e-6
    )
    np.testing.assert_allclose(
        lines["carried back from t + 1"][1:], np.linalg.norm(bwd.dh_carried, axis=1), rtol=1e-6
    )
    assert total[0] == pytest.approx(np.linalg.norm(bwd.dh0), rel=1e-6)
    assert lines["carried back from t + 1"][-1] == 0  # nothing comes from beyond the last step
    assert spec["layout"]["shapes"][0]["x0"] == 4
    assert spec["layout"]["yaxis"]["type"] == "linear"
    log_axis = figure_json(backward.norms_view(bwd).at(4))["layout"]["yaxis"]
    assert log_axis["type"] == "log" and log_axis["tickvals"]


def test_local_derivative_is_one_minus_h_squared_for_tanh():
    trace = make_trace()
    spec = figure_json(backward.local_derivative_view(trace.backward, "tanh", MASK).at(3))
    z = decode(spec["data"][0]["z"])
    # the scored steps; those after the caption's end are blank, as in the gradient's heatmap
    assert (~MASK).any() and np.isnan(z[~MASK]).all()
    np.testing.assert_allclose(z[MASK], (1 - trace.forward.h**2)[MASK], rtol=1e-5)
    assert "1 − h²" in spec["layout"]["title"]["text"]
    rect = spec["layout"]["shapes"][0]
    assert (rect["y0"] + rect["y1"]) / 2 == 3


def test_survival_bars_and_their_meaning():
    for scale in (0.2, 3.0):
        bwd = make_trace(wh_scale=scale).backward
        spec = figure_json(backward.survival_view(bwd).at(2))
        np.testing.assert_allclose(decode(spec["data"][0]["y"]), bwd.survival(), rtol=1e-6)
        one, column = spec["layout"]["shapes"]
        assert one["y0"] == one["y1"] == 1 and (column["x0"] + column["x1"]) / 2 == pytest.approx(2)
    # A small Wh lets little gradient through; a large one (with tanh units not saturated) lets more.
    assert np.nanmean(make_trace(0.2).backward.survival()) < np.nanmean(make_trace(3.0).backward.survival())


def test_a_share_that_is_not_zero_is_never_shown_as_zero():
    """With Wh scaled by 0.01 under 1 % of the gradient survives each step: the bars and the sentence give
    each share in scientific notation ("8.2e-04", not "0.00"), and what they show reads back as the share."""
    trace = make_trace(wh_scale=0.01)
    share = trace.backward.survival()
    scored = np.isfinite(share)
    assert 0 < np.nanmin(share) and np.nanmax(share) < 0.01
    labels = figure_json(backward.survival_view(trace.backward).at(2))["data"][0]["text"]
    for label, value in zip(np.array(labels)[scored], share[scored], strict=True):
        assert "e-" in label and float(label) == pytest.approx(value, rel=0.05)
    summary = text.backward_step_summary(trace.backward, MASK, 2)
    assert f"**{backward.share_text(share[1])}×** of it reaches h_1" in summary
    assert [backward.share_text(v) for v in (0.0, 0.0082, 0.5, 12.345, 45678.9)] == [
        "0.00",
        "8.2e-03",
        "0.50",
        "12.35",
        "4.6e+04",
    ]


def test_a_zero_gradient_at_h0_is_not_said_to_arrive():
    """Every unit of h_1 saturated (f'(a_1) = 0 in float32) stops the gradient: t = 0 says nothing arrives."""
    bwd = make_trace().backward
    stopped = dataclasses.replace(bwd, dh0=np.zeros_like(bwd.dh0))
    summary = text.backward_step_summary(stopped, MASK, 0)
    assert "‖dL/dh₀‖ = 0: nothing of what the losses at t = 1 … 4 sent back gets past step 1" in summary
    assert "all of it" not in summary and "this is what trains W_proj" not in summary
    assert "all of it carried back from t = 1" in text.backward_step_summary(bwd, MASK, 0)


def test_no_ratio_is_drawn_where_no_gradient_arrives():
    """After the caption's end (a <NULL> target) no gradient reaches h_t: 0/0 is no bar, not a "0.00"."""
    trace = make_trace_of(np.array([1, 3, 2, 0, 0, 0]))
    share = trace.backward.survival()
    assert np.all(np.isnan(share[2:])) and np.all(np.isfinite(share[:2]))
    bars = figure_json(backward.survival_view(trace.backward).at(4))["data"][0]
    assert bars["text"][2:] == ["no gradient"] * 3
    assert backward.last_scored_step(trace.forward.mask) == 2
    summary = text.backward_step_summary(trace.backward, trace.forward.mask, 4)
    assert "masked" in summary and "t = 2" in summary and "0.00×" not in summary


def test_sentences_count_the_scored_steps_not_the_padded_ones():
    """A caption that ends at t = 2 of 5: its gradient travels back 2 steps, and only 2 steps add to dWh."""
    trace = make_trace_of(np.array([1, 3, 2, 0, 0, 0]))
    bwd, mask = trace.backward, trace.forward.mask
    # No loss scores h_0: all of its gradient is what step 1 sends back, from the losses at t = 1 and 2.
    norms = backward.norms_by_step(bwd)
    assert norms["from_loss"][0] == 0 and norms["carried"][0] == norms["total"][0] > 0
    assert (
        "all of it carried back from t = 1: no loss scores h₀, so it is what the losses at t = 1 … 2 sent back"
        in text.backward_step_summary(bwd, mask, 0)
    )
    said = text.contribution_markdown(bwd, mask, "Wh", 1)
    assert said.startswith("Steps 2 … 1 added so far: 2 of 2 scored steps; steps 3 … 5 add nothing.")
    assert text.contribution_markdown(bwd, mask, "Wh", 4).startswith("Step 4 is after the caption's end")
    assert text.contribution_markdown(bwd, mask, "Wh", 2).startswith(
        "Step 2 added so far: 1 of 2 scored steps"
    )
    # At the last scored step nothing is carried back: all of ‖dL/dh‖ comes from the loss there.
    assert norms["carried"][2] == 0 and norms["total"][2] == pytest.approx(norms["from_loss"][2])
    last = text.backward_step_summary(bwd, mask, 2)
    assert "all of it from the loss at this step (nothing is carried back: no later step is scored)" in last
    assert "sum of two vectors" not in last
    # One padded step after the caption's end is one step.
    padded_once = make_trace_of(np.array([1, 3, 4, 5, 2, 0]))
    said = text.contribution_markdown(padded_once.backward, padded_once.forward.mask, "Wh", 1)
    assert said.startswith(
        "Steps 4 … 1 added so far: 4 of 4 scored steps; step 5 adds nothing. Summing all 5"
    )
    # and the steps said to add nothing do add nothing
    assert not bwd.dWh_steps[2:].any() and bwd.dWh_steps[:2].any()


@pytest.mark.parametrize("param", ["Wh", "Wx"])
def test_contributions_sum_to_the_total(bwd, param):
    T = bwd.dWh_steps.shape[0]
    last = backward.contributions(bwd, T, param)
    np.testing.assert_allclose(last["so_far"], last["step"], rtol=1e-6)
    first = backward.contributions(bwd, 1, param)
    np.testing.assert_allclose(first["so_far"], first["total"], rtol=1e-5, atol=1e-7)
    spec = figure_json(backward.contributions_view(bwd, param).at(3))
    z_step, z_sum, z_total = (decode(d["z"]) for d in spec["data"])
    steps = bwd.dWh_steps if param == "Wh" else bwd.dWx_steps
    np.testing.assert_allclose(z_step, steps[2], rtol=1e-6)
    np.testing.assert_allclose(z_sum, steps[2:].sum(axis=0), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(z_total, bwd.dWh if param == "Wh" else bwd.dWx, rtol=1e-6)
    assert text.contribution_check(bwd, param) < 1e-5


def test_large_matrices_are_cropped():
    model = CaptioningRNN(WORD_TO_IDX, input_dim=6, wordvec_dim=4, hidden_dim=40, seed=0)
    bwd = trace_example(model, np.ones(6), CAPTION).backward
    spec = figure_json(backward.contributions_view(bwd, "Wh").at(2))
    assert decode(spec["data"][0]["z"]).shape == (backward.MAX_MATRIX_UNITS, backward.MAX_MATRIX_UNITS)
    titles = [a["text"] for a in spec["layout"]["annotations"]]
    assert all("first 32×32" in title for title in titles), titles
    # At t = 0 (the image projection, no step of Wh) the first panel says which step it shows, and why.
    at_zero = figure_json(backward.contributions_view(bwd, "Wh").at(0))["layout"]["annotations"][0]["text"]
    assert at_zero.startswith("step t = 1 (t = 0 adds nothing)")


def test_contribution_norms_highlight_current_step(bwd):
    spec = figure_json(backward.contribution_norms_view(bwd).at(2))
    dwh = spec["data"][0]
    np.testing.assert_allclose(
        decode(dwh["y"]), np.linalg.norm(bwd.dWh_steps.reshape(5, -1), axis=1), rtol=1e-6
    )
    (column,) = spec["layout"]["shapes"]
    assert (column["x0"] + column["x1"]) / 2 == pytest.approx(2)


def test_texts_quote_the_gradients(bwd):
    summary = text.backward_step_summary(bwd, MASK, 2)
    norms = backward.norms_by_step(bwd)
    assert f"{norms['total'][2]:.3e}" in summary and f"{backward.share_text(bwd.survival()[1])}×" in summary
    # The two parts are vectors: their lengths bound the total's (triangle inequality), they do not add up to it.
    assert "the length of the sum of two vectors" in summary and " plus " not in summary
    assert abs(norms["from_loss"][2] - norms["carried"][2]) <= norms["total"][2] * (1 + 1e-6)
    assert norms["total"][2] <= (norms["from_loss"][2] + norms["carried"][2]) * (1 + 1e-6)
    assert "no later step is scored" in text.backward_step_summary(bwd, MASK, 4)
    full = make_trace_of(np.array([1, 3, 4, 5, 2]))
    assert "it is the last step" in text.backward_step_summary(full.backward, full.forward.mask, 4)
    assert "vanish" in text.spectral_markdown(0.3, 0.3, "tanh")
    assert "explode" in text.spectral_markdown(2.5, 2.0, "tanh")
    # sigmoid's derivative is at most 1/4, so the same radius vanishes for it.
    assert "vanish" in text.spectral_markdown(2.5, 2.0, "sigmoid")
    # The product is that of the numbers printed: ρ = 0.975 (0.974996) with f' ≤ 1 is 0.975, not 0.97.
    said = text.spectral_markdown(0.974996, 1.0, "tanh")
    assert "**0.975**" in said and "ρ·max f' = 0.975 " in said
    assert "ρ·max f' = 0.24375 " in text.spectral_markdown(0.974996, 1.0, "sigmoid")


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_backward_code_shown_is_the_code_that_ran(activation):
    """Executing the lines the backprop page shows gives the engine's gradients, to the bit."""
    from core.engine import activations, rnn_layers

    loop, derivative = code.backward_code(activation)
    shown = define_shown(loop, rnn_layers)["rnn_backward"]
    rng = np.random.default_rng(1)
    x, h0 = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 5))
    Wx, Wh, b = rng.standard_normal((3, 5)), rng.standard_normal((5, 5)), rng.standard_normal(5)
    _, cache = rnn_layers.rnn_forward(x, h0, Wx, Wh, b, activation)
    dh = rng.standard_normal((2, 4, 5))
    for mine, engine in zip(shown(dh, cache), rnn_layers.rnn_backward(dh, cache), strict=True):
        np.testing.assert_array_equal(mine, engine)
    f_prime = define_shown(derivative, activations)[activations.DERIVATIVES[activation].__name__]
    h = rng.random(9)
    np.testing.assert_array_equal(f_prime(h), activations.DERIVATIVES[activation](h))
    html = code.code_html(loop, active="da")
    assert f"background:{TERM_COLORS['da']}22" in html
    for term in ("da", "carried", "grad_w"):
        assert f'data-term="{term}"' in html


def test_a_scored_step_that_gets_no_gradient_is_not_called_masked():
    """With <END> certain at the last step (p = 1 in float32) its loss sends back exactly 0: the step is scored,
    not masked, and the sentence says so."""
    model = CaptioningRNN(WORD_TO_IDX, input_dim=6, wordvec_dim=4, hidden_dim=5, seed=7)
    model.params["b_vocab"][WORD_TO_IDX["<END>"]] += 200.0
    trace = trace_example(model, np.linspace(-2, 2, 6), np.array([1, 3, 4, 5, 2]))
    bwd, mask = trace.backward, trace.forward.mask
    assert mask.all() and backward.norms_by_step(bwd)["total"][4] == 0
    said = text.backward_step_summary(bwd, mask, 4)
    assert said == (
        "**t = 4:** ‖dL/dh_4‖ = 0: the loss at this step, the last, sends no gradient to h_4, so nothing goes "
        "on to h_3."
    )


def test_why_nothing_is_carried_back_follows_the_gradients():
    """A ReLU cell whose units at step t + 1 are all off carries nothing back to step t, although later steps
    are scored: the sentence names f'(a_{t+1}), not "no later step is scored"."""
    words = {w: i for i, w in enumerate(["<NULL>", "<START>", "<END>", "a", "red", "circle", "left"])}
    model = CaptioningRNN(words, input_dim=6, wordvec_dim=4, hidden_dim=3, seed=3)
    trace = trace_example(model, np.linspace(-2, 2, 6), np.array([1, 3, 4, 5, 6, 2]), activation="relu")
    bwd, mask = trace.backward, trace.forward.mask
    norms = backward.norms_by_step(bwd)
    assert mask.all() and norms["carried"][1] == 0 and norms["total"][1] > 0
    assert not bwd.local_derivative[1].any()  # every unit of h_2 off: f'(a_2) = 0
    said = text.backward_step_summary(bwd, mask, 1)
    assert "(nothing is carried back: dL/da_2 = f'(a_2) ⊙ dL/dh_2 is 0 in every unit)" in said
    assert "no later step is scored" not in said and "masked" not in said
