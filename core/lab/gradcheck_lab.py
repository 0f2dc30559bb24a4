"""Numeric vs analytic gradient checks of every captioning layer and the whole model (vanilla RNN and LSTM),
for the lab page.

Each check builds random inputs of the chosen sizes with its own generator, runs the layer's backward
pass (the engine's own, or the engine compiled with a deliberate bug, core.lab.bugs) and compares
every gradient with centred finite differences. Checks run in float64 because the finite-difference
error grows like eps / h: with h = 1e-5, float32 (eps ~ 1e-7) leaves errors near 1e-2, float64
(eps ~ 2e-16) near 1e-10, so only float64 can tell a correct gradient from a slightly wrong one.
"""

from dataclasses import dataclass

import numpy as np

from core.engine import rnn_layers
from core.engine.activations import check_activation
from core.engine.gradient_check import (
    elementwise_rel_error,
    eval_numerical_gradient,
    eval_numerical_gradient_array,
)
from core.engine.rnn import CaptioningRNN
from core.errors import HyperparameterError
from core.lab.bugs import BUGS, check_bug, engine_with_bug

# The checks of the vanilla captioner's layers and model (the lab's default), and those of the LSTM.
LAYERS = ("rnn_step", "rnn_sequence", "word_embedding", "temporal_affine", "temporal_softmax", "model")
LSTM_LAYERS = ("lstm_step", "lstm_sequence", "lstm_model")
ALL_LAYERS = LAYERS + LSTM_LAYERS

LAYER_TITLES = {
    "rnn_step": "RNN step (rnn_step_backward)",
    "rnn_sequence": "RNN over a sequence (rnn_backward)",
    "word_embedding": "Word embedding (word_embedding_backward)",
    "temporal_affine": "Temporal affine (temporal_affine_backward)",
    "temporal_softmax": "Temporal softmax loss (temporal_softmax_loss)",
    "model": "Whole model (CaptioningRNN.loss)",
    "lstm_step": "LSTM step (lstm_step_backward)",
    "lstm_sequence": "LSTM over a sequence (lstm_backward)",
    "lstm_model": "Whole LSTM model (CaptioningRNN.loss, cell_type='lstm')",
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


# --------------------------------------------------------------------------- the checks


@dataclass
class _Setup:
    """Everything one check needs: sizes, cell activation, dtype, engine, generator, step h, repeat_word."""

    sizes: LabSizes
    activation: str
    dtype: type
    engine: object  # core.lab.bugs.engine_with_bug(bug): the backward passes under test
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


def _check_layer(c, forward, backward, shapes, scales=None, **options):
    """Check backward against finite differences of forward for random inputs named and shaped by `shapes`
    (standard normal, times scales[name] where given).

    forward(**inputs, **options) -> (*outs, cache), one output or more (the LSTM step: next_h, next_c);
    backward(*douts, cache) -> one gradient per input, in the order of `shapes`. The numeric gradient is
    that of sum(out * dout) over the outputs; it perturbs each input array in place, so forward sees it.
    """
    inputs = dict(zip(shapes, c.normal(*shapes.values()), strict=True))
    for name, scale in (scales or {}).items():
        inputs[name] *= c.dtype(scale)
    *outs, cache = forward(**inputs, **options)
    douts = c.normal(*(out.shape for out in outs))
    analytic = dict(zip(inputs, backward(*douts, cache), strict=True))

    def weighted_outputs(_):
        outs = forward(**inputs, **options)[:-1]
        return sum(np.sum(out * dout) for out, dout in zip(outs, douts, strict=True))

    checks = []
    for name, value in inputs.items():
        numeric = eval_numerical_gradient(weighted_outputs, value, verbose=False, h=c.step)
        checks.append(_compare(name, analytic[name], numeric))
    return checks, None, ()


def _check_rnn_step(c):
    N, _, D, _, H, _ = c.sizes.as_tuple()
    shapes = {"x": (N, D), "prev_h": (N, H), "Wx": (D, H), "Wh": (H, H), "b": (H,)}
    return _check_layer(
        c, rnn_layers.rnn_step_forward, c.engine.rnn_step_backward, shapes, activation=c.activation
    )


def _check_rnn_sequence(c):
    N, T, D, _, H, _ = c.sizes.as_tuple()
    shapes = {"x": (N, T, D), "h0": (N, H), "Wx": (D, H), "Wh": (H, H), "b": (H,)}
    return _check_layer(c, rnn_layers.rnn_forward, c.engine.rnn_backward, shapes, activation=c.activation)


def _lstm_weight_scales(D, H):
    """The LSTM checks draw Wx and Wh at the scale of the course's initialisation (randn / sqrt(fan-in)):
    standard-normal gate weights saturate the sigmoids, where tiny gradient entries lose their digits to
    finite-difference round-off (relative errors up to 1e-3 for a correct backward pass)."""
    return {"Wx": 1 / np.sqrt(D), "Wh": 1 / np.sqrt(H)}


def _check_lstm_step(c):
    N, _, D, _, H, _ = c.sizes.as_tuple()
    shapes = {
        "x": (N, D),
        "prev_h": (N, H),
        "prev_c": (N, H),
        "Wx": (D, 4 * H),
        "Wh": (H, 4 * H),
        "b": (4 * H,),
    }
    return _check_layer(
        c, rnn_layers.lstm_step_forward, c.engine.lstm_step_backward, shapes, _lstm_weight_scales(D, H)
    )


def _check_lstm_sequence(c):
    N, T, D, _, H, _ = c.sizes.as_tuple()
    shapes = {"x": (N, T, D), "h0": (N, H), "Wx": (D, 4 * H), "Wh": (H, 4 * H), "b": (4 * H,)}
    return _check_layer(c, rnn_layers.lstm_forward, c.engine.lstm_backward, shapes, _lstm_weight_scales(D, H))


def _check_word_embedding(c):
    N, T, _, W, _, V = c.sizes.as_tuple()
    ids = c.rng.integers(V, size=(N, T))
    if c.repeat_word and ids.size > 1:
        ids.flat[-1] = ids.flat[0]
    (W_embed,) = c.normal((V, W))
    out, cache = rnn_layers.word_embedding_forward(ids, W_embed)
    (dout,) = c.normal(out.shape)
    dW = c.engine.word_embedding_backward(dout, cache)
    numeric = eval_numerical_gradient_array(
        lambda w: rnn_layers.word_embedding_forward(ids, w)[0], W_embed, dout, h=c.step
    )
    return [_compare("W_embed", dW, numeric)], None, (_repeat_note(ids),)


def _check_temporal_affine(c):
    N, T, _, _, H, V = c.sizes.as_tuple()
    shapes = {"x": (N, T, H), "w": (H, V), "b": (V,)}
    return _check_layer(c, rnn_layers.temporal_affine_forward, c.engine.temporal_affine_backward, shapes)


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
    loss, dx = c.engine.temporal_softmax_loss(x, y, mask)
    numeric = eval_numerical_gradient(
        lambda v: rnn_layers.temporal_softmax_loss(v, y, mask)[0], x, verbose=False, h=c.step
    )
    return [_compare("x", dx, numeric)], loss, ()


def _vocabulary(V):
    words = ["<NULL>", "<START>", "<END>"] + [f"w{i}" for i in range(3, V)]
    return {w: i for i, w in enumerate(words)}


def _check_model(c, cell_type="rnn"):
    N, _, D, W, H, V = c.sizes.as_tuple()
    seed = int(c.rng.integers(2**31))
    activation = c.activation if cell_type == "rnn" else "tanh"
    model = CaptioningRNN(
        _vocabulary(V), D, W, H, cell_type=cell_type, activation=activation, dtype=c.dtype, seed=seed
    )
    if cell_type == "lstm":
        # The LSTM's initialisation (word vectors randn / 100, zero biases) makes entries of dWx and dWh as
        # small as 1e-8, which finite-difference round-off (~1e-12) dominates; unit-scale word vectors and
        # small random biases check the same formulas with gradients it can resolve.
        model.params["W_embed"] *= c.dtype(100)
        for name in ("b_proj", "b", "b_vocab"):
            model.params[name] = c.dtype(0.1) * c.normal(model.params[name].shape)[0]
    (features,) = c.normal((N, D))
    captions = _random_captions(c)
    loss, grads = c.engine.model_loss(model, features, captions)
    checks = []
    for name in model.params:
        numeric = eval_numerical_gradient(
            lambda _: model.loss(features, captions)[0], model.params[name], verbose=False, h=c.step
        )
        checks.append(_compare(name, grads[name], numeric))
    return checks, loss, (_repeat_note(captions[:, :-1]),)


def _check_lstm_model(c):
    return _check_model(c, cell_type="lstm")


_CHECKS = {
    "rnn_step": _check_rnn_step,
    "rnn_sequence": _check_rnn_sequence,
    "word_embedding": _check_word_embedding,
    "temporal_affine": _check_temporal_affine,
    "temporal_softmax": _check_temporal_softmax,
    "model": _check_model,
    "lstm_step": _check_lstm_step,
    "lstm_sequence": _check_lstm_sequence,
    "lstm_model": _check_lstm_model,
}


def run_check(
    layer, sizes=None, activation="tanh", bug="none", dtype="float64", seed=0, step=1e-5, repeat_word=True
):
    """Run one gradient check.

    layer: one of ALL_LAYERS; sizes: LabSizes (N, T, D, W, H, V); activation: of the vanilla RNN cell (tanh,
    sigmoid, relu; the LSTM checks do not use it: the LSTM's gates fix their nonlinearities); bug: a key of BUGS, applied where that backward pass is used; dtype: "float64" or "float32";
    seed: of the random inputs; step: the finite-difference step h; repeat_word: make a word id occur twice
    in the embedding input (an overwriting embedding backward is invisible otherwise). -> CheckResult.
    """
    if layer not in _CHECKS:
        raise HyperparameterError(f"layer={layer!r} is unknown; choose one of {', '.join(ALL_LAYERS)}.")
    check_bug(bug)
    if dtype not in ("float64", "float32"):
        raise HyperparameterError(f"dtype={dtype!r} is not supported; choose 'float64' or 'float32'.")
    if not (isinstance(step, (float, int)) and 1e-9 <= step <= 1e-1):
        raise HyperparameterError(f"The finite-difference step h={step!r} must be between 1e-9 and 0.1.")
    check_activation(activation)
    sizes = (sizes or LabSizes()).validated()
    engine = engine_with_bug(bug)
    setup = _Setup(
        sizes, activation, np.dtype(dtype).type, engine, np.random.default_rng(seed), step, repeat_word
    )
    params, loss, notes = _CHECKS[layer](setup)
    return CheckResult(
        layer=layer,
        activation=activation,
        dtype=dtype,
        bug=bug,
        bug_applies=layer in BUGS[bug].checks,
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
    """run_check for every one of `layers` (the vanilla captioner's LAYERS by default; ALL_LAYERS adds the
    LSTM's); progress(fraction, message) is called before each one."""
    results = []
    for i, layer in enumerate(layers):
        if progress is not None:
            progress(i / len(layers), f"Checking {LAYER_TITLES[layer]}")
        results.append(run_check(layer, sizes, activation, bug, dtype, seed, step, repeat_word))
    if progress is not None:
        progress(1.0, "All checks done")
    return results
