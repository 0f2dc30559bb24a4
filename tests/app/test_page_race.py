"""AppTest of the activation-race page: live ticks, identical starts, pause/resume/extend/reset, summary."""

import numpy as np
from streamlit.testing.v1 import AppTest

from core.lab.race import fingerprint
from tests.helpers.apptest import chart, no_problems, page_app
from tests.helpers.plotly_json import decode

PAGE = "pages/3_Activation_race.py"
ITERATIONS = 30


def small_race() -> AppTest:
    """The page with small sizes set (fast ticks), started: the start run is the first tick."""
    at = page_app(PAGE, 90)
    at.run()
    no_problems(at)
    at.number_input(key="race.num_train").set_value(20)
    at.number_input(key="race.iterations").set_value(ITERATIONS)
    at.number_input(key="race.batch_size").set_value(10)
    at.select_slider(key="race.hidden_dim").set_value(32)
    at.select_slider(key="race.wordvec_dim").set_value(16)
    at.button(key="race.start").click().run()
    no_problems(at)
    return at


def loss_lines(at) -> dict:
    spec = chart(at, "race.loss")
    return {t["name"]: decode(t["y"]) for t in spec["data"] if t["mode"] == "lines"}


def test_before_start_nothing_trains():
    at = page_app(PAGE, 90)
    at.run()
    no_problems(at)
    assert "race" not in at.session_state
    assert any("Press **Start**" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_ticks_grow_both_curves_from_identical_weights():
    at = small_race()
    race = at.session_state["race"]
    assert [lane.activation for lane in race.lanes] == ["tanh", "sigmoid"]
    assert race.config.hidden_dim == 32 and race.config.num_train == 20
    # Both lanes began from the same weights: the recorded fingerprints agree, and rebuilding the
    # race's initial model from its seed gives the same digest.
    prints = {lane.initial_fingerprint for lane in race.lanes}
    assert prints == {race.initial_fingerprint}
    assert any(race.initial_fingerprint in c.value for c in at.caption)

    lengths = []
    for _ in range(3):
        lines = loss_lines(at)
        assert set(lines) == {"tanh", "sigmoid"}
        assert len(lines["tanh"]) == len(lines["sigmoid"])
        np.testing.assert_allclose(lines["tanh"], race.lanes[0].losses)
        lengths.append(len(lines["tanh"]))
        at.run()
        no_problems(at)
    assert lengths[0] > 0 and lengths[0] < lengths[1] < lengths[2]
    # Same minibatches: both solvers' generators are in the same state after the same iterations.
    tanh, sigmoid = at.session_state["race"].lanes
    assert tanh.solver.rng.bit_generator.state == sigmoid.solver.rng.bit_generator.state
    assert fingerprint(tanh.model.params) != fingerprint(sigmoid.model.params)
    assert {m.label for m in at.metric} == {"tanh loss", "sigmoid loss"}
    chart(at, "race.grad")
    chart(at, "race.hist")


def test_race_finishes_with_a_summary_from_the_numbers():
    at = small_race()
    for _ in range(10):
        if at.session_state["race"].done:
            break
        at.run()
    race = at.session_state["race"]
    assert race.done and not race.running
    assert race.iteration == ITERATIONS
    no_problems(at)
    summary = next(m.value for m in at.markdown if m.value.startswith("After **"))
    tanh_final = race.lanes[0].final_loss()
    assert f"After **{ITERATIONS} iterations** on 20 training captions (H = 32)" in summary
    assert f"to {tanh_final:.3f}" in summary
    assert "Ground truth: " in " ".join(m.value for m in at.markdown)
    # Finished: the timer stops, so further runs change nothing.
    at.run()
    assert at.session_state["race"].iteration == ITERATIONS


def test_pause_resume_extend_and_reset():
    at = small_race()
    at.button(key="race.pause").click().run()
    paused_at = at.session_state["race"].iteration
    at.run()
    assert at.session_state["race"].iteration == paused_at
    assert not at.session_state["race"].running
    at.button(key="race.resume").click().run()
    assert at.session_state["race"].iteration > paused_at
    while not at.session_state["race"].done:
        at.run()
    at.number_input(key="race.extra").set_value(10)
    at.button(key="race.extend").click().run()
    race = at.session_state["race"]
    assert race.target == ITERATIONS + 10 and race.iteration > ITERATIONS
    no_problems(at)
    at.button(key="race.reset").click().run()
    assert "race" not in at.session_state
    assert at.button(key="race.start")


def test_relu_lane_and_changed_settings_notice():
    at = page_app(PAGE, 90)
    at.run()
    at.number_input(key="race.num_train").set_value(20)
    at.number_input(key="race.iterations").set_value(5)
    at.select_slider(key="race.hidden_dim").set_value(16)
    at.select_slider(key="race.wordvec_dim").set_value(8)
    at.checkbox(key="race.relu").check()
    at.button(key="race.start").click().run()
    no_problems(at)
    assert set(loss_lines(at)) == {"tanh", "sigmoid", "relu"}
    at.select_slider(key="race.hidden_dim").set_value(64).run()
    assert any("settings changed" in i.value for i in at.info)
