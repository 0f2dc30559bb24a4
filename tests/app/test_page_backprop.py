"""AppTest of the backprop-through-time page on the embedded dataset."""

from urllib.parse import parse_qs

import numpy as np
import pytest

import core.lab.trained_models
from core.lab.trace import spectral_radius, trace_example
from core.lab.trained_models import new_model
from explainer.backward import last_scored_step
from tests.helpers import stepper
from tests.helpers.apptest import (
    CELL,
    SMALL_RECIPES,
    fresh_trace,
    no_problems,
    open_page,
    run_until_trained,
    trace_values,
)
from ui.resources import FRESH_SIZES

PAGE = "pages/2_Backprop_through_time.py"
STEPPER, WH_KEY = "backprop.stepper", "url_state_widget.wh"


def highlighted_row(at, t=None) -> float:
    rect = stepper.figure(at, STEPPER, "dh", t)["layout"]["shapes"][0]
    return (rect["y0"] + rect["y1"]) / 2


def figure(at, panel, t=None) -> dict:
    return stepper.figure(at, STEPPER, panel, t)


def test_page_opens_on_the_last_scored_step_with_every_view(data):
    at = open_page(PAGE)
    no_problems(at)
    expected = fresh_trace(data, 0, activation="tanh", wh_scale=1.0)
    last = last_scored_step(expected.forward.mask)
    assert 0 < last < expected.forward.num_steps  # example 0 ends in <NULL> padding
    sent = stepper.sent(at, STEPPER)
    assert sent["t"] == last and sent["direction"] == -1 and at.query_params["t"] == str(last)
    assert sent["restart"] == last  # Play back from t = 0 starts where backprop does, not in the padding
    assert stepper.trace_types(sent) <= stepper.bundled_trace_types()
    assert highlighted_row(at) == last
    panels = {"summary", "dh", "norms", "factor", "survival", "contrib_text", "contrib", "contrib_norms"}
    assert set(sent["panels"]) == panels
    grid = trace_values(figure(at, "dh"))
    np.testing.assert_allclose(grid[1:], expected.backward.dh_total, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(grid[0], expected.backward.dh0, rtol=1e-4, atol=1e-7)
    assert stepper.text(at, STEPPER, "summary").startswith(f"**t = {last}:** ‖dL/dh_{last}‖")
    padding = stepper.text(at, STEPPER, "summary", last + 1)
    assert "masked" in padding and f"backprop starts at t = {last}" in padding


def test_each_page_keeps_its_own_step_of_the_shared_example(data):
    """Opened from the sidebar after the forward pass (at t = 0, where backprop ends), backprop starts at the
    last scored word, and the forward pass keeps its own step when the learner goes back."""
    last = last_scored_step(fresh_trace(data, 3, activation="tanh", wh_scale=1.0).forward.mask)
    at = open_page("pages/1_Forward_pass.py", {"example": "3", "t": "1"})
    for page, step in ((PAGE, last), ("pages/1_Forward_pass.py", 1), (PAGE, last)):
        at.switch_page(page)
        at.query_params.clear()  # the sidebar's links carry no query
        at.run()
        no_problems(at)
        assert at.query_params["example"] == "3" and at.query_params["t"] == str(step), page


def test_every_step_moves_the_highlight_in_every_view(data):
    at = open_page(PAGE, {"example": "2"})
    expected = fresh_trace(data, 2, activation="tanh", wh_scale=1.0).backward
    for t in range(1, expected.dh_total.shape[0] + 1):
        assert highlighted_row(at, t) == t
        assert figure(at, "norms", t)["layout"]["shapes"][0]["x0"] == t
        column = figure(at, "survival", t)["layout"]["shapes"][1]
        assert (column["x0"] + column["x1"]) / 2 == pytest.approx(t)
        step = trace_values(figure(at, "contrib", t), 0)
        np.testing.assert_allclose(step, expected.dWh_steps[t - 1], rtol=1e-4, atol=1e-8)
        assert stepper.text(at, STEPPER, "summary", t).startswith(f"**t = {t}")


def test_a_step_taken_in_the_browser_goes_to_the_url_and_another_example_opens_on_its_own(data):
    at = open_page(PAGE, {"example": "2"})
    stepper.report(at, STEPPER, 3)
    assert at.query_params["t"] == "3"
    back = parse_qs(next(p for p in at.get("page_link") if "Forward" in p.proto.page).proto.query_string)
    assert back["example"] == ["2"] and back["t"] == ["3"] and "wh" not in back  # Wh scale is backprop's own
    at.number_input[0].set_value(4).run()
    no_problems(at)
    expected = fresh_trace(data, 4, activation="tanh", wh_scale=1.0).forward
    assert stepper.sent(at, STEPPER)["t"] == last_scored_step(expected.mask) == int(at.query_params["t"])


def test_at_t1_the_contributions_add_up_to_the_total():
    at = open_page(PAGE, {"t": "1"})
    spec = figure(at, "contrib")
    np.testing.assert_allclose(trace_values(spec, 1), trace_values(spec, 2), rtol=1e-4, atol=1e-7)
    assert "Summing all 16 steps gives dWh" in stepper.text(at, STEPPER, "contrib_text")
    at.radio(key="url_state_widget.weight").set_value("Wx").run()
    assert at.query_params["weight"] == "Wx"
    assert trace_values(figure(at, "contrib"), 2).shape == FRESH_SIZES["readable"]


def test_weight_and_log_scale_live_in_the_link():
    at = open_page(PAGE, {"weight": "Wx", "log": "off", "t": "2"})
    no_problems(at)
    assert at.radio(key="url_state_widget.weight").value == "Wx"
    assert figure(at, "norms")["layout"]["yaxis"]["type"] == "linear"
    assert "dWx" in stepper.text(at, STEPPER, "contrib_text")
    # On and off read as in the race's links: 1 and 0 ("on" and "off" are read too).
    assert at.toggle(key="url_state_widget.backprop.log").value is False
    at.toggle(key="url_state_widget.backprop.log").set_value(True).run()
    assert at.query_params["log"] == "1" and figure(at, "norms")["layout"]["yaxis"]["type"] == "log"


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
        survival[scale] = trace_values(figure(at, "survival"), field="y")
        np.testing.assert_allclose(
            survival[scale],
            fresh_trace(data, 0, activation="tanh", wh_scale=scale).backward.survival(),
            rtol=1e-4,
        )
    assert np.nanmean(survival[0.3]) < np.nanmean(survival[2.5])
    assert any("**explode**" in m.value for m in at.markdown)  # the last scale, 2.5, is above 1
    # The loss shown is that of the scaled weights, and says so beside the model's own.
    scaled, own = (fresh_trace(data, 0, wh_scale=s).forward.loss for s in (2.5, 1.0))
    (loss,) = [m for m in at.metric if m.label == "Loss of the caption"]
    assert loss.value == f"{scaled:.3f}" and scaled != pytest.approx(own, rel=1e-3)
    assert f"With 2.5·Wh; with the model's own weights it is {own:.3f}." in [c.value for c in at.caption]
    at.slider(key=WH_KEY).set_value(1.0).run()
    assert not any(c.value.startswith("With ") for c in at.caption)


def test_activation_switch_changes_the_local_derivative():
    at = open_page(PAGE, {"activation": "sigmoid", "wh": "1.5", "t": "6"})
    no_problems(at)
    assert at.selectbox(key=CELL).value == ("rnn", "sigmoid") and at.slider(key=WH_KEY).value == 1.5
    sigmoid = trace_values(figure(at, "factor"))
    assert np.nanmax(sigmoid) <= 0.25 + 1e-6  # h (1 - h) never exceeds 1/4
    at.selectbox(key=CELL).set_value(("rnn", "relu")).run()
    relu = trace_values(figure(at, "factor"))
    assert set(np.unique(relu[~np.isnan(relu)])) <= {0.0, 1.0}
    assert at.query_params["activation"] == "relu" and at.query_params["wh"] == "1.5"


def test_trained_real_model_waits_for_training_then_traces_it(data):
    """Trained at the notebook's sizes: the background "overfit" job (small recipe) trains it, the page then
    traces it."""
    at = open_page(PAGE, {"model": "trained", "sizes": "real", "t": "4", "example": "1"})
    run_until_trained(at)
    no_problems(at)
    model = core.lab.trained_models.load_model(core.lab.trained_models.cache_path(data, "overfit"))
    expected = trace_example(
        model, data["train_features"][data["train_image_idxs"][1]], data["train_captions"][1], 1.0, "tanh"
    ).backward
    grid = trace_values(figure(at, "dh"))
    assert grid.shape[1] == SMALL_RECIPES["overfit"]["hidden_dim"]
    np.testing.assert_allclose(grid[1:], expected.dh_total, rtol=1e-4, atol=1e-7)
    assert highlighted_row(at) == 4


def test_the_lstm_carries_gradient_along_its_cell_and_the_forget_bias_moves_it(data):
    at = open_page(PAGE, {"cell": "lstm", "example": "3"})
    no_problems(at)
    sent = stepper.sent(at, STEPPER)
    assert {"reach", "factor"} <= set(sent["panels"])
    assert stepper.trace_types(sent) <= stepper.bundled_trace_types()
    expected = fresh_trace(data, 3, cell="lstm")
    scored = expected.forward.mask
    np.testing.assert_allclose(
        trace_values(figure(at, "factor"))[scored], expected.forward.f[scored], rtol=1e-5
    )
    norms = {trace["name"]: trace for trace in figure(at, "norms")["data"]}
    cell = trace_values({"data": [norms["carried along the cell from c_t+1 to c_t"]]}, field="y")
    carried = np.linalg.norm(expected.backward.dc_carried, axis=1)
    # A log axis cannot show 0 (nothing carried from beyond the last scored word): those points are gaps.
    np.testing.assert_allclose(cell[1:], np.where(carried > 0, carried, np.nan), rtol=1e-4)
    vanilla = fresh_trace(data, 3)
    reach = {trace["name"]: trace for trace in figure(at, "reach")["data"]}
    source = expected.reach.source
    np.testing.assert_allclose(
        trace_values({"data": [reach["vanilla RNN (h)"]]}, field="y"),
        vanilla.reach.relative[: source + 1],
        rtol=1e-4,
    )
    assert any(f"**{vanilla.reach.first_step:.2e}** in the vanilla RNN" in m.value for m in at.markdown)
    assert any("def lstm_backward(" in h.value for h in at.get("html"))
    # Opening the forget gates keeps more of the cell's gradient on its way back.
    at.slider(key="url_state_widget.forget").set_value(4.0).run()
    no_problems(at)
    assert at.query_params["forget"] == "4"
    opened = fresh_trace(data, 3, cell="lstm", forget_bias_shift=4.0)
    np.testing.assert_allclose(
        trace_values(figure(at, "factor"))[scored], opened.forward.f[scored], rtol=1e-5
    )
    assert opened.forward.f.mean() > expected.forward.f.mean()
    own = f"with the model's own weights it is {expected.forward.loss:.3f}."
    assert f"With the forget-gate bias shifted by +4; {own}" in [c.value for c in at.caption]
    assert any("shifted by +4" in m.value for m in at.markdown)
