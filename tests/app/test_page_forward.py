"""AppTest of the forward-pass page on the embedded dataset (generated once per test session)."""

import numpy as np
import pytest

import core.lab.trained_models
from core.data.coco_utils import load_coco_data
from core.lab.trace import trace_example
from core.lab.trained_models import new_model
from explainer.colors import HIGHLIGHT
from tests.helpers.apptest import (
    SMALL_RECIPES,
    chart,
    images,
    no_problems,
    open_page,
    run_until_trained,
    trace_values,
)
from ui.resources import FRESH_SIZES

PAGE = "pages/1_Forward_pass.py"


@pytest.fixture(scope="module")
def data():
    return load_coco_data()


def expected_forward(data, split, index, activation):
    """The trace the page should show for the fresh readable model, computed directly with core."""
    model = new_model(data, *FRESH_SIZES["readable"], seed=0)
    row = data[f"{split}_image_idxs"][index]
    return trace_example(
        model, data[f"{split}_features"][row], data[f"{split}_captions"][index], 1.0, activation
    ).forward


def highlighted_step(at) -> float:
    rect = chart(at, "forward.network")["layout"]["shapes"][0]
    assert rect["fillcolor"] == HIGHLIGHT
    return (rect["x0"] + rect["x1"]) / 2


def test_page_runs_with_image_caption_and_figures():
    at = open_page(PAGE)
    no_problems(at)
    assert any(m.value.startswith("**Ground truth:**") for m in at.markdown)
    assert images(at), "the example's image is shown"
    for key in ("forward.network", "forward.equation", "forward.loss"):
        chart(at, key)
    assert highlighted_step(at) == 0
    assert at.query_params["t"] == "0" and at.query_params["sizes"] == "readable"


def test_moving_the_timestep_moves_the_highlight_and_the_numbers(data):
    at = open_page(PAGE, {"example": "5"})
    expected = expected_forward(data, "train", 5, "tanh")
    shown = {}
    for t in (1, 4):
        at.slider[0].set_value(t).run()
        no_problems(at)
        assert highlighted_step(at) == t
        z = trace_values(chart(at, "forward.equation"))
        np.testing.assert_allclose(z[5], expected.a[t - 1], rtol=1e-5)  # a_t row
        np.testing.assert_allclose(z[6], expected.h[t - 1], rtol=1e-5)  # h_t row
        shown[t] = z
        loss_bars = chart(at, "forward.loss")
        assert loss_bars["layout"]["shapes"][0]["x0"] == t
        assert any(m.value.startswith(f"**t = {t}: reads") for m in at.markdown)
        assert at.query_params["t"] == str(t)
    assert not np.allclose(shown[1][6], shown[4][6])
    at.button(key="timestep.t.forward").click().run()
    assert highlighted_step(at) == 5 and at.slider[0].value == 5


def test_link_reopens_the_same_view_and_changes_go_to_the_url(data):
    query = {
        "split": "val",
        "example": "3",
        "activation": "sigmoid",
        "model": "fresh",
        "sizes": "readable",
        "t": "4",
    }
    at = open_page(PAGE, query)
    no_problems(at)
    assert at.radio[0].value == "val"
    assert at.number_input[0].value == 3
    assert [s.value for s in at.selectbox] == ["sigmoid", "fresh", "readable"]
    assert at.slider[0].value == 4 and highlighted_step(at) == 4
    expected = expected_forward(data, "val", 3, "sigmoid")
    np.testing.assert_allclose(trace_values(chart(at, "forward.equation"))[6], expected.h[3], rtol=1e-5)
    at.number_input[0].set_value(7).run()
    assert at.query_params["example"] == "7"
    at.selectbox[0].set_value("relu").run()
    assert at.query_params["activation"] == "relu"
    assert dict(at.query_params).items() >= {"split": "val", "example": "7", "t": "4"}.items()


def test_switching_activation_changes_the_trace(data):
    at = open_page(PAGE, {"t": "3"})
    tanh_row = trace_values(chart(at, "forward.equation"))
    at.selectbox[0].set_value("sigmoid").run()
    no_problems(at)
    sigmoid_row = trace_values(chart(at, "forward.equation"))
    np.testing.assert_allclose(tanh_row[6], np.tanh(tanh_row[5]), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(sigmoid_row[6], 1 / (1 + np.exp(-sigmoid_row[5])), rtol=1e-5, atol=1e-7)
    assert not np.allclose(tanh_row[6], sigmoid_row[6])
    shown = [h.value for h in at.get("html")]
    assert any("def rnn_forward(" in html for html in shown)
    assert any("def sigmoid(a):" in html for html in shown) and not any(
        "def tanh(a):" in html for html in shown
    )


def test_bad_link_values_fall_back_with_a_notice():
    at = open_page(PAGE, {"t": "500", "activation": "softmax", "example": "-2"})
    no_problems(at)
    assert at.info and "activation" in at.info[0].value and "timestep t" in at.info[0].value
    assert at.slider[0].value == 0 and at.selectbox[0].value == "tanh" and at.number_input[0].value == 0


def test_trained_readable_model_and_real_sizes():
    at = run_until_trained(open_page(PAGE, {"model": "trained", "t": "2"}))  # the "readable" recipe's job
    no_problems(at)
    trained_loss = float(next(m for m in at.metric).value)
    at.selectbox[1].set_value("fresh").run()
    fresh_loss = float(next(m for m in at.metric).value)
    assert trained_loss < fresh_loss  # the trained model has learned something about captions
    at.selectbox[2].set_value("real").run()
    no_problems(at)
    equation = chart(at, "forward.equation")
    assert trace_values(equation).shape[1] == 512 and equation["data"][0].get("texttemplate") is None
    assert any("H = 512" in m.value for m in at.markdown)


def test_trained_real_model_is_the_full_recipe_of_core_pretrained(data):
    """Trained + real sizes end to end: the page waits for the background job (a small "full" recipe here),
    which writes the model to core.lab.trained_models's disk cache, then traces that very model."""
    at = open_page(PAGE, {"model": "trained", "sizes": "real", "t": "2", "example": "3"})
    run_until_trained(at)
    no_problems(at)
    cached = core.lab.trained_models.cache_path(data, "full")
    assert cached.is_file()
    model = core.lab.trained_models.load_model(cached)
    expected = trace_example(
        model, data["train_features"][data["train_image_idxs"][3]], data["train_captions"][3], 1.0, "tanh"
    )
    z = trace_values(chart(at, "forward.equation"))
    assert z.shape[1] == SMALL_RECIPES["full"]["hidden_dim"]
    np.testing.assert_allclose(z[6], expected.forward.h[1], rtol=1e-5)  # h_2 of the trained model
    assert any(f"H = {SMALL_RECIPES['full']['hidden_dim']}" in m.value for m in at.markdown)
    at.slider[0].set_value(3).run()
    no_problems(at)
    assert not at.get("progress")  # ready: served from the cache, never trained again
