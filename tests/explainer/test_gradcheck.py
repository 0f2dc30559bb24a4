"""explainer.gradcheck: tables, figures and verdicts carry the numbers of the checks they were given."""

import numpy as np
import pytest

from core.lab.gradcheck_lab import LabSizes, run_all_checks, run_check
from explainer import gradcheck
from tests.helpers.plotly_json import decode, figure_json


@pytest.fixture(scope="module")
def clean():
    return run_all_checks()


@pytest.fixture(scope="module")
def buggy():
    return run_all_checks(bug="drop_local_derivative")


def test_result_rows_list_every_gradient_with_its_error(clean):
    rows = gradcheck.result_rows(clean)
    assert len(rows) == sum(len(r.params) for r in clean) == 23
    step_wh = next(r for r in rows if r["layer"].startswith("RNN step") and r["gradient"] == "dWh")
    check = clean[0].by_name("Wh")
    assert step_wh["max relative error"] == f"{check.max_rel_error:.2e}"
    assert step_wh["shape"] == "6 × 6"
    assert {r["verdict"] for r in rows} == {"pass"}


def test_overview_bars_are_the_max_errors_coloured_by_verdict(buggy):
    spec = figure_json(gradcheck.overview_figure(buggy))
    bar = spec["data"][0]
    values = decode(bar["x"])
    expected = [max(p.max_rel_error, gradcheck.FLOOR) for r in buggy for p in r.params]
    np.testing.assert_allclose(values, expected)
    assert bar["y"][0] == "rnn_step · dx"
    colors = bar["marker"]["color"]
    assert colors[0] == gradcheck.VERDICT_COLORS["wrong"]
    embedding = bar["y"].index("word_embedding · dW_embed")
    assert colors[embedding] == gradcheck.VERDICT_COLORS["pass"]
    assert spec["layout"]["xaxis"]["type"] == "log"


def test_element_heatmap_shows_log_errors_and_both_gradients():
    check = run_check("rnn_sequence", LabSizes(N=2, T=3, D=4, H=5)).by_name("x")
    spec = figure_json(gradcheck.element_heatmap(check))
    heat = spec["data"][0]
    z = decode(heat["z"])
    assert z.shape == (6, 4)
    np.testing.assert_allclose(z, np.log10(np.maximum(check.rel_error.reshape(6, 4), gradcheck.FLOOR)))
    custom = decode(heat["customdata"])
    np.testing.assert_allclose(custom[..., 0], check.analytic.reshape(6, 4))
    np.testing.assert_allclose(custom[..., 1], check.numeric.reshape(6, 4))
    assert heat["y"][:2] == ["0, 0", "0, 1"]


def test_as_grid_and_row_labels():
    assert gradcheck.as_grid(np.arange(3)).shape == (1, 3)
    assert gradcheck.as_grid(np.zeros((2, 3, 4))).shape == (6, 4)
    assert gradcheck.as_grid(np.float64(2.0)).shape == (1, 1)
    assert gradcheck.row_labels((2, 3)) == ["0", "1"]
    assert gradcheck.row_labels((5,)) == [""]


def test_comparison_figure_plots_numeric_against_analytic(buggy):
    check = buggy[0].by_name("Wh")
    spec = figure_json(gradcheck.comparison_figure(check))
    points = spec["data"][1]
    np.testing.assert_allclose(decode(points["x"]), check.numeric.ravel())
    np.testing.assert_allclose(decode(points["y"]), check.analytic.ravel())
    assert points["marker"]["color"] == gradcheck.VERDICT_COLORS["wrong"]


def test_verdicts(clean, buggy):
    kind, text = gradcheck.verdict_markdown(clean, "none")
    assert kind == "success" and "All 23 gradients agree" in text
    kind, text = gradcheck.verdict_markdown(buggy, "drop_local_derivative")
    assert kind == "caught"
    assert "RNN step (rnn_step_backward)" in text and "Whole model" in text
    assert "Word embedding" not in text.split("Largest")[0]
    assert "still pass" in text
    missed = [
        run_check(
            "word_embedding", LabSizes(N=1, T=3, V=24), bug="embedding_assign", repeat_word=False, seed=3
        )
    ]
    kind, text = gradcheck.verdict_markdown(missed, "embedding_assign")
    assert kind == "missed" and "No word id repeats" in text
    kind, text = gradcheck.verdict_markdown([run_check("rnn_step", dtype="float32")], "none")
    assert kind == "failed" and "float32" in text


def test_float64_text_quotes_the_epsilons():
    text = gradcheck.float64_markdown(1e-5)
    assert f"{np.finfo(np.float32).eps / 1e-5:.1e}" in text
    assert f"{np.finfo(np.float64).eps / 1e-5:.1e}" in text
    assert "| pass |" in gradcheck.thresholds_markdown()
