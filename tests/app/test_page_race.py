"""AppTest of the activation-race page: its settings in the link, live training on background threads, the
summary, the LSTM lane, a lane that diverges while the others go on, pause / resume / extend / reset.

The lanes train between runs (ui.race_runner); each `at.run()` is one redraw of the page.
"""

import re
import time
from dataclasses import replace
from urllib.parse import parse_qsl

import numpy as np
import pytest

import ui.race_runner
from core.lab.race import RaceConfig, fingerprint
from explainer.escape import plain
from explainer.summary import race_summary
from tests.helpers.apptest import (
    axes_without_automargin,
    chart,
    drawn_trace_types,
    figures,
    no_problems,
    page_app,
    tables,
)
from tests.helpers.plotly_json import decode
from tests.helpers.stepper import bundled_trace_types

PAGE = "pages/3_Activation_race.py"
DEADLINE = 60
# A small race: every redraw finds it further on, and it ends in a second or two.
SMALL = {"captions": "20", "batch": "10", "iterations": "30", "hidden": "32", "wordvec": "16"}
# The notebook's race, as the page's link writes it.
DEFAULTS = dict(
    parse_qsl(
        "captions=50&batch=25&iterations=100&hidden=512&wordvec=256&lr=0.005&decay=0.95&relu=0&lstm=0&seed=0&log=1"
    )
)


@pytest.fixture(autouse=True)
def quick_idle_stop(monkeypatch):
    """Workers of a test's race that nobody redraws any more stop soon, not during the next tests."""
    monkeypatch.setattr(ui.race_runner, "IDLE_STOP_SECONDS", 2.0)


def opened(query: dict | None = None):
    at = page_app(PAGE, 90)
    at.query_params.update(query or {})
    at.run()
    no_problems(at)
    return at


def started(query: dict):
    at = opened(query)
    at.button(key="race.start").click().run()
    no_problems(at)
    return at


def runner_of(at):
    return at.session_state["race"]


def run_until(at, condition, seconds=DEADLINE):
    """Redraw the page until condition(runner) holds (the lanes train meanwhile)."""
    deadline = time.monotonic() + seconds
    while not condition(runner_of(at)):
        assert time.monotonic() < deadline, "the race did not get there in time"
        time.sleep(0.1)
        at.run()
        no_problems(at)
    return at


def finished(at):
    run_until(at, lambda runner: runner.race.done)
    at.run()  # the redraw that finds it done switches the page to the finished controls
    no_problems(at)
    return at


def loss_lines(at) -> dict:
    spec = chart(at, "race.loss")
    return {t["name"]: decode(t["y"]) for t in spec["data"] if t["mode"].startswith("lines")}


def summary_text(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("After **"))


def notices(at) -> list[str]:
    return [i.value for i in at.info if i.value.startswith("Some settings in the link")]


def test_before_start_nothing_trains_and_the_link_holds_the_defaults():
    at = opened()
    assert "race" not in at.session_state
    assert any("Press **Start**" in i.value for i in at.info)
    assert not figures(at)
    assert dict(at.query_params) == DEFAULTS
    assert "IE590 edition of CS231n's RNN_Captioning notebook" in at.markdown[0].value
    assert (
        "78.5 to 0.084 in 100 iterations" in at.markdown[0].value
        and "to about 18 in 400" in at.markdown[0].value
    )


def test_every_setting_comes_from_the_link_and_goes_back_to_it():
    link = {
        "captions": "40",
        "batch": "10",
        "iterations": "7",
        "hidden": "32",
        "wordvec": "16",
        "lr": "0.02",
        "decay": "0.9",
        "relu": "1",
        "lstm": "1",
        "seed": "3",
        "log": "0",
    }
    at = opened(link)
    assert not notices(at)
    values = {
        w.label: w.value for w in [*at.number_input, *at.select_slider, *at.slider, *at.checkbox, *at.toggle]
    }
    assert values == {
        "Training captions, 10–1000": 40,
        "Batch size, 1–100": 10,
        "Iterations, 1–2000": 7,
        "Seed, 0–10000": 3,
        "Hidden size H": 32,
        "Word-vector size W": 16,
        "Adam learning rate": 0.02,
        "Learning-rate decay per epoch": 0.9,
        "Add a ReLU lane": True,
        "Add an LSTM lane": True,
        "Log-scale loss": False,
    }
    assert at.caption[0].value.startswith("Lanes tanh, sigmoid, relu, lstm: 40 training captions, batch 10")
    at.button(key="race.start").click().run()
    linked = RaceConfig(
        activations=("tanh", "sigmoid", "relu", "lstm"),
        num_train=40,
        hidden_dim=32,
        wordvec_dim=16,
        learning_rate=0.02,
        lr_decay=0.9,
        batch_size=10,
        iterations=7,
        seed=3,
    )
    assert runner_of(at).race.config == linked
    assert chart(at, "race.loss")["layout"]["yaxis"]["type"] == "linear"
    assert dict(at.query_params) == link
    runner_of(at).stop()

    # The learner changes settings: the link follows, and opening it sets up the same race.
    at.select_slider(key="url_state_widget.hidden").set_value(64).run()
    at.checkbox(key="url_state_widget.lstm").uncheck().run()
    at.toggle(key="url_state_widget.race.log").set_value(True).run()
    assert dict(at.query_params) == {**link, "hidden": "64", "lstm": "0", "log": "1"}
    again = opened(dict(at.query_params))
    again.button(key="race.start").click().run()
    assert runner_of(again).race.config == replace(
        linked, activations=("tanh", "sigmoid", "relu"), hidden_dim=64
    )
    runner_of(again).stop()


def test_a_number_typed_past_its_limits_is_refused_and_the_box_shows_the_value_in_use():
    at = opened()
    box = next(b for b in at.number_input if b.label.startswith("Batch size"))
    box.set_value(0).run()
    (refused,) = [w.value for w in at.warning]
    assert refused == "**batch size** = 0 was not used: it must be between 1 and 100."
    box = next(b for b in at.number_input if b.label.startswith("Batch size"))
    assert box.value == 25 and at.query_params["batch"] == "25"
    assert "batch 25" in at.caption[0].value
    box.set_value(30).run()
    assert not at.warning and at.query_params["batch"] == "30" and "batch 30" in at.caption[0].value


def test_bad_link_values_fall_back_to_the_defaults_with_one_notice():
    bad = {
        "captions": "9",
        "batch": "lots",
        "hidden": "100",
        "lr": "5",
        "decay": "nan",
        "relu": "maybe",
        "seed": "[x](https://example.invalid)",
        "log": "2",
    }
    at = opened(bad)
    (notice,) = notices(at)
    for label in ("training captions", "batch size", "hidden size H", "learning rate", "learning-rate decay"):
        assert f"**{label}**" in notice
    for label in ("ReLU lane", "seed", "log-scale loss"):
        assert f"**{label}**" in notice
    assert plain("[x](https://example.invalid)") in notice and "](https" not in notice
    assert {key: at.query_params[key] for key in bad} == {key: DEFAULTS[key] for key in bad}
    at.run()
    assert not notices(at), "said once; the link now holds the defaults"


def test_a_race_trains_live_between_redraws_from_identical_weights():
    at = started({**SMALL, "iterations": "1000"})
    runner = runner_of(at)
    race = runner.race
    assert [lane.activation for lane in race.lanes] == ["tanh", "sigmoid"]
    assert {lane.initial_fingerprint for lane in race.lanes} == {race.initial_fingerprint}
    assert any(race.initial_fingerprint in c.value for c in at.caption)
    lengths = []
    for _ in range(3):
        time.sleep(0.3)
        at.run()
        no_problems(at)
        lines = loss_lines(at)
        assert set(lines) == {"tanh", "sigmoid"}
        np.testing.assert_allclose(lines["tanh"], race.lanes[0].losses[: len(lines["tanh"])])
        lengths.append(len(lines["tanh"]))
    assert 0 < lengths[0] < lengths[1] < lengths[2] < 1000
    assert [re.fullmatch(r"(\w+) loss on minibatch \d+", m.label)[1] for m in at.metric] == [
        "tanh",
        "sigmoid",
    ]
    assert at.get("progress")[0].proto.text.startswith("Iteration ")
    chart(at, "race.grad")
    chart(at, "race.hist")
    assert drawn_trace_types(at) <= bundled_trace_types()
    assert axes_without_automargin(at) == []
    runner.stop()
    runner.join(DEADLINE)


def test_a_race_runs_to_the_end_and_says_what_happened_from_its_numbers():
    at = finished(started(SMALL))
    runner = runner_of(at)
    race = runner.race
    assert not runner.wanted and not runner.training
    tanh, sigmoid = race.lanes
    assert tanh.iteration == sigmoid.iteration == 30
    # Same minibatches: both solvers' generators are in the same state after the same iterations.
    assert tanh.solver.rng.bit_generator.state == sigmoid.solver.rng.bit_generator.state
    assert fingerprint(tanh.model.params) != fingerprint(sigmoid.model.params)
    text = summary_text(at)
    assert text == race_summary(race.summary(), (1.0, 0.1))
    assert "After **30 iterations** on 20 training captions (H = 32)" in text
    assert any(m.value.startswith("Ground truth: “") for m in at.markdown)
    # Each lane's change is that of its last 10 losses.
    for metric, lane in zip(at.metric, race.lanes, strict=True):
        losses = lane.solver.loss_history
        assert metric.delta == f"{losses[-1] - losses[-11]:+.3f} over 10 it."
    # Finished: the page stops redrawing by itself, and nothing trains any more.
    at.run()
    assert race.iteration == 30 and not runner.training
    with pytest.raises(KeyError):
        at.button(key="race.pause")


def test_a_race_shorter_than_ten_iterations_says_over_how_many_its_loss_changed():
    at = finished(started({**SMALL, "iterations": "5"}))
    for metric, lane in zip(at.metric, runner_of(at).race.lanes, strict=True):
        losses = lane.solver.loss_history
        assert metric.delta == f"{losses[-1] - losses[0]:+.3f} over 4 it."


def test_the_lstm_lane_races_with_its_curve_milestones_and_sentence():
    at = started({**SMALL, "lstm": "1"})
    race = runner_of(at).race
    assert [lane.activation for lane in race.lanes] == ["tanh", "sigmoid", "lstm"]
    assert race.lanes[2].cell_type == "lstm"
    finished(at)
    assert set(loss_lines(at)) == {"tanh", "sigmoid", "lstm"}
    iterations = tables(at)[0][0]
    assert iterations == {"": "iterations", "tanh": "30", "sigmoid": "30", "lstm": "30"}
    hist = chart(at, "race.hist")
    assert [a["text"].split(":")[0] for a in hist["layout"]["annotations"]] == ["tanh", "sigmoid", "lstm"]
    text = summary_text(at)
    assert "the cell is the only difference" in text
    forget = race.summary().lanes[2].mean_forget_gate
    assert f"f averages {forget:.3g}" in text


def test_a_diverged_lane_is_shown_as_diverged_while_the_others_go_on():
    """Adam at 1 with ReLU at H = 256: its second iteration is no longer finite."""
    at = started({**SMALL, "iterations": "8", "hidden": "256", "wordvec": "128", "lr": "1", "relu": "1"})
    finished(at)
    tanh, sigmoid, relu = runner_of(at).race.lanes
    assert (tanh.iteration, sigmoid.iteration) == (8, 8)
    assert (relu.diverged_at, relu.iteration) == (2, 1)
    (warning,) = at.warning
    assert "relu diverged at iteration 2" in warning.value and "the other lanes go on" in warning.value
    spec = chart(at, "race.loss")
    assert "relu diverged at iteration 2" in [a["text"] for a in spec["layout"]["annotations"]]
    # The progress is the lanes' that went on, not the diverged lane's iteration 1.
    (progress,) = at.get("progress")
    assert progress.proto.text == "Iteration 8 of 8 (relu diverged at iteration 2)"
    assert len(loss_lines(at)["relu"]) == 1 and len(loss_lines(at)["tanh"]) == 8
    (diverged,) = [row for row in tables(at)[0] if row[""] == "diverged (not finite)"]
    assert diverged == {"": "diverged (not finite)", "tanh": "no", "sigmoid": "no", "relu": "at iteration 2"}
    assert "It diverged at iteration 2" in summary_text(at)
    assert "the other lanes went on" in summary_text(at)


def test_pause_resume_extend_and_reset():
    at = started({**SMALL, "iterations": "1000"})
    runner = runner_of(at)
    run_until(at, lambda r: r.race.iteration >= 3)
    at.button(key="race.pause").click().run()
    runner.join(DEADLINE)
    paused_at = [lane.iteration for lane in runner.race.lanes]
    time.sleep(0.3)
    at.run()
    assert [lane.iteration for lane in runner.race.lanes] == paused_at
    assert not runner.wanted and not runner.training
    at.button(key="race.resume").click().run()
    run_until(at, lambda r: r.race.iteration > max(paused_at))
    at.button(key="race.pause").click().run()
    runner.join(DEADLINE)
    at.number_input(key="race.extra").set_value(10)
    at.button(key="race.extend").click().run()
    assert runner.race.target == 1010 and runner.wanted
    # The settings, their line and the URL say the race on screen: a copied link sets up a 1010-iteration race.
    assert at.query_params["iterations"] == "1010"
    assert "1010 iterations" in at.caption[0].value
    assert at.number_input(key="url_state_widget.iterations").value == 1010
    assert not any("settings changed" in i.value for i in at.info)
    at.button(key="race.reset").click().run()
    assert "race" not in at.session_state
    assert at.button(key="race.start")
    runner.join(DEADLINE)
    assert not runner.training, "reset stops the discarded race's workers"


def test_extend_keeps_iterations_typed_but_not_started():
    """Iterations typed after the race started is a setting for the next race: Extend leaves it, and the
    notice that the settings changed stays."""
    at = started({**SMALL, "iterations": "1000"})
    runner = runner_of(at)
    at.button(key="race.pause").click().run()
    runner.join(DEADLINE)
    at.number_input(key="url_state_widget.iterations").set_value(300).run()
    at.number_input(key="race.extra").set_value(10)
    at.button(key="race.extend").click().run()
    assert runner.race.target == 1010
    assert at.query_params["iterations"] == "300"
    assert at.number_input(key="url_state_widget.iterations").value == 300
    assert any("settings changed" in i.value for i in at.info)
    runner.stop()


def test_changed_settings_are_noticed():
    at = started(SMALL)
    at.select_slider(key="url_state_widget.hidden").set_value(64).run()
    assert any("settings changed" in i.value for i in at.info)
    runner_of(at).stop()
