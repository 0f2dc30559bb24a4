"""AppTest of the backprop-through-time page on the embedded dataset."""

import time

import numpy as np
import pytest

import core.lab.trained_models
from core.data.coco_utils import load_coco_data
from core.lab.trace import spectral_radius, trace_example
from core.lab.trained_models import new_model
from tests.helpers.apptest import (
    SMALL_RECIPES,
    chart,
    no_problems,
    open_page,
    run_until_trained,
    trace_values,
)
from ui.resources import FRESH_SIZES

PAGE = "pages/2_Backprop_through_time.py"
T_KEY, WH_KEY = "url_state_widget.t", "url_state_widget.wh"


@pytest.fixture(scope="module")
def data():
    return load_coco_data()


def expected_trace(data, index, activation, wh_scale, split="train"):
    model = new_model(data, *FRESH_SIZES["readable"], seed=0)
    row = data[f"{split}_image_idxs"][index]
    return trace_example(
        model, data[f"{split}_features"][row], data[f"{split}_captions"][index], wh_scale, activation
    )


def highlighted_row(at) -> float:
    rect = chart(at, "backprop.heatmap")["layout"]["shapes"][0]
    return (rect["y0"] + rect["y1"]) / 2


def test_page_starts_at_the_last_step_with_every_figure(data):
    at = open_page(PAGE)
    no_problems(at)
    T = data["train_captions"].shape[1] - 1
    assert at.slider(key=T_KEY).value == T and highlighted_row(at) == T
    for key in ("heatmap", "norms", "fprime", "survival", "contrib", "contrib_norms"):
        chart(at, f"backprop.{key}")
    expected = expected_trace(data, 0, "tanh", 1.0).backward
    grid = trace_values(chart(at, "backprop.heatmap"))
    np.testing.assert_allclose(grid[1:], expected.dh_total, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(grid[0], expected.dh0, rtol=1e-4, atol=1e-7)


def test_stepping_backward_moves_the_highlight_everywhere(data):
    at = open_page(PAGE, {"example": "2"})
    expected = expected_trace(data, 2, "tanh", 1.0).backward
    for t in (9, 3):
        at.slider(key=T_KEY).set_value(t).run()
        no_problems(at)
        assert highlighted_row(at) == t
        assert chart(at, "backprop.norms")["layout"]["shapes"][0]["x0"] == t
        survival = chart(at, "backprop.survival")["data"][0]
        assert trace_values({"data": [survival["marker"]["line"]]}, field="width").argmax() == t - 1
        step = trace_values(chart(at, "backprop.contrib"), 0)
        np.testing.assert_allclose(step, expected.dWh_steps[t - 1], rtol=1e-4, atol=1e-8)
        assert any(m.value.startswith(f"**t = {t}:**") for m in at.markdown)
    at.button(key="timestep.t.back").click().run()
    assert at.slider(key=T_KEY).value == 2 and highlighted_row(at) == 2


def test_at_t1_the_contributions_add_up_to_the_total():
    at = open_page(PAGE, {"t": "1"})
    spec = chart(at, "backprop.contrib")
    np.testing.assert_allclose(trace_values(spec, 1), trace_values(spec, 2), rtol=1e-4, atol=1e-7)
    assert any("Summing all 16 steps gives dWh" in c.value for c in at.caption)
    at.radio(key="backprop.param").set_value("Wx").run()
    spec = chart(at, "backprop.contrib")
    assert trace_values(spec, 2).shape == FRESH_SIZES["readable"]


def test_wh_scale_changes_the_spectral_radius_and_what_survives(data):
    at = open_page(PAGE)
    survival = {}
    for scale in (0.3, 2.5):
        at.slider(key=WH_KEY).set_value(scale).run()
        no_problems(at)
        model = new_model(data, *FRESH_SIZES["readable"], seed=0)
        radius = spectral_radius(model.params["Wh"] * np.float32(scale))
        assert any(f"**{radius:.3f}**" in m.value for m in at.markdown)
        assert at.query_params["wh"] == f"{scale:g}"
        survival[scale] = trace_values(chart(at, "backprop.survival"), field="y")
        np.testing.assert_allclose(
            survival[scale], expected_trace(data, 0, "tanh", scale).backward.survival(), rtol=1e-4
        )
    assert survival[0.3].mean() < survival[2.5].mean()
    assert any("**explode**" in m.value for m in at.markdown)  # the last scale, 2.5, is above 1


def test_activation_switch_changes_the_local_derivative():
    at = open_page(PAGE, {"activation": "sigmoid", "wh": "1.5", "t": "6"})
    no_problems(at)
    assert at.selectbox[0].value == "sigmoid" and at.slider(key=WH_KEY).value == 1.5
    sigmoid = trace_values(chart(at, "backprop.fprime"))
    assert sigmoid.max() <= 0.25 + 1e-6  # h (1 - h) never exceeds 1/4
    at.selectbox[0].set_value("relu").run()
    relu = trace_values(chart(at, "backprop.fprime"))
    assert set(np.unique(relu)) <= {0.0, 1.0}
    assert at.query_params["activation"] == "relu" and at.query_params["wh"] == "1.5"


def test_play_steps_backward_in_time():
    at = open_page(PAGE, {"t": "8"})
    at.button(key="timestep.t.play").click().run()
    time.sleep(1.05)
    at.run()
    assert at.slider(key=T_KEY).value == 7
    assert highlighted_row(at) == 7


def test_trained_real_model_waits_for_training_then_traces_it(data):
    """Trained + real sizes: the background "full" job (small recipe) trains it, the page then traces it."""
    at = open_page(PAGE, {"model": "trained", "sizes": "real", "t": "4", "example": "1"})
    run_until_trained(at)
    no_problems(at)
    model = core.lab.trained_models.load_model(core.lab.trained_models.cache_path(data, "full"))
    expected = trace_example(
        model, data["train_features"][data["train_image_idxs"][1]], data["train_captions"][1], 1.0, "tanh"
    ).backward
    grid = trace_values(chart(at, "backprop.heatmap"))
    assert grid.shape[1] == SMALL_RECIPES["full"]["hidden_dim"]
    np.testing.assert_allclose(grid[1:], expected.dh_total, rtol=1e-4, atol=1e-7)
    assert highlighted_row(at) == 4
