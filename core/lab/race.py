"""The activation race: captioning RNNs that differ only in their activation (or cell), trained side by side.

A lane is named by its vanilla cell's activation ("tanh", "sigmoid", "relu") or "lstm", an LSTM cell. Every
vanilla lane starts from the same initial weights (one model, copied per activation); the LSTM lane is the
LSTM captioner of the same seed whose weights outside the cell (W_proj, b_proj, W_embed, W_vocab, b_vocab)
are that same model's, so lanes differ only in their recurrent cell. Every solver has the same seed, so all
lanes see identical minibatches in the same order. The race advances a few iterations at a time (`advance`
keeps each call within a time budget, shared by all lanes), so a page can train live without blocking, and
records what the page shows: losses, gradient norms, milestones, hidden activation statistics and each
lane's caption for one training image as it learns.
"""

import hashlib
import time
from dataclasses import dataclass, field

import numpy as np

from core.data.coco_utils import decode_captions
from core.engine.activations import ACTIVATIONS, PEAK_DERIVATIVE, derivative, tanh_derivative
from core.engine.captioning_solver import CaptioningSolver
from core.engine.rnn import CaptioningRNN
from core.errors import ActivationError, HyperparameterError, NonFiniteError

# (low, high, default) of every setting; the bounds keep a public deployment's memory and time per
# session bounded (at the maximum: 3 lanes x ~20 MB of weights and Adam moments, ~40 MB for an LSTM lane).
LIMITS = {
    "num_train": (10, 1000, 50),
    "hidden_dim": (8, 512, 512),
    "wordvec_dim": (8, 256, 256),
    "learning_rate": (1e-4, 5e-2, 5e-3),
    "lr_decay": (0.5, 1.0, 0.95),
    "batch_size": (1, 100, 25),
    "iterations": (1, 1000, 100),
}
MAX_ITERATIONS = 2000
MILESTONES = (1.0, 0.1)
DEFAULT_ACTIVATIONS = ("tanh", "sigmoid")
# The names a lane can have: a vanilla cell's activation, or the LSTM.
LANE_NAMES = (*ACTIVATIONS, "lstm")
# The parameters outside the recurrent cell, which every lane starts from equal.
SHARED_PARAMS = ("W_proj", "b_proj", "W_embed", "W_vocab", "b_vocab")
PROBE_CAPTIONS = 25
HISTOGRAM_BINS = 40
# A unit counts as saturated when f'(a) is below this share of the activation's largest derivative
# (1 for tanh and ReLU, 1/4 for sigmoid): the gradient through it is cut by 10x or more. For the LSTM lane
# the local derivative is that of h_t = o_t tanh(c_t) with respect to c_t, o_t (1 - tanh²(c_t)), whose
# largest value is 1 as well.
SATURATION_SHARE = 0.1


@dataclass(frozen=True)
class RaceConfig:
    """Settings of one race; `validated()` checks them against LIMITS."""

    activations: tuple = DEFAULT_ACTIVATIONS  # the lanes' names, from LANE_NAMES
    num_train: int = LIMITS["num_train"][2]
    hidden_dim: int = LIMITS["hidden_dim"][2]
    wordvec_dim: int = LIMITS["wordvec_dim"][2]
    learning_rate: float = LIMITS["learning_rate"][2]
    lr_decay: float = LIMITS["lr_decay"][2]
    batch_size: int = LIMITS["batch_size"][2]
    iterations: int = LIMITS["iterations"][2]
    seed: int = 0

    def validated(self):
        """This config, or HyperparameterError naming the first setting outside its range."""
        if not 1 <= len(self.activations) <= 3 or len(set(self.activations)) != len(self.activations):
            raise HyperparameterError(
                f"activations={self.activations!r}: race one to three different activations."
            )
        for name in self.activations:
            if name not in LANE_NAMES:
                raise ActivationError(
                    f"Lane {name!r} is not supported; choose from {', '.join(map(repr, LANE_NAMES))}."
                )
        for name, (low, high, _) in LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not np.isfinite(value) or not low <= value <= high:
                raise HyperparameterError(f"{name}={value!r} is outside the race's range [{low}, {high}].")
        return self


@dataclass
class CaptionSample:
    """A lane's greedy caption of the race's sample image after `iteration` iterations."""

    iteration: int
    text: str


@dataclass
class HiddenStats:
    """Hidden activations h of a lane on the probe captions (non-<NULL> inputs only).

    counts: (HISTOGRAM_BINS,) histogram of h over edges (HISTOGRAM_BINS + 1,); saturated: share of values
    whose local derivative is below SATURATION_SHARE of the peak; mean_derivative: mean f'(a).
    For the LSTM lane (activation "lstm"): h = o tanh(c) lies in (-1, 1), binned like tanh's; the local
    derivative is o (1 - tanh²(c)), what the gradient through h_t keeps on its way into the cell, so that
    saturated and mean_derivative read as for tanh; mean_forget_gate is the mean forget gate f, what the
    gradient carried along the cell keeps per step (None for the vanilla lanes).
    """

    activation: str
    counts: np.ndarray
    edges: np.ndarray
    saturated: float
    mean_derivative: float
    iteration: int
    mean_forget_gate: float | None = None


@dataclass
class Lane:
    """One lane's run: its model, solver, fingerprints of its initial weights and what it recorded.

    activation: the lane's name, one of LANE_NAMES ("lstm" for the LSTM lane); initial_fingerprint: of all
    its initial weights; shared_fingerprint: of those outside the cell (SHARED_PARAMS), equal in every lane.
    """

    activation: str
    model: CaptioningRNN
    solver: CaptioningSolver
    initial_fingerprint: str
    samples: list = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    shared_fingerprint: str = ""

    @property
    def name(self):
        return self.activation

    @property
    def cell_type(self):
        return self.model.cell_type

    @property
    def iteration(self):
        return self.solver.iteration

    @property
    def done(self):
        return self.error is not None or self.solver.done

    @property
    def losses(self):
        """(iterations,) minibatch loss of every iteration so far."""
        return np.asarray(self.solver.loss_history, dtype=np.float64)

    def grad_norms(self, name=None):
        """(iterations,) norm of the gradient of parameter `name`, or of all parameters together if None."""
        if name is None:
            return np.array([np.sqrt(sum(v * v for v in r.grad_norms.values())) for r in self.solver.history])
        return np.array([r.grad_norms[name] for r in self.solver.history])

    def first_below(self, threshold):
        """1-based iteration of the first minibatch loss below `threshold`, or None."""
        below = np.flatnonzero(self.losses < threshold)
        return int(below[0]) + 1 if below.size else None

    def final_loss(self, window=5):
        """Mean loss of the last `window` iterations (minibatch losses are noisy), or None before any."""
        losses = self.losses
        return float(losses[-window:].mean()) if losses.size else None

    def loss_change(self, iterations=10):
        """Latest loss minus the loss `iterations` iterations earlier (or the first one), or None before two."""
        losses = self.losses
        return float(losses[-1] - losses[max(losses.size - 1 - iterations, 0)]) if losses.size > 1 else None

    @property
    def seconds_per_iteration(self):
        return self.seconds / self.iteration if self.iteration else None


def fingerprint(params):
    """A short hex digest of a parameter dict's names, shapes and bytes: equal digests, equal weights."""
    digest = hashlib.sha256()
    for name in sorted(params):
        value = np.ascontiguousarray(params[name])
        digest.update(name.encode())
        digest.update(str(value.shape).encode())
        digest.update(value.tobytes())
    return digest.hexdigest()[:12]


def training_subset(data, num_train, seed=0):
    """The race's training set: `num_train` captions of data's train split, chosen with `seed`.

    Returns a dict with train_captions (num_train, T + 1), train_image_idxs (num_train,) indexing
    train_features (R, D) (only the R images used), train_urls (R,), word_to_idx, idx_to_word, and
    base_dir when data has one.
    """
    total = data["train_captions"].shape[0]
    if num_train > total:
        raise HyperparameterError(
            f"num_train={num_train} is more than the {total} training captions of the dataset; choose at most {total}."
        )
    chosen = np.random.default_rng(seed).choice(total, size=int(num_train), replace=False)
    old_rows = np.asarray(data["train_image_idxs"])[chosen]
    rows, new_idxs = np.unique(old_rows, return_inverse=True)
    subset = {
        "train_captions": np.array(data["train_captions"][chosen]),
        "train_image_idxs": new_idxs.astype(np.int64),
        "train_features": np.array(data["train_features"][rows]),
        "train_urls": np.array(data["train_urls"][rows]) if "train_urls" in data else None,
        "word_to_idx": data["word_to_idx"],
        "idx_to_word": data["idx_to_word"],
    }
    if "base_dir" in data:
        subset["base_dir"] = data["base_dir"]
    return subset


class Race:
    """Lanes of CaptioningSolver, one per activation (or the LSTM), with identical initial weights (outside
    the cell, for the LSTM lane) and minibatches.

    data: the dataset dict (train_captions, train_image_idxs, train_features, word_to_idx, idx_to_word);
    the race trains on `training_subset(data, config.num_train, config.seed)`.
    """

    def __init__(self, data, config=None):
        self.config = (config or RaceConfig()).validated()
        c = self.config
        self.data = training_subset(data, c.num_train, c.seed)
        features = self.data["train_features"]
        base = CaptioningRNN(
            self.data["word_to_idx"], features.shape[1], c.wordvec_dim, c.hidden_dim, seed=c.seed
        )
        self.initial_fingerprint = fingerprint(base.params)
        self.lanes = [self._lane(base, activation) for activation in c.activations]
        self.running = False
        self.last_tick_seconds = 0.0
        self.max_tick_seconds = 0.0
        # The sample image is the first caption's image; its ground truth is every caption of it in the set.
        self.sample_row = int(self.data["train_image_idxs"][0])
        self.sample_feature = features[self.sample_row]
        self.sample_truth = [
            decode_captions(cap, self.data["idx_to_word"])
            for cap in self.data["train_captions"][self.data["train_image_idxs"] == self.sample_row]
        ]
        urls = self.data.get("train_urls")
        self.sample_url = str(urls[self.sample_row]) if urls is not None else None
        probe = slice(0, min(PROBE_CAPTIONS, c.num_train))
        self.probe_captions = self.data["train_captions"][probe]
        self.probe_features = features[self.data["train_image_idxs"][probe]]
        self.record_samples()

    def _lane(self, base, name):
        c = self.config
        if name == "lstm":
            model = CaptioningRNN(
                self.data["word_to_idx"],
                base.input_dim,
                c.wordvec_dim,
                c.hidden_dim,
                cell_type="lstm",
                seed=c.seed,
            )
            model.params.update({key: base.params[key].copy() for key in SHARED_PARAMS})
        else:
            model = base.copy(activation=name)
        solver = CaptioningSolver(
            model,
            self.data,
            update_rule="adam",
            optim_config={"learning_rate": c.learning_rate},
            lr_decay=c.lr_decay,
            batch_size=c.batch_size,
            num_iterations=c.iterations,
            verbose=False,
            seed=c.seed,
        )
        shared = fingerprint({key: model.params[key] for key in SHARED_PARAMS})
        return Lane(name, model, solver, fingerprint(model.params), shared_fingerprint=shared)

    # ------------------------------------------------------------------ progress

    @property
    def iteration(self):
        """Iterations every lane has completed (lanes advance in lockstep)."""
        return min(lane.iteration for lane in self.lanes)

    @property
    def target(self):
        """Iterations the race runs to."""
        return max(lane.solver.num_iterations for lane in self.lanes)

    @property
    def done(self):
        return all(lane.done for lane in self.lanes)

    def step(self, rounds=1):
        """Advance every unfinished lane by up to `rounds` iterations, one lane after the other per round.

        A lane whose loss diverges stops with its error message; the others go on. Returns rounds run.
        """
        done_rounds = 0
        for _ in range(int(rounds)):
            if self.done:
                break
            self._round()
            done_rounds += 1
        return done_rounds

    def _round(self):
        for lane in self.lanes:
            if lane.done:
                continue
            start = time.perf_counter()
            try:
                lane.solver.step(1)
            except NonFiniteError as exc:
                lane.error = f"{lane.activation}: {exc}"
            lane.seconds += time.perf_counter() - start

    def advance(self, budget_seconds=0.5, max_rounds=None, clock=time.perf_counter):
        """Run rounds until `budget_seconds` would be exceeded (at least one) or `max_rounds` ran, then
        record samples.

        The next round is started only if the slowest round so far fits in what is left of the budget,
        so a tick stays close to the budget whatever the sizes. Returns the rounds run.
        """
        start = clock()
        rounds = 0
        slowest = 0.0
        while not self.done and (max_rounds is None or rounds < max_rounds):
            round_start = clock()
            self._round()
            rounds += 1
            now = clock()
            slowest = max(slowest, now - round_start)
            if now - start + slowest > budget_seconds:
                break
        if rounds:
            self.record_samples()
        self.last_tick_seconds = clock() - start
        self.max_tick_seconds = max(self.max_tick_seconds, self.last_tick_seconds)
        return rounds

    def extend(self, extra):
        """Raise every lane's iteration target by `extra` (up to MAX_ITERATIONS in all)."""
        extra = int(extra)
        if extra < 1:
            raise HyperparameterError(f"Extend by a positive number of iterations, got {extra}.")
        target = self.target + extra
        if target > MAX_ITERATIONS:
            raise HyperparameterError(
                f"The race is capped at {MAX_ITERATIONS} iterations; it is at {self.target}, "
                f"so extend by at most {MAX_ITERATIONS - self.target}."
            )
        for lane in self.lanes:
            lane.solver.num_iterations = target

    # ------------------------------------------------------------------ measurements

    def record_samples(self):
        """Append each lane's greedy caption of the sample image if it changed since the last record."""
        T = self.data["train_captions"].shape[1] - 1
        for lane in self.lanes:
            ids = lane.model.sample(self.sample_feature[None], max_length=T)[0]
            text = decode_captions(ids, self.data["idx_to_word"])
            if not lane.samples or lane.samples[-1].text != text:
                lane.samples.append(CaptionSample(lane.iteration, text))

    def hidden_stats(self, lane):
        """HiddenStats of `lane` on the probe captions with its current weights."""
        h, cache = lane.model.recurrent_forward(self.probe_features, self.probe_captions)
        mask = self.probe_captions[:, :-1] != self.data["word_to_idx"]["<NULL>"]
        values = h[mask].ravel().astype(np.float64)
        mean_forget_gate = None
        if lane.activation in ("tanh", "lstm"):
            edges = np.linspace(-1, 1, HISTOGRAM_BINS + 1)
        elif lane.activation == "sigmoid":
            edges = np.linspace(0, 1, HISTOGRAM_BINS + 1)
        else:
            top = float(np.percentile(values, 99.5)) if values.size else 1.0
            edges = np.linspace(0, max(top, 1e-3), HISTOGRAM_BINS + 1)
        counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)
        if lane.activation == "lstm":
            # the cache is time-major (T, N, H); the mask is (N, T)
            time_mask = mask.T
            local_derivative = (cache.o * tanh_derivative(cache.tanh_c))[time_mask].ravel().astype(np.float64)
            mean_forget_gate = float(cache.f[time_mask].mean()) if values.size else 0.0
            peak = 1.0
        else:
            local_derivative = derivative(values, lane.activation)
            peak = PEAK_DERIVATIVE[lane.activation]
        return HiddenStats(
            activation=lane.activation,
            counts=counts,
            edges=edges,
            saturated=float(np.mean(local_derivative < SATURATION_SHARE * peak)) if values.size else 0.0,
            mean_derivative=float(local_derivative.mean()) if values.size else 0.0,
            iteration=lane.iteration,
            mean_forget_gate=mean_forget_gate,
        )

    def summary(self, stats=None):
        """RaceSummary of the measured numbers so far; `stats` reuses HiddenStats already computed per lane."""
        stats = stats if stats is not None else [self.hidden_stats(lane) for lane in self.lanes]
        lanes = []
        for lane, lane_stats in zip(self.lanes, stats, strict=True):
            losses = lane.losses
            lanes.append(
                LaneSummary(
                    activation=lane.activation,
                    iterations=lane.iteration,
                    first_loss=float(losses[0]) if losses.size else None,
                    final_loss=lane.final_loss(),
                    best_loss=float(losses.min()) if losses.size else None,
                    first_below={t: lane.first_below(t) for t in MILESTONES},
                    saturated=lane_stats.saturated,
                    mean_derivative=lane_stats.mean_derivative,
                    caption=lane.samples[-1].text if lane.samples else "",
                    caption_matches=bool(lane.samples) and lane.samples[-1].text in self.sample_truth,
                    seconds_per_iteration=lane.seconds_per_iteration,
                    error=lane.error,
                    mean_forget_gate=lane_stats.mean_forget_gate,
                )
            )
        vanilla = [lane for lane in self.lanes if lane.cell_type == "rnn"]
        return RaceSummary(
            lanes=lanes,
            num_train=self.config.num_train,
            hidden_dim=self.config.hidden_dim,
            # every lane the same weights outside the cell, every vanilla lane the same weights altogether
            same_start=len({lane.shared_fingerprint for lane in self.lanes}) == 1
            and len({lane.initial_fingerprint for lane in vanilla}) <= 1,
        )


@dataclass
class LaneSummary:
    """The numbers the race summary is written from, for one lane (see HiddenStats for what saturated,
    mean_derivative and mean_forget_gate measure in the LSTM lane)."""

    activation: str
    iterations: int
    first_loss: float | None
    final_loss: float | None
    best_loss: float | None
    first_below: dict
    saturated: float
    mean_derivative: float
    caption: str
    caption_matches: bool
    seconds_per_iteration: float | None
    error: str | None
    mean_forget_gate: float | None = None


@dataclass
class RaceSummary:
    lanes: list
    num_train: int
    hidden_dim: int
    same_start: bool
