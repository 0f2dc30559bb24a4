"""First-order update rules in the CS231n form `update(w, dw, config) -> (next_w, config)`.

`config` holds the hyperparameters and the rule's running state (velocity, moments).
Pass `out=w` to update the weights in place (the solver does, to avoid allocations).
"""

import numpy as np

from core.errors import HyperparameterError


def _learning_rate(config, default):
    config.setdefault("learning_rate", default)
    if not config["learning_rate"] > 0:
        raise HyperparameterError(f"learning_rate must be > 0, got {config['learning_rate']}.")
    return config["learning_rate"]


def sgd(w, dw, config=None, out=None):
    """Vanilla stochastic gradient descent: w - learning_rate * dw."""
    config = {} if config is None else config
    lr = _learning_rate(config, 1e-2)
    return np.subtract(w, np.multiply(dw, lr, dtype=w.dtype), out=out), config


def sgd_momentum(w, dw, config=None, out=None):
    """SGD with momentum: v = momentum * v - lr * dw; w + v."""
    config = {} if config is None else config
    lr = _learning_rate(config, 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity")
    if v is None:
        v = config["velocity"] = np.zeros_like(w)
    v *= config["momentum"]
    v -= lr * dw
    return np.add(w, v, out=out), config


def rmsprop(w, dw, config=None, out=None):
    """RMSProp: a moving average of squared gradients scales the step of each weight."""
    config = {} if config is None else config
    lr = _learning_rate(config, 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    cache = config.get("cache")
    if cache is None:
        cache = config["cache"] = np.zeros_like(w)
    cache *= config["decay_rate"]
    cache += (1 - config["decay_rate"]) * dw * dw
    step = lr * dw / (np.sqrt(cache) + config["epsilon"])
    return np.subtract(w, step, out=out), config


def adam(w, dw, config=None, out=None):
    """Adam with bias correction; the step count t is incremented before use, as in CS231n."""
    config = {} if config is None else config
    lr = _learning_rate(config, 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("t", 0)
    m, v = config.get("m"), config.get("v")
    if m is None:
        m = config["m"] = np.zeros_like(w)
        v = config["v"] = np.zeros_like(w)
    beta1, beta2 = config["beta1"], config["beta2"]
    config["t"] += 1
    t = config["t"]
    m *= beta1
    m += (1 - beta1) * dw
    v *= beta2
    v += (1 - beta2) * (dw * dw)
    step_size = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
    # lr * m_hat / (sqrt(v_hat) + eps) with the bias corrections folded into one scalar
    denom = np.sqrt(v)
    denom += config["epsilon"] * np.sqrt(1 - beta2**t)
    step = np.divide(m, denom)
    step *= step_size
    return np.subtract(w, step, out=out, dtype=w.dtype), config


UPDATE_RULES = {"sgd": sgd, "sgd_momentum": sgd_momentum, "rmsprop": rmsprop, "adam": adam}
