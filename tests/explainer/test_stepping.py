"""A stepped view sends each step once: what the browser merges from its payload is the figure of that step."""

import numpy as np
import plotly.graph_objects as go
import pytest

from core.engine.rnn import CaptioningRNN
from core.lab.trace import trace_example
from explainer import backward, forward
from explainer.stepping import Stepped, encode
from tests.helpers.plotly_json import decode, figure_json, stepped_figure

WORDS = ["<NULL>", "<START>", "<END>", "a", "red", "circle"]
CAPTION = np.array([1, 3, 4, 5, 2, 0])


def assert_same(sent, expected, where="figure"):
    """Equal JSON, numbers compared to float32 precision (the payload sends float32 typed arrays)."""
    if isinstance(sent, dict) and "bdata" in sent or isinstance(expected, dict) and "bdata" in expected:
        np.testing.assert_allclose(
            decode(sent).astype(float), decode(expected).astype(float), rtol=1e-6, err_msg=where
        )
    elif isinstance(expected, dict):
        # Plotly leaves an empty list (no shapes) out of its JSON: absent and [] draw the same.
        sent = {key: value for key, value in sent.items() if value != []}
        expected = {key: value for key, value in expected.items() if value != []}
        assert set(sent) == set(expected), where
        for key in expected:
            assert_same(sent[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(sent, list) and len(sent) == len(expected), where
        for i, (a, b) in enumerate(zip(sent, expected, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(expected, float):
        assert sent == pytest.approx(expected, rel=1e-6), where
    else:
        assert sent == expected, where


def views():
    model = CaptioningRNN(
        {w: i for i, w in enumerate(WORDS)}, input_dim=4, wordvec_dim=3, hidden_dim=5, seed=2
    )
    trace = trace_example(model, np.linspace(-1, 1, 4), CAPTION)
    fwd, bwd, mask = trace.forward, trace.backward, trace.forward.mask
    return {
        "network": forward.network_view(fwd, WORDS),
        "equation": forward.equation_view(fwd),
        "topk": forward.topk_view(fwd, WORDS),
        "loss": forward.loss_view(fwd),
        "dh": backward.gradient_view(bwd, mask),
        "norms": backward.norms_view(bwd),
        "fprime": backward.local_derivative_view(bwd, "tanh", mask),
        "survival": backward.survival_view(bwd),
        "contrib": backward.contributions_view(bwd, "Wh"),
        "contrib_norms": backward.contribution_norms_view(bwd),
    }


@pytest.mark.parametrize("name", list(views()))
def test_every_step_of_the_payload_is_the_figure_of_that_step(name):
    view = views()[name]
    sent = view.payload()
    assert len(sent["patches"]) == len(CAPTION)  # t = 0 … T
    for t in range(len(sent["patches"])):
        assert_same(stepped_figure(sent, t), figure_json(view.at(t)), f"{name} at t = {t}")


def test_a_patch_replaces_what_it_names_and_keeps_the_rest():
    base = go.Figure(
        go.Bar(x=[1, 2], y=[3, 4], name="bars"), layout={"title": {"text": "first"}, "height": 200}
    )
    view = Stepped(base, [{}, {"data": {0: {"y": np.array([5.0, 6.0])}}, "layout": {"title": None}}])
    second = figure_json(view.at(1))
    np.testing.assert_array_equal(decode(second["data"][0]["y"]), [5, 6])
    assert second["data"][0]["name"] == "bars" and second["layout"]["height"] == 200
    assert "title" not in second["layout"]
    assert figure_json(view.at(0))["layout"]["title"]["text"] == "first"


def test_encode_sends_numbers_as_typed_arrays_and_words_as_lists():
    sent = encode({"z": np.arange(6.0).reshape(2, 3), "y": np.array(["a", "b"]), 3: (np.int64(2), 1.5)})
    np.testing.assert_array_equal(decode(sent["z"]), np.arange(6.0).reshape(2, 3))
    assert sent["z"]["dtype"] == "f4" and sent["y"] == ["a", "b"] and sent["3"] == [2, 1.5]
