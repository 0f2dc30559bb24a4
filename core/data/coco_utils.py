"""Loading the COCO 2014 captioning data in the CS231n layout.

The folder holds (names as in the course's ``coco_captioning.zip``):

- ``coco2014_captions.h5``: ``train_captions`` (N_train, T) int, ``train_image_idxs`` (N_train,) int,
  ``val_captions`` (N_val, T) int, ``val_image_idxs`` (N_val,) int (the ``*_image_idxes`` spelling
  some copies use is accepted too);
- ``train2014_vgg16_fc7_pca.h5`` / ``val2014_vgg16_fc7_pca.h5``: dataset ``features`` (rows, 512) float
  (without ``_pca``: (rows, 4096));
- ``coco2014_vocab.json``: ``idx_to_word`` (list of V words) and ``word_to_idx`` (dict), with
  0 ``<NULL>``, 1 ``<START>``, 2 ``<END>``, 3 ``<UNK>``;
- ``train2014_urls.txt`` / ``val2014_urls.txt``: one image URL (or local path) per feature row.

When no COCO files are found, :func:`load_coco_data` returns the embedded offline dataset
(``core.data.scenes``), which is written in the same layout and read by the same code.

Command line: ``python -m core.data download [--dest DIR]`` fetches and unpacks the course archive.
"""

from __future__ import annotations

import json
import logging
import os
import re
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np

from core.data.coco_files import (
    CAPTIONS_FILE,
    FULL_DIM,
    PCA_DIM,
    SPECIAL_TOKENS,
    SPLITS,
    VOCAB_FILE,
    coco_file_names,
    feature_file_name,
    url_file_name,
)
from core.data.paths import COCO_DIR_ENV, coco_dir
from core.data.scenes.generate import ensure_embedded_dataset
from core.engine.captioning_solver import MAX_BATCH_SIZE
from core.engine.validation import require_integer
from core.errors import DataFileError, HyperparameterError, NonFiniteError, ShapeError, VocabularyError

# When reading selected feature rows, rows closer than this are read in one slice.
_ROW_GAP = 32
# Rows checked for NaN/inf at a time (bounds the temporary boolean array).
_FINITE_BLOCK = 8192

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
log = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]


# --------------------------------------------------------------------------------------------------
# Loading


def load_coco_data(
    base_dir=None,
    max_train: int | None = None,
    pca_features: bool = True,
    progress: ProgressFn | None = None,
    rng: np.random.Generator | int | None = None,
) -> dict:
    """Load the COCO captioning data, or the embedded offline dataset when no COCO files are found.

    Args:
        base_dir: folder with the COCO files. None: ``$COCO_DIR``, else ``<data home>/coco_captioning``.
        max_train: keep only this many training captions, chosen at random with ``rng``; only the
            feature rows those captions use are read from disk.
        pca_features: read the 512-d PCA features (``*_pca.h5``); False reads the 4096-d fc7 features.
        progress: optional ``progress(fraction, message)`` callback.
        rng: ``np.random.Generator`` (or seed) used to choose the ``max_train`` captions.

    Returns:
        dict with the course's keys: ``train_captions`` (N_train, T) int32, ``train_image_idxs``
        (N_train,) int64, ``val_captions`` (N_val, T) int32, ``val_image_idxs`` (N_val,) int64,
        ``train_features`` (R_train, D) float32, ``val_features`` (R_val, D) float32 (D = 512 or 4096),
        ``idx_to_word`` (list of V str), ``word_to_idx`` (dict), ``train_urls`` (R_train,) and
        ``val_urls`` (R_val,) object arrays of str; plus ``source`` ("coco" or "embedded") and
        ``base_dir`` (Path of the folder read). ``*_image_idxs[i]`` is the row of ``*_features`` and
        ``*_urls`` for caption i. When a folder given explicitly (argument or $COCO_DIR) holds none of the
        files (a misspelled path, say), the embedded dataset is returned with ``notice`` (a sentence for
        the learner, also logged as a warning) and ``coco_dir_missing`` (that folder's Path).

    Raises:
        DataFileError: a folder given explicitly (argument or $COCO_DIR) holds only some of the files,
            or a file is truncated, unreadable, misses a key, or has a wrong shape or dtype.
        VocabularyError: a caption id outside the vocabulary, or a vocabulary without the special tokens.
        NonFiniteError: NaN or infinite features.
        HyperparameterError: ``max_train`` is not a positive integer.
    """
    if max_train is not None:
        if isinstance(max_train, bool) or not isinstance(max_train, (int, np.integer)) or max_train < 1:
            raise HyperparameterError(
                f"max_train must be a positive integer or None (all captions), got {max_train!r}."
            )
        max_train = int(max_train)
    explicit = base_dir is not None or bool(os.environ.get(COCO_DIR_ENV))
    folder = coco_dir(base_dir)
    if coco_files_present(base_dir, pca_features):
        return _load_folder(folder, max_train, pca_features, progress, rng, source="coco")

    names = coco_file_names(pca_features)
    present = [name for name in names if (folder / name).exists()]
    if present:
        missing = [name for name in names if name not in present]
        where = "base_dir" if base_dir is not None else f"${COCO_DIR_ENV}" if explicit else "the data folder"
        message = (
            f"{folder / missing[0]}: file missing ({where} {folder} holds only some of the COCO files; "
            f"missing: {', '.join(missing)}). Run `python -m core.data download --dest {folder}` "
            "to fetch the complete set, or point to a complete folder."
        )
        if explicit:
            raise DataFileError(message)
        warnings.warn(message + " Using the embedded dataset instead.", stacklevel=2)
    notice = _missing_folder_notice(folder, base_dir) if explicit and not present else None
    if notice is not None:
        log.warning("%s", notice)

    embedded = _embedded_dataset_dir(progress)
    if not pca_features:
        raise DataFileError(
            f"{embedded}: the embedded offline dataset has only 512-d features "
            f"({feature_file_name('train', True)}); call load_coco_data(pca_features=True), or download "
            "the COCO data with `python -m core.data download` for the 4096-d fc7 features."
        )
    try:
        data = _load_folder(embedded, max_train, True, progress, rng, source="embedded")
    except (DataFileError, VocabularyError, NonFiniteError) as exc:
        hint = f" This is the generated embedded dataset: delete {embedded} and it is generated again."
        raise type(exc)(str(exc) + hint) from None
    if notice is not None:
        data["notice"] = notice
        data["coco_dir_missing"] = folder
    return data


def coco_files_present(base_dir=None, pca_features: bool = True) -> bool:
    """Whether the COCO folder (base_dir, else $COCO_DIR, else the data folder) holds all six COCO files, so
    that load_coco_data reads them rather than the embedded dataset."""
    folder = coco_dir(base_dir)
    return all((folder / name).exists() for name in coco_file_names(pca_features))


def _missing_folder_notice(folder: Path, base_dir) -> str:
    """What to tell the learner when the COCO folder they named (base_dir or $COCO_DIR) has no COCO file."""
    where = "base_dir" if base_dir is not None else f"${COCO_DIR_ENV}"
    if not folder.exists():
        state = "does not exist"
    elif not folder.is_dir():
        state = "is not a folder"
    else:
        state = "holds none of the COCO files"
    return (
        f"{where} names the COCO folder {folder}, but it {state}, so the embedded dataset is shown instead. "
        f"Check the spelling, or fetch the data with `python -m core.data download --dest {folder}`."
    )


def _embedded_dataset_dir(progress: ProgressFn | None) -> Path:
    """Folder of the embedded dataset (generated on first use by ``core.data.scenes.generate``)."""
    return Path(ensure_embedded_dataset(progress=progress))


def _report(progress: ProgressFn | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(fraction, message)


def _load_folder(folder: Path, max_train, pca_features, progress, rng, source: str) -> dict:
    folder = Path(folder)
    missing = [name for name in coco_file_names(pca_features) if not (folder / name).is_file()]
    if missing:
        raise DataFileError(
            f"{folder / missing[0]}: file missing (missing in {folder}: {', '.join(missing)}). "
            "Run `python -m core.data download` to fetch the COCO files."
        )
    dim = PCA_DIM if pca_features else FULL_DIM
    data: dict = {}

    _report(progress, 0.0, "Reading the vocabulary")
    vocab_path = folder / VOCAB_FILE
    idx_to_word, word_to_idx = _read_vocab(vocab_path)
    data["idx_to_word"] = idx_to_word
    data["word_to_idx"] = word_to_idx

    _report(progress, 0.1, "Reading the captions")
    captions_path = folder / CAPTIONS_FILE
    captions = _read_captions(captions_path, len(idx_to_word), vocab_path)

    for i, split in enumerate(SPLITS):
        features_path = folder / feature_file_name(split, pca_features)
        urls_path = folder / url_file_name(split)
        caps, idxs, idx_key = captions[split]
        _report(progress, 0.3 + 0.35 * i, f"Reading the {split} features")
        with _open_h5(features_path) as f:
            ds = _dataset(f, "features", features_path)
            n_rows = _check_features_layout(ds, features_path, dim)
            _check_idxs_range(idxs, n_rows, captions_path, idx_key, features_path)
            urls = _read_urls(urls_path, n_rows, features_path, folder)
            if split == "train" and max_train is not None and max_train < len(caps):
                gen = np.random.default_rng(rng)
                chosen = gen.choice(len(caps), size=max_train, replace=False)
                caps, old_idxs = caps[chosen], idxs[chosen]
                rows = np.unique(old_idxs)
                features = _read_rows(ds, rows, features_path)
                idxs = np.searchsorted(rows, old_idxs).astype(np.int64)
                urls = urls[rows]
                row_ids = rows
            else:
                features = _read_all(ds, features_path)
                row_ids = None
        _check_finite(features, features_path, row_ids)
        data[f"{split}_captions"] = caps
        data[f"{split}_image_idxs"] = idxs
        data[f"{split}_features"] = features
        data[f"{split}_urls"] = urls

    data["source"] = source
    data["base_dir"] = folder
    _report(progress, 1.0, f"Loaded {len(data['train_captions'])} training captions ({source})")
    return data


@contextmanager
def _open_h5(path: Path):
    """Open an HDF5 file read-only, turning h5py's OSError into a DataFileError naming the file."""
    if not path.is_file():
        raise DataFileError(f"{path}: file missing. Run `python -m core.data download` to fetch it.")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise DataFileError(
            f"{path}: cannot be read as HDF5, the file is truncated or corrupt ({_first_line(exc)}). "
            "Download it again with `python -m core.data download`."
        ) from None
    try:
        yield f
    finally:
        f.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _dataset(f: h5py.File, key: str, path: Path) -> h5py.Dataset:
    if key not in f:
        found = ", ".join(sorted(f.keys())) or "nothing"
        raise DataFileError(
            f"{path}: missing dataset '{key}' (found: {found}). The file is not in the COCO layout."
        )
    obj = f[key]
    if not isinstance(obj, h5py.Dataset):
        raise DataFileError(f"{path}: '{key}' is a group, not a dataset. The file is not in the COCO layout.")
    return obj


def _read_ds(ds: h5py.Dataset, path: Path, selection=()) -> np.ndarray:
    """Read ``ds[selection]``; an HDF5 read error becomes a DataFileError naming the file."""
    try:
        return ds[selection]
    except OSError as exc:
        raise DataFileError(
            f"{path}: reading '{ds.name.lstrip('/')}' failed, the file is truncated or corrupt "
            f"({_first_line(exc)}). Download it again with `python -m core.data download`."
        ) from None


def _read_captions(path: Path, vocab_size: int, vocab_path: Path) -> dict:
    """Read and check both splits: {split: (captions (N, T) int32, image_idxs (N,) int64, idx key)}."""
    out = {}
    with _open_h5(path) as f:
        for split in SPLITS:
            cap_key = f"{split}_captions"
            idx_key = f"{split}_image_idxs"
            if idx_key not in f and f"{split}_image_idxes" in f:
                idx_key = f"{split}_image_idxes"
            if idx_key not in f:
                found = ", ".join(sorted(f.keys())) or "nothing"
                raise DataFileError(
                    f"{path}: missing dataset '{split}_image_idxs' (or '{split}_image_idxes'; found: {found}). "
                    "The file is not in the COCO layout."
                )
            cap_ds = _dataset(f, cap_key, path)
            idx_ds = _dataset(f, idx_key, path)
            if cap_ds.ndim != 2 or cap_ds.shape[0] < 1 or cap_ds.shape[1] < 2:
                raise DataFileError(
                    f"{path}: '{cap_key}' has shape {cap_ds.shape}, expected (N, T) with N >= 1 captions "
                    "and T >= 2 tokens."
                )
            if not _is_int_dtype(cap_ds.dtype):
                raise DataFileError(
                    f"{path}: '{cap_key}' has dtype {cap_ds.dtype}, expected integer word ids."
                )
            if idx_ds.ndim != 1 or idx_ds.shape[0] != cap_ds.shape[0]:
                raise DataFileError(
                    f"{path}: '{idx_key}' has shape {idx_ds.shape}, expected ({cap_ds.shape[0]},): "
                    f"one image index per row of '{cap_key}'."
                )
            if not _is_int_dtype(idx_ds.dtype):
                raise DataFileError(
                    f"{path}: '{idx_key}' has dtype {idx_ds.dtype}, expected integer row indices."
                )
            caps = _read_ds(cap_ds, path)
            idxs = _read_ds(idx_ds, path)
            bad = (caps < 0) | (caps >= vocab_size)
            if bad.any():
                r, c = np.argwhere(bad)[0]
                raise VocabularyError(
                    f"{path}: '{cap_key}'[{r}, {c}] is word id {int(caps[r, c])}, outside the vocabulary of "
                    f"{vocab_size} words in {vocab_path} (ids 0..{vocab_size - 1}). The captions and the "
                    "vocabulary do not belong together; use the files from the same download."
                )
            out[split] = (caps.astype(np.int32), idxs.astype(np.int64), idx_key)
    return out


def _is_int_dtype(dtype) -> bool:
    return np.issubdtype(dtype, np.integer) and dtype != np.bool_


def _check_features_layout(ds: h5py.Dataset, path: Path, dim: int) -> int:
    if ds.ndim != 2 or ds.shape[0] < 1 or ds.shape[1] != dim:
        kind = "PCA-reduced" if dim == PCA_DIM else "fc7"
        raise DataFileError(
            f"{path}: 'features' has shape {ds.shape}, expected (rows, {dim}) {kind} features"
            + (" (pass pca_features=False for the 4096-d files)." if dim == PCA_DIM else ".")
        )
    if not np.issubdtype(ds.dtype, np.floating):
        raise DataFileError(f"{path}: 'features' has dtype {ds.dtype}, expected floating point (float32).")
    return int(ds.shape[0])


def _check_idxs_range(
    idxs: np.ndarray, n_rows: int, captions_path: Path, key: str, features_path: Path
) -> None:
    bad = (idxs < 0) | (idxs >= n_rows)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataFileError(
            f"{captions_path}: '{key}'[{i}] = {int(idxs[i])} is not a row of {features_path} "
            f"({n_rows} rows, 0..{n_rows - 1}). The captions and feature files do not belong together."
        )


def _read_all(ds: h5py.Dataset, path: Path) -> np.ndarray:
    """All rows as float32 (R, D), read block by block so float64 files are not held twice."""
    out = np.empty(ds.shape, dtype=np.float32)
    for start in range(0, ds.shape[0], _FINITE_BLOCK):
        stop = min(start + _FINITE_BLOCK, ds.shape[0])
        out[start:stop] = _read_ds(ds, path, np.s_[start:stop])
    return out


def _read_rows(ds, rows: np.ndarray, path: Path) -> np.ndarray:
    """Rows ``rows`` (sorted, unique) of a 2-D dataset as float32 (len(rows), D).

    Runs of rows closer than ``_ROW_GAP`` are read as one slice, so a few rows cost a few small reads
    and many rows cost at most R / _ROW_GAP reads; the rest of the file is never read.
    """
    rows = np.asarray(rows, dtype=np.int64)
    out = np.empty((len(rows), ds.shape[1]), dtype=np.float32)
    if len(rows) == 0:
        return out
    breaks = np.flatnonzero(np.diff(rows) > _ROW_GAP) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [len(rows)]])
    for a, b in zip(starts, stops, strict=True):
        first, last = int(rows[a]), int(rows[b - 1])
        block = _read_ds(ds, path, np.s_[first : last + 1])
        out[a:b] = block[rows[a:b] - first]
    return out


def _check_finite(features: np.ndarray, path: Path, row_ids: np.ndarray | None) -> None:
    for start in range(0, features.shape[0], _FINITE_BLOCK):
        block = features[start : start + _FINITE_BLOCK]
        finite = np.isfinite(block)
        if not finite.all():
            r, c = np.argwhere(~finite)[0]
            local = start + int(r)
            row = int(row_ids[local]) if row_ids is not None else local
            raise NonFiniteError(
                f"{path}: 'features'[{row}, {int(c)}] is {block[r, c]} (NaN or infinite values, or values too "
                "large for float32). The file is corrupt; download it again with `python -m core.data download`."
            )


def _read_urls(path: Path, n_rows: int, features_path: Path, folder: Path) -> np.ndarray:
    """One URL or local path per feature row, as an object array of str (R,).

    Relative local paths are resolved against the data folder.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataFileError(
            f"{path}: file missing. Run `python -m core.data download` to fetch it."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFileError(f"{path}: cannot be read as UTF-8 text ({_first_line(exc)}).") from None
    lines = [line.strip() for line in text.splitlines()]
    if len(lines) != n_rows:
        raise DataFileError(
            f"{path}: has {len(lines)} lines but {features_path} has {n_rows} feature rows; "
            "there must be one URL per row. The files do not belong together."
        )
    empty = [i for i, line in enumerate(lines) if not line]
    if empty:
        raise DataFileError(
            f"{path}: line {empty[0] + 1} is empty; every line must hold one image URL or path."
        )
    out = np.empty(len(lines), dtype=object)
    for i, line in enumerate(lines):
        if not _SCHEME.match(line) and not os.path.isabs(line):
            line = str(folder / Path(line).expanduser())
        out[i] = line
    return out


def _read_vocab(path: Path) -> tuple[list[str], dict[str, int]]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFileError(
            f"{path}: file missing. Run `python -m core.data download` to fetch it."
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFileError(
            f"{path}: cannot be read as JSON ({_first_line(exc)}). The file is truncated or corrupt; "
            "download it again with `python -m core.data download`."
        ) from None
    if not isinstance(raw, dict):
        raise DataFileError(f"{path}: expected a JSON object with 'idx_to_word' and 'word_to_idx'.")
    for key in ("idx_to_word", "word_to_idx"):
        if key not in raw:
            raise DataFileError(
                f"{path}: missing key '{key}' (found: {', '.join(sorted(raw)) or 'nothing'})."
            )
    idx_to_word = raw["idx_to_word"]
    if isinstance(idx_to_word, dict):  # some copies store {"0": "<NULL>", ...}
        try:
            pairs = sorted((int(k), w) for k, w in idx_to_word.items())
        except (TypeError, ValueError):
            raise VocabularyError(f"{path}: 'idx_to_word' keys must be integer ids.") from None
        if [k for k, _ in pairs] != list(range(len(pairs))):
            raise VocabularyError(f"{path}: 'idx_to_word' ids must be 0..V-1 without gaps.")
        idx_to_word = [w for _, w in pairs]
    if not isinstance(idx_to_word, list) or not all(isinstance(w, str) for w in idx_to_word):
        raise VocabularyError(f"{path}: 'idx_to_word' must be a list of words (strings).")
    word_to_idx = raw["word_to_idx"]
    if not isinstance(word_to_idx, dict):
        raise VocabularyError(f"{path}: 'word_to_idx' must be an object mapping words to ids.")
    if list(idx_to_word[: len(SPECIAL_TOKENS)]) != list(SPECIAL_TOKENS):
        expected = ", ".join(f"{i} {w}" for i, w in enumerate(SPECIAL_TOKENS))
        raise VocabularyError(
            f"{path}: the vocabulary must start with the special tokens {expected}; "
            f"it starts with {idx_to_word[: len(SPECIAL_TOKENS)]}."
        )
    if len(set(idx_to_word)) != len(idx_to_word):
        dup = next(w for i, w in enumerate(idx_to_word) if w in idx_to_word[:i])
        raise VocabularyError(f"{path}: 'idx_to_word' lists the word {dup!r} twice.")
    if len(word_to_idx) != len(idx_to_word):
        raise VocabularyError(
            f"{path}: 'word_to_idx' has {len(word_to_idx)} words but 'idx_to_word' has {len(idx_to_word)}; "
            "the two must describe the same vocabulary."
        )
    for i, word in enumerate(idx_to_word):
        got = word_to_idx.get(word)
        if isinstance(got, bool) or not isinstance(got, int) or got != i:
            raise VocabularyError(
                f"{path}: inconsistent vocabulary: idx_to_word[{i}] is {word!r} but word_to_idx[{word!r}] is {got!r}."
            )
    return list(idx_to_word), dict(word_to_idx)


# --------------------------------------------------------------------------------------------------
# Minibatches and decoding


def sample_coco_minibatch(data: dict, batch_size: int = 100, split: str = "train", rng=None):
    """Sample a minibatch of captions (with replacement, as the course does).

    Args:
        data: dict from :func:`load_coco_data`.
        batch_size: N, the number of captions (1 to ``MAX_BATCH_SIZE``).
        split: "train" or "val".
        rng: ``np.random.Generator`` (default: a fresh ``np.random.default_rng()``).

    Returns:
        captions (N, T) int32, features (N, D) float32, urls (N,) object array of str.
    """
    if split not in SPLITS:
        raise HyperparameterError(f"split must be 'train' or 'val', got {split!r}.")
    batch_size = require_integer("batch_size", batch_size, 1, MAX_BATCH_SIZE)
    keys = [f"{split}_captions", f"{split}_image_idxs", f"{split}_features", f"{split}_urls"]
    missing = [k for k in keys if k not in data]
    if missing:
        raise HyperparameterError(
            f"data has no {', '.join(missing)}; pass the dict returned by load_coco_data()."
        )
    if rng is None:
        rng = np.random.default_rng()
    split_size = len(data[keys[0]])
    mask = rng.choice(split_size, batch_size)
    captions = data[keys[0]][mask]
    image_idxs = data[keys[1]][mask]
    return captions, data[keys[2]][image_idxs], data[keys[3]][image_idxs]


def first_captions_of_images(image_idxs, count: int) -> np.ndarray:
    """Caption numbers (up to count,) of the first caption of each of the first `count` distinct images,
    in caption order; image_idxs: (N_cap,) feature row of every caption."""
    _, first = np.unique(np.asarray(image_idxs), return_index=True)
    return np.sort(first)[:count]


def decode_captions(captions, idx_to_word):
    """Word ids to text, dropping ``<NULL>`` and ``<START>`` and stopping at ``<END>``.

    Unlike the course's decode_captions, which keeps ``<START>`` and ``<END>`` in the text ("<START> a man
    ... <END>"): the app shows captions as a reader sees them, and compares them with the ground truth so.

    Args:
        captions: (T,) or (N, T) integer word ids.
        idx_to_word: list of V words (or a dict id -> word).

    Returns:
        one str for (T,) input, a list of N str for (N, T) input.
    """
    captions = np.asarray(captions)
    if captions.ndim not in (1, 2):
        raise ShapeError(f"captions must have shape (T,) or (N, T), got shape {captions.shape}.")
    if captions.size and not _is_int_dtype(captions.dtype):
        raise ShapeError(f"captions must hold integer word ids, got dtype {captions.dtype}.")
    if isinstance(idx_to_word, dict):
        lookup = idx_to_word
        valid = lambda i: i in lookup  # noqa: E731
    else:
        vocab_size = len(idx_to_word)
        valid = lambda i: 0 <= i < vocab_size  # noqa: E731
    singleton = captions.ndim == 1
    rows = captions[None] if singleton else captions
    decoded = []
    for n, row in enumerate(rows):
        words = []
        for t, idx in enumerate(row.tolist()):
            if not valid(idx):
                where = f"captions[{t}]" if singleton else f"captions[{n}, {t}]"
                raise VocabularyError(
                    f"{where} is word id {idx}, outside the vocabulary of {len(idx_to_word)} words; "
                    "decode with the idx_to_word of the same dataset."
                )
            word = idx_to_word[idx]
            if word == "<END>":
                break
            if word not in ("<NULL>", "<START>"):
                words.append(word)
        decoded.append(" ".join(words))
    return decoded[0] if singleton else decoded
