"""Update rules: the CS231n notebook's reference values, in-place updates, bad hyperparameters."""

import json
from pathlib import Path

import numpy as np
import pytest

from core.engine.gradient_check import rel_error
from core.engine.optim import UPDATE_RULES, adam, rmsprop, sgd, sgd_momentum
from core.errors import HyperparameterError

N, D = 4, 5


def _w_dw():
    w = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
    dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
    return w, dw


def test_sgd():
    w, dw = _w_dw()
    next_w, config = sgd(w, dw, {"learning_rate": 0.1})
    np.testing.assert_allclose(next_w, w - 0.1 * dw)
    assert config["learning_rate"] == 0.1


# The optimizer cells of the course notebook: the inputs below and the outputs it prints (8 decimals).
NOTEBOOK = json.loads((Path(__file__).parent / "notebook_optim_values.json").read_text())


def _state(start, stop):
    return np.linspace(start, stop, num=N * D).reshape(N, D)


@pytest.mark.parametrize(
    ("rule", "learning_rate", "state", "next_w_error"),
    [(sgd_momentum, 1e-3, "velocity", 1e-8), (rmsprop, 1e-2, "cache", 1e-7)],
)
def test_update_rule_matches_notebook(rule, learning_rate, state, next_w_error):
    w, dw = _w_dw()
    next_w, config = rule(w, dw, {"learning_rate": learning_rate, state: _state(0.6, 0.9)})
    expected = NOTEBOOK[rule.__name__]
    assert rel_error(next_w, np.asarray(expected["expected_next_w"])) < next_w_error
    assert rel_error(config[state], np.asarray(expected[f"expected_{state}"])) < 1e-8


def test_adam_matches_notebook():
    w, dw = _w_dw()
    config = {"learning_rate": 1e-2, "m": _state(0.6, 0.9), "v": _state(0.7, 0.5), "t": 5}
    next_w, config = adam(w, dw, config)
    expected = NOTEBOOK["adam"]
    # Near-zero weights make a relative check see only the notebook's 8-decimal rounding.
    np.testing.assert_allclose(next_w, np.asarray(expected["expected_next_w"]), rtol=0, atol=1e-8)
    assert rel_error(config["v"], np.asarray(expected["expected_v"])) < 1e-8
    assert rel_error(config["m"], np.asarray(expected["expected_m"])) < 1e-8
    assert config["t"] == 6


def test_adam_first_step_moves_every_weight_by_the_learning_rate():
    """With zero moments, bias correction makes the first Adam step lr * dw / (|dw| + epsilon / sqrt(1 - beta2)):
    lr * sign(dw) up to epsilon, which the course's step size alpha leaves uncorrected."""
    w, dw = _w_dw()
    next_w, config = adam(w.copy(), dw, {"learning_rate": 1e-3})
    np.testing.assert_allclose(next_w, w - 1e-3 * dw / (np.abs(dw) + 1e-8 / np.sqrt(1 - 0.999)), rtol=1e-12)
    np.testing.assert_allclose(next_w, w - 1e-3 * np.sign(dw), rtol=0, atol=1e-7)
    assert config["t"] == 1


@pytest.mark.parametrize("name", sorted(UPDATE_RULES))
def test_in_place_update_matches_out_of_place(name):
    rule = UPDATE_RULES[name]
    w, dw = (a.astype(np.float32) for a in _w_dw())
    expected, _ = rule(w.copy(), dw, {"learning_rate": 1e-2})
    config = {"learning_rate": 1e-2}
    target = w.copy()
    result, _ = rule(target, dw, config, out=target)
    assert result is target
    assert target.dtype == np.float32
    np.testing.assert_allclose(target, expected, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(UPDATE_RULES))
@pytest.mark.parametrize("learning_rate", [0, -1e-3])
def test_non_positive_learning_rate_is_refused(name, learning_rate):
    w, dw = _w_dw()
    with pytest.raises(HyperparameterError, match="^learning_rate must be > 0"):
        UPDATE_RULES[name](w, dw, {"learning_rate": learning_rate})


def course_adam(w, dw, config):
    """Adam as the course's cs231n/optim.py (assignment 3) writes it, on whole float64 arrays: the reference of
    the blocked adam."""
    config = {**config, "t": config.get("t", 0) + 1}
    m = config.get("m", np.zeros_like(w))
    v = config.get("v", np.zeros_like(w))
    config["m"] = 0.9 * m + 0.1 * dw
    config["v"] = 0.999 * v + 0.001 * dw**2
    alpha = config["learning_rate"] * np.sqrt(1 - 0.999 ** config["t"]) / (1 - 0.9 ** config["t"])
    return w - alpha * (config["m"] / (np.sqrt(config["v"]) + 1e-8)), config


@pytest.mark.parametrize("shape", [(300, 400), (400,), (70000,), (3, 5)])
def test_blocked_adam_matches_the_course_formula(shape):
    """Around the 64 K-element block, strided gradients, several steps: the course's numbers."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal(shape)
    reference, config = w.copy(), {"learning_rate": 1e-2}
    ours, our_config = w.copy(), {"learning_rate": 1e-2}
    for step in range(3):
        dw = rng.standard_normal(shape)
        if dw.ndim == 2 and step == 1:
            dw = np.asfortranarray(dw)
        reference, config = course_adam(reference, dw, config)
        ours, our_config = adam(ours, dw, our_config)
    np.testing.assert_allclose(ours, reference, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(our_config["v"], config["v"], rtol=1e-12)
