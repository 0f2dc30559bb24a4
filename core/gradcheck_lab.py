"""Numeric vs analytic gradient checks of every captioning layer and the whole model, for the lab page.

Each check builds random inputs of the chosen sizes with its own generator, runs the layer's backward
pass (the real one from `core.layers` / `core.model`, or a deliberately broken variant) and compares
every gradient with centred finite differences. Checks run in float64 because the finite-difference
error grows like eps / h: with h = 1e-5, float32 (eps ~ 1e-7) leaves errors near 1e-2, float64
(eps ~ 2e-16) near 1e-10, so only float64 can tell a correct gradient from a slightly wrong one.
"""

from dataclasses import dataclass

import numpy as np

from core.activations import check_activation, derivative_from_output
from core.errors import HyperparameterError
from core.gradient_check import elementwise_rel_error, eval_numerical_gradient, eval_numerical_gradient_array
from core.layers import (
    affine_backward,
    affine_forward,
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
    word_embedding_backward,
    word_embedding_forward,
)
from core.model import CaptioningRNN

LAYERS = ("rnn_step", "rnn_sequence", "word_embedding", "temporal_affine", "temporal_softmax", "model")

LAYER_TITLES = {
    "rnn_step": "RNN step (rnn_step_backward)",
    "rnn_sequence": "RNN over a sequence (rnn_backward)",
    "word_embedding": "Word embedding (word_embedding_backward)",
    "temporal_affine": "Temporal affine (temporal_affine_backward)",
    "temporal_softmax": "Temporal softmax loss (temporal_softmax_loss)",
    "model": "Whole model (CaptioningRNN.loss)",
}


@dataclass(frozen=True)
class Bug:
    """A deliberate mistake in one backward pass and the layer checks that exercise it."""

    key: str
    title: str
    explanation: str
    layers: tuple


BUGS = {
    "none": Bug(
        "none", "No bug: the real backward passes", "The gradients come from core.layers unchanged.", LAYERS
    ),
    "drop_local_derivative": Bug(
        "drop_local_derivative",
        "Drop the local derivative f'(a) (the 1 - h² factor for tanh)",
        "The step backward passes dnext_h straight to the pre-activation: da = dnext_h instead of "
        "dnext_h * f'(a). Every gradient of the RNN cell is then too large wherever the unit is not at zero.",
        ("rnn_step", "rnn_sequence", "model"),
    ),
    "no_carried_gradient": Bug(
        "no_carried_gradient",
        "Forget the gradient carried back from step t+1",
        "The sequence backward only uses the gradient from the loss at each step and drops the part "
        "flowing back through Wh from later steps (backprop through one step only). A single-step check "
        "cannot see this; the sequence and model checks do.",
        ("rnn_sequence", "model"),
    ),
    "embedding_assign": Bug(
        "embedding_assign",
        "Assign instead of accumulate in the embedding backward",
        "dW[x] = dout overwrites the row of a word that appears more than once, keeping only its last "
        "gradient. The check catches it only if some word id repeats in the test input.",
        ("word_embedding", "model"),
    ),
    "softmax_ignore_mask": Bug(
        "softmax_ignore_mask",
        "Ignore the <NULL> mask in the softmax backward",
        "The loss skips <NULL> targets, but the buggy backward still sends gradient from those positions.",
        ("temporal_softmax", "model"),
    ),
    "affine_bias_mean": Bug(
        "affine_bias_mean",
        "Average instead of sum the bias gradient of the temporal affine layer",
        "db = mean of dout over the N x T positions instead of their sum: off by a factor N T.",
        ("temporal_affine", "model"),
    ),
}

# Bands for the largest relative error of a gradient check, after CS231n's rule of thumb. "pass" is wider
# than the notes' 1e-7 because the maximum is taken over every entry, and the entries of a whole-model
# gradient that are tiny (|g| ~ 1e-6) carry float64 round-off of ~1e-11, i.e. a relative error up to ~1e-5.
THRESHOLDS = (
    (1e-5, "pass", "below 1e-5: the gradient is right"),
    (1e-3, "look closer", "1e-5 to 1e-3: acceptable at ReLU kinks or on tiny entries; otherwise suspicious"),
    (1e-2, "suspicious", "1e-3 to 1e-2: probably a bug"),
    (np.inf, "wrong", "above 1e-2: the gradient is wrong"),
)

SIZE_LIMITS = {"N": (1, 6), "T": (1, 8), "D": (1, 16), "W": (1, 16), "H": (1, 16), "V": (4, 24)}


def verdict(max_rel_error):
    """The threshold band of a relative error: one of "pass", "look closer", "suspicious", "wrong"."""
    for bound, label, _ in THRESHOLDS:
        if max_rel_error < bound:
            return label
    return THRESHOLDS[-1][1]


@dataclass
class LabSizes:
    """Sizes of the random test inputs: N batch, T timesteps, D input, W word vector, H hidden, V vocabulary."""

    N: int = 2
    T: int = 3
    D: int = 4
    W: int = 5
    H: int = 6
    V: int = 10

    def as_tuple(self):
        return self.N, self.T, self.D, self.W, self.H, self.V

    def validated(self):
        """This object if every size is inside SIZE_LIMITS, else HyperparameterError naming the size."""
        for name, (low, high) in SIZE_LIMITS.items():
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, np.integer))
                or not low <= value <= high
            ):
                raise HyperparameterError(
                    f"Size {name}={value!r} is outside the lab's range {low}..{high}; "
                    "finite differences cost two forward passes per number, so the lab keeps sizes small."
                )
        return self


@dataclass
class ParamCheck:
    """One gradient compared with its finite-difference estimate.

    analytic, numeric, rel_error: arrays of the shape of the checked input or parameter;
    rel_error is |a - n| / max(1e-8, |a| + |n|) per element; max_rel_error its maximum (the notebook's
    number); norm_rel_error = ||a - n|| / max(1e-8, ||a|| + ||n||) weighs entries by their size.
    """

    name: str
    analytic: np.ndarray
    numeric: np.ndarray
    rel_error: np.ndarray
    max_rel_error: float
    norm_rel_error: float
    verdict: str

    @property
    def shape(self):
        return self.analytic.shape


@dataclass
class CheckResult:
    """All gradients of one layer (or the model) for one set of sizes, activation, dtype and bug."""

    layer: str
    activation: str
    dtype: str
    bug: str
    bug_applies: bool
    sizes: LabSizes
    params: list
    loss: float | None = None
    notes: tuple = ()

    @property
    def max_rel_error(self):
        return max(p.max_rel_error for p in self.params)

    @property
    def worst(self):
        """The ParamCheck with the largest relative error."""
        return max(self.params, key=lambda p: p.max_rel_error)

    @property
    def passed(self):
        return all(p.verdict == "pass" for p in self.params)

    def by_name(self, name):
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)


def _compare(name, analytic, numeric):
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    errors = elementwise_rel_error(a, n)
    worst = float(errors.max()) if errors.size else 0.0
    norm_error = float(np.linalg.norm(a - n) / max(1e-8, np.linalg.norm(a) + np.linalg.norm(n)))
    return ParamCheck(
        name, np.asarray(analytic), np.asarray(numeric), errors, worst, norm_error, verdict(worst)
    )


def _check_array_function(inputs, forward, analytic, dout, step):
    """Compare analytic gradients of sum(forward(**inputs) * dout) with finite differences per input."""
    # The numeric gradient perturbs each array of `inputs` in place, so forward(**inputs) sees the change.
    checks = []
    for name, value in inputs.items():
        numeric = eval_numerical_gradient_array(lambda _: forward(**inputs), value, dout, h=step)
        checks.append(_compare(name, analytic[name], numeric))
    return checks


# --------------------------------------------------------------------------- buggy backward passes


def _step_backward(dnext_h, cache, bug):
    """rnn_step_backward, or the variant without f'(a) when bug == "drop_local_derivative"."""
    if bug != "drop_local_derivative":
        return rnn_step_backward(dnext_h, cache)
    da = dnext_h
    return da @ cache.Wx.T, da @ cache.Wh.T, cache.x.T @ da, cache.prev_h.T @ da, da.sum(axis=0)


def _sequence_backward(dh, cache, bug):
    """rnn_backward for dh (N, T, H), or a variant with the chosen bug; same return values."""
    if bug not in ("drop_local_derivative", "no_carried_gradient"):
        return rnn_backward(dh, cache)
    T, N, H = cache.h_tm.shape
    D = cache.x_tm.shape[2]
    h_prev = np.concatenate([cache.h0[None], cache.h_tm[:-1]], axis=0)
    da = np.empty((T, N, H), dtype=dh.dtype)
    carried = np.zeros((N, H), dtype=dh.dtype)
    for t in range(T - 1, -1, -1):
        total = dh[:, t] + (0 if bug == "no_carried_gradient" else carried)
        local = (
            1 if bug == "drop_local_derivative" else derivative_from_output(cache.h_tm[t], cache.activation)
        )
        da[t] = total * local
        carried = da[t] @ cache.Wh.T
    dWx = cache.x_tm.reshape(T * N, D).T @ da.reshape(T * N, H)
    dWh = np.einsum("tnk,tnh->kh", h_prev, da)
    dx = (da.reshape(T * N, H) @ cache.Wx.T).reshape(T, N, D).transpose(1, 0, 2)
    return dx, carried, dWx, dWh, da.sum(axis=(0, 1))


def _embedding_backward(dout, cache, bug):
    """word_embedding_backward, or the overwriting variant when bug == "embedding_assign"."""
    if bug != "embedding_assign":
        return word_embedding_backward(dout, cache)
    dW = np.zeros((cache.vocab_size, dout.shape[-1]), dtype=dout.dtype)
    dW[cache.x.ravel()] = dout.reshape(-1, dout.shape[-1])
    return dW


def _temporal_affine_backward(dout, cache, bug):
    """temporal_affine_backward, or the variant averaging the bias gradient when bug == "affine_bias_mean"."""
    dx, dw, db = temporal_affine_backward(dout, cache)
    if bug == "affine_bias_mean":
        db = db / (dout.shape[0] * dout.shape[1])
    return dx, dw, db


def _softmax_loss(x, y, mask, bug):
    """temporal_softmax_loss, or the variant whose backward ignores the mask when bug == "softmax_ignore_mask"."""
    loss, dx = temporal_softmax_loss(x, y, mask)
    if bug == "softmax_ignore_mask":
        _, dx = temporal_softmax_loss(x, y, np.ones_like(mask, dtype=bool))
    return loss, dx


# --------------------------------------------------------------------------- the checks


@dataclass
class _Setup:
    """Everything one check needs: sizes, cell activation, dtype, bug, generator, step h, repeat_word."""

    sizes: LabSizes
    activation: str
    dtype: type
    bug: str
    rng: np.random.Generator
    step: float
    repeat_word: bool

    def normal(self, *shapes):
        """One standard-normal array of self.dtype per shape."""
        return [self.rng.standard_normal(shape).astype(self.dtype) for shape in shapes]


def _repeat_note(ids):
    """A sentence saying which word ids occur more than once in ids (any shape)."""
    values, counts = np.unique(ids, return_counts=True)
    repeated = values[counts > 1]
    if repeated.size == 0:
        return "No word id repeats in this input, so an embedding backward that overwrites rows would go unnoticed."
    listed = ", ".join(str(int(v)) for v in repeated)
    return f"Word ids {listed} occur more than once in this input, so their gradient rows must be summed."


def _check_rnn_step(c):
    N, _, D, _, H, _ = c.sizes.as_tuple()
    x, prev_h, Wx, Wh, b = c.normal((N, D), (N, H), (D, H), (H, H), (H,))
    out, cache = rnn_step_forward(x, prev_h, Wx, Wh, b, c.activation)
    (dout,) = c.normal(out.shape)
    dx, dprev_h, dWx, dWh, db = _step_backward(dout, cache, c.bug)
    inputs = {"x": x, "prev_h": prev_h, "Wx": Wx, "Wh": Wh, "b": b}
    analytic = {"x": dx, "prev_h": dprev_h, "Wx": dWx, "Wh": dWh, "b": db}
    forward = lambda **kw: rnn_step_forward(activation=c.activation, **kw)[0]  # noqa: E731
    return _check_array_function(inputs, forward, analytic, dout, c.step), None, ()


def _check_rnn_sequence(c):
    N, T, D, _, H, _ = c.sizes.as_tuple()
    x, h0, Wx, Wh, b = c.normal((N, T, D), (N, H), (D, H), (H, H), (H,))
    out, cache = rnn_forward(x, h0, Wx, Wh, b, c.activation)
    (dout,) = c.normal(out.shape)
    dx, dh0, dWx, dWh, db = _sequence_backward(dout, cache, c.bug)
    inputs = {"x": x, "h0": h0, "Wx": Wx, "Wh": Wh, "b": b}
    analytic = {"x": dx, "h0": dh0, "Wx": dWx, "Wh": dWh, "b": db}
    forward = lambda **kw: rnn_forward(activation=c.activation, **kw)[0]  # noqa: E731
    return _check_array_function(inputs, forward, analytic, dout, c.step), None, ()


def _check_word_embedding(c):
    N, T, _, W, _, V = c.sizes.as_tuple()
    ids = c.rng.integers(V, size=(N, T))
    if c.repeat_word and ids.size > 1:
        ids.flat[-1] = ids.flat[0]
    (W_embed,) = c.normal((V, W))
    out, cache = word_embedding_forward(ids, W_embed)
    (dout,) = c.normal(out.shape)
    dW = _embedding_backward(dout, cache, c.bug)
    numeric = eval_numerical_gradient_array(
        lambda w: word_embedding_forward(ids, w)[0], W_embed, dout, h=c.step
    )
    return [_compare("W_embed", dW, numeric)], None, (_repeat_note(ids),)


def _check_temporal_affine(c):
    N, T, _, _, H, V = c.sizes.as_tuple()
    x, w, b = c.normal((N, T, H), (H, V), (V,))
    out, cache = temporal_affine_forward(x, w, b)
    (dout,) = c.normal(out.shape)
    dx, dw, db = _temporal_affine_backward(dout, cache, c.bug)
    inputs = {"x": x, "w": w, "b": b}
    analytic = {"x": dx, "w": dw, "b": db}
    forward = lambda **kw: temporal_affine_forward(**kw)[0]  # noqa: E731
    return _check_array_function(inputs, forward, analytic, dout, c.step), None, ()


def _random_captions(c):
    """(N, T + 1) ids: <START>=1 then words, each row padded with <NULL>=0 after a random length >= 1."""
    N, T, _, _, _, V = c.sizes.as_tuple()
    captions = c.rng.integers(3, V, size=(N, T + 1))
    captions[:, 0] = 1
    if c.repeat_word and T >= 2:
        captions[0, 2] = captions[0, 1]
    lengths = c.rng.integers(1, T + 1, size=N)
    # One full row exercises every timestep; with two rows or more the last one is padded so the
    # <NULL> mask matters.
    lengths[0] = T
    if N > 1:
        lengths[-1] = max(1, T // 2)
    for n, length in enumerate(lengths):
        captions[n, length + 1 :] = 0
    return captions


def _check_temporal_softmax(c):
    N, T, _, _, _, V = c.sizes.as_tuple()
    (x,) = c.normal((N, T, V))
    captions = _random_captions(c)
    y, mask = captions[:, 1:], captions[:, 1:] != 0
    loss, dx = _softmax_loss(x, y, mask, c.bug)
    numeric = eval_numerical_gradient(
        lambda v: temporal_softmax_loss(v, y, mask)[0], x, verbose=False, h=c.step
    )
    return [_compare("x", dx, numeric)], loss, ()


def _vocabulary(V):
    words = ["<NULL>", "<START>", "<END>"] + [f"w{i}" for i in range(3, V)]
    return {w: i for i, w in enumerate(words)}


def model_loss_with_bug(model, features, captions, bug):
    """CaptioningRNN.loss rebuilt from the layer functions, with `bug` swapped into one backward pass.

    features: (N, D), captions: (N, T + 1) -> (loss, grads). With bug == "none" it computes exactly what
    model.loss does; the lab uses model.loss itself in that case.
    """
    p = model.params
    captions_in, captions_out = captions[:, :-1], captions[:, 1:]
    mask = captions_out != model.word_to_idx["<NULL>"]
    h0, proj_cache = affine_forward(features, p["W_proj"], p["b_proj"])
    x, embed_cache = word_embedding_forward(captions_in, p["W_embed"])
    h, rnn_cache = rnn_forward(x, h0, p["Wx"], p["Wh"], p["b"], model.activation)
    scores, vocab_cache = temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
    loss, dscores = _softmax_loss(scores, captions_out, mask, bug)
    grads = {}
    dh, grads["W_vocab"], grads["b_vocab"] = _temporal_affine_backward(dscores, vocab_cache, bug)
    dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = _sequence_backward(dh, rnn_cache, bug)
    grads["W_embed"] = _embedding_backward(dx, embed_cache, bug)
    _, grads["W_proj"], grads["b_proj"] = affine_backward(dh0, proj_cache)
    return loss, grads


def _check_model(c):
    N, _, D, W, H, V = c.sizes.as_tuple()
    seed = int(c.rng.integers(2**31))
    model = CaptioningRNN(_vocabulary(V), D, W, H, activation=c.activation, dtype=c.dtype, seed=seed)
    (features,) = c.normal((N, D))
    captions = _random_captions(c)
    if c.bug == "none":
        loss, grads = model.loss(features, captions)
    else:
        loss, grads = model_loss_with_bug(model, features, captions, c.bug)
    checks = []
    for name in model.params:
        numeric = eval_numerical_gradient(
            lambda _: model.loss(features, captions)[0], model.params[name], verbose=False, h=c.step
        )
        checks.append(_compare(name, grads[name], numeric))
    return checks, loss, (_repeat_note(captions[:, :-1]),)


_CHECKS = {
    "rnn_step": _check_rnn_step,
    "rnn_sequence": _check_rnn_sequence,
    "word_embedding": _check_word_embedding,
    "temporal_affine": _check_temporal_affine,
    "temporal_softmax": _check_temporal_softmax,
    "model": _check_model,
}


def run_check(
    layer, sizes=None, activation="tanh", bug="none", dtype="float64", seed=0, step=1e-5, repeat_word=True
):
    """Run one gradient check.

    layer: one of LAYERS; sizes: LabSizes (N, T, D, W, H, V); activation: of the RNN cell (tanh, sigmoid,
    relu); bug: a key of BUGS, applied where that backward pass is used; dtype: "float64" or "float32";
    seed: of the random inputs; step: the finite-difference step h; repeat_word: make a word id occur twice
    in the embedding input (an overwriting embedding backward is invisible otherwise). -> CheckResult.
    """
    if layer not in _CHECKS:
        raise HyperparameterError(f"layer={layer!r} is unknown; choose one of {', '.join(LAYERS)}.")
    if bug not in BUGS:
        raise HyperparameterError(f"bug={bug!r} is unknown; choose one of {', '.join(BUGS)}.")
    if dtype not in ("float64", "float32"):
        raise HyperparameterError(f"dtype={dtype!r} is not supported; choose 'float64' or 'float32'.")
    if not (isinstance(step, (float, int)) and 1e-9 <= step <= 1e-1):
        raise HyperparameterError(f"The finite-difference step h={step!r} must be between 1e-9 and 0.1.")
    check_activation(activation)
    sizes = (sizes or LabSizes()).validated()
    setup = _Setup(
        sizes, activation, np.dtype(dtype).type, bug, np.random.default_rng(seed), step, repeat_word
    )
    params, loss, notes = _CHECKS[layer](setup)
    return CheckResult(
        layer=layer,
        activation=activation,
        dtype=dtype,
        bug=bug,
        bug_applies=layer in BUGS[bug].layers and bug != "none",
        sizes=sizes,
        params=params,
        loss=loss,
        notes=notes,
    )


def run_all_checks(
    sizes=None,
    activation="tanh",
    bug="none",
    dtype="float64",
    seed=0,
    repeat_word=True,
    progress=None,
    step=1e-5,
    layers=LAYERS,
):
    """run_check for every one of `layers` (all of LAYERS by default); progress(fraction, message) is
    called before each one."""
    results = []
    for i, layer in enumerate(layers):
        if progress is not None:
            progress(i / len(layers), f"Checking {LAYER_TITLES[layer]}")
        results.append(run_check(layer, sizes, activation, bug, dtype, seed, step, repeat_word))
    if progress is not None:
        progress(1.0, "All checks done")
    return results
