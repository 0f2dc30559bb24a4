"""explainer.race and explainer.summary: the figures and the words carry the race's measured numbers."""

import numpy as np
import pytest

from core.lab.race import HiddenStats, LaneSummary, Race, RaceConfig, RaceSummary
from explainer import race as figures
from explainer.summary import race_summary
from tests.helpers.plotly_json import decode, figure_json
from tests.helpers.race_fixtures import synthetic_data


@pytest.fixture(scope="module")
def race():
    race = Race(
        synthetic_data(), RaceConfig(num_train=30, hidden_dim=16, wordvec_dim=8, batch_size=10, iterations=12)
    )
    race.step(12)
    return race


def lane_summary(
    activation, final, first_below, saturated=0.1, derivative=0.5, caption="w1 w2", matches=False
):
    return LaneSummary(
        activation=activation,
        iterations=100,
        first_loss=45.0,
        final_loss=final,
        best_loss=None if final is None else final * 0.9,
        first_below=first_below,
        saturated=saturated,
        mean_derivative=derivative,
        caption=caption,
        caption_matches=matches,
        seconds_per_iteration=0.025,
        error=None,
    )


def test_loss_figure_has_every_lane_loss_and_milestone_markers():
    losses = {"tanh": np.array([5.0, 0.8, 0.3, 0.05]), "sigmoid": np.array([5.0, 4.0, 3.5, 3.0])}
    spec = figure_json(figures.loss_figure(losses, log_y=True, target=10))
    lines = {t["name"]: t for t in spec["data"] if t["mode"] == "lines"}
    np.testing.assert_allclose(decode(lines["tanh"]["y"]), losses["tanh"])
    np.testing.assert_allclose(decode(lines["sigmoid"]["y"]), losses["sigmoid"])
    np.testing.assert_array_equal(decode(lines["tanh"]["x"]), [1, 2, 3, 4])
    assert lines["tanh"]["line"]["color"] != lines["sigmoid"]["line"]["color"]
    markers = {
        t["name"]: (decode(t["x"])[0], decode(t["y"])[0]) for t in spec["data"] if t["mode"] == "markers"
    }
    # tanh goes below 1.0 at iteration 2 and below 0.1 at iteration 4; sigmoid never does.
    assert markers == {"tanh < 1": (2, 0.8), "tanh < 0.1": (4, 0.05)}
    assert spec["layout"]["yaxis"]["type"] == "log"
    assert spec["layout"]["xaxis"]["range"] == [0, 10]
    assert sorted(shape["y0"] for shape in spec["layout"]["shapes"]) == [0.1, 1.0]
    linear = figure_json(figures.loss_figure(losses, log_y=False))
    assert linear["layout"]["yaxis"]["type"] == "linear"


def test_grad_norm_figure_draws_totals_and_wh(race):
    totals = {lane.activation: lane.grad_norms() for lane in race.lanes}
    wh = {lane.activation: lane.grad_norms("Wh") for lane in race.lanes}
    spec = figure_json(figures.grad_norm_figure(totals, wh))
    by_name = {t["name"]: decode(t["y"]) for t in spec["data"]}
    np.testing.assert_allclose(by_name["tanh: all parameters"], totals["tanh"])
    np.testing.assert_allclose(by_name["sigmoid: Wh"], wh["sigmoid"])
    assert len(by_name["tanh: all parameters"]) == 12
    assert spec["layout"]["yaxis"]["type"] == "log"


def test_histogram_figure_shows_shares_and_titles_with_the_measured_saturation(race):
    stats = [race.hidden_stats(lane) for lane in race.lanes]
    spec = figure_json(figures.histogram_figure(stats))
    bars = [t for t in spec["data"] if t["type"] == "bar"]
    assert len(bars) == 2
    for bar, s in zip(bars, stats, strict=True):
        shares = decode(bar["y"])
        np.testing.assert_allclose(shares, s.counts / s.counts.sum())
        np.testing.assert_allclose(decode(bar["x"]), (s.edges[:-1] + s.edges[1:]) / 2)
    titles = [a["text"] for a in spec["layout"]["annotations"]]
    assert (
        titles[0]
        == f"tanh: {100 * stats[0].saturated:.0f}% saturated, mean f'(a) = {stats[0].mean_derivative:.2f}"
    )
    # Two shaded saturated zones per panel (both tails of tanh and sigmoid).
    assert len(spec["layout"]["shapes"]) == 4


def test_saturated_ranges_match_the_derivative_threshold():
    edges = np.linspace(-1, 1, 41)
    (_, tanh_low), (tanh_high, _) = figures.saturated_ranges("tanh", edges)
    assert 1 - tanh_high**2 == pytest.approx(0.1)
    assert tanh_low == -tanh_high
    (_, sig_low), (sig_high, _) = figures.saturated_ranges("sigmoid", np.linspace(0, 1, 41))
    assert sig_low * (1 - sig_low) == pytest.approx(0.025)
    assert sig_high == pytest.approx(1 - sig_low)


def test_milestone_rows_and_sample_rows(race):
    summary = RaceSummary([lane_summary("tanh", 0.08, {1.0: 30, 0.1: 69})], 50, 512, True)
    (row,) = figures.milestone_rows(summary)
    assert row["first below 1"] == "iteration 30"
    assert row["first below 0.1"] == "iteration 69"
    assert row["loss now (last 5)"] == 0.08
    assert row["ms / iteration"] == 25.0
    rows = figures.sample_rows(race.lanes)
    assert len(rows) == sum(len(lane.samples) for lane in race.lanes)
    assert rows[0]["iteration"] >= rows[-1]["iteration"]


def test_summary_is_written_from_the_numbers():
    tanh = lane_summary(
        "tanh", 0.083, {1.0: 30, 0.1: 69}, saturated=0.29, derivative=0.40, caption="a red star", matches=True
    )
    sigmoid = lane_summary(
        "sigmoid", 12.45, {1.0: None, 0.1: None}, saturated=0.23, derivative=0.11, caption="a cat"
    )
    text = race_summary(RaceSummary([tanh, sigmoid], 50, 512, True))
    assert "After **100 iterations** on 50 training captions (H = 512)" in text
    assert "same initial weights" in text
    assert "**tanh** went from loss 45.00 to 0.083" in text
    assert "below 1 at iteration 30 and below 0.1 at iteration 69" in text
    assert "**sigmoid** went from loss 45.00 to 12.450" in text and "never went below 1" in text
    assert f"{12.45 / 0.083:.1f}× below **sigmoid**" in text
    assert "f′(a) = 0.40 for tanh and 0.11 for sigmoid" in text
    assert "3.6× faster" in text
    assert "23% of sigmoid's values are saturated" in text and "fewer units" in text
    assert "tanh says “a red star” (a ground-truth caption, word for word)" in text


def test_summary_follows_the_winner_when_numbers_change():
    tanh = lane_summary("tanh", 5.0, {1.0: None, 0.1: None}, derivative=0.3)
    relu = lane_summary("relu", 0.5, {1.0: 40, 0.1: None}, derivative=0.6, saturated=0.6)
    text = race_summary(RaceSummary([tanh, relu], 20, 64, True))
    assert "**relu** ends lowest: 10.0× below **tanh**" in text
    assert "below 1 at iteration 40, never below 0.1" in text
    assert "60% of relu" not in text and "10% of tanh's values" in text


def test_summary_before_training():
    empty = lane_summary("tanh", None, {})
    assert race_summary(RaceSummary([empty], 50, 512, True)) == "Start the race to see a summary."


def test_hidden_stats_type_is_what_the_figure_reads():
    stats = HiddenStats("relu", np.array([3, 1]), np.array([0.0, 0.5, 1.0]), 0.75, 0.25, 7)
    spec = figure_json(figures.histogram_figure([stats]))
    np.testing.assert_allclose(decode(spec["data"][0]["y"]), [0.75, 0.25])
