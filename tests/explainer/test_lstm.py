"""The LSTM's views, texts and code on screen show the numbers and the source of the trace they are given."""

import numpy as np
import pytest

from core.lab.trace import trace_example
from explainer import backward, code, forward, lstm, text
from explainer.colors import HIGHLIGHT, TERM_COLORS
from tests.helpers.plotly_json import decode, figure_json
from tests.helpers.shown_code import define_shown
from tests.helpers.trace_examples import CAPTION, H, traced_example
from tests.helpers.vocab import make_vocab

WORDS = list(make_vocab(20))


@pytest.fixture(scope="module")
def traced():
    model, feature, caption = traced_example("lstm")
    return trace_example(model, feature, caption)


@pytest.mark.parametrize("t", [1, 3, 5])
def test_equation_rows_are_the_step_of_the_trace(traced, t):
    f = traced.forward
    spec = figure_json(forward.equation_view(f, lstm.equation_rows).at(t))
    z = decode(spec["data"][0]["z"])
    s = t - 1
    expected = [f.x[s], f.h_prev[s], f.c_prev[s], f.i[s], f.f[s], f.o[s], f.g[s], f.kept[s], f.written[s]]
    expected += [f.c[s], f.h[s]]
    assert z.shape == (11, max(H, f.x.shape[1]))
    for row, values in zip(z, expected, strict=True):
        np.testing.assert_allclose(row[: values.size], values, rtol=1e-6)
    # The step is consistent on screen: c_t = kept + written, h_t = o ⊙ tanh(c_t).
    np.testing.assert_allclose(z[9, :H], z[7, :H] + z[8, :H], rtol=1e-5)
    np.testing.assert_allclose(z[10, :H], z[5, :H] * np.tanh(z[9, :H]), rtol=1e-5)
    labels = spec["layout"]["yaxis"]["ticktext"]
    assert "forget gate" in labels[4] and TERM_COLORS["gates"] in labels[4] and TERM_COLORS["c"] in labels[9]
    assert figure_json(forward.equation_view(f, lstm.equation_rows).at(0))["layout"]["yaxis"]["tickvals"] == [
        "h_0 = W_proj·feature + b_proj"
    ]


def test_forget_view_is_the_forget_gate_with_the_step_outlined(traced):
    mask = traced.forward.mask
    spec = figure_json(lstm.forget_view(traced.forward, mask).at(4))
    z = decode(spec["data"][0]["z"])
    np.testing.assert_allclose(z[mask], traced.forward.f[mask], rtol=1e-6)
    assert np.isnan(z[~mask]).all()  # no gradient passes after the caption's end: blank
    (outline,) = spec["layout"]["shapes"]
    assert (outline["y0"] + outline["y1"]) / 2 == 4 and outline["line"]["color"] == HIGHLIGHT


def test_reach_view_and_text_compare_the_cells_on_one_example(traced):
    model, feature, caption = traced_example("rnn")
    vanilla = trace_example(model, feature, caption)
    spec = figure_json(lstm.reach_view(traced.reach, vanilla.reach).at(2))
    lines = {trace["name"]: decode(trace["y"]) for trace in spec["data"]}
    source = traced.reach.source
    np.testing.assert_allclose(lines["LSTM (h and c)"], traced.reach.relative[: source + 1], rtol=1e-6)
    np.testing.assert_allclose(lines["vanilla RNN (h)"], vanilla.reach.relative[: source + 1], rtol=1e-6)
    assert spec["layout"]["shapes"][0]["x0"] == 2
    said = text.reach_markdown(traced.reach, vanilla.reach)
    assert f"**{traced.reach.first_step:.2e}**" in said and f"**{vanilla.reach.first_step:.2e}**" in said


@pytest.mark.parametrize(
    ("lstm_share", "rnn_share", "verdict"),
    [
        (0.2, 0.001, "the LSTM carries 200× as much back"),
        (1e-2, 1e-7, "the LSTM carries 1.0e+05× as much back"),
        (0.001, 0.2, "the vanilla cell carries 200× as much back"),
        (0.3, 0.0, "only the LSTM carries any back"),
        (0.5, 0.5, "both carry the same share back"),
        (0.0, 0.0, "neither carries any back"),
        # A 6% difference is not "1×": small ratios keep a decimal, and within 5% they are called the same.
        (0.341, 0.360, "the vanilla cell carries 1.1× as much back"),
        (0.35, 0.36, "both carry about the same share back (within 5%)"),
        (0.2, 0.05, "the LSTM carries 4.0× as much back"),
        # Printed 1.11e-01 and 2.39e-04: their ratio is 464×, not that of the unrounded values (466×).
        (0.11147, 0.00023903, "the LSTM carries 464× as much back"),
    ],
)
def test_the_reach_verdict_follows_from_its_numbers(traced, lstm_share, rnn_share, verdict):
    def reach(first):
        return type(traced.reach)(0, np.ones(3), None, np.ones(3), np.array([first, 0.5, 1.0]))

    assert text.reach_markdown(reach(lstm_share), reach(rnn_share)).endswith(verdict + ".")


def test_step_summaries_quote_the_gates_and_the_cell(traced):
    f, b = traced.forward, traced.backward
    said = text.forward_step_summary(f, WORDS, 3)
    assert f"forget f = {f.f[2].mean():.2f}" in said and f"‖c₃‖ = {np.linalg.norm(f.c[2]):.3f}" in said
    assert f"keeps f ⊙ c₂ (‖·‖ = {np.linalg.norm(f.kept[2]):.3f})" in said
    assert "). The cell state starts at c₀ = 0." in text.forward_step_summary(f, WORDS, 0)
    back = text.backward_step_summary(b, f.mask, 3)
    norms = backward.norms_by_step(b)
    assert f"‖dL/dc_3‖ = {np.linalg.norm(b.dc[2]):.3e}" in back and f"{norms['cell'][3]:.3e} from c_4" in back
    assert f"**{b.survival()[2]:.2f}×**" in back
    assert "masked" in text.backward_step_summary(b, f.mask, len(CAPTION) - 1)
    np.testing.assert_allclose(norms["cell"][1:], np.linalg.norm(b.dc_carried, axis=1), rtol=1e-6)


def test_forget_text_and_sizes_state_the_numbers(traced):
    f = traced.forward
    said = text.forget_markdown(f, 2.5)
    assert f"mean f = **{f.f[f.mask].mean():.2f}**" in said and "shifted by +2.5" in said
    model, _, _ = traced_example("lstm")
    sizes = text.sizes_markdown(model, 7)
    W = model.wordvec_dim
    assert f"4·{H}·({W} + {H} + 1) = **{4 * H * (W + H + 1):,}**" in sizes and "four times" in sizes


def test_lstm_code_shown_is_the_code_that_ran():
    """Executing the lines the pages show for the LSTM gives the engine's numbers, to the bit."""
    from core.engine import activations, rnn_layers

    loop, nonlinearities = code.lstm_forward_code()
    rng = np.random.default_rng(3)
    x, h0 = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 5))
    Wx, Wh, b = rng.standard_normal((3, 20)), rng.standard_normal((5, 20)), rng.standard_normal(20)
    shown_h, shown = define_shown(loop, rnn_layers)["lstm_forward"](x, h0, Wx, Wh, b)
    engine_h, engine = rnn_layers.lstm_forward(x, h0, Wx, Wh, b)
    np.testing.assert_array_equal(shown_h, engine_h)
    np.testing.assert_array_equal(shown.c, engine.c)
    shown_f = define_shown(nonlinearities, activations)
    a = rng.standard_normal(9)
    np.testing.assert_array_equal(shown_f["sigmoid"](a), activations.sigmoid(a))
    np.testing.assert_array_equal(shown_f["tanh"](a), activations.tanh(a))
    loop, derivatives = code.lstm_backward_code()
    dh = rng.standard_normal((2, 4, 5))
    for mine, theirs in zip(
        define_shown(loop, rnn_layers)["lstm_backward"](dh, engine),
        rnn_layers.lstm_backward(dh, engine),
        strict=True,
    ):
        np.testing.assert_array_equal(mine, theirs)
    shown_d = define_shown(derivatives, activations)
    np.testing.assert_array_equal(shown_d["sigmoid_derivative"](a), activations.sigmoid_derivative(a))
    np.testing.assert_array_equal(shown_d["tanh_derivative"](a), activations.tanh_derivative(a))
    html = code.code_html(loop)
    for term in ("c", "da", "carried", "grad_w"):
        assert f'data-term="{term}"' in html
    equation = code.lstm_equation_html(3)
    assert "c<sub>2</sub>" in equation and "f<sub>3</sub>" in equation and TERM_COLORS["gates"] in equation
    assert "c<sub>0</sub></span> = 0" in code.lstm_equation_html(0)


def test_a_last_word_that_sends_nothing_back_has_no_share_to_compare(traced):
    """With <END> certain (p = 1 to the last bit) the last word's loss is 0 and sends no gradient back: no share
    reaches anything (core gives NaN, not the 0/0 = 0 that read "only the vanilla cell carries any back")."""
    model, feature, caption = traced_example("lstm")
    model.params["b_vocab"][model.word_to_idx["<END>"]] += 1000.0
    silent = trace_example(model, feature, caption)
    assert silent.reach.state[silent.reach.source] == 0 and np.isnan(silent.reach.relative).all()
    vanilla = trace_example(*traced_example("rnn"))
    said = text.reach_markdown(silent.reach, vanilla.reach)
    assert said.startswith(
        "The last scored word's loss sends no gradient back in the LSTM traced on this example"
    )
    assert "carries" not in said
    spec = figure_json(lstm.reach_view(silent.reach, vanilla.reach).at(1))
    assert np.isnan(decode(spec["data"][0]["y"])).all()
