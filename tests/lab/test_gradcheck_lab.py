"""The gradient-check lab: correct backward passes pass, each deliberate bug is caught where it lives."""

import numpy as np
import pytest

from core.engine import rnn_layers
from core.engine.rnn import CaptioningRNN
from core.errors import ActivationError, HyperparameterError
from core.lab.bugs import BUGS, broken_source, engine_with_bug
from core.lab.gradcheck_lab import (
    ALL_LAYERS,
    BUG,
    CAPTIONER_CHECKS,
    CELLS,
    LAYER_TITLES,
    LAYERS,
    LSTM_LAYERS,
    PASS_BOUND,
    REFERENCE_STEP,
    ROUND_OFF,
    SCAN_STEPS,
    TOO_LARGE,
    UNRESOLVED,
    LabSizes,
    StepScan,
    bugs_of,
    cause_of,
    checks_of,
    run_all_checks,
    run_check,
    same_checks_for,
    verdict,
)
from core.lab.source import function_source

PARAMS = {
    "rnn_step": ["x", "prev_h", "Wx", "Wh", "b"],
    "rnn_sequence": ["x", "h0", "Wx", "Wh", "b"],
    "word_embedding": ["W_embed"],
    "temporal_affine": ["x", "w", "b"],
    "temporal_softmax": ["x"],
    "model": ["W_proj", "b_proj", "W_embed", "Wx", "Wh", "b", "W_vocab", "b_vocab"],
    "lstm_step": ["x", "prev_h", "prev_c", "Wx", "Wh", "b"],
    "lstm_sequence": ["x", "h0", "Wx", "Wh", "b"],
    "lstm_model": ["W_proj", "b_proj", "W_embed", "Wx", "Wh", "b", "W_vocab", "b_vocab"],
}


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_real_backward_passes_pass_every_check(activation):
    results = run_all_checks(activation=activation)
    assert [r.layer for r in results] == list(LAYERS)
    for result in results:
        assert [p.name for p in result.params] == PARAMS[result.layer]
        assert result.passed, (result.layer, result.max_rel_error)
        assert result.max_rel_error < 1e-5
        assert not result.bug_applies


def test_shapes_follow_the_sizes():
    sizes = LabSizes(N=3, T=4, D=5, W=6, H=7, V=11)
    step = run_check("rnn_step", sizes)
    assert step.by_name("x").shape == (3, 5)
    assert step.by_name("Wh").shape == (7, 7)
    sequence = run_check("rnn_sequence", sizes)
    assert sequence.by_name("x").shape == (3, 4, 5)
    assert sequence.by_name("h0").rel_error.shape == (3, 7)
    assert run_check("word_embedding", sizes).by_name("W_embed").shape == (11, 6)
    assert run_check("temporal_affine", sizes).by_name("w").shape == (7, 11)
    assert run_check("temporal_softmax", sizes).by_name("x").shape == (3, 4, 11)
    model = run_check("model", sizes)
    assert model.by_name("W_vocab").shape == (7, 11)
    assert model.loss > 0


def test_analytic_equals_numeric_elementwise_for_the_step():
    check = run_check("rnn_step").by_name("Wx")
    np.testing.assert_allclose(check.analytic, check.numeric, rtol=1e-6, atol=1e-9)
    assert check.rel_error.max() == check.max_rel_error
    assert check.norm_rel_error < 1e-8


def test_real_lstm_backward_passes_pass_every_check():
    results = run_all_checks(layers=LSTM_LAYERS)
    assert [r.layer for r in results] == list(LSTM_LAYERS)
    assert ALL_LAYERS == LAYERS + LSTM_LAYERS and set(LAYER_TITLES) == set(ALL_LAYERS)
    for result in results:
        assert [p.name for p in result.params] == PARAMS[result.layer]
        assert result.passed, (result.layer, result.max_rel_error)


def test_lstm_shapes_follow_the_sizes():
    sizes = LabSizes(N=3, T=4, D=5, W=6, H=7, V=11)
    step = run_check("lstm_step", sizes)
    assert step.by_name("prev_c").shape == (3, 7)
    assert step.by_name("Wx").shape == (5, 28) and step.by_name("Wh").shape == (7, 28)
    assert step.passed
    sequence = run_check("lstm_sequence", sizes)
    assert sequence.by_name("x").shape == (3, 4, 5) and sequence.by_name("b").shape == (28,)
    assert sequence.passed
    model = run_check("lstm_model", sizes)
    assert model.by_name("Wh").shape == (7, 28) and model.by_name("W_vocab").shape == (7, 11)
    assert model.loss > 0 and model.passed


@pytest.mark.parametrize("bug", [b for b in BUGS if b != "none"])
def test_each_bug_is_caught_exactly_where_it_lives(bug):
    """Over every check of both cells: the checks a bug declares catch it, all the others pass."""
    results = run_all_checks(bug=bug, layers=ALL_LAYERS)
    assert {r.layer for r in results if r.bug_applies} == set(BUGS[bug].checks)
    for result in results:
        if result.layer in BUGS[bug].checks:
            assert result.bug_applies
            assert result.max_rel_error > 1e-2, (bug, result.layer)
            assert result.worst.verdict == "wrong"
        else:
            assert not result.bug_applies
            assert result.passed, (bug, result.layer)


def test_dropping_the_tanh_derivative_breaks_the_cell_gradients_but_not_the_bias_free_parts():
    result = run_check("rnn_step", bug="drop_local_derivative")
    for name in ("x", "prev_h", "Wx", "Wh", "b"):
        check = result.by_name(name)
        assert check.verdict == "wrong"
        # Without 1 - h^2 (<= 1) the buggy gradient is larger in size than the true one.
        assert np.linalg.norm(check.analytic) > np.linalg.norm(check.numeric)


def test_forget_gate_bug_breaks_only_the_forget_gates_gradients():
    """Without c_{t-1} in da_f, the step's gradients of what da_f reaches are wrong; the first step of a
    sequence (c0 = 0, so its true da_f is 0) is where the sequence backward goes wrong most."""
    step = run_check("lstm_step", bug="forget_gate_without_c_prev")
    assert step.by_name("Wx").verdict == "wrong" and step.by_name("b").verdict == "wrong"
    H = step.sizes.H
    db = step.by_name("b")
    # only the forget gate's columns of b differ: i, o and g keep their true gradient
    np.testing.assert_allclose(db.analytic[:H], db.numeric[:H], rtol=1e-6)
    np.testing.assert_allclose(db.analytic[2 * H :], db.numeric[2 * H :], rtol=1e-6)
    assert np.abs(db.analytic[H : 2 * H] - db.numeric[H : 2 * H]).max() > 1e-3
    # prev_c gets its gradient through dc * f, not through da_f: the bug leaves it right
    assert step.by_name("prev_c").verdict == "pass"
    assert run_check("lstm_sequence", bug="forget_gate_without_c_prev").by_name("Wh").verdict == "wrong"
    assert run_check("rnn_sequence", bug="forget_gate_without_c_prev").passed


def test_carried_gradient_bug_is_invisible_to_a_single_step():
    assert run_check("rnn_step", bug="no_carried_gradient").passed
    sequence = run_check("rnn_sequence", bug="no_carried_gradient")
    assert sequence.by_name("Wh").verdict == "wrong"


def test_embedding_overwrite_needs_a_repeated_word_to_be_seen():
    caught = run_check("word_embedding", bug="embedding_assign", repeat_word=True)
    assert caught.by_name("W_embed").verdict == "wrong"
    assert "more than once in this input" in caught.notes[0]
    sizes = LabSizes(N=1, T=3, V=24)
    missed = run_check("word_embedding", sizes, bug="embedding_assign", repeat_word=False, seed=3)
    assert missed.passed
    assert "No word id repeats" in missed.notes[0]


def test_float32_shows_why_float64_is_used():
    f64 = run_check("model", dtype="float64")
    f32 = run_check("model", dtype="float32")
    assert f64.max_rel_error < 1e-5
    assert f32.max_rel_error > 1e-3
    assert f32.by_name("Wh").analytic.dtype == np.float32


def test_without_a_bug_the_lab_runs_the_engine_itself():
    engine = engine_with_bug("none")
    assert engine.rnn_backward is rnn_layers.rnn_backward
    assert engine.model_loss is CaptioningRNN.loss


@pytest.mark.parametrize("bug", [b for b in BUGS if b != "none"])
def test_each_bug_swaps_exactly_one_real_line_per_edit(bug):
    for edit in BUGS[bug].edits:
        right = function_source(edit.function).splitlines()
        wrong = broken_source(edit).splitlines()
        changed = [(a, b) for a, b in zip(right, wrong, strict=True) if a != b]
        assert (
            len(changed) == 1 and changed[0][0].strip() == edit.right and changed[0][1].strip() == edit.wrong
        )


@pytest.mark.parametrize("bug", [b for b in BUGS if b != "none"])
def test_the_broken_code_shown_is_the_code_that_runs(bug):
    """Executing the broken source as the page shows it gives what the lab's check computed."""
    result = run_check(BUGS[bug].checks[0], bug=bug)
    again = run_check(BUGS[bug].checks[0], bug=bug)
    for mine, theirs in zip(result.params, again.params, strict=True):
        np.testing.assert_array_equal(mine.analytic, theirs.analytic)
    for edit in BUGS[bug].edits:
        namespace = dict(vars(__import__(edit.function.__module__, fromlist=["_"])))
        exec(broken_source(edit), namespace)
        shown = namespace[edit.function.__name__]
        assert (
            getattr(engine_with_bug(bug), edit.function.__name__).__code__.co_code == shown.__code__.co_code
        )


def test_engine_modules_are_untouched_by_a_bug():
    before = rnn_layers.rnn_backward
    engine_with_bug("drop_local_derivative")
    assert rnn_layers.rnn_backward is before
    assert "derivative(" in function_source(rnn_layers.rnn_backward)


def test_verdict_bands():
    assert verdict(1e-9) == "pass"
    assert verdict(1e-4) == "look closer"
    assert verdict(5e-3) == "suspicious"
    assert verdict(0.5) == "wrong"


def test_same_seed_same_numbers():
    a = run_check("rnn_sequence", seed=7).by_name("Wh").numeric
    b = run_check("rnn_sequence", seed=7).by_name("Wh").numeric
    c = run_check("rnn_sequence", seed=8).by_name("Wh").numeric
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_bad_arguments_raise_friendly_errors():
    with pytest.raises(HyperparameterError, match="H=99"):
        run_check("rnn_step", LabSizes(H=99))
    with pytest.raises(HyperparameterError, match="layer='lstm' is unknown; choose one of .*lstm_model"):
        run_check("lstm")
    with pytest.raises(HyperparameterError, match="bug="):
        run_check("rnn_step", bug="typo")
    with pytest.raises(HyperparameterError, match="dtype="):
        run_check("rnn_step", dtype="float16")
    with pytest.raises(ActivationError):
        run_check("rnn_step", activation="gelu")


def test_progress_is_reported_for_every_layer():
    seen = []
    run_all_checks(progress=lambda fraction, message: seen.append((fraction, message)))
    assert len(seen) == len(LAYERS) + 1
    assert seen[0][0] == 0 and seen[-1][0] == 1.0
    assert "Whole model" in seen[-2][1]


# --------------------------------------------------------------------------- the cells and their checks


def test_each_cell_has_its_captioners_checks_and_the_bugs_in_code_it_runs():
    assert checks_of("relu") == LAYERS
    assert checks_of("lstm") == CAPTIONER_CHECKS["lstm"]
    assert set(checks_of("lstm")) - set(LSTM_LAYERS) == set(LAYERS) - {"rnn_step", "rnn_sequence", "model"}
    assert "forget_gate_without_c_prev" not in bugs_of("tanh")
    assert "drop_local_derivative" not in bugs_of("lstm") and "no_carried_gradient" not in bugs_of("lstm")
    for cell in CELLS:
        assert bugs_of(cell)[0] == "none"
        for bug in bugs_of(cell)[1:]:
            assert set(BUGS[bug].checks) & set(checks_of(cell)), (cell, bug)
    assert set(bugs_of("tanh")) | set(bugs_of("lstm")) == set(BUGS)


def test_another_cell_keeps_the_chosen_checks_as_their_counterparts():
    assert same_checks_for(["model", "rnn_step"], "lstm") == ("lstm_step", "lstm_model")
    assert same_checks_for(["temporal_softmax", "lstm_sequence"], "sigmoid") == (
        "rnn_sequence",
        "temporal_softmax",
    )
    assert same_checks_for(checks_of("lstm"), "tanh") == LAYERS
    assert same_checks_for([], "lstm") == ()


# --------------------------------------------------------------------------- why a check fails, measured


def scan(errors, step):
    """A StepScan over SCAN_STEPS with these errors (one per step), for the check's `step`."""
    return StepScan((0,), "float64", step, SCAN_STEPS, tuple(errors))


def test_cause_follows_how_the_error_moves_with_h():
    # truncation: the error falls by 100 per decade as h shrinks, until round-off takes over below 1e-5
    v_shape = [1e-2, 1e-4, 1e-6, 1e-8, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6]
    assert cause_of(scan(v_shape, 1e-2), 1e-10, None, 1e-10) == TOO_LARGE
    assert cause_of(scan(v_shape, 1e-8), 1e-10, None, 1e-10) == ROUND_OFF
    assert scan(v_shape, 1e-2).better_step == 1e-5 == scan(v_shape, 1e-8).better_step
    # a step that is already the best (or within a factor 2 of it) is the floor of its dtype: round-off
    floor = [1e-2, 1e-3, 1.2e-4, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 1.0]
    assert (
        scan(floor, 1e-4).better_step is None and cause_of(scan(floor, 1e-4), 1e-10, None, 1e-10) == ROUND_OFF
    )
    assert scan(floor, 1e-3).better_step is None
    # a bug: the float64 reference fails and its worst element stays outside the pass band at every h
    flat = [0.4, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.6, 0.9]
    assert cause_of(scan(v_shape, 1e-2), 0.5, scan(flat, REFERENCE_STEP), 0.5) == BUG
    # a reference that fails at its step but passes at a smaller one (a ReLU kink within h) is no bug
    kink = [0.5, 0.5, 0.3, 0.1, 0.05, 1e-9, 1e-9, 1e-8, 1e-7]
    assert cause_of(scan(v_shape, 1e-2), 0.05, scan(kink, REFERENCE_STEP), 1e-3) == TOO_LARGE


def test_an_element_too_small_to_resolve_is_told_from_a_bug_by_the_shape_of_its_errors():
    """A reference check that fails at every step is no bug when its worst element's errors form the V of
    truncation against round-off and the gradient agrees as a whole; a plateau, or a gradient that disagrees
    as a whole, is one."""
    # the LSTM model's dWh[10, 12] at the lab's largest sizes (the test below): 30x or more two places either side
    tiny = [0.95, 0.16, 1.9e-3, 1.5e-5, 1.7e-4, 1.6e-3, 3.4e-2, 0.18, 0.55]
    reference = scan(tiny, REFERENCE_STEP)
    assert reference.rises == (1e-2, 1e-6) and reference.is_v_shaped
    # a noisy round-off side (the test after the next): the rise is 3 places above the best, 2 below
    noisy = [0.15, 1.8e-3, 1.8e-5, 2.6e-5, 6.4e-5, 1.1e-5, 4.5e-3, 0.051, 0.5]
    assert scan(noisy, REFERENCE_STEP).rises == (1e-2, 1e-8)
    # whatever step the check took: no step resolves it, so which one does best says nothing
    for check_step in (REFERENCE_STEP, 1e-4, 1e-2):
        assert cause_of(scan(tiny, check_step), 1.7e-4, reference, 6.7e-9) == UNRESOLVED
    assert cause_of(reference, 1.7e-4, reference, 2e-5) == BUG
    # a wrong derivative: its error stays within 30x of its best up to four places away, on one side or both
    for errors in (
        [0.03, 2e-3, 1.6e-3, 1.5e-3, 1.5e-3, 1.5e-3, 1.6e-3, 2e-3, 0.04],
        [0.95, 0.16, 1.9e-3, 1.5e-5, 2e-5, 6e-5, 1e-4, 3e-4, 0.55],
        [0.4, 0.5, 0.5] + [0.5] * 6,
    ):
        assert not scan(errors, REFERENCE_STEP).is_v_shaped
        assert cause_of(scan(errors, REFERENCE_STEP), 0.5, scan(errors, REFERENCE_STEP), 6.7e-9) == BUG
    # a best step at an end of the scan leaves no V to see
    edge = [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert scan(edge, REFERENCE_STEP).rises is None and not scan(edge, REFERENCE_STEP).is_v_shaped


def test_a_right_lstm_at_the_largest_sizes_is_not_blamed_for_a_bug(largest_lstm_check):
    """The LSTM model at the lab's largest sizes, seed 0: its dWh[10, 12], -2.6e-7 against entries up to 0.09,
    fails even in float64 at every step (best 1.5e-5, at h = 1e-4) while the whole dWh agrees to 7e-9."""
    result = largest_lstm_check
    assert result.sizes.as_tuple() == (6, 8, 16, 16, 16, 24) and result.dtype == "float64"
    (failing,) = [check for check in result.params if check.diagnosis is not None]
    diagnosis = failing.diagnosis
    assert failing.name == "Wh" and min(diagnosis.reference_scan.errors) >= PASS_BOUND
    assert diagnosis.reference_norm_error < 1e-8 and diagnosis.reference_scan.is_v_shaped
    assert result.cause == diagnosis.cause == UNRESOLVED


def test_a_right_gradient_whose_round_off_side_is_noisy_is_not_blamed_for_a_bug():
    """The sigmoid model at N 4 · T 7 · D 16 · W 9 · H 16 · V 22, seed 252: its dW_proj[14, 8], -5.9e-7 against
    entries up to 0.074, fails even in float64 at every step. Its errors dip again near their best (1.8e-5,
    2.6e-5, 6.4e-5, then 1.1e-5 at h = 1e-6): they had not risen 5-fold two places above it, and the lab
    called it a bug. They rise 30-fold three places above and two below."""
    result = run_check("model", LabSizes(4, 7, 16, 9, 16, 22), activation="sigmoid", seed=252)
    diagnosis = result.by_name("W_proj").diagnosis
    assert min(diagnosis.reference_scan.errors) >= PASS_BOUND and diagnosis.reference_norm_error < 1e-8
    assert diagnosis.reference_scan.rises == (1e-2, 1e-8) and diagnosis.cause == UNRESOLVED
    assert BUG not in {check.diagnosis.cause for check in result.params if check.diagnosis is not None}


def test_a_scan_starts_from_the_checks_own_number():
    """The scan differentiates the worst element again, the very same way: at the check's step it finds the
    check's largest error exactly; it also covers a step outside SCAN_STEPS."""
    for dtype, step in (("float64", 1e-2), ("float32", 1e-8), ("float64", 3e-3)):
        result = run_check("rnn_sequence", dtype=dtype, step=step)
        for check in result.params:
            if check.diagnosis is None:
                assert check.verdict == "pass"
                continue
            measured = check.diagnosis.scan
            assert measured.index == check.worst_index and measured.dtype == dtype
            assert measured.steps == tuple(sorted(set(SCAN_STEPS) | {step}, reverse=True))
            assert measured.error_at(step) == check.max_rel_error


def failing(results):
    return [(r, p) for r in results for p in r.params if p.diagnosis is not None]


def test_a_large_step_in_float64_is_blamed_on_the_step():
    results = run_all_checks(step=1e-2)
    assert failing(results)
    for result, check in failing(results):
        diagnosis = check.diagnosis
        assert diagnosis.cause == TOO_LARGE, (result.layer, check.name)
        better = diagnosis.scan.better_step
        assert better < 1e-2 and diagnosis.scan.error_at(better) < check.max_rel_error / 2
        assert diagnosis.reference_error < PASS_BOUND and diagnosis.reference_scan is None


@pytest.mark.parametrize("cell", ["tanh", "lstm"])
def test_a_tiny_step_in_float32_is_blamed_on_round_off(cell):
    results = run_all_checks(dtype="float32", step=1e-8, activation=CELLS[cell][1], layers=checks_of(cell))
    assert all(not r.passed for r in results)
    for result, check in failing(results):
        scanned = check.diagnosis.scan
        assert check.diagnosis.cause == ROUND_OFF, (result.layer, check.name)
        assert scanned.better_step is None or scanned.better_step > 1e-8
        assert check.diagnosis.reference_error < PASS_BOUND


@pytest.mark.parametrize("bug", [b for b in BUGS if b != "none"])
@pytest.mark.parametrize(("dtype", "step"), [("float64", 1e-2), ("float32", 1e-8)])
def test_a_bug_is_blamed_on_the_bug_at_any_step_and_precision(bug, dtype, step):
    """Where the step (truncation) or the precision (round-off) makes every check fail, the checks that run
    the bug, and only they, are measured to have one: it stays in float64 at every step."""
    cell = "lstm" if bug in bugs_of("lstm") and bug not in bugs_of("tanh") else "tanh"
    clean = next(layer for layer in checks_of(cell) if layer not in BUGS[bug].checks)
    layers = [layer for layer in checks_of(cell) if layer in BUGS[bug].checks] + [clean]
    results = run_all_checks(bug=bug, dtype=dtype, step=step, layers=layers, activation=CELLS[cell][1])
    for result in results:
        causes = {p.diagnosis.cause for p in result.params if p.diagnosis is not None}
        assert (result.cause == BUG) == result.bug_applies, (result.layer, causes)
        for check in result.params:
            if check.diagnosis is not None and check.diagnosis.cause == BUG:
                assert check.diagnosis.reference_error >= PASS_BOUND
                assert min(check.diagnosis.reference_scan.errors) >= PASS_BOUND
                assert check.diagnosis.reference_scan.dtype == "float64"


def test_the_repeat_note_names_the_repeated_ids_in_a_sentence_that_agrees_with_their_number():
    from core.lab.gradcheck_lab import _repeat_note

    assert _repeat_note(np.array([[3, 1, 1]])).startswith("Word id 1 occurs more than once")
    assert _repeat_note(np.array([[3, 1, 1, 3]])).startswith("Word ids 1, 3 occur more than once")
    assert _repeat_note(np.array([[3, 1]])).startswith("No word id repeats")
