"""First-order update rules in the CS231n form `update(w, dw, config) -> (next_w, config)`.

`config` holds the hyperparameters and the rule's running state (velocity, moments).
Pass `out=w` to update the weights in place (the solver does, to avoid allocations).
"""

import numpy as np

from core.errors import HyperparameterError
from core.layers import two_cores


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


# Elements per block in adam: a block of m, v, dw, w and the scratch buffer (5 x 256 KiB in float32)
# stays in the L2 cache across the dozen elementwise passes instead of streaming from memory each time.
_BLOCK = 65536


def _blocks(*arrays):
    """Matching 1-D views of equal-sized arrays, _BLOCK elements at a time (the whole arrays if any is strided)."""
    if not all(a.flags.c_contiguous for a in arrays):
        yield arrays
        return
    flat = [a.reshape(-1) for a in arrays]
    for start in range(0, flat[0].size, _BLOCK):
        yield tuple(a[start : start + _BLOCK] for a in flat)


def adam(w, dw, config=None, out=None):
    """Adam with bias correction; the step count t is incremented before use, as in CS231n."""
    config = {} if config is None else config
    out, blocks = _adam_prepare(w, dw, config, out)
    _adam_blocks(blocks)
    return out, config


def _adam_prepare(w, dw, config, out):
    """Advance config (t, m, v) for one Adam step of w; return out and the step's blocks for _adam_blocks."""
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
    # lr * m_hat / (sqrt(v_hat) + eps) with the bias corrections folded into two scalars. Python floats,
    # not np.float64: NumPy 2 would promote float32 blocks to float64 and cast back, twice as slow.
    step_size = float(lr * np.sqrt(1 - beta2**t) / (1 - beta1**t))
    eps_hat = float(config["epsilon"] * np.sqrt(1 - beta2**t))
    if out is None:
        out = np.array(w, copy=True)
    elif out is not w:
        np.copyto(out, w)
    constants = (beta1, beta2, step_size, eps_hat)
    grad = np.ascontiguousarray(dw) if m.flags.c_contiguous else dw
    return out, [(*block, constants) for block in _blocks(m, v, grad, out)]


def _adam_blocks(blocks):
    """Apply the Adam step to blocks of (m, v, dw, w, (beta1, beta2, step_size, eps_hat)), in place."""
    scratch = None
    for mb, vb, gb, wb, (beta1, beta2, step_size, eps_hat) in blocks:
        dtype = np.result_type(mb, vb)
        if scratch is None or scratch.size < mb.size or scratch.dtype != dtype:
            scratch = np.empty(mb.size, dtype=dtype)
        tb = scratch[: mb.size].reshape(mb.shape)
        # m = beta1 m + (1 - beta1) g, written as g + beta1 (m - g) so that it needs no scratch
        mb -= gb
        mb *= beta1
        mb += gb
        np.multiply(gb, gb, out=tb)
        vb -= tb
        vb *= beta2
        vb += tb
        np.sqrt(vb, out=tb)
        tb += eps_hat
        np.divide(mb, tb, out=tb)
        tb *= step_size
        wb -= tb


def update_parameters(update_rule, params, grads, configs):
    """Update every params[name] in place: update_rule(w, grads[name], configs[name], out=w).

    What CaptioningSolver does each iteration. When two cores are available (core.layers.two_cores), the
    work is split over two threads: Adam's blocks of all parameters, or whole parameters for other rules.
    Each element is updated by the same operations either way, so the results are identical.
    """
    with two_cores() as pool:
        if pool is None:
            for name, w in params.items():
                update_rule(w, grads[name], configs[name], out=w)
            return
        if update_rule is adam:
            blocks = []
            for name, w in params.items():
                blocks += _adam_prepare(w, grads[name], configs[name], w)[1]
            mine, theirs = _split_by_size(blocks, lambda block: block[0].size)
            pending = pool.submit(_adam_blocks, theirs)
            try:
                _adam_blocks(mine)
            finally:
                pending.result()
            return

        def update(names):
            for name in names:
                update_rule(params[name], grads[name], configs[name], out=params[name])

        mine, theirs = _split_by_size(list(params), lambda name: params[name].size)
        pending = pool.submit(update, theirs)
        try:
            update(mine)
        finally:
            pending.result()


def _split_by_size(items, size):
    """Two lists of the items, in their order, with nearly equal total sizes (each item to the lighter list)."""
    lists, totals = ([], []), [0, 0]
    for item in items:
        lighter = 0 if totals[0] <= totals[1] else 1
        lists[lighter].append(item)
        totals[lighter] += size(item)
    return lists


UPDATE_RULES = {"sgd": sgd, "sgd_momentum": sgd_momentum, "rmsprop": rmsprop, "adam": adam}
