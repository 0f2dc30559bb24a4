"""explainer.gradcheck: tables, figures and verdicts carry the numbers of the checks they were given, and every
sentence about why a gradient fails follows from the numbers it quotes."""

import re

import numpy as np
import pytest

from core.lab.bugs import BUGS, engine_with_bug
from core.lab.gradcheck_lab import (
    BUG,
    CELLS,
    PASS_BOUND,
    REFERENCE_STEP,
    RESOLUTION_REACH,
    RESOLUTION_RISE,
    ROUND_OFF,
    SCAN_STEPS,
    STEP_CHOICES,
    THRESHOLDS,
    TOO_LARGE,
    UNRESOLVED,
    CheckResult,
    Diagnosis,
    LabSizes,
    ParamCheck,
    StepScan,
    bugs_of,
    checks_of,
    run_all_checks,
    run_check,
)
from explainer import gradcheck
from tests.helpers.plotly_json import decode, figure_json

# Small sizes keep the sweep over every dtype, step and bug quick; what it asserts holds at any size.
SMALL = LabSizes(N=2, T=2, D=3, W=3, H=3, V=5)
NUMBER = r"(\d\.\d\de[+-]\d\d)"
STEP = r"(\d[\d.e+-]*\d|\d)"


@pytest.fixture(scope="module")
def clean():
    return run_all_checks()


@pytest.fixture(scope="module")
def buggy():
    return run_all_checks(bug="drop_local_derivative")


def test_result_rows_list_every_gradient_with_its_error_and_cause(clean):
    rows = gradcheck.result_rows(clean)
    assert len(rows) == sum(len(r.params) for r in clean) == 23
    step_wh = next(r for r in rows if r["check"].startswith("RNN step") and r["gradient"] == "dWh")
    check = clean[0].by_name("Wh")
    assert step_wh["max relative error"] == f"{check.max_rel_error:.2e}"
    assert step_wh["shape"] == "6 × 6"
    assert {r["verdict"] for r in rows} == {"pass"} and {r["cause"] for r in rows} == {""}
    large = gradcheck.result_rows(run_all_checks(step=1e-2, layers=("rnn_sequence",)))
    assert {(r["verdict"] != "pass", r["cause"]) for r in large} <= {(True, "Step too large"), (False, "")}
    assert any(r["cause"] for r in large)


def test_the_gradients_that_fail_head_the_table():
    """The embedding bug fails dW_embed of the embedding and of the model, the 13th and 23rd of 23 rows in
    the checks' order, below a table's fold: they come first, then those that pass, each in that order."""
    results = run_all_checks(bug="embedding_assign")
    rows = gradcheck.result_rows(results)
    in_order = [(gradcheck.LAYER_TITLES[r.layer], f"d{p.name}", p.verdict) for r in results for p in r.params]
    shown = [(row["check"], row["gradient"], row["verdict"]) for row in rows]
    failing = [row for row in in_order if row[2] != "pass"]
    assert [row[1] for row in failing] == ["dW_embed", "dW_embed"]
    assert shown == failing + [row for row in in_order if row[2] == "pass"]


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
    assert spec["layout"]["xaxis"]["ticktext"] == ["1e-15", "1e-12", "1e-9", "1e-6", "1e-3", "1"]


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


def test_heatmap_colours_change_where_the_verdicts_do():
    """Each verdict band has the colour of its bars in the overview, and the pass band ends at its bound."""
    scale = gradcheck.ERROR_SCALE
    low, high = gradcheck.LOG_RANGE
    for (bound, verdict, _), (_, after, _) in zip(THRESHOLDS, THRESHOLDS[1:], strict=False):
        edge = (np.log10(bound) - low) / (high - low)
        at_edge = [color for position, color in scale if np.isclose(position, edge)]
        assert len(at_edge) == 2 and at_edge[1] == gradcheck.VERDICT_COLORS[after], verdict
    assert scale[-1] == [1.0, gradcheck.VERDICT_COLORS["wrong"]]
    positions = [position for position, _ in scale]
    assert positions == sorted(positions) and positions[0] == 0.0


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


def test_scan_figure_draws_the_measured_errors_at_each_step():
    """The float32 scan, the float64 reference scan of a bug, the check's own step: the numbers core measured."""
    result = run_check("rnn_step", bug="drop_local_derivative", dtype="float32", step=1e-3)
    check = result.by_name("Wh")
    own, reference = check.diagnosis.scan, check.diagnosis.reference_scan
    spec = figure_json(gradcheck.scan_figure(check))
    measured, float64, chosen = spec["data"]
    np.testing.assert_allclose(decode(measured["x"]), own.steps)
    np.testing.assert_allclose(decode(measured["y"]), np.maximum(own.errors, gradcheck.FLOOR))
    np.testing.assert_allclose(decode(float64["y"]), np.maximum(reference.errors, gradcheck.FLOOR))
    assert "float32" in measured["name"] and "float64" in float64["name"]
    assert decode(chosen["x"]).tolist() == [1e-3]
    assert decode(chosen["y"]).tolist() == [max(check.max_rel_error, gradcheck.FLOOR)]
    assert spec["layout"]["xaxis"]["type"] == "log" and spec["layout"]["yaxis"]["type"] == "log"


# --------------------------------------------------------------------------- sentences and their numbers


def quoted(pattern, text):
    match = re.search(pattern, text)
    assert match, (pattern, text)
    return [float(group) for group in match.groups() if group is not None]


def assert_follows_from_its_numbers(result, check, text):
    """The diagnosis sentence quotes the measurements (as the page shows them, to 3 digits) and says nothing
    they contradict."""
    diagnosis = check.diagnosis
    scan = diagnosis.scan
    if diagnosis.cause == BUG:
        (reference_error,) = quoted(rf"with h = 1e-05 its largest error is {NUMBER}", text)
        span = quoted(rf"stays (?:at {NUMBER}|between {NUMBER} and {NUMBER}) at every step h", text)
        assert reference_error == float(f"{diagnosis.reference_error:.2e}") and reference_error >= PASS_BOUND
        assert min(span) == float(f"{min(diagnosis.reference_scan.errors):.2e}") and min(span) >= PASS_BOUND
        assert "the backward pass is wrong" in text and "is right" not in text
        return
    step, error = quoted(rf"at h = {STEP} its largest error is {NUMBER}", text)
    assert step == result.step and error == float(f"{check.max_rel_error:.2e}")
    if diagnosis.cause == UNRESOLVED:
        # no step resolves the element: the sentence names no cause of a step
        assert "does better" not in text and "halves" not in text and "Use float64" not in text
        reference_error = assert_unresolved_follows_from_its_numbers(check, text)
    else:
        assert_step_follows_from_its_numbers(diagnosis, step, error, text)
        assert "too small for finite differences to resolve" not in text
        if "this gradient's largest error is" in text:
            (reference_error,) = quoted(rf"h = 1e-05 this gradient's largest error is {NUMBER}", text)
        else:
            reference_error, _ = quoted(rf"agrees to {NUMBER} at h = {STEP}", text)
    assert reference_error < PASS_BOUND and "is wrong" not in text
    offered = [h for h in scan.steps if h in STEP_CHOICES and scan.error_at(h) < PASS_BOUND]
    if "Choose h" in text:  # the nearest step the lab's slider offers where that element passes
        (chosen,) = quoted(
            rf"Choose h = {STEP}, the nearest step where that element is inside the pass band", text
        )
        distance = [abs(np.log10(h / step)) for h in offered]
        assert chosen in offered and abs(np.log10(chosen / step)) == pytest.approx(min(distance))
    elif "beyond the lab's steps" in text:
        (best,) = quoted(rf"Only at h = {STEP}, beyond the lab's steps \(0\.01 to 1e-08\), is that", text)
        assert not offered and best not in STEP_CHOICES and scan.error_at(best) < PASS_BOUND
    else:
        best_error, best = quoted(rf"Even at its best \({NUMBER}, at h = {STEP}\) it stays outside", text)
        assert (
            best_error >= PASS_BOUND
            and min(scan.errors) >= PASS_BOUND
            and scan.error_at(best) == min(scan.errors)
        )


def assert_step_follows_from_its_numbers(diagnosis, step, error, text):
    """The sentence on a smaller or larger step quotes its error and names the cause it shows."""
    scan = diagnosis.scan
    if "does better" in text:
        better, better_error = quoted(rf"does better: at h = {STEP} that element's error is {NUMBER}", text)
        assert better_error < error / 2 * 1.01
        assert better_error == float(f"{scan.error_at(better):.2e}")
        if better < step:
            assert (
                diagnosis.cause == TOO_LARGE and "The step is too large" in text and "Round-off" not in text
            )
        else:
            assert diagnosis.cause == ROUND_OFF and "Round-off dominates" in text and "too large" not in text
    else:
        best_error, best = quoted(rf"halves that error \(the smallest is {NUMBER}, at h = {STEP}\)", text)
        assert diagnosis.cause == ROUND_OFF and best_error >= error / 2 * 0.99
        assert best_error == float(f"{scan.error_at(best):.2e}") == float(f"{min(scan.errors):.2e}")


def assert_unresolved_follows_from_its_numbers(check, text):
    """The sentence on an element too small to resolve quotes the whole gradient's agreement, the element
    against the largest entry, and a V of its float64 errors (RESOLUTION_RISE times the best or more, 2 to 4
    places either side of it, RESOLUTION_REACH): the numbers core.lab.gradcheck_lab.too_small_to_resolve
    decides on. Returns the agreement quoted."""
    diagnosis = check.diagnosis
    reference = diagnosis.reference_scan
    (agreement,) = quoted(rf"the whole gradient agrees to {NUMBER}", text)
    assert agreement == float(f"{diagnosis.reference_norm_error:.2e}")
    index = ", ".join(str(i) for i in reference.index)
    match = re.search(
        rf"`d{check.name}\[{index}\]` = (-?{NUMBER[1:-1]}), is (?:([\d.e+]+)× smaller than|0 against) the "
        rf"largest entry \({NUMBER}\)",
        text,
    )
    assert match, text
    element, ratio, largest = (None if group is None else float(group) for group in match.groups())
    analytic = np.asarray(check.analytic)
    assert element == float(f"{analytic[reference.index]:.2e}") and largest == float(
        f"{np.abs(analytic).max():.2e}"
    )
    if analytic[reference.index] == 0:
        assert "is 0 against the largest entry" in text
    else:
        assert ratio == pytest.approx(largest / abs(element), rel=0.05) and ratio > 1
    best, best_step, above, larger, below, smaller = quoted(
        rf"its error, {NUMBER} at best \(h = {STEP}\), rises to {NUMBER} at h = {STEP} and {NUMBER} at "
        rf"h = {STEP}, the V of truncation against round-off",
        text,
    )
    assert (
        best == float(f"{min(reference.errors):.2e}")
        and best >= PASS_BOUND
        and best_step == reference.best_step
    )
    assert larger > best_step > smaller and min(above, below) >= RESOLUTION_RISE * best
    near, far = RESOLUTION_REACH
    places = [abs(reference.steps.index(h) - reference.steps.index(best_step)) for h in (larger, smaller)]
    assert all(near <= place <= far for place in places)
    assert (above, below) == tuple(float(f"{reference.error_at(h):.2e}") for h in (larger, smaller))
    assert "is wrong" not in text
    return agreement


def test_the_step_advised_is_one_the_lab_offers():
    """At sizes of 1 in float64 with h = 1e-8, dWx of the whole model does best at h = 0.1, past the slider:
    the advice names one of the slider's steps instead, the nearest where that element passes."""
    (model,) = run_all_checks(LabSizes(N=1, T=1, D=1, W=1, H=1, V=4), step=1e-8, layers=["model"])
    (wx,) = [check for check in model.params if check.name == "Wx"]
    assert wx.diagnosis.scan.best_step == 0.1 not in STEP_CHOICES
    text = gradcheck.diagnosis_markdown(model, wx)
    assert_follows_from_its_numbers(model, wx, text)
    assert text.endswith("Choose h = 1e-07, the nearest step where that element is inside the pass band.")


@pytest.mark.parametrize("start", [1e-7, 1e-8, 1e-2])
def test_following_the_advice_leads_to_a_step_where_every_gradient_passes(start):
    """The lab's checks at its default sizes, in float64: from a step too small or too large, taking the step
    the worst gradient's diagnosis advises, again and again, moves one way and ends where every gradient
    passes (advising each element's own best step sent a learner from 1e-7 to 1e-3 and back to 1e-6)."""
    step, visited = start, [start]
    for _ in range(len(STEP_CHOICES)):
        results = run_all_checks(step=step)
        failing = [(r, p) for r in results for p in r.params if p.diagnosis is not None]
        if not failing:
            break
        text = gradcheck.diagnosis_markdown(*max(failing, key=lambda pair: pair[1].max_rel_error))
        (step,) = quoted(rf"Choose h = {STEP}, the nearest step", text)
        visited.append(step)
    assert not failing, visited
    assert visited == sorted(visited) or visited == sorted(visited, reverse=True), visited


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("step", STEP_CHOICES)
def test_every_diagnosis_follows_from_the_numbers_it_quotes(dtype, step):
    """Over every step and both precisions, without a bug and with each bug (on a cell that runs it): each
    failing gradient's sentence quotes its measurements and agrees with them, and the advice and the table
    give it the same cause."""
    runs = [("tanh", "none"), ("lstm", "none")] + [
        ("lstm" if bug not in bugs_of("tanh") else "tanh", bug) for bug in BUGS if bug != "none"
    ]
    for cell, bug in runs:
        layers = checks_of(cell) if bug == "none" else BUGS[bug].checks
        layers = [layer for layer in layers if layer in checks_of(cell)]
        results = run_all_checks(SMALL, CELLS[cell][1], bug, dtype, step=step, layers=layers)
        causes = {row["gradient"] + row["check"]: row["cause"] for row in gradcheck.result_rows(results)}
        for result in results:
            for check in result.params:
                if check.diagnosis is None:
                    continue
                text = gradcheck.diagnosis_markdown(result, check)
                assert_follows_from_its_numbers(result, check, text)
                title = gradcheck.CAUSE_TITLES[check.diagnosis.cause]
                assert causes[f"d{check.name}" + gradcheck.LAYER_TITLES[result.layer]] == title
        advice = gradcheck.advice_markdown(results)
        for line in advice.splitlines()[1:]:
            # Each cause's line quotes the diagnosis of its worst gradient.
            title = line.split("**")[1]
            cause = next(c for c, t in gradcheck.CAUSE_TITLES.items() if t == title)
            group = [(r, p) for r in results for p in r.params if p.diagnosis and p.diagnosis.cause == cause]
            worst = max(group, key=lambda pair: pair[1].max_rel_error)
            assert line.endswith(gradcheck.diagnosis_markdown(*worst)) and f"({len(group)}: " in line


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_an_element_too_small_to_resolve_is_explained_not_called_a_bug(dtype, largest_lstm_check):
    """The LSTM model at the lab's largest sizes, seed 0: dWh fails even in float64 at every step, at an element
    too small to resolve (tests/lab/test_gradcheck_lab.py). The page explains it and names no bug, in float64
    (h = 1e-5) and in float32 (h = 1e-3)."""
    result = largest_lstm_check
    if dtype == "float32":
        result = run_check("lstm_model", result.sizes, dtype="float32", step=1e-3)
    wh = result.by_name("Wh")
    text = gradcheck.diagnosis_markdown(result, wh)
    assert wh.diagnosis.cause == UNRESOLVED and "too small for finite differences to resolve" in text
    assert_follows_from_its_numbers(result, wh, text)
    kind, verdict = gradcheck.verdict_markdown([result], "none")
    assert kind == "failed" and "bug" not in verdict.replace("deliberate bug", "")
    assert gradcheck.CAUSE_TITLES[gradcheck.BUG] not in gradcheck.advice_markdown([result])


def test_an_element_whose_errors_dip_near_their_best_is_explained_too():
    """The sigmoid model of tests/lab/test_gradcheck_lab.py whose dW_proj the lab blamed: its errors rise 30-fold
    only three places above the best step. Every failing gradient's sentence follows from its numbers; the one
    that fails at every step is explained as too small to resolve, quoting its rises."""
    result = run_check("model", LabSizes(4, 7, 16, 9, 16, 22), activation="sigmoid", seed=252)
    failing = [check for check in result.params if check.diagnosis is not None]
    assert [check.name for check in failing] == ["W_proj", "W_embed", "Wx"]
    for check in failing:
        text = gradcheck.diagnosis_markdown(result, check)
        assert_follows_from_its_numbers(result, check, text)
        # dW_embed's and dWx's worst elements pass at some step (2.1e-6 at h = 1e-4, 2.6e-6 at h = 1e-3):
        # resolved there, so not called too small.
        unresolved = min(check.diagnosis.reference_scan.errors) >= PASS_BOUND
        assert unresolved == (check.name == "W_proj") == (check.diagnosis.cause == UNRESOLVED)
        assert ("too small for finite differences to resolve" in text) == unresolved
    assert "rises to 1.82e-03 at h = 0.01 and 5.06e-02 at h = 1e-08" in gradcheck.diagnosis_markdown(
        result, failing[0]
    )


def test_an_unresolved_element_of_exactly_zero_is_said_without_a_ratio():
    """An element whose backward value is exactly 0 is no fraction of the largest entry: the sentence says it
    is 0 (a ratio would divide by it)."""
    errors = (0.95, 0.16, 1.9e-3, 1.5e-5, 1.7e-4, 1.6e-3, 3.4e-2, 0.18, 0.55)
    reference = StepScan((0, 0), "float64", REFERENCE_STEP, SCAN_STEPS, errors)
    analytic = np.array([[0.0, 0.5], [-0.2, 0.1]])
    check = ParamCheck("Wh", analytic, analytic, np.zeros((2, 2)), 1.7e-4, 6.7e-9, "look closer")
    check.diagnosis = Diagnosis(UNRESOLVED, reference, 1.7e-4, reference, 6.7e-9)
    result = CheckResult("lstm_model", "tanh", "float64", REFERENCE_STEP, "none", False, LabSizes(), [check])
    text = gradcheck.diagnosis_markdown(result, check)
    assert "`dWh[0, 0]` = 0.00e+00, is 0 against the largest entry (5.00e-01)" in text
    assert_follows_from_its_numbers(result, check, text)


def test_a_missed_bug_does_not_say_a_check_agrees_where_it_cannot_resolve():
    """A check that runs the bug without exercising it, and fails at every step only at an element too small to
    resolve: "Missed" must not claim it agrees with float64 finite differences everywhere."""
    errors = (0.95, 0.16, 1.9e-3, 1.5e-5, 1.7e-4, 1.6e-3, 3.4e-2, 0.18, 0.55)
    reference = StepScan((0, 0), "float64", REFERENCE_STEP, SCAN_STEPS, errors)
    analytic = np.array([[1e-9, 0.5], [-0.2, 0.1]])
    check = ParamCheck("Wh", analytic, analytic, np.zeros((2, 2)), 1.7e-4, 6.7e-9, "look closer")
    check.diagnosis = Diagnosis(UNRESOLVED, reference, 1.7e-4, reference, 6.7e-9)
    result = CheckResult(
        "lstm_model", "tanh", "float64", REFERENCE_STEP, "embedding_assign", True, LabSizes(), [check]
    )
    kind, said = gradcheck.verdict_markdown([result], "embedding_assign")
    assert kind == "missed"
    assert (
        "every check that runs it agrees with float64 finite differences, except at an element too small for "
        "them to resolve in Whole LSTM model"
    ) in said
    passing = CheckResult(
        "model", "tanh", "float64", REFERENCE_STEP, "embedding_assign", True, LabSizes(), []
    )
    passing.params = [ParamCheck("Wh", analytic, analytic, np.zeros((2, 2)), 1e-9, 1e-9, "pass")]
    kind, said = gradcheck.verdict_markdown([passing], "embedding_assign")
    assert (
        kind == "missed" and "agrees with float64 finite differences: the test input never exercises" in said
    )


def test_the_issues_cases():
    """h = 1e-2 in float64 is blamed on the step, 1e-8 in float32 on round-off, a bug on the bug."""
    large = run_check("rnn_sequence", step=1e-2).by_name("x")
    text = gradcheck.diagnosis_markdown(run_check("rnn_sequence", step=1e-2), large)
    assert "The step is too large" in text and "round-off" not in text.lower()
    result = run_check("model", dtype="float32", step=1e-8)
    for check in result.params:
        assert "Round-off dominates" in gradcheck.diagnosis_markdown(result, check)
    for dtype, step in (("float64", 1e-2), ("float32", 1e-8), ("float64", REFERENCE_STEP)):
        result = run_check("lstm_step", bug="forget_gate_without_c_prev", dtype=dtype, step=step)
        text = gradcheck.diagnosis_markdown(result, result.by_name("Wh"))
        assert "the backward pass is wrong" in text, (dtype, step)


def test_advice_is_empty_when_everything_passes_and_names_the_failing_gradients(clean):
    assert gradcheck.advice_markdown(clean) == ""
    results = run_all_checks(dtype="float32", step=1e-8)
    advice = gradcheck.advice_markdown(results)
    failing = sum(1 for r in results for p in r.params if p.diagnosis is not None)
    (line,) = advice.splitlines()[1:]
    assert line.startswith(f"- **Round-off** ({failing}: `rnn_step · dx`, ")
    assert f"and {failing - gradcheck.NAMED} more)" in line


# --------------------------------------------------------------------------- verdicts


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
    assert kind == "missed" and text.endswith(BUGS["embedding_assign"].unexercised)
    # Missed for its own reason, said once, and nothing about another layer's input.
    missed = [run_check("rnn_sequence", LabSizes(N=2, T=1, V=24), bug="no_carried_gradient", seed=3)]
    kind, text = gradcheck.verdict_markdown(missed, "no_carried_gradient")
    assert kind == "missed" and text.endswith("when T = 1: no later step carries gradient back.")
    assert "word id" not in text
    kind, text = gradcheck.verdict_markdown([run_check("rnn_step", dtype="float32")], "none")
    assert kind == "failed" and "without any deliberate bug" in text and "engine itself" not in text
    # The engine's own backward pass wrong (here a deliberate bug's results, read as if none was chosen): the
    # checks that fail in float64 too are named, the verb agreeing with how many.
    broken = [run_check(layer, bug="drop_local_derivative") for layer in ("rnn_step", "rnn_sequence")]
    _, one = gradcheck.verdict_markdown(broken[:1], "none")
    _, two = gradcheck.verdict_markdown(broken, "none")
    assert one.endswith(
        "RNN step (rnn_step_backward) fails in float64 at every step too: a bug in the engine itself."
    )
    assert two.endswith("(rnn_backward) fail in float64 at every step too: a bug in the engine itself.")
    # One gradient checked (the softmax loss has only dx): said in the singular, passing or failing.
    kind, text = gradcheck.verdict_markdown([run_check("temporal_softmax")], "none")
    assert kind == "success" and text.startswith("The gradient agrees with finite differences")
    kind, text = gradcheck.verdict_markdown([run_check("temporal_softmax", dtype="float32")], "none")
    assert kind == "failed" and text.startswith("1 gradient is outside the pass band")


def test_the_largest_error_of_a_caught_bug_is_one_of_the_checks_that_caught_it():
    """In float32 the checks without the bug fail through the finite differences, sometimes by more than
    the check that runs it: the verdict names the largest error where the bug is."""
    results = run_all_checks(bug="softmax_ignore_mask", dtype="float32")
    kind, text = gradcheck.verdict_markdown(results, "softmax_ignore_mask")
    assert kind == "caught"
    caught = [r for r in results if r.bug_applies and r.cause == BUG]
    worst = max(caught, key=lambda r: r.max_rel_error)
    assert f"Largest error there `d{worst.worst.name}` of {gradcheck.LAYER_TITLES[worst.layer]}: " in text
    assert {r.layer for r in caught} == {"temporal_softmax"}


def test_a_bug_is_caught_only_by_measurement_not_by_failing():
    """In float32 with a tiny step every check fails, yet only those that run the bug are said to catch it;
    the others are said to fail through the finite differences."""
    results = run_all_checks(bug="affine_bias_mean", dtype="float32", step=1e-8)
    kind, text = gradcheck.verdict_markdown(results, "affine_bias_mean")
    assert kind == "caught"
    shown_in = text.split("shows in: ")[1].split(": there")[0]
    assert shown_in == "Temporal affine (temporal_affine_backward), Whole model (CaptioningRNN.loss)"
    assert "fail only through the finite differences" in text


def test_a_bug_no_chosen_check_runs_is_said():
    kind, text = gradcheck.verdict_markdown(
        run_all_checks(bug="embedding_assign", layers=("rnn_step",)), "embedding_assign"
    )
    assert kind == "missed" and text.startswith("**Not run.**") and "Word embedding" in text


def test_float64_text_quotes_the_epsilons_and_places_them_against_the_pass_bound():
    text = gradcheck.float64_markdown(1e-5, "float64")
    assert f"| float32 | 1.2e-07 | {np.finfo(np.float32).eps / 1e-5:.1e} |" in text
    assert f"| float64 | 2.2e-16 | {np.finfo(np.float64).eps / 1e-5:.1e} |" in text
    assert "float32's (1.2e-02) is outside the pass band" in text
    assert "float64's (2.2e-11) is inside the pass band" in text and text.endswith("to see the difference.")
    # ε/h is the error relative to an element as large as the loss: smaller elements fail sooner, as the lab's
    # own round-off failures in float64 at h = 1e-8 show.
    assert "At this h, for an element as large as the loss, float32's" in text
    assert "ε / h · |f| / |g|" in text and "a small h can fail some elements in float64 too" in text
    large = gradcheck.float64_markdown(1e-1, "float32")
    assert "float32's (1.2e-06) is inside the pass band" in large and "Switch" not in large
    assert "| pass |" in gradcheck.thresholds_markdown()


def test_bug_code_wraps_its_lines_instead_of_scrolling():
    html = gradcheck.bug_html(BUGS["forget_gate_without_c_prev"].edits[1])
    assert "white-space:pre-wrap" in html and "overflow-x" not in html
    assert html.count('data-bug="wrong"') == 1
    assert "da_f[t] = dc[t] * sigmoid_derivative(f[t])" in html


def test_a_check_that_runs_a_bug_it_cannot_show_is_not_said_not_to_run_it():
    """The whole model calls the softmax loss the bug breaks, but its vocabulary layer never scores the <NULL>
    positions: its gradients agree, and the verdict says why instead of "not run"."""
    broken = engine_with_bug("softmax_ignore_mask")
    assert broken.model_loss.__globals__["temporal_softmax_loss"] is broken.temporal_softmax_loss
    assert broken.temporal_softmax_loss is not engine_with_bug("none").temporal_softmax_loss
    alone = run_all_checks(bug="softmax_ignore_mask", layers=("model",))
    assert all(r.passed for r in alone)
    kind, text = gradcheck.verdict_markdown(alone, "softmax_ignore_mask")
    assert kind == "missed" and text.startswith("**Missed.** Whole model (CaptioningRNN.loss) runs the code")
    assert "cannot show it" in text and "Not run" not in text
    kind, text = gradcheck.verdict_markdown(
        run_all_checks(bug="softmax_ignore_mask", layers=("temporal_softmax", "model", "rnn_step")),
        "softmax_ignore_mask",
    )
    assert kind == "caught" and "Whole model (CaptioningRNN.loss) runs it too but cannot show it" in text
    assert text.endswith("Checks that do not run the broken code still pass, which tells you where to look.")
