"""explainer.race: the figures carry the race's measured numbers, label their axes where they belong, and
draw a lane whose numbers went infinite or NaN without raising."""

from dataclasses import replace

import numpy as np
import pytest

from core.lab.race import HiddenStats, LaneSummary, Race, RaceConfig, RaceSummary
from explainer import race as figures
from explainer.summary import shown
from tests.helpers.plotly_json import decode, figure_json
from tests.helpers.race_fixtures import synthetic_data


@pytest.fixture(scope="module")
def records():
    sizes = {"num_train": 30, "hidden_dim": 16, "wordvec_dim": 8, "batch_size": 10, "iterations": 12}
    race = Race(synthetic_data(), RaceConfig(("tanh", "sigmoid", "lstm"), **sizes))
    race.step(12)
    return [race.record(lane) for lane in race.lanes]


def lines_of(spec) -> dict:
    return {t["name"]: t for t in spec["data"] if t["mode"].startswith("lines")}


def test_loss_figure_has_every_lane_loss_and_milestone_markers():
    losses = {"tanh": np.array([5.0, 0.8, 0.3, 0.05]), "sigmoid": np.array([5.0, 4.0, 3.5, 3.0])}
    spec = figure_json(figures.loss_figure(losses, log_y=True, target=10))
    lines = lines_of(spec)
    np.testing.assert_allclose(decode(lines["tanh"]["y"]), losses["tanh"])
    np.testing.assert_allclose(decode(lines["sigmoid"]["y"]), losses["sigmoid"])
    np.testing.assert_array_equal(decode(lines["tanh"]["x"]), [1, 2, 3, 4])
    assert lines["tanh"]["line"]["color"] != lines["sigmoid"]["line"]["color"]
    markers = {
        t["name"]: (decode(t["x"])[0], decode(t["y"])[0]) for t in spec["data"] if t["mode"] == "markers"
    }
    # tanh goes below 1.0 at iteration 2 and below 0.1 at iteration 4; sigmoid never does.
    assert markers == {"tanh < 1": (2, 0.8), "tanh < 0.1": (4, 0.05)}
    assert spec["layout"]["xaxis"]["range"] == [0, 11] and spec["layout"]["xaxis"]["dtick"] == 1
    assert spec["layout"]["legend"]["yanchor"] == "bottom" and spec["layout"]["legend"]["y"] > 1


def test_a_one_iteration_race_draws_its_points_on_both_charts_alike():
    """After one iteration each lane has one loss and one norm: points, not lines of one point (invisible), on
    the same iteration axis in both charts, with room after the last so that its point is not cut."""
    one = {"tanh": np.array([39.29]), "sigmoid": np.array([40.1])}
    loss = figure_json(figures.loss_figure(one, target=1))
    norms = figure_json(
        figures.grad_norm_figure({"tanh": np.array([16.2]), "sigmoid": np.array([28.1])}, target=1)
    )
    for spec in (loss, norms):
        drawn = [t for t in spec["data"] if t["name"] in ("tanh", "sigmoid")]
        assert len(drawn) == 2 and all(t["mode"] == "lines+markers" for t in drawn)
        assert spec["layout"]["xaxis"]["range"] == [0, 2] and spec["layout"]["xaxis"]["dtick"] == 1
    long = figure_json(figures.grad_norm_figure({"tanh": np.linspace(1, 2, 50)}, target=1000))
    assert long["layout"]["xaxis"]["range"] == [0, 1020] and "dtick" not in long["layout"]["xaxis"]
    assert long["data"][0]["mode"] == "lines"


@pytest.mark.parametrize("log_y", [True, False])
def test_the_threshold_labels_sit_on_their_lines(log_y):
    """Each "loss t" label belongs to the dashed line at t (a shape's own label), on a log axis as on a linear
    one; an annotation placed at y = t would be drawn at 10^t on a log axis (one decade too high for 1 and 0.1)."""
    spec = figure_json(figures.loss_figure({"tanh": np.array([40.0, 3.0, 0.5, 0.05])}, log_y=log_y))
    labelled = {
        shape["label"]["text"]: (shape["y0"], shape["y1"], shape["yref"])
        for shape in spec["layout"]["shapes"]
        if "label" in shape
    }
    assert labelled == {"loss 1": (1.0, 1.0, "y"), "loss 0.1": (0.1, 0.1, "y")}
    data_annotations = [a for a in spec["layout"].get("annotations", []) if a.get("yref") == "y"]
    assert data_annotations == []


def test_a_log_loss_axis_labels_every_decade_with_its_value():
    spec = figure_json(figures.loss_figure({"tanh": np.array([40.0, 3.0, 0.5, 0.05])}, log_y=True))
    axis = spec["layout"]["yaxis"]
    assert axis["type"] == "log"
    # 0.05 to 40 spans four decades: one label per power of ten, written out.
    assert axis["ticktext"] == ["0.1", "1", "10"]
    np.testing.assert_allclose(axis["tickvals"], [0.1, 1, 10])
    linear = figure_json(figures.loss_figure({"tanh": np.array([40.0, 3.0])}, log_y=False))
    assert linear["layout"]["yaxis"]["type"] == "linear" and "ticktext" not in linear["layout"]["yaxis"]


def test_a_diverged_lane_stops_at_a_labelled_cross_while_the_others_go_on():
    losses = {"tanh": np.array([5.0, 3.0, 2.0, 1.5, 1.2]), "relu": np.array([5.0, 9.0])}
    spec = figure_json(figures.loss_figure(losses, diverged={"tanh": None, "relu": 3}, target=5))
    lines = lines_of(spec)
    assert len(decode(lines["relu"]["y"])) == 2 and len(decode(lines["tanh"]["y"])) == 5
    (cross,) = [t for t in spec["data"] if t["name"] == "relu diverged"]
    assert (decode(cross["x"])[0], decode(cross["y"])[0]) == (2, 9.0)
    assert cross["marker"]["symbol"] == "x"
    (line,) = [s for s in spec["layout"]["shapes"] if s["type"] == "line" and s["x0"] == s["x1"]]
    assert line["x0"] == 3 and line["yref"] == "y domain"
    # Its label stands inside the plot, below its top (above it, the legend hid it), on the side with room.
    (label,) = divergence_labels(spec)
    assert label["text"] == "relu diverged at iteration 3"
    assert (label["x"], label["yref"], label["y"], label["yanchor"]) == (3, "y domain", 1, "top")
    assert label["xanchor"] == "right"  # iteration 3 of 5: in the right half
    assert not any(t["name"].startswith("tanh diverged") for t in spec["data"])


def divergence_labels(spec):
    return [a for a in spec["layout"].get("annotations", []) if "diverged" in a["text"]]


def test_labels_of_lanes_that_diverged_stand_one_below_the_other():
    losses = {"tanh": np.array([5.0, 3.0]), "sigmoid": np.array([5.0]), "relu": np.array([])}
    spec = figure_json(figures.loss_figure(losses, diverged={"sigmoid": 2, "relu": 1}, target=40))
    labels = divergence_labels(spec)
    assert [a["text"] for a in labels] == ["sigmoid diverged at iteration 2", "relu diverged at iteration 1"]
    assert labels[0]["y"] > labels[1]["y"] and {a["xanchor"] for a in labels} == {"left"}


def test_a_lane_with_one_loss_is_a_point_and_the_label_hides_no_curve():
    losses = {"tanh": np.array([5.0, 3.0, 2.0]), "relu": np.array([5.0, np.inf])}
    spec = figure_json(figures.loss_figure(losses, diverged={"relu": 2}, target=30))
    lines = lines_of(spec)
    assert lines["relu"]["mode"] == "lines+markers" and lines["tanh"]["mode"] == "lines"
    (label,) = divergence_labels(spec)
    assert "bgcolor" not in label


def test_a_lane_that_diverged_before_any_loss_still_gets_its_label():
    spec = figure_json(figures.loss_figure({"relu": np.array([])}, diverged={"relu": 1}))
    assert [a["text"] for a in divergence_labels(spec)] == ["relu diverged at iteration 1"]


def test_grad_norm_figure_draws_totals_and_wh_on_a_labelled_log_axis(records):
    totals = {r.activation: r.grad_norms for r in records}
    wh = {r.activation: r.wh_grad_norms for r in records}
    spec = figure_json(figures.grad_norm_figure(totals, wh))
    by_name = {t["name"]: decode(t["y"]) for t in spec["data"]}
    np.testing.assert_allclose(by_name["tanh"], totals["tanh"])
    np.testing.assert_allclose(by_name["sigmoid: Wh"], wh["sigmoid"])
    np.testing.assert_allclose(by_name["lstm: Wh"], wh["lstm"])
    assert len(by_name["tanh"]) == 12
    # One legend entry per lane, its solid line: the legend says which line is which.
    assert [t["name"] for t in spec["data"] if t.get("showlegend", True)] == list(totals)
    assert all(t["line"].get("dash") == "dot" for t in spec["data"] if not t.get("showlegend", True))
    assert spec["layout"]["yaxis"]["title"]["text"] == "gradient norm (solid: all, dotted: Wh)"
    axis = spec["layout"]["yaxis"]
    assert axis["type"] == "log"
    assert all(float(text) == value for text, value in zip(axis["ticktext"], axis["tickvals"], strict=True))


def test_infinite_and_nan_values_are_left_out_and_never_raise():
    bad = np.array([2.0, np.inf, np.nan, 0.5, -np.inf])
    spec = figure_json(figures.loss_figure({"relu": bad}, log_y=True, diverged={"relu": 6}))
    y = decode(lines_of(spec)["relu"]["y"])
    np.testing.assert_array_equal(np.isnan(y), [False, True, True, False, True])
    (cross,) = [t for t in spec["data"] if t["name"] == "relu diverged"]
    assert (decode(cross["x"])[0], decode(cross["y"])[0]) == (4, 0.5)  # the last finite loss
    assert (
        figure_json(figures.loss_figure({"relu": np.full(3, np.nan)}, log_y=True))["layout"]["yaxis"]["type"]
        == "log"
    )
    spec = figure_json(figures.grad_norm_figure({"relu": bad}, {"relu": np.full(5, np.inf)}))
    assert np.isnan(decode(spec["data"][1]["y"])).all()

    edges = np.array([0.0, 1.0, 2.0, np.inf, np.nan])
    stats = HiddenStats("relu", np.array([3, np.inf, 1, np.nan]), edges, np.nan, np.inf, 7, nonfinite=0.25)
    spec = figure_json(figures.histogram_figure([stats]))
    (bar,) = spec["data"]
    # only the bins with finite, increasing edges: [0, 1) and [1, 2); infinite counts count as none
    np.testing.assert_allclose(decode(bar["x"]), [0.5, 1.5])
    np.testing.assert_allclose(decode(bar["y"]), [0.75, 0.0])
    assert "25% inf or NaN" in spec["layout"]["annotations"][0]["text"]
    # A share too small to round to 1 % is still some, said as such, never as 0 %.
    few = replace(stats, nonfinite=0.004)
    assert (
        "relu: nan% saturated, &lt;1% inf or NaN at iteration 7"
        in figure_json(figures.histogram_figure([few]))["layout"]["annotations"][0]["text"]
    )
    nothing = HiddenStats("relu", np.zeros(2), np.array([0.0, np.nan, np.nan]), 0.0, 0.0, 7, nonfinite=1.0)
    assert figure_json(figures.histogram_figure([nothing]))["data"][0]["type"] == "bar"


def test_histogram_figure_shows_shares_in_percent_on_every_panel(records):
    stats = [r.stats for r in records]
    spec = figure_json(figures.histogram_figure(stats))
    bars = [t for t in spec["data"] if t["type"] == "bar"]
    assert len(bars) == 3
    for bar, s in zip(bars, stats, strict=True):
        np.testing.assert_allclose(decode(bar["y"]), s.counts / s.counts.sum())
        np.testing.assert_allclose(decode(bar["x"]), (s.edges[:-1] + s.edges[1:]) / 2)
    y_axes = [value for key, value in spec["layout"].items() if key.startswith("yaxis")]
    assert len(y_axes) == 4  # two per row, two rows (the fourth panel stays empty)
    assert {axis.get("tickformat") for axis in y_axes} == {".0%"}
    titles = [a["text"] for a in spec["layout"]["annotations"]]
    assert titles[0] == (
        f"tanh: {100 * stats[0].saturated:.0f}% saturated at iteration {stats[0].iteration}<br>"
        f"mean f′(a) = {shown(stats[0].mean_derivative)}"
    )
    assert (
        titles[2].startswith("lstm: ") and f"forget gate f = {shown(stats[2].mean_forget_gate)}" in titles[2]
    )
    # As the summary prints them: a mean of 0.00139 is not "0.00" beside a summary that says 0.00139.
    tiny = replace(stats[0], mean_derivative=0.00139)
    assert (
        "mean f′(a) = 0.00139"
        in figure_json(figures.histogram_figure([tiny]))["layout"]["annotations"][0]["text"]
    )
    # Two shaded saturated zones for tanh and sigmoid; none for the LSTM, whose o·tanh′(c) is no function of h.
    assert len(spec["layout"]["shapes"]) == 4
    # Each column's lowest panel has the x axis title (three lanes: the third, and the second, above an empty
    # cell): a title above a panel would run into its title.
    titled = {key for key, axis in spec["layout"].items() if key.startswith("xaxis") and "title" in axis}
    assert titled == {"xaxis2", "xaxis3"}


def test_saturated_ranges_match_the_derivative_threshold():
    edges = np.linspace(-1, 1, 41)
    (_, tanh_low), (tanh_high, _) = figures.saturated_ranges("tanh", edges)
    assert 1 - tanh_high**2 == pytest.approx(0.1)
    assert tanh_low == -tanh_high
    (_, sig_low), (sig_high, _) = figures.saturated_ranges("sigmoid", np.linspace(0, 1, 41))
    assert sig_low * (1 - sig_low) == pytest.approx(0.025)
    assert sig_high == pytest.approx(1 - sig_low)
    assert figures.saturated_ranges("relu", np.linspace(0, 2, 41)) == [(0.0, 2 / 41)]
    assert figures.saturated_ranges("lstm", edges) == []


def test_milestone_rows_and_sample_rows(records):
    lane = LaneSummary(
        "relu", 2, 45.0, 44.0, 2, 43.0, {1.0: None, 0.1: None}, 0.5, 0.4, "", False, 0.02, "x", None, 3
    )
    tanh = LaneSummary("tanh", 100, 45.0, 0.08, 5, 0.07, {1.0: 30, 0.1: 69}, 0.1, 0.5, "", False, 0.025, None)
    rows = figures.milestone_rows(RaceSummary([tanh, lane], 50, 512, True))
    # A row per measure, a column per lane, in the race's order.
    by_measure = {row[""]: row for row in rows}
    assert [list(row) for row in rows] == [["", "tanh", "relu"]] * 8
    assert by_measure["iterations"] == {"": "iterations", "tanh": 100, "relu": 2}
    assert by_measure["first below 1"]["tanh"] == "iteration 30"
    assert by_measure["first below 0.1"] == {"": "first below 0.1", "tanh": "iteration 69", "relu": "not yet"}
    # The relu lane's loss is the mean of its only 2 minibatches, the tanh lane's of its last 5.
    assert by_measure["loss now (mean of last 2 to 5)"]["tanh"] == 0.08
    assert by_measure["ms / iteration"]["tanh"] == 25.0
    assert by_measure["diverged (not finite)"] == {
        "": "diverged (not finite)",
        "tanh": "no",
        "relu": "at iteration 3",
    }
    assert by_measure["saturated"]["tanh"] == "10%"
    just_started = [replace(tanh, iterations=1, final_minibatches=1), replace(lane, final_minibatches=1)]
    names = [row[""] for row in figures.milestone_rows(RaceSummary(just_started, 50, 512, True))]
    assert "loss now (1 minibatch)" in names
    names = [row[""] for row in figures.milestone_rows(RaceSummary([tanh], 50, 512, True))]
    assert "loss now (mean of last 5)" in names
    # With an LSTM lane the row says what it counts for that lane, as the LSTM's histogram title does.
    lstm = LaneSummary("lstm", 100, 45.0, 1.0, 5, 0.9, {1.0: 80, 0.1: None}, 0.44, 0.3, "", False, 0.07, None)
    rows = figures.milestone_rows(RaceSummary([tanh, lstm], 50, 512, True))
    (saturated,) = [row for row in rows if row[""] == "saturated (LSTM: o·tanh′(c) < 0.1)"]
    assert (saturated["tanh"], saturated["lstm"]) == ("10%", "44%")
    samples = figures.sample_rows(records)
    assert len(samples) == sum(len(r.samples) for r in records)
    assert samples[0]["iteration"] >= samples[-1]["iteration"]
    assert {row["lane"] for row in samples} == {"tanh", "sigmoid", "lstm"}
