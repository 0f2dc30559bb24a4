"""The embedded offline dataset on disk: shape scenes written in the course's COCO layout.

`ensure_embedded_dataset()` generates the folder `core.data.paths.embedded_dir()` on first use (a few
seconds, deterministic, no network) with the same files as the course's `coco_captioning` folder, plus the
scene list (scenes.json) from which captions can be checked. Features are computed from the pixels by
`core.data.scenes.features.extract_features`, never from the scene or its captions, so a captioning model
has to learn to see.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np
from PIL import Image

from core.data import paths
from core.data.coco_files import CAPTIONS_FILE, VOCAB_FILE, feature_file_name, url_file_name
from core.data.scenes.features import calibrate, extract_features
from core.data.scenes.grammar import CAPTIONS_PER_IMAGE, build_vocab, describe_scene, encode_caption
from core.data.scenes.render import render_scene
from core.data.scenes.spec import IMAGE_SIZE, Scene, random_scene
from core.data.temporary import make_folder, owned_name, remove_stale
from core.errors import DataFileError

# Bump GENERATOR_VERSION whenever rendering, grammar or features change.
GENERATOR_VERSION = 3
GENERATOR_SEED = 231
N_TRAIN = 5000
N_VAL = 500

# Temporary folders beside the dataset: being generated, and a stale dataset being removed.
_TEMPORARY = ".tmp-"
_OLD = ".old-"
SCENES_FILE = "scenes.json"
INFO_FILE = "dataset.json"
IMAGES_DIR = "images"


Progress = Callable[[float, str], None] | None


def _report(progress: Progress, fraction: float, message: str) -> None:
    if progress is not None:
        progress(float(min(max(fraction, 0.0), 1.0)), message)


def _expected_info(n_train: int, n_val: int, seed: int) -> dict:
    return {
        "name": "embedded shape scenes",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "image_size": IMAGE_SIZE,
        "captions_per_image": CAPTIONS_PER_IMAGE,
        "counts": {
            "train_images": n_train,
            "val_images": n_val,
            "train_captions": n_train * CAPTIONS_PER_IMAGE,
            "val_captions": n_val * CAPTIONS_PER_IMAGE,
        },
    }


def _required_files() -> list[str]:
    splits = ("train", "val")
    return [
        CAPTIONS_FILE,
        VOCAB_FILE,
        *(feature_file_name(split) for split in splits),
        *(url_file_name(split) for split in splits),
        SCENES_FILE,
        INFO_FILE,
    ]


def is_complete(
    folder: Path, n_train: int | None = None, n_val: int | None = None, seed: int | None = None
) -> bool:
    """Whether folder holds a finished dataset of the current generator version, counts and seed,
    written for this very folder (its image paths point inside it)."""
    folder = Path(folder)
    try:
        info = json.loads((folder / INFO_FILE).read_text())
    except (OSError, ValueError):
        return False
    expected = _expected_info(
        N_TRAIN if n_train is None else n_train,
        N_VAL if n_val is None else n_val,
        GENERATOR_SEED if seed is None else seed,
    )
    if any(info.get(k) != v for k, v in expected.items()):
        return False
    if info.get("folder") != str(folder.resolve()):
        return False
    return all((folder / name).is_file() for name in _required_files())


def _split_seeds(seed: int) -> dict[str, np.random.SeedSequence]:
    train, val = np.random.SeedSequence(seed).spawn(2)
    return {"train": train, "val": val}


def _render_chunk(scenes: list[Scene], files: list[Path]) -> np.ndarray:
    """Render scenes, save them as PNG files, return their features (len(scenes), 512) float32."""
    batch = np.empty((len(scenes), IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    for k, (scene, path) in enumerate(zip(scenes, files, strict=True)):
        batch[k] = render_scene(scene)
        Image.fromarray(batch[k]).save(path, format="PNG", compress_level=1)
    return extract_features(batch)


def _generate_split(
    split: str,
    n_images: int,
    seed_seq: np.random.SeedSequence,
    tmp: Path,
    final: Path,
    word_to_idx: dict[str, int],
    progress: Progress,
    start: float,
    span: float,
):
    """Scenes and captions drawn sequentially (one generator: deterministic), rendering and features in
    two threads by chunks (each chunk's result depends only on its scenes: deterministic too)."""
    rng = np.random.default_rng(seed_seq)
    scenes = [random_scene(rng) for _ in range(n_images)]
    captions = np.stack(
        [encode_caption(text, word_to_idx) for scene in scenes for text in describe_scene(scene, rng)]
    )
    image_idxs = np.repeat(np.arange(n_images, dtype=np.int32), CAPTIONS_PER_IMAGE)
    names = [f"{split}_{i:06d}.png" for i in range(n_images)]
    urls = [str(final / IMAGES_DIR / name) for name in names]
    features = np.empty((n_images, 512), np.float32)
    chunk = 250
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            lo: pool.submit(
                _render_chunk,
                scenes[lo : lo + chunk],
                [tmp / IMAGES_DIR / nm for nm in names[lo : lo + chunk]],
            )
            for lo in range(0, n_images, chunk)
        }
        for lo, future in futures.items():
            features[lo : lo + chunk] = future.result()
            hi = min(n_images, lo + chunk)
            _report(progress, start + span * hi / n_images, f"Rendering {split} scenes: {hi}/{n_images}")
    return [s.to_dict() for s in scenes], captions.astype(np.int32), image_idxs, features, urls


def generate_dataset(
    folder: Path,
    final: Path | None = None,
    n_train: int | None = None,
    n_val: int | None = None,
    seed: int | None = None,
    progress: Progress = None,
) -> Path:
    """Write the whole dataset into folder (which must be empty or absent), image paths pointing into
    `final` (default: folder). Counts and seed default to N_TRAIN, N_VAL, GENERATOR_SEED.
    Deterministic: same seed and counts, same files' contents."""
    n_train = N_TRAIN if n_train is None else int(n_train)
    n_val = N_VAL if n_val is None else int(n_val)
    seed = GENERATOR_SEED if seed is None else int(seed)
    folder = Path(folder)
    final = Path(final) if final is not None else folder
    (folder / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    idx_to_word, word_to_idx = build_vocab()
    seeds = _split_seeds(seed)
    total = n_train + n_val
    results = {}
    done = 0.05
    for split, n_images in (("train", n_train), ("val", n_val)):
        span = 0.9 * n_images / total
        results[split] = _generate_split(
            split, n_images, seeds[split], folder, final, word_to_idx, progress, done, span
        )
        done += span
    _report(progress, 0.96, "Writing the caption, feature and vocabulary files")
    _write_h5(
        folder / CAPTIONS_FILE,
        {
            f"{split}_{key}": results[split][i]
            for split in ("train", "val")
            for i, key in ((1, "captions"), (2, "image_idxs"))
        },
    )
    for split in ("train", "val"):
        _write_h5(folder / feature_file_name(split), {"features": results[split][3]})
        (folder / url_file_name(split)).write_text("\n".join(results[split][4]) + "\n")
    (folder / VOCAB_FILE).write_text(json.dumps({"idx_to_word": idx_to_word, "word_to_idx": word_to_idx}))
    (folder / SCENES_FILE).write_text(
        json.dumps({split: results[split][0] for split in ("train", "val")}, separators=(",", ":"))
    )
    info = {
        **_expected_info(n_train, n_val, seed),
        "folder": str(final.resolve()),
        "vocab_size": len(idx_to_word),
        "feature_extractor": "core.data.scenes.features.extract_features",
    }
    (folder / INFO_FILE).write_text(json.dumps(info, indent=1))  # written last
    return folder


def _write_h5(path: Path, datasets: dict) -> None:
    """Write the arrays of `datasets` into a new HDF5 file. The file is built in memory and written with
    Python's file I/O: HDF5 reports a write that fails (a full disk) only in a destructor, as a warning,
    leaving a truncated file behind, or crashes; Python raises an OSError naming the file."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for key, array in datasets.items():
            f.create_dataset(key, data=array)
    path.write_bytes(buffer.getbuffer())


def ensure_embedded_dataset(progress: Progress = None) -> Path:
    """The folder of the embedded dataset (core.data.paths.embedded_dir()), generated on first use.

    progress: optional callable progress(fraction in [0, 1], message). Generation (a few seconds)
    writes into a temporary sibling folder that is renamed into place in one step, so a half-written
    dataset is never picked up; if another process finishes first, its folder is used.
    Raises DataFileError if the folder cannot be written.
    """
    final = paths.embedded_dir().expanduser().resolve()
    parent = final.parent
    # What a generation killed midway left behind (its process is gone); a running one is never touched.
    for leftover in (_TEMPORARY, _OLD):
        remove_stale(parent, f".{final.name}{leftover}")
    if is_complete(final):
        _report(progress, 1.0, "Embedded dataset ready")
        return final
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = make_folder(parent, f".{final.name}{_TEMPORARY}")
    except OSError as exc:
        raise DataFileError(
            f"Cannot create the embedded dataset under {parent}: {exc}. "
            f"Set RNN_EXPLAINER_HOME to a writable folder."
        ) from exc
    try:
        t0 = time.perf_counter()
        _report(
            progress,
            0.0,
            "Generating the embedded dataset of shape scenes: calibrating the feature extractor",
        )
        calibrate()  # once, before the worker threads
        _report(progress, 0.05, "Drawing scenes and writing captions")
        generate_dataset(tmp, final=final, progress=progress)
        _install(tmp, final)
        _report(progress, 1.0, f"Embedded dataset ready ({time.perf_counter() - t0:.1f} s)")
    except OSError as exc:
        raise DataFileError(
            f"Could not write the embedded dataset to {final}: {exc}. "
            f"Check free disk space and permissions, or set RNN_EXPLAINER_HOME."
        ) from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    if not is_complete(final):
        raise DataFileError(
            f"The embedded dataset in {final} is incomplete after generation; delete the folder and retry."
        )
    return final


def _install(tmp: Path, final: Path) -> None:
    """Rename tmp to final atomically; keep a complete dataset another process installed meanwhile."""
    for _ in range(5):
        if is_complete(final):
            return  # another process won the race: use its folder, ours is discarded
        try:
            os.rename(tmp, final)
            return
        except OSError:
            if not final.exists():
                raise
        # final exists but is stale (old version or damaged): move it aside, then retry.
        if not is_complete(final):
            trash = final.parent / owned_name(f".{final.name}{_OLD}")
            try:
                os.rename(final, trash)
            except OSError:
                pass  # someone else moved or replaced it; re-check
            else:
                shutil.rmtree(trash, ignore_errors=True)
    if not is_complete(final):
        raise DataFileError(
            f"Could not move the generated dataset into {final}; delete that folder and retry."
        )


def load_scenes(folder: Path | None = None, split: str = "val") -> list[Scene]:
    """The scene specifications of a generated dataset's split ('train' or 'val'), row i = image i.

    folder: default the embedded dataset folder. Raises DataFileError if scenes.json is missing.
    """
    folder = Path(folder) if folder is not None else paths.embedded_dir()
    path = folder / SCENES_FILE
    try:
        data = json.loads(path.read_text())
        return [Scene.from_dict(d) for d in data[split]]
    except (OSError, ValueError, KeyError) as exc:
        raise DataFileError(f"Cannot read the scene list {path} (split {split!r}): {exc}.") from exc


def scenes_of_rows(data: dict, split: str, rows) -> list[Scene] | None:
    """The Scene of each feature row in rows (R,) of a dataset dict's split when it is the embedded
    dataset; None for other datasets or when its scenes file is missing.

    Image files are named <split>_<scene number>.png, so the URL of a row names its scene.
    """
    base_dir = data.get("base_dir")
    if data.get("source") != "embedded" or base_dir is None or not (Path(base_dir) / SCENES_FILE).is_file():
        return None
    scenes = load_scenes(Path(base_dir), split)
    return [scenes[int(Path(str(data[f"{split}_urls"][r])).stem.rsplit("_", 1)[1])] for r in rows]
