"""The forward-pass figures and texts show the numbers of the trace they are given."""

import dataclasses
import re

import numpy as np
import pytest

from core.engine.rnn import CaptioningRNN
from core.lab.trace import trace_example
from explainer import code, forward, text
from explainer.colors import GROUND_TRUTH, HIGHLIGHT, MASKED, NEUTRAL, TERM_COLORS
from tests.helpers.plotly_json import decode, figure_json
from tests.helpers.shown_code import define_shown

WORDS = ["<NULL>", "<START>", "<END>", "<UNK>", "a", "red", "blue", "circle", "square", "left"]
WORD_TO_IDX = {w: i for i, w in enumerate(WORDS)}
# <START> a red circle <END> <NULL> <NULL>: T = 6 steps, the last two targets are padding.
CAPTION = np.array([1, 4, 5, 7, 2, 0, 0])


@pytest.fixture(scope="module")
def trace():
    model = CaptioningRNN(WORD_TO_IDX, input_dim=6, wordvec_dim=4, hidden_dim=5, seed=3)
    feature = np.linspace(-1, 1, 6).astype(np.float32)
    return trace_example(model, feature, CAPTION).forward


@pytest.mark.parametrize("t", [1, 3, 6])
def test_equation_figure_holds_every_term_of_step_t(trace, t):
    spec = figure_json(forward.equation_view(trace).at(t))
    heat = spec["data"][0]
    z = decode(heat["z"])
    s = t - 1
    expected = [trace.x[s], trace.wx_x[s], trace.h_prev[s], trace.wh_h[s], trace.b, trace.a[s], trace.h[s]]
    assert z.shape == (7, 5)
    for row, values in zip(z, expected, strict=True):
        np.testing.assert_allclose(row[: values.size], values, rtol=1e-6)
        assert np.all(np.isnan(row[values.size :]))
    # a_t is the sum of the three terms, and h_t = tanh(a_t): the figure shows a consistent step.
    np.testing.assert_allclose(z[5], z[1] + z[3] + z[4], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(z[6], np.tanh(z[5]), rtol=1e-5, atol=1e-6)
    assert heat["texttemplate"] == "%{z:.2f}"  # small sizes: every number printed in its cell
    assert heat["zmid"] == 0 and heat["zmin"] == -heat["zmax"]
    assert TERM_COLORS["wh_h"] in spec["layout"]["yaxis"]["ticktext"][3]
    # Rows are named by role (the same at every step, so a step redraws only numbers): h_t−1 is h_{t-1}.
    assert "h_t−1" in spec["layout"]["yaxis"]["ticktext"][2]
    np.testing.assert_allclose(z[2], trace.h0 if t == 1 else trace.h[t - 2], rtol=1e-6)


def test_equation_figure_at_t0_shows_only_the_image_projection(trace):
    spec = figure_json(forward.equation_view(trace).at(0))
    z = decode(spec["data"][0]["z"])
    assert z.shape == (1, 5)
    np.testing.assert_allclose(z[0], trace.h0, rtol=1e-6)
    assert spec["layout"]["yaxis"]["tickvals"] == ["h_0 = W_proj·feature + b_proj"]
    # The unit axis is the hidden state's, not the 0 … D - 1 of the image feature.
    assert spec["layout"]["xaxis"]["range"] == [-0.5, 4.5]


def test_large_rows_drop_cell_text():
    model = CaptioningRNN(WORD_TO_IDX, input_dim=6, wordvec_dim=4, hidden_dim=40, seed=3)
    wide = trace_example(model, np.ones(6, dtype=np.float32), CAPTION).forward
    assert figure_json(forward.equation_view(wide).at(2))["data"][0].get("texttemplate") is None


def test_unrolled_network_highlights_step_and_greys_masked(trace):
    spec = figure_json(forward.network_view(trace, WORDS).at(4))
    column, ring = spec["layout"]["shapes"]
    assert (column["x0"] + column["x1"]) / 2 == pytest.approx(4) and column["fillcolor"] == HIGHLIGHT
    assert (ring["xanchor"], ring["yanchor"]) == (4, 1) and ring["xsizemode"] == "pixel"
    notes = spec["layout"]["annotations"]
    fed = [a for a in notes if a["y"] == 0]
    targets = [a for a in notes if a["y"] == 2]
    # Plotly reads tags in text: the words' < and > are entities, which it shows as the characters.
    assert [a["text"] for a in fed] == [
        "image",
        "&lt;START&gt;",
        "a",
        "red",
        "circle",
        "&lt;END&gt;",
        "&lt;NULL&gt;",
    ]
    assert [a["text"] for a in targets] == [
        "a",
        "red",
        "circle",
        "&lt;END&gt;",
        "&lt;NULL&gt;",
        "&lt;NULL&gt;",
    ]
    assert [a["font"]["color"] for a in targets][-2:] == [MASKED, MASKED]
    assert MASKED not in [a["font"]["color"] for a in targets][:4]
    # Words are set at an angle: neighbours such as "image" and "<START>" never run together.
    assert all(a["textangle"] == -35 for a in notes)
    hidden = next(d for d in spec["data"] if d["name"] == "hidden state h_t")
    np.testing.assert_allclose(decode(hidden["marker"]["color"])[1:], trace.h.mean(axis=1), rtol=1e-6)
    assert "predicts" in hidden["hovertext"][1] and "masked" in hidden["hovertext"][6]


def test_topk_rows_rank_and_ground_truth(trace):
    t = 2
    rows = forward.topk_rows(trace, WORDS, t, k=3)
    probs = trace.probs[t - 1]
    order = np.argsort(-probs)
    assert [r["word"] for r in rows[:3]] == [WORDS[i] for i in order[:3]]
    np.testing.assert_allclose([r["probability"] for r in rows[:3]], probs[order[:3]], rtol=1e-6)
    target = next(r for r in rows if r["is_target"])
    assert target["word"] == "red"
    assert target["rank"] == int(np.where(order == WORD_TO_IDX["red"])[0][0]) + 1
    assert target["probability"] == pytest.approx(float(probs[WORD_TO_IDX["red"]]))


def test_topk_figure_marks_ground_truth_and_explains_unscored_steps(trace):
    view = forward.topk_view(trace, WORDS, k=len(WORDS))
    spec = figure_json(view.at(2))
    bar = spec["data"][0]
    np.testing.assert_allclose(decode(bar["x"]), np.sort(trace.probs[1])[::-1], rtol=1e-6)
    target_index = [label.split()[0] for label in bar["y"]].index("red")
    colors = bar["marker"]["color"]
    assert colors[target_index] == GROUND_TRUTH
    assert all(c == NEUTRAL for i, c in enumerate(colors) if i != target_index)
    assert "ground truth “red”" in spec["layout"]["title"]["text"]
    assert not spec["layout"].get("annotations")
    assert spec["layout"]["xaxis"]["visible"] and spec["layout"]["yaxis"]["visible"]
    for t, why in ((0, "nothing is predicted yet"), (6, "its target is &lt;NULL&gt;")):
        unscored = figure_json(view.at(t))
        assert len(unscored["data"][0]["x"]) == 0
        assert why in unscored["layout"]["annotations"][0]["text"]
        # the note alone: no empty axes with numbers, and lines short enough for the panel
        assert not unscored["layout"]["xaxis"]["visible"] and not unscored["layout"]["yaxis"]["visible"]
        assert max(len(line) for line in unscored["layout"]["annotations"][0]["text"].split("<br>")) <= 45


def test_probabilities_read_as_numbers_never_si_prefixes():
    assert forward.probability_text(0.0271) == "0.027"
    assert forward.probability_text(1e-5) == "1.0e-05"


def test_a_loss_that_rounds_to_zero_is_never_shown_negative(trace):
    """float32 rounds p to 1 for a word the model is sure of, and −log 1 is −0.0: shown 0.00, not -0.00."""
    sure = dataclasses.replace(trace, step_loss=np.where(trace.mask, np.float32(-0.0), trace.step_loss))
    bars = figure_json(forward.loss_view(sure).at(1))["data"][0]
    assert bars["text"][0] == "0.00" and bars["hovertext"][0] == "t = 1: −log p = 0.000"


def test_loss_figure_bars_are_step_losses_and_null_is_masked(trace):
    spec = figure_json(forward.loss_view(trace).at(3))
    bars, line = spec["data"]
    heights = decode(bars["y"])
    np.testing.assert_allclose(heights[trace.mask], trace.step_loss[trace.mask], rtol=1e-6)
    assert bars["text"][-2:] == ["masked", "masked"]
    assert bars["marker"]["pattern"]["shape"][-1] == "/"
    # Values sit inside their bars where they fit (else above), the step's dotted line behind them.
    assert bars["textposition"] == "auto" and bars["insidetextanchor"] == "start"
    np.testing.assert_allclose(decode(line["y"]), trace.running_loss, rtol=1e-6)
    assert decode(line["y"])[-1] == pytest.approx(trace.loss, rel=1e-6)
    outline, cursor = spec["layout"]["shapes"]
    assert (outline["x0"] + outline["x1"]) / 2 == pytest.approx(3) and cursor["x0"] == 3
    assert cursor["layer"] == "below"
    assert outline["y1"] == pytest.approx(float(trace.step_loss[2]))
    assert "shapes" not in figure_json(forward.loss_view(trace).at(0))["layout"]


def test_step_summary_quotes_the_numbers(trace):
    summary = text.forward_step_summary(trace, WORDS, 2)
    assert "reads `a`" in summary and "ground truth is `red`" in summary
    assert (
        f"**{trace.step_loss[1]:.3f}**" in summary and f"running total {trace.running_loss[1]:.3f}" in summary
    )
    masked = text.forward_step_summary(trace, WORDS, 6)
    assert "masked" in masked and f"{trace.running_loss[5]:.3f}" in masked
    assert "h₀" in text.forward_step_summary(trace, WORDS, 0)


def test_a_mean_h0_that_rounds_to_zero_reads_as_in_the_figure(trace):
    """At t = 0 the sentence and the network's hover give h₀'s mean alike: 0.000 for -0.0004, never -0.000."""
    h0 = np.array([0.3, -0.3, 0.1, -0.1, -0.002], dtype=np.float32)
    near_zero = dataclasses.replace(trace, h0=h0)
    assert round(float(h0.mean()), 4) == -0.0004
    said = text.forward_step_summary(near_zero, WORDS, 0)
    assert "(mean 0.000, ‖h₀‖ = " in said and "-0.000" not in said
    spec = figure_json(forward.network_view(near_zero, WORDS).at(0))
    hovers = [
        h for trace_ in spec["data"] for h in np.atleast_1d(trace_.get("hovertext", [])) if "h_0" in str(h)
    ]
    assert any("mean h_0 = 0.000" in str(h) for h in hovers), hovers


def test_sizes_markdown_counts_parameters_and_memory():
    model = CaptioningRNN(WORD_TO_IDX, input_dim=6, wordvec_dim=4, hidden_dim=5, seed=0)
    md = text.sizes_markdown(model, 16)
    assert "5·(4 + 5 + 1) = **50**" in md
    # Forward keeps N·T·(W + 5H) float32 numbers: 16·(4 + 25)·4 bytes for one caption.
    assert text.human_bytes(16 * 29 * 4) in md
    assert "shared by all 16 steps." in md and "shared by the one step." in text.sizes_markdown(model, 1)


def test_bytes_take_the_unit_they_round_to():
    sizes = (999.4, 999.6, 1856, 999_600, 2.5e9, 1.5e12)
    assert [text.human_bytes(n) for n in sizes] == [
        "999 B",
        "1 kB",
        "1.86 kB",
        "1 MB",
        "2.5 GB",
        "1.5e+03 GB",
    ]


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_forward_code_shown_is_the_code_that_ran(activation):
    """Executing the lines the forward page shows gives the engine's numbers, to the bit."""
    from core.engine import activations, rnn_layers

    loop, f = code.forward_code(activation)
    rng = np.random.default_rng(0)
    args = (rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 5)), rng.standard_normal((3, 5)))
    args += (rng.standard_normal((5, 5)), rng.standard_normal(5))
    shown_h, shown = define_shown(loop, rnn_layers)["rnn_forward"](*args, activation)
    engine_h, engine = rnn_layers.rnn_forward(*args, activation)
    np.testing.assert_array_equal(shown_h, engine_h)
    for name in ("input_term", "carried_term", "a", "h"):
        np.testing.assert_array_equal(getattr(shown, name), getattr(engine, name))
    a = rng.standard_normal(9)
    f_namespace = define_shown(f, activations)
    np.testing.assert_array_equal(f_namespace[activation](a), activations.FUNCTIONS[activation](a))


def test_code_lines_are_coloured_like_the_equation_terms():
    loop, _ = code.forward_code("sigmoid")
    html = code.code_html(loop)
    assert "carried_term[t] = prev_h @ Wh" in html
    for term in ("wx_x", "wh_h", "a", "h"):
        assert f'data-term="{term}" style="color:{TERM_COLORS[term]}' in html
    html = code.equation_html("tanh", 3)
    assert TERM_COLORS["wh_h"] in html and "h<sub>2</sub>" in html and "tanh" in html
    assert "W<sub>proj</sub>" in code.equation_html("tanh", 0)


def test_a_loss_of_zero_reads_as_zero_in_the_sentence():
    """A target of probability 1 in float32 has the loss −log 1 = -0.0: the sentence says 0.000, not -0.000."""
    model = CaptioningRNN(WORD_TO_IDX, input_dim=6, wordvec_dim=4, hidden_dim=5, seed=7)
    model.params["b_vocab"][WORD_TO_IDX["<END>"]] += 20.0
    end = trace_example(model, np.linspace(-2, 2, 6), np.array([1, 4, 5, 7, 2])).forward
    assert str(end.step_loss[3]) == "-0.0"
    said = text.forward_step_summary(end, WORDS, 4)
    assert "so the loss here is −log 1.000 = **0.000**; running total " in said and "-0.000" not in said


def test_the_loss_equation_is_the_arithmetic_of_the_numbers_shown(trace):
    """−log p = loss with p as printed: a probability of 0.001668 is not written 0.002 there (−log 0.002 is
    6.215, not 6.396)."""
    assert forward.probability_of_loss(0.001668, -np.log(0.001668)) == "0.001668"
    assert forward.probability_of_loss(0.25, -np.log(0.25)) == "0.250"  # as the labels write it
    assert forward.probability_of_loss(1.0, 0.0) == "1.000"
    # A target of probability 0.001668 at step 2, the rest of that step's mass spread over the other words.
    probs, step_loss = trace.probs.copy(), trace.step_loss.copy()
    target = int(trace.ids_target[1])
    probs[1] = (1 - 0.001668) / (probs.shape[1] - 1)
    probs[1, target] = 0.001668
    step_loss[1] = -np.log(0.001668)
    unlikely = dataclasses.replace(trace, probs=probs, step_loss=step_loss)
    for t in range(1, trace.num_steps + 1):
        for shown in (trace, unlikely):
            said = text.forward_step_summary(shown, WORDS, t)
            if "−log " in said:
                p, loss = re.search(r"−log ([\d.e+-]+) = \*\*([\d.-]+)\*\*", said).groups()
                assert f"{-np.log(float(p)):.3f}" == loss, said
    assert (
        "(rank 10, p = 0.001668), so the loss here is −log 0.001668 = **6.396**"
        in text.forward_step_summary(unlikely, WORDS, 2)
    )
