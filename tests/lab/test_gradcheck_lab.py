"""The gradient-check lab: correct backward passes pass, each deliberate bug is caught where it lives."""

import numpy as np
import pytest

from core.engine import rnn_layers
from core.engine.rnn import CaptioningRNN
from core.errors import ActivationError, HyperparameterError
from core.lab.bugs import BUGS, broken_source, engine_with_bug
from core.lab.gradcheck_lab import (
    ALL_LAYERS,
    LAYER_TITLES,
    LAYERS,
    LSTM_LAYERS,
    LabSizes,
    run_all_checks,
    run_check,
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
    assert "occur more than once" in caught.notes[0]
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
