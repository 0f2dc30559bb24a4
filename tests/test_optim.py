"""Update rules: the CS231n notebook's reference values, in-place updates, bad hyperparameters."""

import numpy as np
import pytest

from core.errors import HyperparameterError
from core.gradient_check import rel_error
from core.optim import UPDATE_RULES, adam, rmsprop, sgd, sgd_momentum, update_parameters

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


def test_sgd_momentum_matches_notebook():
    w, dw = _w_dw()
    v = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    next_w, config = sgd_momentum(w, dw, {"learning_rate": 1e-3, "velocity": v})
    expected_next_w = np.asarray(
        [
            [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
            [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
            [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
            [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096],
        ]
    )
    expected_velocity = np.asarray(
        [
            [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
            [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
            [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
            [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096],
        ]
    )
    assert rel_error(next_w, expected_next_w) < 1e-8
    assert rel_error(config["velocity"], expected_velocity) < 1e-8


def test_rmsprop_matches_notebook():
    w, dw = _w_dw()
    cache = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    next_w, config = rmsprop(w, dw, {"learning_rate": 1e-2, "cache": cache})
    expected_next_w = np.asarray(
        [
            [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
            [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
            [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
            [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619],
        ]
    )
    expected_cache = np.asarray(
        [
            [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
            [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
            [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
            [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926],
        ]
    )
    assert rel_error(next_w, expected_next_w) < 1e-7
    assert rel_error(config["cache"], expected_cache) < 1e-8


def test_adam_matches_notebook():
    w, dw = _w_dw()
    m = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    v = np.linspace(0.7, 0.5, num=N * D).reshape(N, D)
    next_w, config = adam(w, dw, {"learning_rate": 1e-2, "m": m, "v": v, "t": 5})
    expected_next_w = np.asarray(
        [
            [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
            [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
            [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
            [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459],
        ]
    )
    expected_v = np.asarray(
        [
            [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
            [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
            [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
            [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966],
        ]
    )
    expected_m = np.asarray(
        [
            [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
            [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
            [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
            [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85],
        ]
    )
    # The notebook prints 8 decimals; near-zero weights make a relative check see only that rounding.
    np.testing.assert_allclose(next_w, expected_next_w, rtol=0, atol=1e-8)
    assert rel_error(config["v"], expected_v) < 1e-8
    assert rel_error(config["m"], expected_m) < 1e-8
    assert config["t"] == 6


def test_adam_first_step_moves_every_weight_by_the_learning_rate():
    """With zero moments, bias correction makes the first Adam step lr * sign(dw) (up to epsilon)."""
    w, dw = _w_dw()
    next_w, config = adam(w.copy(), dw, {"learning_rate": 1e-3})
    np.testing.assert_allclose(next_w, w - 1e-3 * np.sign(dw), rtol=0, atol=1e-9)
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


@pytest.mark.parametrize("name", sorted(UPDATE_RULES))
def test_update_parameters_on_two_threads_matches_one_update_per_parameter(monkeypatch, name):
    """What the solver runs each iteration: identical whether split over two threads or not."""
    import core.layers

    rule = UPDATE_RULES[name]
    rng = np.random.default_rng(0)
    # Sizes around the 64 K-element Adam block, one strided gradient, biases.
    shapes = {"a": (300, 400), "b": (400,), "c": (70000,), "d": (3, 5)}
    params = {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
    grads = {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
    grads["a"] = np.asfortranarray(grads["a"])
    results = {}
    for mode in ("never", "always"):
        monkeypatch.setattr(core.layers, "PARALLEL", mode)
        weights = {k: v.copy() for k, v in params.items()}
        configs = {k: {"learning_rate": 1e-2} for k in params}
        for _ in range(3):
            update_parameters(rule, weights, grads, configs)
        results[mode] = weights, configs
    for k in params:
        np.testing.assert_array_equal(results["always"][0][k], results["never"][0][k])
        for key, value in results["never"][1][k].items():
            np.testing.assert_array_equal(results["always"][1][k][key], value)
