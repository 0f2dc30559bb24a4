"""Numeric vs analytic gradient checks of every captioning layer and the whole model (vanilla RNN and LSTM),
for the lab page, and the measured cause of every gradient that fails.

Each check builds random inputs of the chosen sizes with its own generator, runs the layer's backward
pass (the engine's own, or the engine compiled with a deliberate bug, core.lab.bugs) and compares
every gradient with centred finite differences. Checks run in float64 because the finite-difference
error grows like eps / h: with h = 1e-5, float32 (eps ~ 1e-7) leaves errors near 1e-2, float64
(eps ~ 2e-16) near 1e-10, so only float64 can tell a correct gradient from a slightly wrong one.

A gradient outside the pass band gets a `Diagnosis` from measurements, not from the settings: its worst
element is differentiated again at every step h from 0.1 to 1e-9 (a `StepScan`), and the same check runs in
float64 with h = REFERENCE_STEP. A gradient whose float64 check fails at every step has a bug in its backward
pass, unless it agrees as a whole and only an element too small for finite differences to resolve fails
(see RESOLUTION_RISE). Otherwise the finite differences are at fault: a smaller h does better when the step is too large
(truncation error, which shrinks like h²), a larger h (or none) when round-off dominates (it grows like
eps / h).
"""

from collections.abc import Callable
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
# The checks of each captioner: its cell's layers, the layers both cells share, and the whole model.
CAPTIONER_CHECKS = {
    "rnn": LAYERS,
    "lstm": (
        "lstm_step",
        "lstm_sequence",
        "word_embedding",
        "temporal_affine",
        "temporal_softmax",
        "lstm_model",
    ),
}
# The check of one captioner that does the same job in the other.
_LSTM_COUNTERPARTS = {"rnn_step": "lstm_step", "rnn_sequence": "lstm_sequence", "model": "lstm_model"}
COUNTERPARTS = _LSTM_COUNTERPARTS | {lstm: rnn for rnn, lstm in _LSTM_COUNTERPARTS.items()}

# The cells the lab checks: (cell type, activation) of the vanilla cell with each activation, and the LSTM,
# whose gates fix their own nonlinearities.
CELLS = {
    "tanh": ("rnn", "tanh"),
    "sigmoid": ("rnn", "sigmoid"),
    "relu": ("rnn", "relu"),
    "lstm": ("lstm", "tanh"),
}
CELL_TITLES = {"tanh": "RNN · tanh", "sigmoid": "RNN · sigmoid", "relu": "RNN · ReLU", "lstm": "LSTM"}

LAYER_TITLES = {
    "rnn_step": "RNN step (rnn_step_backward)",
    "rnn_sequence": "RNN over a sequence (rnn_backward)",
    "word_embedding": "Word embedding (word_embedding_backward)",
    "temporal_affine": "Temporal affine (temporal_affine_backward)",
    "temporal_softmax": "Temporal softmax loss (temporal_softmax_loss)",
    "model": "Whole model (CaptioningRNN.loss)",
    "lstm_step": "LSTM step (lstm_step_backward)",
    "lstm_sequence": "LSTM over a sequence (lstm_backward)",
    "lstm_model": "Whole LSTM model (CaptioningRNN.loss)",
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

PASS_BOUND = THRESHOLDS[0][0]

SIZE_LIMITS = {"N": (1, 6), "T": (1, 8), "D": (1, 16), "W": (1, 16), "H": (1, 16), "V": (4, 24)}

# The steps h a failing gradient's worst element is differentiated at, from too large to too small.
SCAN_STEPS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9)
# The steps h the lab offers a check at (its slider), inside SCAN_STEPS: advice names only these.
STEP_CHOICES = SCAN_STEPS[1:-1]
# The check a gradient's own is compared with: float64, whose round-off at this step (eps / h ~ 2e-11) and
# truncation error (~h² ~ 1e-10) are both far inside the pass band, so only a wrong backward pass fails it.
REFERENCE_DTYPE = "float64"
REFERENCE_STEP = 1e-5
# The measured causes of a failing gradient (Diagnosis.cause).
TOO_LARGE = "step too large"
ROUND_OFF = "round-off"
UNRESOLVED = "too small to resolve"
BUG = "bug"
CAUSES = (TOO_LARGE, ROUND_OFF, UNRESOLVED, BUG)
# A right backward pass can fail even the reference check at an element far smaller than the rest of its
# gradient: a finite difference's error is set by the size of what is differentiated, not by the element's,
# so against a tiny element it stays large at every step. Its errors then form the V of truncation (about h²,
# at the larger steps) against round-off (about 1/h, at the smaller ones): they reach RESOLUTION_RISE times
# their best within RESOLUTION_REACH places of the best step, on both sides. A wrong backward pass misses the
# true derivative by the same amount at every step, so its errors stay flat around their best. Measured over
# 3,332 float64 checks (random cells, sizes up to the lab's largest, seeds and bugs; 6,668 failing gradients):
# the 34 right gradients that failed at every step all rose 100-fold or more 2 to 4 places either side, and
# the 6,065 wrong ones at most 1.2-fold. (Nearer the best, a right gradient's round-off side can be noisy: 6
# of the 34 had not risen 5-fold 2 places away.) None of the wrong ones agreed as a whole either.
RESOLUTION_RISE = 30
RESOLUTION_REACH = (2, 4)  # the nearest and the farthest place from the best step that the rise is looked for


def checks_of(cell):
    """The checks of the captioner with `cell` (a key of CELLS), in the order the lab runs them."""
    return CAPTIONER_CHECKS[CELLS[cell][0]]


def same_checks_for(layers, cell):
    """`layers` as checks of the captioner with `cell`: each one the cell does not have becomes its
    counterpart (rnn_step <-> lstm_step, ...), in that captioner's order."""
    wanted = {layer if layer in checks_of(cell) else COUNTERPARTS[layer] for layer in layers}
    return tuple(layer for layer in checks_of(cell) if layer in wanted)


def bugs_of(cell):
    """The keys of BUGS that break code the captioner with `cell` runs ("none" first)."""
    checks = set(checks_of(cell))
    return tuple(key for key, bug in BUGS.items() if key == "none" or checks & set(bug.checks))


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


@dataclass(frozen=True)
class StepScan:
    """One element of a gradient (at `index`) differentiated at every step h of `steps` (SCAN_STEPS and the
    check's own `step`, largest first) in `dtype`; `errors` are its relative errors there, one per step."""

    index: tuple
    dtype: str
    step: float
    steps: tuple
    errors: tuple

    def error_at(self, step):
        return self.errors[self.steps.index(step)]

    @property
    def best_step(self):
        """The step with the smallest error; the check's own step when it ties for it."""
        return min(self.steps, key=lambda h: (self.error_at(h), h != self.step))

    @property
    def best_error(self):
        return self.error_at(self.best_step)

    @property
    def rises(self):
        """(larger step, smaller step): on each side of best_step, the nearest step RESOLUTION_REACH places away
        where the error is RESOLUTION_RISE times best_error or more; None when a side has none."""
        i = self.steps.index(self.best_step)
        near, far = RESOLUTION_REACH

        def first_rise(places):
            risen = (
                self.steps[j]
                for j in places
                if 0 <= j < len(self.steps) and self.errors[j] >= RESOLUTION_RISE * self.best_error
            )
            return next(risen, None)

        larger, smaller = (
            first_rise(range(i - near, i - far - 1, -1)),
            first_rise(range(i + near, i + far + 1)),
        )
        return None if larger is None or smaller is None else (larger, smaller)

    @property
    def is_v_shaped(self):
        """Whether the errors rise on both sides of best_step (`rises`): the V of finite differences of a right
        derivative (see RESOLUTION_RISE)."""
        return self.rises is not None

    @property
    def better_step(self):
        """best_step if its error is less than half the error at the check's own step, else None: a smaller
        difference says nothing about the cause."""
        if self.best_error < self.error_at(self.step) / 2:
            return self.best_step
        return None


@dataclass(frozen=True)
class Diagnosis:
    """The measured cause of a gradient outside the pass band (one of CAUSES, see cause_of).

    scan: its worst element over the steps, in the check's dtype; reference_error: the gradient's largest
    error in REFERENCE_DTYPE with REFERENCE_STEP; reference_scan: that reference check's worst element over the
    steps, in REFERENCE_DTYPE (None when the reference check passes).
    """

    cause: str
    scan: StepScan
    reference_error: float
    reference_scan: StepScan | None
    reference_norm_error: float


def too_small_to_resolve(reference_scan, reference_norm_error):
    """Whether a reference check whose worst element fails at every step still agrees with a right backward
    pass: the gradient as a whole agrees (its norm_rel_error is inside the pass band) and that element's
    errors form the V of finite differences (StepScan.is_v_shaped), not the plateau of a wrong derivative."""
    return reference_norm_error < PASS_BOUND and reference_scan.is_v_shaped


def cause_of(scan, reference_error, reference_scan, reference_norm_error):
    """When the float64 reference check fails and its worst element stays outside the pass band at every step,
    no finite difference agrees with the backward pass: UNRESOLVED if that element is too small to resolve
    (too_small_to_resolve), else BUG. Otherwise the finite differences are at fault: TOO_LARGE if a smaller
    step than the check's at least halves its worst element's error (scan.better_step), ROUND_OFF if a larger
    one does, or none does (the check's step is as good as its dtype gets)."""
    if reference_error >= PASS_BOUND and min(reference_scan.errors) >= PASS_BOUND:
        return UNRESOLVED if too_small_to_resolve(reference_scan, reference_norm_error) else BUG
    better = scan.better_step
    return TOO_LARGE if better is not None and better < scan.step else ROUND_OFF


@dataclass
class ParamCheck:
    """One gradient compared with its finite-difference estimate.

    analytic, numeric, rel_error: arrays of the shape of the checked input or parameter;
    rel_error is |a - n| / max(1e-8, |a| + |n|) per element; max_rel_error its maximum (the notebook's
    number); norm_rel_error = ||a - n|| / max(1e-8, ||a|| + ||n||) weighs entries by their size;
    diagnosis: why it fails (None when it passes).
    """

    name: str
    analytic: np.ndarray
    numeric: np.ndarray
    rel_error: np.ndarray
    max_rel_error: float
    norm_rel_error: float
    verdict: str
    diagnosis: Diagnosis | None = None

    @property
    def shape(self):
        return self.analytic.shape

    @property
    def worst_index(self):
        """The index of the element with the largest relative error."""
        return tuple(int(i) for i in np.unravel_index(np.argmax(self.rel_error), self.rel_error.shape))


@dataclass
class CheckResult:
    """All gradients of one layer (or the model) for one set of sizes, activation, dtype, step h and bug.

    activation is the lab's setting for the vanilla cell; the LSTM checks (LSTM_LAYERS) do not use it.
    """

    layer: str
    activation: str
    dtype: str
    step: float
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

    @property
    def cause(self):
        """None if every gradient passes; BUG if any gradient's diagnosis is a bug; else the cause of the
        worst gradient."""
        if self.passed:
            return None
        causes = {p.diagnosis.cause for p in self.params if p.diagnosis is not None}
        return BUG if BUG in causes else self.worst.diagnosis.cause

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
    """Everything one check needs: sizes, cell activation, dtype, engine, generator, repeat_word."""

    sizes: LabSizes
    activation: str
    dtype: type
    engine: object  # core.lab.bugs.engine_with_bug(bug): the backward passes under test
    rng: np.random.Generator
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
    if repeated.size == 1:
        return f"Word id {listed} occurs more than once in this input, so its gradient rows must be summed."
    return f"Word ids {listed} occur more than once in this input, so their gradient rows must be summed."


@dataclass
class _Gradient:
    """A gradient a check computed (`analytic`, of the input `x`) and what finite differences check it
    against, of the current contents of x (which they perturb in place), as the notebooks do: a scalar
    `loss()`, or the arrays `outputs()` with the upstream gradients `douts`, one per output."""

    name: str
    analytic: np.ndarray
    x: np.ndarray
    loss: Callable[[], float] | None = None
    outputs: Callable[[], tuple] | None = None
    douts: tuple = ()

    def numeric(self, step, index=None):
        """The numeric gradient at x with step h, of every element or of x[index] alone (an array of one
        element, computed the very same way, so equal to that element of the whole): eval_numerical_gradient
        of the loss, or eval_numerical_gradient_array of each output with its upstream gradient, summed."""
        target = self.x if index is None else self.x[tuple(slice(i, i + 1) for i in index)]
        if self.loss is not None:
            return eval_numerical_gradient(lambda _: self.loss(), target, verbose=False, h=step)
        return sum(
            eval_numerical_gradient_array(lambda _, k=k: self.outputs()[k], target, dout, h=step)
            for k, dout in enumerate(self.douts)
        )


def _check_layer(c, forward, backward, shapes, scales=None, **options):
    """The gradients of backward for random inputs named and shaped by `shapes` (standard normal, times
    scales[name] where given), each checked as the notebooks do: eval_numerical_gradient_array of each of
    forward's outputs with its random upstream gradient dout, summed over the outputs.

    forward(**inputs, **options) -> (*outs, cache), one output or more (the LSTM step: next_h, next_c);
    backward(*douts, cache) -> one gradient per input, in the order of `shapes`. Finite differences perturb
    each input array in place, so forward sees the change.
    """
    inputs = dict(zip(shapes, c.normal(*shapes.values()), strict=True))
    for name, scale in (scales or {}).items():
        inputs[name] *= c.dtype(scale)
    *outs, cache = forward(**inputs, **options)
    douts = c.normal(*(out.shape for out in outs))
    analytic = dict(zip(inputs, backward(*douts, cache), strict=True))

    def outputs():
        return forward(**inputs, **options)[:-1]

    gradients = [
        _Gradient(name, analytic[name], value, outputs=outputs, douts=tuple(douts))
        for name, value in inputs.items()
    ]
    return gradients, None, ()


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

    def outputs():
        return rnn_layers.word_embedding_forward(ids, W_embed)[:1]

    gradient = _Gradient("W_embed", dW, W_embed, outputs=outputs, douts=(dout,))
    return [gradient], None, (_repeat_note(ids),)


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
    return [_Gradient("x", dx, x, loss=lambda: rnn_layers.temporal_softmax_loss(x, y, mask)[0])], loss, ()


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

    def model_loss():
        return model.loss(features, captions)[0]

    gradients = [_Gradient(name, grads[name], value, loss=model_loss) for name, value in model.params.items()]
    return gradients, loss, (_repeat_note(captions[:, :-1]),)


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
    """Run one gradient check, and diagnose each gradient outside the pass band (ParamCheck.diagnosis).

    layer: one of ALL_LAYERS; sizes: LabSizes (N, T, D, W, H, V); activation: of the vanilla RNN cell (tanh,
    sigmoid, relu; the LSTM checks do not use it: the LSTM's gates fix their nonlinearities); bug: a key of
    BUGS, applied where that backward pass is used; dtype: "float64" or "float32"; seed: of the random
    inputs; step: the finite-difference step h; repeat_word: make a word id occur twice in the embedding
    input (an overwriting embedding backward is invisible otherwise). -> CheckResult.
    """
    if layer not in _CHECKS:
        raise HyperparameterError(f"layer={layer!r} is unknown; choose one of {', '.join(ALL_LAYERS)}.")
    check_bug(bug)
    if dtype not in ("float64", "float32"):
        raise HyperparameterError(f"dtype={dtype!r} is not supported; choose 'float64' or 'float32'.")
    if not (isinstance(step, (float, int)) and SCAN_STEPS[-1] <= step <= SCAN_STEPS[0]):
        raise HyperparameterError(
            f"The finite-difference step h={step!r} must be between {SCAN_STEPS[-1]:g} and {SCAN_STEPS[0]:g}."
        )
    check_activation(activation)
    sizes = (sizes or LabSizes()).validated()
    setup = _Setup(
        sizes,
        activation,
        np.dtype(dtype).type,
        engine_with_bug(bug),
        np.random.default_rng(seed),
        repeat_word,
    )
    gradients, loss, notes = _CHECKS[layer](setup)
    result = CheckResult(
        layer=layer,
        activation=activation,
        dtype=dtype,
        step=step,
        bug=bug,
        bug_applies=layer in BUGS[bug].checks,
        sizes=sizes,
        params=[_compare(g.name, g.analytic, g.numeric(step)) for g in gradients],
        loss=loss,
        notes=notes,
    )
    if not result.passed:
        _diagnose(
            result,
            gradients,
            lambda: run_check(
                layer, sizes, activation, bug, REFERENCE_DTYPE, seed, REFERENCE_STEP, repeat_word
            ),
        )
    return result


def _scan(gradient, check, dtype, step):
    """The StepScan of the worst element of `check` (the ParamCheck of `gradient`)."""
    index = check.worst_index
    analytic = np.asarray(gradient.analytic, dtype=np.float64)[index]
    steps = tuple(sorted(set(SCAN_STEPS) | {step}, reverse=True))
    errors = tuple(
        float(elementwise_rel_error(analytic, gradient.numeric(h, index).astype(np.float64).item()))
        for h in steps
    )
    return StepScan(index, dtype, step, steps, errors)


def _diagnose(result, gradients, reference_check):
    """Set the diagnosis of every failing gradient of `result` (whose `gradients` are still live);
    reference_check() runs the same check in REFERENCE_DTYPE with REFERENCE_STEP."""
    scans = {
        check.name: _scan(gradient, check, result.dtype, result.step)
        for check, gradient in zip(result.params, gradients, strict=True)
        if check.verdict != "pass"
    }
    is_reference = (result.dtype, result.step) == (REFERENCE_DTYPE, REFERENCE_STEP)
    reference = result if is_reference else reference_check()
    for check in result.params:
        if check.name not in scans:
            continue
        counterpart = reference.by_name(check.name)
        if is_reference:
            reference_scan = scans[check.name]
        else:
            reference_scan = counterpart.diagnosis.scan if counterpart.diagnosis is not None else None
        check.diagnosis = Diagnosis(
            cause_of(
                scans[check.name], counterpart.max_rel_error, reference_scan, counterpart.norm_rel_error
            ),
            scans[check.name],
            counterpart.max_rel_error,
            reference_scan,
            counterpart.norm_rel_error,
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
