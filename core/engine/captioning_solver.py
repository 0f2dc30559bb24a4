"""Trains a CaptioningRNN on a captioning data dict (the course's cs231n/captioning_solver.py), in whole runs
or a few iterations at a time."""

import numbers
from dataclasses import dataclass, field

import numpy as np

from core.engine.optim import DEFAULT_LEARNING_RATES, UPDATE_RULES
from core.engine.seeding import generator
from core.engine.validation import (
    require_array,
    require_dim,
    require_integer,
    require_ndim,
    require_number,
    require_seed,
    require_token_ids,
)
from core.errors import HyperparameterError, NonFiniteError, ShapeError

DATA_KEYS = ("train_captions", "train_image_idxs", "train_features")
MAX_BATCH_SIZE = 10_000
MAX_ITERATIONS = 10_000_000
MAX_LEARNING_RATE = 1e6


@dataclass
class IterationRecord:
    """What one training iteration measured."""

    iteration: int
    epoch: int
    loss: float
    learning_rate: float
    grad_norms: dict = field(default_factory=dict)


class CaptioningSolver:
    """Minibatch training with the course's constructor arguments.

    data: dict with train_captions (N_cap, T + 1), train_image_idxs (N_cap,), train_features (N_img, D).
    Each iteration samples `batch_size` captions with a generator seeded by `seed`, so two solvers with the
    same seed and data see identical minibatches (seed None: seeded from NumPy's global random state, so
    np.random.seed makes the run repeatable, as in the course). The learning rate is multiplied by `lr_decay` after
    every epoch. `step(n)` advances n iterations (for live pages); `train()` runs to the end.

    Bounds: batch_size 1..MAX_BATCH_SIZE, num_iterations (or num_epochs x iterations per epoch) and
    print_every 0..MAX_ITERATIONS, learning_rate in (0, MAX_LEARNING_RATE], lr_decay in (0, 1] (the course
    takes any number; a larger one would grow the learning rate every epoch); optim_config holds only the
    settings of its update rule (RULE_SETTINGS). Anything else raises a CaptioningError naming it.

    An iteration is committed only if its loss, its gradients and the updated weights are all finite:
    otherwise NonFiniteError names the iteration and the model keeps the weights of the iteration before
    (the optimizer's moments have taken the step, so the run is over: reset it).
    """

    def __init__(
        self,
        model,
        data,
        update_rule="sgd",
        optim_config=None,
        lr_decay=1.0,
        batch_size=100,
        num_epochs=10,
        print_every=10,
        verbose=True,
        seed=None,
        num_iterations=None,
    ):
        if not (isinstance(getattr(model, "params", None), dict) and callable(getattr(model, "loss", None))):
            raise HyperparameterError(
                f"model must be a captioning model such as CaptioningRNN (with params and loss), "
                f"got {type(model).__name__}."
            )
        self.model = model
        self.data = _checked_data(data, model)
        self.update_rule = _checked_rule(update_rule)
        self.optim_config = _checked_optim_config(optim_config, update_rule)
        if not (_is_number(lr_decay) and 0 < lr_decay <= 1):
            raise HyperparameterError(f"lr_decay must be in (0, 1], got {lr_decay!r}.")
        self.lr_decay = float(lr_decay)
        self.batch_size = require_integer("batch_size", batch_size, 1, MAX_BATCH_SIZE)
        self.num_epochs = require_number("num_epochs", num_epochs, 0, MAX_ITERATIONS)
        self.print_every = require_integer("print_every", print_every, 0, MAX_ITERATIONS)
        self.verbose = bool(verbose)
        self.seed = require_seed("seed", seed)

        num_train = self.data["train_captions"].shape[0]
        self.iterations_per_epoch = max(num_train // self.batch_size, 1)
        if num_iterations is None:
            num_iterations = int(self.num_epochs * self.iterations_per_epoch)
        self.num_iterations = require_integer("num_iterations", num_iterations, 0, MAX_ITERATIONS)
        self._reset()

    def _reset(self):
        self.rng = generator(self.seed)
        self.epoch = 0
        self.iteration = 0
        self.loss_history = []
        self.history = []
        self.optim_configs = {name: dict(self.optim_config) for name in self.model.params}

    @property
    def done(self):
        return self.iteration >= self.num_iterations

    @property
    def learning_rate(self):
        return next(iter(self.optim_configs.values())).get("learning_rate", DEFAULT_LEARNING_RATES["adam"])

    def sample_minibatch(self):
        """(captions (B, T + 1), features (B, D)) drawn with the solver's own generator."""
        captions = self.data["train_captions"]
        chosen = self.rng.integers(captions.shape[0], size=self.batch_size)
        return captions[chosen], self.data["train_features"][self.data["train_image_idxs"][chosen]]

    def _step(self):
        captions, features = self.sample_minibatch()
        loss, grads = self.model.loss(features, _without_trailing_padding(captions, self.model.word_to_idx))
        # A norm is NaN or infinite if its gradient holds NaN or infinity, or is too large for its dtype to
        # measure (float32 overflows past 3.4e38): diverged either way, said without NumPy's overflow warning.
        with np.errstate(over="ignore"):
            grad_norms = {name: float(np.linalg.norm(g)) for name, g in grads.items()}
        if not np.isfinite([loss, *grad_norms.values()]).all():
            self._diverged(_what_is_not_finite(loss, grads))
        updated = {}
        for name, w in self.model.params.items():
            updated[name], self.optim_configs[name] = self.update_rule(
                w, grads[name], self.optim_configs[name]
            )
        # A norm is NaN or infinite as soon as one of the weights is (or if it overflows: diverged as well);
        # it is one BLAS dot per array, half the time of a sum.
        with np.errstate(over="ignore"):
            weight_norms = [np.linalg.norm(w) for w in updated.values()]
        if not np.isfinite(weight_norms).all():
            self._diverged("the update made a weight NaN, infinite or too large to measure")
        self.model.params.update(updated)

        record = IterationRecord(self.iteration + 1, self.epoch, loss, self.learning_rate, grad_norms)
        self.iteration += 1
        self.loss_history.append(loss)
        self.history.append(record)
        if self.iteration % self.iterations_per_epoch == 0:
            self.epoch += 1
            for config in self.optim_configs.values():
                config["learning_rate"] = (
                    config.get("learning_rate", DEFAULT_LEARNING_RATES["adam"]) * self.lr_decay
                )
        # As the course: the first iteration's loss, then every print_every iterations (1, 11, 21, ...).
        if self.verbose and self.print_every and (self.iteration - 1) % self.print_every == 0:
            print(f"(Iteration {self.iteration} / {self.num_iterations}) loss: {loss:f}")
        return record

    def _diverged(self, what):
        raise NonFiniteError(
            f"Training diverged at iteration {self.iteration + 1}: {what}. The weights of iteration "
            f"{self.iteration} are kept; lower the learning rate or reset the run."
        )

    def step(self, num_iterations=1):
        """Advance up to `num_iterations` iterations (stopping at the end); returns their records."""
        records = []
        for _ in range(require_integer("num_iterations", num_iterations, 0, MAX_ITERATIONS)):
            if self.done:
                break
            records.append(self._step())
        return records

    def train(self):
        """Run every remaining iteration; returns loss_history."""
        self.step(self.num_iterations - self.iteration)
        return self.loss_history


def _checked_data(data, model):
    """data if it holds the training arrays the solver samples from, fitting `model`, else a CaptioningError
    naming the key that is missing or does not fit."""
    if not isinstance(data, dict):
        raise HyperparameterError(f"data must be the dict of load_coco_data(), got {type(data).__name__}.")
    missing = [key for key in DATA_KEYS if key not in data]
    if missing:
        raise HyperparameterError(f"data has no {', '.join(missing)}; pass the dict of load_coco_data().")
    captions, idxs, features = (data[key] for key in DATA_KEYS)
    for key, array in zip(DATA_KEYS, (captions, idxs, features), strict=True):
        require_array(f"data[{key!r}]", array, {"train_features": "(N_img, D)"}.get(key, "(N, ·)"))
    if (
        captions.ndim != 2
        or captions.shape[0] < 1
        or captions.shape[1] < 2
        or idxs.shape != (captions.shape[0],)
    ):
        raise ShapeError(
            f"data['train_captions'] {captions.shape} and data['train_image_idxs'] {idxs.shape} must be "
            "(N, T + 1) and (N,) with N >= 1 and T >= 1."
        )
    if hasattr(model, "vocab_size"):
        require_token_ids("data['train_captions']", captions, model.vocab_size)
    if not np.issubdtype(idxs.dtype, np.integer):
        raise ShapeError(f"data['train_image_idxs'] must hold integer row numbers, got dtype {idxs.dtype}.")
    require_ndim("data['train_features']", features, 2, "(N_img, D)")
    if hasattr(model, "input_dim"):
        require_dim(
            "data['train_features']", features.shape[1], model.input_dim, "the model's feature size D"
        )
    if idxs.size and not 0 <= idxs.min() <= idxs.max() < features.shape[0]:
        raise ShapeError(
            f"data['train_image_idxs'] must index the rows of data['train_features'] {features.shape}."
        )
    return data


def _what_is_not_finite(loss, grads) -> str:
    """Why an iteration's loss or gradients stop training: the first of a loss that is not finite, a gradient
    holding NaN or infinity, and gradients whose norm overflows their dtype."""
    if not np.isfinite(loss):
        return f"the loss is {loss:.4g}"
    if not all(np.isfinite(g).all() for g in grads.values()):
        return f"a gradient holds NaN or infinity (the loss is {loss:.4g})"
    return f"the gradients grew too large to measure their norm (the loss is {loss:.4g})"


# The settings each update rule reads from optim_config besides learning_rate, with their allowed ranges.
_FRACTION = ("[0, 1)", lambda value: 0 <= value < 1)
_EPSILON = ("(0, 1]", lambda value: 0 < value <= 1)
RULE_SETTINGS = {
    "sgd": {},
    "sgd_momentum": {"momentum": _FRACTION},
    "rmsprop": {"decay_rate": _FRACTION, "epsilon": _EPSILON},
    "adam": {"beta1": _FRACTION, "beta2": _FRACTION, "epsilon": _EPSILON},
}


def _checked_optim_config(optim_config, update_rule):
    """A copy of optim_config if it is a dict of the settings `update_rule` reads, each in its range (the
    learning rate in (0, MAX_LEARNING_RATE]), else HyperparameterError naming the setting."""
    if optim_config is not None and not isinstance(optim_config, dict):
        raise HyperparameterError(
            f"optim_config must be a dict such as {{'learning_rate': 1e-3}}, got {optim_config!r}."
        )
    config = dict(optim_config or {})
    if not callable(update_rule):
        # the rule's own default, set now so that the solver reports it before the first step too
        config.setdefault("learning_rate", DEFAULT_LEARNING_RATES[update_rule])
    learning_rate = config.get("learning_rate", DEFAULT_LEARNING_RATES["adam"])
    if not (_is_number(learning_rate) and 0 < learning_rate <= MAX_LEARNING_RATE):
        raise HyperparameterError(
            f"learning_rate must be a positive number up to {MAX_LEARNING_RATE:g}, got {learning_rate!r}."
        )
    if callable(update_rule):
        return config  # a rule of the caller's own: its settings are its business
    allowed = RULE_SETTINGS[update_rule]
    unknown = sorted(set(config) - set(allowed) - {"learning_rate"})
    if unknown:
        raise HyperparameterError(
            f"optim_config has {', '.join(map(repr, unknown))}, which {update_rule} does not use; "
            f"its settings are {', '.join(['learning_rate', *allowed])}."
        )
    for key, (interval, inside) in allowed.items():
        if key in config and not (_is_number(config[key]) and inside(config[key])):
            raise HyperparameterError(f"{key} must be a number in {interval}, got {config[key]!r}.")
    return config


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)


def _checked_rule(update_rule):
    if callable(update_rule):
        return update_rule
    if not isinstance(update_rule, str) or update_rule not in UPDATE_RULES:
        raise HyperparameterError(
            f"update_rule={update_rule!r} is unknown; choose one of {', '.join(UPDATE_RULES)}."
        )
    return UPDATE_RULES[update_rule]


def _without_trailing_padding(captions, word_to_idx):
    """captions (B, T + 1) without the columns after the minibatch's longest caption: they are <NULL> in
    every row and add nothing to the loss or the gradients (on the embedded dataset, whose captions have at
    most 11 words, an iteration then runs 12 timesteps instead of 16)."""
    has_word = (captions != word_to_idx["<NULL>"]).any(axis=0)
    if not has_word.any():  # every caption all <NULL>: nothing to score, keep the first step
        return captions[:, :2]
    return captions[:, : max(np.flatnonzero(has_word)[-1] + 1, 2)]
