"""Trained models, trained once per dataset and recipe and cached on disk.

Two recipes:
- "overfit": the course notebook's small-data model: 50 training captions, word vectors 256,
  hidden 512, Adam lr 5e-3, lr_decay 0.95, batch 25, 50 epochs (100 iterations). It memorises its
  50 captions and shows what overfitting looks like on val.
- "full": a model of the whole active dataset, sized to train in about a minute on 2 CPU cores on the
  embedded dataset.

`trained_model(data, recipe)` looks for `<model cache>/<recipe>-<fingerprint>.npz` (fingerprint of the
dataset arrays, the vocabulary and the recipe), trains and writes it atomically if absent, and returns
a CaptioningRNN. `val_score(model, data)` measures BLEU-4 on val and, for the embedded dataset, the
share of val images captioned correctly (core.metrics).

Reproduce the numbers: `python -m core.pretrained` (trains or loads both recipes, prints the scores).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import paths
from core.errors import DataFileError, HyperparameterError
from core.metrics import caption_words, corpus_bleu, references_by_image, scene_accuracy
from core.model import CaptioningRNN
from core.solver import CaptioningSolver
from core.threads import one_blas_thread

CACHE_VERSION = 1  # bump when training code changes in a way that changes the result

RECIPES: dict[str, dict] = {
    "overfit": {
        "max_train": 50,
        "wordvec_dim": 256,
        "hidden_dim": 512,
        "learning_rate": 5e-3,
        "lr_decay": 0.95,
        "batch_size": 25,
        "num_epochs": 50,
        "seed": 231,
    },
    "full": {
        "max_train": None,
        "wordvec_dim": 96,
        "hidden_dim": 192,
        # Generator v3 (features of spread 1, captions of at most 11 words): 3e-3 gave val scene accuracy
        # 0.534 (BLEU-4 0.593), 4e-3 0.512, 2e-3 0.518, 6e-3 with lr_decay 0.88 0.372.
        "learning_rate": 3e-3,
        "lr_decay": 0.92,
        "batch_size": 100,
        "num_epochs": 16,  # 4000 iterations: ~45 s of one core
        "seed": 0,
    },
}

Progress = Callable[[float, str], None] | None


def recipe_config(recipe: str = "full", **overrides) -> dict:
    """The recipe's settings with overrides applied (e.g. hidden_dim=16 for tests)."""
    if recipe not in RECIPES:
        raise HyperparameterError(f"Unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)}.")
    unknown = set(overrides) - set(RECIPES[recipe])
    if unknown:
        raise HyperparameterError(f"Unknown recipe setting(s) {', '.join(sorted(unknown))}; "
                                  f"allowed: {', '.join(RECIPES[recipe])}.")
    return {**RECIPES[recipe], **overrides}


def dataset_fingerprint(data: dict) -> str:
    """A short hash of the training arrays and vocabulary (what a trained model depends on)."""
    h = hashlib.sha256()
    for key in ("train_captions", "train_image_idxs", "train_features"):
        arr = np.ascontiguousarray(data[key])
        h.update(f"{key}{arr.shape}{arr.dtype}".encode())
        h.update(arr.tobytes())
    h.update(json.dumps(list(data["idx_to_word"])).encode())
    return h.hexdigest()[:16]


def cache_path(data: dict, recipe: str = "full", **overrides) -> Path:
    """Where the trained model of this dataset and recipe is (or will be) cached."""
    config = recipe_config(recipe, **overrides)
    key = json.dumps({"recipe": recipe, "config": config, "version": CACHE_VERSION}, sort_keys=True)
    digest = hashlib.sha256((key + dataset_fingerprint(data)).encode()).hexdigest()[:20]
    return paths.model_cache_dir() / f"{recipe}-{digest}.npz"


def training_caption_indices(data: dict, max_train: int | None, seed: int) -> np.ndarray | None:
    """Sorted train-caption numbers (max_train,) a recipe trains on, or None when it uses them all.

    max_train captions are drawn without replacement with np.random.default_rng(seed), so the gallery can
    show the overfit model the very images it memorised.
    """
    total = len(data["train_captions"])
    if max_train is None or max_train >= total:
        return None
    return np.sort(np.random.default_rng(seed).choice(total, int(max_train), replace=False))


def training_data(data: dict, max_train: int | None, seed: int) -> dict:
    """data with train_captions (max_train, T + 1) and train_image_idxs (max_train,) cut to the captions
    of training_caption_indices (features and URLs stay whole); data itself when it uses them all."""
    chosen = training_caption_indices(data, max_train, seed)
    if chosen is None:
        return data
    return {**data, "train_captions": data["train_captions"][chosen], "train_image_idxs": data["train_image_idxs"][chosen]}


def train_model(data: dict, recipe: str = "full", progress: Progress = None, **overrides) -> CaptioningRNN:
    """Train a fresh model with a recipe (no cache). data: a load_coco_data dict."""
    config = recipe_config(recipe, **overrides)
    train = training_data(data, config["max_train"], config["seed"])
    model = CaptioningRNN(
        data["word_to_idx"],
        input_dim=data["train_features"].shape[1],
        wordvec_dim=config["wordvec_dim"],
        hidden_dim=config["hidden_dim"],
        dtype=np.float32,
        seed=config["seed"],
    )
    solver = CaptioningSolver(
        model,
        train,
        update_rule="adam",
        optim_config={"learning_rate": config["learning_rate"]},
        lr_decay=config["lr_decay"],
        batch_size=config["batch_size"],
        num_epochs=config["num_epochs"],
        verbose=False,
        seed=config["seed"],
    )
    total = solver.num_iterations
    chunk = max(1, total // 50)
    with one_blas_thread():
        while not solver.done:
            solver.step(chunk)
            if progress is not None:
                progress(solver.iteration / total,
                         f"Training the {recipe} model: iteration {solver.iteration}/{total}, "
                         f"loss {solver.loss_history[-1]:.2f}")
    return model


def _save(model: CaptioningRNN, path: Path, meta: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = model.state()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".npz.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **{f"param_{k}": v for k, v in state["params"].items()},
                     config=json.dumps(state["config"]), word_to_idx=json.dumps(state["word_to_idx"]),
                     meta=json.dumps(meta))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_cached_model(path: Path) -> CaptioningRNN:
    """Read a model written by trained_model. Raises DataFileError if missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as f:
            params = {k[len("param_"):]: f[k] for k in f.files if k.startswith("param_")}
            state = {"config": json.loads(str(f["config"])), "word_to_idx": json.loads(str(f["word_to_idx"])),
                     "params": params}
        return CaptioningRNN.from_state(state)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataFileError(f"Cannot read the cached model {path}: {exc}. Delete it and it is trained again.") from exc


def trained_model(data: dict, recipe: str = "full", progress: Progress = None, **overrides) -> CaptioningRNN:
    """The model of this dataset and recipe: loaded from the disk cache, else trained and cached.

    data: a load_coco_data dict; recipe: "full" or "overfit"; overrides: recipe settings to change
    (hidden_dim, wordvec_dim, num_epochs, batch_size, learning_rate, lr_decay, max_train, seed).
    progress: optional progress(fraction, message) while training.
    A damaged cache file is replaced by a freshly trained model.
    """
    path = cache_path(data, recipe, **overrides)
    if path.is_file():
        try:
            model = load_cached_model(path)
            if progress is not None:
                progress(1.0, f"Loaded the {recipe} model from {path.name}")
            return model
        except DataFileError:
            pass  # retrain below and overwrite
    t0 = time.perf_counter()
    model = train_model(data, recipe, progress, **overrides)
    meta = {"recipe": recipe, "config": recipe_config(recipe, **overrides),
            "train_seconds": round(time.perf_counter() - t0, 2), "dataset": dataset_fingerprint(data)}
    try:
        _save(model, path, meta)
    except OSError:
        pass  # an unwritable cache only costs retraining next time
    return model


@dataclass(frozen=True)
class ValScore:
    """How well a model captions the val images (greedy decoding).

    bleu4: corpus BLEU-4 against all reference captions of each image; scene_accuracy: share of images
    whose caption names every object correctly (embedded dataset only, else None); n_images.
    """

    bleu4: float
    scene_accuracy: float | None
    n_images: int


def generated_words(model: CaptioningRNN, features: np.ndarray, idx_to_word, max_length: int = 16) -> list[list[str]]:
    """Greedy captions of feature rows (N, D) as word lists."""
    ids = model.sample(np.asarray(features, np.float32), max_length=max_length)
    return [caption_words(row, idx_to_word) for row in ids]


def val_score(model: CaptioningRNN, data: dict, max_images: int | None = None, split: str = "val") -> ValScore:
    """BLEU-4 and (embedded data) scene accuracy of greedy captions of the split's images.

    max_images: score only the first max_images images that have references (None: all).
    """
    refs = references_by_image(data[f"{split}_captions"], data[f"{split}_image_idxs"], data["idx_to_word"])
    rows = sorted(refs)[:max_images] if max_images is not None else sorted(refs)
    with one_blas_thread():
        words = generated_words(model, data[f"{split}_features"][rows], data["idx_to_word"])
    bleu = corpus_bleu(words, [refs[r] for r in rows]).bleu
    accuracy = None
    scenes = scenes_for_rows(data, split, rows)
    if scenes is not None:
        accuracy = scene_accuracy(words, scenes)
    return ValScore(bleu4=bleu, scene_accuracy=accuracy, n_images=len(rows))


def scenes_for_rows(data: dict, split: str, rows) -> list | None:
    """The core.scenes.Scene of each feature row in rows (R,) of the split, for the embedded dataset; None
    for other datasets or when its scenes file is missing.

    Image files are named <split>_<scene number>.png, so the URL of a row names its scene.
    """
    base_dir = data.get("base_dir")
    if data.get("source") != "embedded" or base_dir is None:
        return None
    from core.scenes import SCENES_FILE, load_scenes

    folder = Path(base_dir)
    if not (folder / SCENES_FILE).is_file():
        return None
    scenes = load_scenes(folder, split)
    return [scenes[int(Path(str(data[f"{split}_urls"][r])).stem.rsplit("_", 1)[1])] for r in rows]


def main() -> None:
    """Train (or load) both recipes on the active dataset and print their val scores."""
    from core.data import load_coco_data

    data = load_coco_data()
    print(f"dataset: {data.get('source')} ({len(data['train_captions'])} train captions, "
          f"{len(data['val_features'])} val images)")
    for recipe in ("overfit", "full"):
        t0 = time.perf_counter()
        model = trained_model(data, recipe)
        seconds = time.perf_counter() - t0
        score = val_score(model, data)
        acc = "n/a" if score.scene_accuracy is None else f"{score.scene_accuracy:.3f}"
        print(f"{recipe}: BLEU-4 {score.bleu4:.3f}, scene accuracy {acc} on {score.n_images} val images "
              f"(trained or loaded in {seconds:.1f} s)")


if __name__ == "__main__":
    main()
