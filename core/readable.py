"""Models small enough that every number of a step fits on screen ("readable numbers" mode).

A readable model has the real input size D and vocabulary V of the dataset but tiny word vectors and
hidden state (W = H = 8 by default). The trained one is fitted in a few seconds with the ordinary
CaptioningSolver and cached on disk, so the explainer shows a model that has learned something.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.errors import HyperparameterError
from core.model import CaptioningRNN
from core.paths import model_cache_dir
from core.solver import CaptioningSolver

READABLE_WORDVEC_DIM = 8
READABLE_HIDDEN_DIM = 8
# Large enough to fit the vocabulary's common words on the embedded dataset, small enough for ~2 s on 2 cores.
READABLE_ITERATIONS = 400
_MAX_SIZE = 64

ProgressFn = Callable[[float, str], None]


def fresh_model(
    data: dict, wordvec_dim: int, hidden_dim: int, activation: str = "tanh", seed: int = 0
) -> CaptioningRNN:
    """A freshly initialised CaptioningRNN for `data`: D from train_features (n, D), V from word_to_idx."""
    return CaptioningRNN(
        data["word_to_idx"],
        input_dim=data["train_features"].shape[1],
        wordvec_dim=wordvec_dim,
        hidden_dim=hidden_dim,
        activation=activation,
        seed=seed,
    )


def readable_model(
    data: dict,
    trained: bool = True,
    wordvec_dim: int = READABLE_WORDVEC_DIM,
    hidden_dim: int = READABLE_HIDDEN_DIM,
    num_iterations: int = READABLE_ITERATIONS,
    seed: int = 0,
    progress: ProgressFn | None = None,
    cache_dir: Path | None = None,
) -> CaptioningRNN:
    """A tiny tanh CaptioningRNN (W, H <= 64) for `data`, fresh or trained with Adam and cached to disk.

    The cache file name hashes the sizes, seed, iterations and the training captions, so a different
    dataset never reuses another's weights. `progress(fraction, message)` is called while training.
    """
    for name, value in (("wordvec_dim", wordvec_dim), ("hidden_dim", hidden_dim)):
        if not 1 <= int(value) <= _MAX_SIZE:
            raise HyperparameterError(
                f"{name} of a readable model must be between 1 and {_MAX_SIZE}, got {value}."
            )
    model = fresh_model(data, wordvec_dim, hidden_dim, seed=seed)
    if not trained:
        return model

    path = (
        Path(cache_dir or model_cache_dir())
        / f"readable_{_fingerprint(data, wordvec_dim, hidden_dim, num_iterations, seed)}.npz"
    )
    cached = _load(path, model)
    if cached is not None:
        return cached

    solver = CaptioningSolver(
        model,
        data,
        update_rule="adam",
        optim_config={"learning_rate": 1e-2},
        lr_decay=0.995,
        batch_size=50,
        num_iterations=num_iterations,
        verbose=False,
        seed=seed,
    )
    chunk = max(num_iterations // 20, 1)
    while not solver.done:
        solver.step(chunk)
        if progress is not None:
            progress(
                solver.iteration / num_iterations,
                f"Training the readable model: iteration {solver.iteration}/{num_iterations}, "
                f"loss {solver.loss_history[-1]:.2f}",
            )
    _save(path, model)
    return model


def _fingerprint(data: dict, wordvec_dim: int, hidden_dim: int, num_iterations: int, seed: int) -> str:
    digest = hashlib.sha256()
    for key in ("train_captions", "train_image_idxs"):
        digest.update(np.ascontiguousarray(data[key]).tobytes())
    digest.update(f"{len(data['word_to_idx'])}|{data['train_features'].shape}".encode())
    return f"W{wordvec_dim}_H{hidden_dim}_it{num_iterations}_s{seed}_{digest.hexdigest()[:12]}"


def _load(path: Path, model: CaptioningRNN) -> CaptioningRNN | None:
    """The cached weights, or None if the file is missing or unusable (then the model is retrained)."""
    try:
        with np.load(path) as saved:
            params = {name: saved[name] for name in model.params}
    except (OSError, KeyError, ValueError):
        return None
    if any(params[name].shape != value.shape for name, value in model.params.items()):
        return None
    for name, value in params.items():
        model.params[name] = value.astype(model.dtype)
    return model


def _save(path: Path, model: CaptioningRNN) -> None:
    """Write atomically so a concurrent reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, **model.params)
    partial.replace(path)
