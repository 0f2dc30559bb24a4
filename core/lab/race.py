"""The activation race: captioning RNNs that differ only in their activation (or cell), trained side by side.

A lane is named by its vanilla cell's activation ("tanh", "sigmoid", "relu") or "lstm", an LSTM cell. Every
vanilla lane starts from the same initial weights (one model, copied per activation); the LSTM lane is the
LSTM captioner of the same seed whose weights outside the cell (W_proj, b_proj, W_embed, W_vocab, b_vocab)
are that same model's, so lanes differ only in their recurrent cell. Every solver has the same seed, so all
lanes see identical minibatches in the same order, for the same number of iterations. A lane advances one
iteration at a time (`step_lane`; `step` runs rounds of every lane in turn), so a page can train it live, and
each lane records what the page shows: losses, gradient norms, milestones, hidden activation statistics and
its caption for one training image as it learns. After each iteration a lane publishes its state (LaneState:
its weights and counts), and `record(lane)` copies what it published into a LaneRecord, which a page draws and
`summary` reads while the lane trains on: a reader never waits for an iteration in progress.
"""

import copy
import hashlib
import time
from dataclasses import dataclass, field, replace

import numpy as np

from core.data.coco_utils import decode_captions
from core.engine.activations import ACTIVATIONS, PEAK_DERIVATIVE, derivative, tanh_derivative
from core.engine.captioning_solver import CaptioningSolver
from core.engine.rnn import CaptioningRNN
from core.errors import ActivationError, HyperparameterError, NonFiniteError

# (low, high, default) of every setting; the bounds keep a public deployment's memory and time per
# session bounded (at the maximum: 3 vanilla lanes x ~20 MB of weights and Adam moments and ~40 MB for the
# LSTM lane).
LIMITS = {
    "num_train": (10, 1000, 50),
    "hidden_dim": (8, 512, 512),
    "wordvec_dim": (8, 256, 256),
    # Up to 1: at the notebook's sizes Adam with 0.5 makes a ReLU lane diverge at its second iteration, a
    # failure the race shows (the vanilla lanes with tanh and sigmoid go on).
    "learning_rate": (1e-4, 1.0, 5e-3),
    "lr_decay": (0.5, 1.0, 0.95),
    "batch_size": (1, 100, 25),
    "iterations": (1, 2000, 100),
}
# The most iterations a race runs, extended or not: a race extended to its target is the race its settings
# (and a link) set up with that many iterations.
MAX_ITERATIONS = LIMITS["iterations"][1]
MILESTONES = (1.0, 0.1)
# A lane's final loss is the mean of its last FINAL_WINDOW minibatch losses: one minibatch's loss is noisy.
FINAL_WINDOW = 5
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
        count = len(self.activations)
        if not 1 <= count <= len(LANE_NAMES) or len(set(self.activations)) != count:
            raise HyperparameterError(
                f"activations={self.activations!r}: race one to {len(LANE_NAMES)} different lanes of "
                f"{', '.join(LANE_NAMES)}."
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

    counts: (HISTOGRAM_BINS,) histogram of the finite values of h over edges (HISTOGRAM_BINS + 1,); saturated:
    share of them whose local derivative is below SATURATION_SHARE of the peak; mean_derivative: mean f'(a);
    nonfinite: share of the values that are infinite or NaN (weights that grew without bound), left out of
    the other numbers.
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
    nonfinite: float = 0.0


@dataclass(frozen=True)
class LaneState:
    """A lane as it was after one of its iterations, for readers while it trains on: its iteration count, its
    weights (the arrays themselves: the solver's update makes new arrays and never changes them in place),
    and its time, error and divergence as in Lane."""

    iteration: int
    params: dict
    seconds: float
    error: str | None
    diverged_at: int | None


@dataclass
class Lane:
    """One lane's run: its model, solver, fingerprints of its initial weights and what it recorded.

    activation: the lane's name, one of LANE_NAMES ("lstm" for the LSTM lane); initial_fingerprint: of all
    its initial weights; shared_fingerprint: of those outside the cell (SHARED_PARAMS), equal in every lane;
    diverged_at: the iteration whose loss, gradients or update were not finite (the lane stopped there, with
    `error` saying so, and kept the weights of the iteration before); published: its last LaneState.
    """

    activation: str
    model: CaptioningRNN
    solver: CaptioningSolver
    initial_fingerprint: str
    samples: list = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    shared_fingerprint: str = ""
    diverged_at: int | None = None
    published: LaneState | None = None

    def publish(self):
        """Make the lane as it is now what its readers see (Race.record), until it publishes again."""
        self.published = LaneState(
            self.iteration, dict(self.model.params), self.seconds, self.error, self.diverged_at
        )

    def published_model(self, state):
        """The lane's model with the weights of `state` (a LaneState; the arrays shared, not copied)."""
        model = copy.copy(self.model)
        model.params = state.params
        return model

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

    def grad_norms(self, name=None, iterations=None):
        """(iterations,) norm of the gradient of parameter `name`, or of all parameters together if None, of
        the first `iterations` iterations (by default every one so far)."""
        history = self.solver.history[:iterations]
        if name is None:
            return np.array([np.sqrt(sum(v * v for v in r.grad_norms.values())) for r in history])
        return np.array([r.grad_norms[name] for r in history])


@dataclass(frozen=True)
class LaneRecord:
    """A copy of what one lane recorded up to `iteration`: what a page draws while the lane trains on.

    losses, grad_norms (all parameters together), wh_grad_norms: (iterations,); samples: the lane's
    CaptionSamples, one per change of caption; stats: its HiddenStats at `iteration`; the other fields as in
    Lane.
    """

    activation: str
    cell_type: str
    iteration: int
    losses: np.ndarray
    grad_norms: np.ndarray
    wh_grad_norms: np.ndarray
    samples: tuple
    stats: HiddenStats
    seconds: float
    error: str | None
    diverged_at: int | None
    initial_fingerprint: str
    shared_fingerprint: str

    def first_below(self, threshold):
        """1-based iteration of the first minibatch loss below `threshold`, or None."""
        below = np.flatnonzero(self.losses < threshold)
        return int(below[0]) + 1 if below.size else None

    def final_loss(self, window=FINAL_WINDOW):
        """Mean loss of the last `window` iterations (minibatch losses are noisy), or None before any."""
        return float(self.losses[-window:].mean()) if self.losses.size else None

    def loss_change(self, iterations=10):
        """(latest loss minus the loss `iterations` iterations earlier, or the first one; the iterations between
        them), or None before two losses."""
        losses = self.losses
        if losses.size < 2:
            return None
        span = min(iterations, losses.size - 1)
        return float(losses[-1] - losses[-1 - span]), span

    @property
    def caption(self):
        """The lane's latest caption of the sample image ("" before any)."""
        return self.samples[-1].text if self.samples else ""

    @property
    def seconds_per_iteration(self):
        """Seconds per iteration run: `seconds` holds the time of the iteration that diverged too."""
        run = self.iteration + (1 if self.diverged_at else 0)
        return self.seconds / run if run else None


def iterations_run(records):
    """Iterations a race has run, from LaneRecords: those of its slowest lane that has not diverged (a lane that
    diverged stopped there and holds no other back), or of the furthest lane if every lane diverged."""
    going = [record.iteration for record in records if not record.diverged_at]
    return min(going) if going else max(record.iteration for record in records)


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
    the race trains on `training_subset(data, config.num_train, config.seed)`. Each lane's solver, model and
    records are its own: different lanes may be stepped at the same time (by different threads of a
    caller), one lane by one caller at a time.
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
        for lane in self.lanes:
            self.record_sample(lane)

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
        lane = Lane(name, model, solver, fingerprint(model.params), shared_fingerprint=shared)
        lane.publish()
        return lane

    # ------------------------------------------------------------------ progress

    @property
    def iteration(self):
        """Iterations every lane has completed (a lane that diverged counts with the iterations it made)."""
        return min(lane.iteration for lane in self.lanes)

    @property
    def target(self):
        """Iterations the race runs to."""
        return max(lane.solver.num_iterations for lane in self.lanes)

    @property
    def done(self):
        return all(lane.done for lane in self.lanes)

    def step_lane(self, lane):
        """One iteration of `lane` unless it is done; returns whether it ran.

        A loss, gradient or update that is not finite stops the lane with its error message and the
        iteration it diverged at (the solver keeps the weights of the iteration before); the other lanes
        go on.
        """
        if lane.done:
            return False
        start = time.perf_counter()
        try:
            lane.solver.step(1)
        except NonFiniteError as exc:
            lane.error = f"{lane.activation}: {exc}"
            lane.diverged_at = lane.iteration + 1
        lane.seconds += time.perf_counter() - start
        lane.publish()
        if not lane.diverged_at:
            self.record_sample(lane)  # after every iteration, so that no change of caption is missed
        return True

    def step(self, rounds=1):
        """Advance every unfinished lane by up to `rounds` iterations, one lane after the other per round.

        Returns the rounds run.
        """
        done_rounds = 0
        for _ in range(int(rounds)):
            if self.done:
                break
            for lane in self.lanes:
                self.step_lane(lane)
            done_rounds += 1
        return done_rounds

    def extend(self, extra):
        """Raise every lane's iteration target by `extra` (up to MAX_ITERATIONS in all); the race's config then
        reads that many iterations, as a race set up with them would."""
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
        self.config = replace(self.config, iterations=target)

    # ------------------------------------------------------------------ measurements

    def record_sample(self, lane):
        """Append the lane's greedy caption of the sample image, with the weights it published, if it changed
        since the last one: at the start (Race()), then on the lane's own thread after each of its iterations."""
        state = lane.published
        T = self.data["train_captions"].shape[1] - 1
        ids = lane.published_model(state).sample(self.sample_feature[None], max_length=T)[0]
        text = decode_captions(ids, self.data["idx_to_word"])
        if not lane.samples or lane.samples[-1].text != text:
            lane.samples.append(CaptionSample(state.iteration, text))

    def record(self, lane):
        """LaneRecord of what `lane` last published (after its latest iteration). It does not wait for an
        iteration in progress on another thread."""
        state = lane.published
        # the captions up to the published iteration (the lane may have sampled a later one meanwhile)
        samples = tuple(s for s in tuple(lane.samples) if s.iteration <= state.iteration)
        return LaneRecord(
            activation=lane.activation,
            cell_type=lane.cell_type,
            iteration=state.iteration,
            # one entry per iteration: those of the published one and before
            losses=np.asarray(lane.solver.loss_history[: state.iteration], dtype=np.float64),
            grad_norms=lane.grad_norms(iterations=state.iteration),
            wh_grad_norms=lane.grad_norms("Wh", state.iteration),
            samples=samples,
            stats=self.hidden_stats(lane, state),
            seconds=state.seconds,
            error=state.error,
            diverged_at=state.diverged_at,
            initial_fingerprint=lane.initial_fingerprint,
            shared_fingerprint=lane.shared_fingerprint,
        )

    def hidden_stats(self, lane, state=None):
        """HiddenStats of `lane` on the probe captions with the weights it published (or those of `state`)."""
        state = state or lane.published
        h, cache = lane.published_model(state).recurrent_forward(self.probe_features, self.probe_captions)
        mask = self.probe_captions[:, :-1] != self.data["word_to_idx"]["<NULL>"]
        values = h[mask].ravel().astype(np.float64)
        finite = np.isfinite(values)
        nonfinite = float(1 - finite.mean()) if values.size else 0.0
        values = values[finite]
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
            forget = cache.f[time_mask].ravel()
            forget = forget[np.isfinite(forget)]
            mean_forget_gate = float(forget.mean()) if forget.size else 0.0
            peak = 1.0
        else:
            local_derivative = derivative(values, lane.activation)
            peak = PEAK_DERIVATIVE[lane.activation]
        local_derivative = local_derivative[np.isfinite(local_derivative)]
        some = local_derivative.size > 0
        return HiddenStats(
            activation=lane.activation,
            counts=counts,
            edges=edges,
            saturated=float(np.mean(local_derivative < SATURATION_SHARE * peak)) if some else 0.0,
            mean_derivative=float(local_derivative.mean()) if some else 0.0,
            iteration=state.iteration,
            mean_forget_gate=mean_forget_gate,
            nonfinite=nonfinite,
        )

    def summary(self, records=None):
        """RaceSummary of the measured numbers, from LaneRecords (by default recorded now, one per lane)."""
        records = records if records is not None else [self.record(lane) for lane in self.lanes]
        lanes = [
            LaneSummary(
                activation=r.activation,
                iterations=r.iteration,
                first_loss=float(r.losses[0]) if r.losses.size else None,
                final_loss=r.final_loss(),
                final_minibatches=min(FINAL_WINDOW, r.losses.size),
                best_loss=float(r.losses.min()) if r.losses.size else None,
                first_below={t: r.first_below(t) for t in MILESTONES},
                saturated=r.stats.saturated,
                mean_derivative=r.stats.mean_derivative,
                caption=r.caption,
                caption_matches=bool(r.samples) and r.caption in self.sample_truth,
                seconds_per_iteration=r.seconds_per_iteration,
                error=r.error,
                mean_forget_gate=r.stats.mean_forget_gate,
                diverged_at=r.diverged_at,
            )
            for r in records
        ]
        vanilla = [r for r in records if r.cell_type == "rnn"]
        return RaceSummary(
            lanes=lanes,
            num_train=self.config.num_train,
            hidden_dim=self.config.hidden_dim,
            # every lane the same weights outside the cell, every vanilla lane the same weights altogether
            same_start=len({r.shared_fingerprint for r in records}) == 1
            and len({r.initial_fingerprint for r in vanilla}) <= 1,
        )


@dataclass
class LaneSummary:
    """The numbers the race summary is written from, for one lane (see HiddenStats for what saturated,
    mean_derivative and mean_forget_gate measure in the LSTM lane; diverged_at as in Lane)."""

    activation: str
    iterations: int
    first_loss: float | None
    final_loss: float | None
    final_minibatches: int  # how many minibatch losses final_loss is the mean of
    best_loss: float | None
    first_below: dict
    saturated: float
    mean_derivative: float
    caption: str
    caption_matches: bool
    seconds_per_iteration: float | None
    error: str | None
    mean_forget_gate: float | None = None
    diverged_at: int | None = None


@dataclass
class RaceSummary:
    lanes: list
    num_train: int
    hidden_dim: int
    same_start: bool
