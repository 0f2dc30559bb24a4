"""Trains a CaptioningRNN on a captioning data dict, in whole runs or a few iterations at a time."""

from dataclasses import dataclass, field

import numpy as np

from core.errors import HyperparameterError, NonFiniteError
from core.optim import UPDATE_RULES, update_parameters


@dataclass
class IterationRecord:
    """What one training iteration measured."""

    iteration: int
    epoch: int
    loss: float
    learning_rate: float
    grad_norms: dict = field(default_factory=dict)


class CaptioningSolver:
    """Minibatch training with the CS231n constructor arguments.

    data: dict with train_captions (N_cap, T + 1), train_image_idxs (N_cap,), train_features (N_img, D).
    Each iteration samples `batch_size` captions with a generator seeded by `seed`, so two solvers with the
    same seed and data see identical minibatches. The learning rate is multiplied by `lr_decay` after
    every epoch. `step(n)` advances n iterations (for live pages); `train()` runs to the end.
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
        self.model = model
        self.data = data
        self.update_rule = self._check_rule(update_rule)
        self.optim_config = dict(optim_config or {})
        self.lr_decay = lr_decay
        self.batch_size = int(batch_size)
        self.num_epochs = num_epochs
        self.print_every = print_every
        self.verbose = verbose
        self.seed = seed
        self._check_hyperparameters()

        num_train = data["train_captions"].shape[0]
        self.iterations_per_epoch = max(num_train // self.batch_size, 1)
        self.num_iterations = (
            int(num_iterations) if num_iterations is not None else int(num_epochs * self.iterations_per_epoch)
        )
        self._reset()

    @staticmethod
    def _check_rule(update_rule):
        if callable(update_rule):
            return update_rule
        if update_rule not in UPDATE_RULES:
            raise HyperparameterError(
                f"update_rule={update_rule!r} is unknown; choose one of {', '.join(UPDATE_RULES)}."
            )
        return UPDATE_RULES[update_rule]

    def _check_hyperparameters(self):
        lr = self.optim_config.get("learning_rate", 1e-3)
        if not (np.isfinite(lr) and lr > 0):
            raise HyperparameterError(f"learning_rate must be a positive number, got {lr}.")
        if not 0 < self.lr_decay <= 1:
            raise HyperparameterError(f"lr_decay must be in (0, 1], got {self.lr_decay}.")
        if self.batch_size < 1:
            raise HyperparameterError(f"batch_size must be at least 1, got {self.batch_size}.")
        if self.num_epochs < 0:
            raise HyperparameterError(f"num_epochs must be >= 0, got {self.num_epochs}.")

    def _reset(self):
        self.rng = np.random.default_rng(self.seed)
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
        return next(iter(self.optim_configs.values())).get("learning_rate", 1e-3)

    def sample_minibatch(self):
        """(captions (B, T + 1), features (B, D)) drawn with the solver's own generator."""
        captions = self.data["train_captions"]
        chosen = self.rng.integers(captions.shape[0], size=self.batch_size)
        return captions[chosen], self.data["train_features"][self.data["train_image_idxs"][chosen]]

    def _step(self):
        captions, features = self.sample_minibatch()
        loss, grads = self.model.loss(features, captions)
        if not np.isfinite(loss):
            raise NonFiniteError(
                f"Training diverged at iteration {self.iteration + 1}: the loss is {loss}. "
                "Lower the learning rate or reset the run."
            )
        record = IterationRecord(
            iteration=self.iteration + 1,
            epoch=self.epoch,
            loss=loss,
            learning_rate=self.learning_rate,
            grad_norms={name: float(np.linalg.norm(g)) for name, g in grads.items()},
        )
        update_parameters(self.update_rule, self.model.params, grads, self.optim_configs)
        self.iteration += 1
        self.loss_history.append(loss)
        self.history.append(record)
        if self.iteration % self.iterations_per_epoch == 0:
            self.epoch += 1
            for config in self.optim_configs.values():
                config["learning_rate"] = config.get("learning_rate", 1e-3) * self.lr_decay
        if self.verbose and self.print_every and self.iteration % self.print_every == 0:
            print(f"(Iteration {self.iteration} / {self.num_iterations}) loss: {loss:f}")
        return record

    def step(self, num_iterations=1):
        """Advance up to `num_iterations` iterations (stopping at the end); returns their records."""
        records = []
        for _ in range(int(num_iterations)):
            if self.done:
                break
            records.append(self._step())
        return records

    def train(self):
        """Run every remaining iteration; returns loss_history."""
        self.step(self.num_iterations - self.iteration)
        return self.loss_history
