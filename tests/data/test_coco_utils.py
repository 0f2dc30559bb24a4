"""Tests for core.data: loading the COCO layout, bad files, subsetting, minibatches, decoding."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from core.data import coco_utils as coco
from core.data import paths
from core.data.coco_utils import (
    decode_captions,
    first_captions_of_images,
    load_coco_data,
    sample_coco_minibatch,
)
from core.errors import (
    CaptioningError,
    DataFileError,
    HyperparameterError,
    NonFiniteError,
    ShapeError,
    VocabularyError,
)
from tests.helpers.coco_fixtures import VOCAB, T, caption_for_image, write_coco_fixture
from tests.helpers.paths import COCO_SAMPLE

SAMPLE = COCO_SAMPLE
KEYS = [
    "train_captions",
    "train_image_idxs",
    "val_captions",
    "val_image_idxs",
    "train_features",
    "val_features",
    "idx_to_word",
    "word_to_idx",
    "train_urls",
    "val_urls",
]


pytestmark = pytest.mark.usefixtures("isolated_home")


@pytest.fixture
def fake_scenes(monkeypatch):
    """A stand-in for the embedded dataset's generator: ensure_embedded_dataset writes a fixture into
    embedded_dir()."""
    calls = []

    def ensure_embedded_dataset(progress=None):
        calls.append(progress)
        folder = paths.embedded_dir()
        if not (folder / "coco2014_vocab.json").exists():
            write_coco_fixture(folder, n_train=10, n_val=5, seed=7)
        if progress is not None:
            progress(1.0, "embedded ready")
        return folder

    monkeypatch.setattr(coco, "ensure_embedded_dataset", ensure_embedded_dataset)
    return calls


def check_consistent(d, split):
    """Every caption's image row has the right feature row and URL (see tests/helpers/coco_fixtures.py)."""
    caps, idxs = d[f"{split}_captions"], d[f"{split}_image_idxs"]
    feats, urls = d[f"{split}_features"], d[f"{split}_urls"]
    assert len(feats) == len(urls)
    assert idxs.min() >= 0 and idxs.max() < len(feats)
    for cap, idx in zip(caps, idxs, strict=True):
        original = int(feats[idx, 0])
        assert cap.tolist() == caption_for_image(original)
        assert urls[idx] == f"http://example.com/{split}/{original}.jpg"


# ---------------------------------------------------------------------------------------------- loading


def test_load_full_fixture(tmp_path):
    folder = write_coco_fixture(tmp_path / "coco")
    d = load_coco_data(folder)
    assert set(KEYS) <= set(d)
    assert d["source"] == "coco" and d["base_dir"] == folder
    assert d["train_captions"].shape == (60, T) and d["train_captions"].dtype == np.int32
    assert d["train_image_idxs"].shape == (60,) and np.issubdtype(d["train_image_idxs"].dtype, np.integer)
    assert d["val_captions"].shape == (24, T)
    assert d["train_features"].shape == (20, 512) and d["train_features"].dtype == np.float32
    assert d["val_features"].shape == (8, 512) and d["val_features"].dtype == np.float32
    assert d["train_urls"].shape == (20,) and d["val_urls"].shape == (8,)
    assert d["idx_to_word"] == VOCAB and d["word_to_idx"]["cat"] == VOCAB.index("cat")
    with h5py.File(folder / "train2014_vgg16_fc7_pca.h5") as f:
        np.testing.assert_array_equal(d["train_features"], f["features"][()])
    check_consistent(d, "train")
    check_consistent(d, "val")


def test_idxes_spelling_accepted(tmp_path):
    folder = write_coco_fixture(tmp_path / "coco", idx_spelling="image_idxes")
    d = load_coco_data(folder)
    assert "train_image_idxs" in d and "train_image_idxes" not in d
    check_consistent(d, "train")


def test_full_fc7_features(tmp_path):
    folder = write_coco_fixture(tmp_path / "coco", pca=False, n_train=4, n_val=3)
    d = load_coco_data(folder, pca_features=False)
    assert d["train_features"].shape == (4, 4096)
    with pytest.raises(DataFileError, match="train2014_vgg16_fc7_pca.h5"):
        load_coco_data(folder)  # the PCA files are not there


def test_float64_features_returned_as_float32(tmp_path):
    folder = write_coco_fixture(tmp_path / "coco")
    path = folder / "val2014_vgg16_fc7_pca.h5"
    with h5py.File(path, "r+") as f:
        values = f["features"][()].astype(np.float64)
        del f["features"]
        f["features"] = values
    d = load_coco_data(folder)
    assert d["val_features"].dtype == np.float32
    np.testing.assert_allclose(d["val_features"], values, rtol=1e-6)


def test_coco_dir_env(tmp_path, monkeypatch):
    folder = write_coco_fixture(tmp_path / "env_coco")
    monkeypatch.setenv(paths.COCO_DIR_ENV, str(folder))
    d = load_coco_data()
    assert d["source"] == "coco" and d["base_dir"] == folder


def test_default_data_home_folder(isolated_home):
    write_coco_fixture(isolated_home / "coco_captioning")
    assert load_coco_data()["source"] == "coco"


def test_coco_files_present_says_which_dataset_load_coco_data_reads(isolated_home, tmp_path, monkeypatch):
    folder = isolated_home / "coco_captioning"
    assert not coco.coco_files_present()
    write_coco_fixture(folder)
    assert coco.coco_files_present() and load_coco_data()["source"] == "coco"
    (folder / "val2014_urls.txt").unlink()
    assert not coco.coco_files_present()
    monkeypatch.setenv(paths.COCO_DIR_ENV, str(write_coco_fixture(tmp_path / "elsewhere")))
    assert coco.coco_files_present()
    assert not coco.coco_files_present(pca_features=False)  # no fc7 files there


def test_relative_urls_resolved_against_folder(tmp_path):
    folder = write_coco_fixture(tmp_path / "coco")
    (folder / "val2014_urls.txt").write_text("".join(f"images/{i}.png\n" for i in range(8)))
    d = load_coco_data(folder)
    assert d["val_urls"][3] == str(folder / "images" / "3.png")


def test_progress_reported(tmp_path):
    folder = write_coco_fixture(tmp_path / "coco")
    seen = []
    load_coco_data(folder, progress=lambda f, m: seen.append((f, m)))
    assert seen[0][0] == 0.0 and seen[-1][0] == 1.0
    assert all(isinstance(m, str) for _, m in seen)


# ---------------------------------------------------------------------------------------------- max_train


def test_max_train_subsets_consistently(tmp_path):
    folder = write_coco_fixture(tmp_path / "coco", n_train=300, caps_per_image=2)
    d = load_coco_data(folder, max_train=17, rng=np.random.default_rng(3))
    assert d["train_captions"].shape == (17, T)
    assert d["train_image_idxs"].shape == (17,)
    n_rows = len(np.unique(d["train_image_idxs"]))
    assert d["train_features"].shape == (n_rows, 512)
    assert d["train_urls"].shape == (n_rows,)
    check_consistent(d, "train")
    # the features are the source rows
    with h5py.File(folder / "train2014_vgg16_fc7_pca.h5") as f:
        source = f["features"][()]
    originals = d["train_features"][:, 0].astype(int)
    np.testing.assert_array_equal(d["train_features"], source[originals])
    # val is untouched
    assert d["val_captions"].shape == (16, T) and d["val_features"].shape == (8, 512)
    # same seed, same subset; other seed, other subset
    again = load_coco_data(folder, max_train=17, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(again["train_captions"], d["train_captions"])
    np.testing.assert_array_equal(again["train_features"], d["train_features"])
    other = load_coco_data(folder, max_train=17, rng=np.random.default_rng(4))
    assert not np.array_equal(other["train_features"][:, 0], d["train_features"][:, 0])


def test_max_train_reads_only_needed_rows(tmp_path, monkeypatch):
    folder = write_coco_fixture(tmp_path / "coco", n_train=2000, caps_per_image=1, n_val=4)
    read = []
    original = h5py.Dataset.__getitem__

    def spy(self, args, *rest, **kw):
        out = original(self, args, *rest, **kw)
        if "train2014_vgg16_fc7" in self.file.filename and self.name == "/features":
            read.append(out.shape[0] if out.ndim == 2 else 1)
        return out

    monkeypatch.setattr(h5py.Dataset, "__getitem__", spy)
    d = load_coco_data(folder, max_train=5, rng=np.random.default_rng(0))
    assert d["train_features"].shape == (5, 512)
    assert 5 <= sum(read) <= 5 * (coco._ROW_GAP + 1) < 2000


def test_read_rows_groups_nearby_rows():
    class FakeDataset:
        shape = (1000, 3)

        def __init__(self):
            self.slices = []
            self.values = np.arange(3000, dtype=np.float64).reshape(1000, 3)

        def __getitem__(self, sel):
            self.slices.append((sel.start, sel.stop))
            return self.values[sel]

    ds = FakeDataset()
    rows = np.array([3, 5, 500, 990, 999])
    out = coco._read_rows(ds, rows, Path("x.h5"))
    np.testing.assert_array_equal(out, ds.values[rows])
    assert out.dtype == np.float32
    assert ds.slices == [(3, 6), (500, 501), (990, 1000)]


def test_max_train_larger_than_data_keeps_all(tmp_path):
    folder = write_coco_fixture(tmp_path / "coco")
    d = load_coco_data(folder, max_train=10_000)
    assert d["train_captions"].shape == (60, T) and d["train_features"].shape == (20, 512)


@pytest.mark.parametrize("bad", [0, -3, 2.5, "10", True])
def test_max_train_must_be_positive_int(tmp_path, bad):
    folder = write_coco_fixture(tmp_path / "coco")
    with pytest.raises(HyperparameterError, match="max_train"):
        load_coco_data(folder, max_train=bad)


# ---------------------------------------------------------------------------------------------- fallback


def test_no_files_returns_embedded(fake_scenes):
    seen = []
    d = load_coco_data(progress=lambda f, m: seen.append(m))
    assert d["source"] == "embedded"
    assert d["base_dir"] == paths.embedded_dir()
    assert d["train_features"].shape == (10, 512)
    assert len(fake_scenes) == 1 and fake_scenes[0] is not None
    assert "embedded ready" in seen
    check_consistent(d, "train")


def test_explicit_empty_folder_returns_embedded(tmp_path, fake_scenes, monkeypatch):
    (tmp_path / "empty").mkdir()
    assert load_coco_data(tmp_path / "empty")["source"] == "embedded"
    monkeypatch.setenv(paths.COCO_DIR_ENV, str(tmp_path / "does-not-exist"))
    assert load_coco_data()["source"] == "embedded"


def test_embedded_max_train(fake_scenes):
    d = load_coco_data(max_train=4, rng=np.random.default_rng(0))
    assert d["source"] == "embedded" and d["train_captions"].shape == (4, T)
    check_consistent(d, "train")


def test_broken_embedded_dataset_says_how_to_regenerate(fake_scenes):
    load_coco_data()
    (paths.embedded_dir() / "val2014_urls.txt").write_text("only one line\n")
    with pytest.raises(DataFileError, match="delete .* generated again") as info:
        load_coco_data()
    assert "val2014_urls.txt" in str(info.value)


def test_embedded_has_no_fc7(fake_scenes):
    with pytest.raises(DataFileError, match="pca_features=True"):
        load_coco_data(pca_features=False)


@pytest.mark.parametrize(
    "missing", ["coco2014_captions.h5", "val2014_urls.txt", "train2014_vgg16_fc7_pca.h5"]
)
def test_explicit_incomplete_folder_raises(tmp_path, fake_scenes, missing):
    folder = write_coco_fixture(tmp_path / "coco")
    (folder / missing).unlink()
    with pytest.raises(DataFileError, match=missing.replace(".", r"\.")) as info:
        load_coco_data(folder)
    assert "download" in str(info.value)
    assert not fake_scenes  # no silent fallback


def test_coco_dir_env_incomplete_raises(tmp_path, fake_scenes, monkeypatch):
    folder = write_coco_fixture(tmp_path / "coco")
    (folder / "coco2014_vocab.json").unlink()
    monkeypatch.setenv(paths.COCO_DIR_ENV, str(folder))
    with pytest.raises(DataFileError, match="coco2014_vocab.json"):
        load_coco_data()


def test_default_folder_incomplete_warns_and_falls_back(isolated_home, fake_scenes):
    folder = write_coco_fixture(isolated_home / "coco_captioning")
    (folder / "val2014_urls.txt").unlink()
    with pytest.warns(UserWarning, match="val2014_urls.txt"):
        d = load_coco_data()
    assert d["source"] == "embedded"


# ---------------------------------------------------------------------------------------------- bad files


def rewrite(path, key, value):
    with h5py.File(path, "r+") as f:
        del f[key]
        f[key] = value


def edit(path, key, fn):
    with h5py.File(path, "r+") as f:
        values = f[key][()]
        fn(values)
        f[key][...] = values


def truncate(path):
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size // 2)


CAPS = "coco2014_captions.h5"
TRAIN = "train2014_vgg16_fc7_pca.h5"
VAL = "val2014_vgg16_fc7_pca.h5"
VOCAB_FILE = "coco2014_vocab.json"


def set_vocab(folder, obj):
    (folder / VOCAB_FILE).write_text(json.dumps(obj))


def ok_vocab(**changes):
    v = {"idx_to_word": list(VOCAB), "word_to_idx": {w: i for i, w in enumerate(VOCAB)}}
    v.update(changes)
    return v


def swap_first_tokens():
    words = list(VOCAB)
    words[1], words[2] = words[2], words[1]
    return {"idx_to_word": words, "word_to_idx": {w: i for i, w in enumerate(words)}}


BAD_CASES = {
    # name: (mutate(folder), error class, file name in message, words in message)
    "captions truncated": (lambda d: truncate(d / CAPS), DataFileError, CAPS, "truncated"),
    "captions not hdf5": (lambda d: (d / CAPS).write_text("hello"), DataFileError, CAPS, "HDF5"),
    "features truncated": (lambda d: truncate(d / TRAIN), DataFileError, TRAIN, "truncated"),
    "val features empty file": (lambda d: (d / VAL).write_bytes(b""), DataFileError, VAL, "corrupt"),
    "missing train_captions": (
        lambda d: _del(d / CAPS, "train_captions"),
        DataFileError,
        CAPS,
        "train_captions",
    ),
    "missing val_image_idxs": (
        lambda d: _del(d / CAPS, "val_image_idxs"),
        DataFileError,
        CAPS,
        "val_image_idxs",
    ),
    "missing features key": (
        lambda d: _rename(d / VAL, "features", "feats"),
        DataFileError,
        VAL,
        "'features'",
    ),
    "features is a group": (lambda d: _group(d / TRAIN), DataFileError, TRAIN, "group"),
    "captions 1-D": (
        lambda d: rewrite(d / CAPS, "train_captions", np.ones(60, np.int32)),
        DataFileError,
        CAPS,
        "shape",
    ),
    "captions float": (
        lambda d: rewrite(d / CAPS, "val_captions", np.ones((24, T), np.float32)),
        DataFileError,
        CAPS,
        "dtype",
    ),
    "idxs 2-D": (
        lambda d: rewrite(d / CAPS, "train_image_idxs", np.zeros((60, 1), np.int32)),
        DataFileError,
        CAPS,
        "shape",
    ),
    "idxs length": (
        lambda d: rewrite(d / CAPS, "train_image_idxs", np.zeros(59, np.int32)),
        DataFileError,
        CAPS,
        "(60,)",
    ),
    "idxs float": (
        lambda d: rewrite(d / CAPS, "val_image_idxs", np.zeros(24, np.float64)),
        DataFileError,
        CAPS,
        "dtype",
    ),
    "features 1-D": (
        lambda d: rewrite(d / TRAIN, "features", np.zeros(20, np.float32)),
        DataFileError,
        TRAIN,
        "shape",
    ),
    "features wrong dim": (
        lambda d: rewrite(d / TRAIN, "features", np.zeros((20, 300), np.float32)),
        DataFileError,
        TRAIN,
        "512",
    ),
    "features int": (
        lambda d: rewrite(d / VAL, "features", np.zeros((8, 512), np.int32)),
        DataFileError,
        VAL,
        "dtype",
    ),
    "features NaN": (
        lambda d: edit(d / TRAIN, "features", _put(4, 7, np.nan)),
        NonFiniteError,
        TRAIN,
        "[4, 7]",
    ),
    "features inf": (lambda d: edit(d / VAL, "features", _put(2, 0, np.inf)), NonFiniteError, VAL, "[2, 0]"),
    "caption id too big": (
        lambda d: edit(d / CAPS, "train_captions", _put(5, 2, len(VOCAB))),
        VocabularyError,
        CAPS,
        "id 13",
    ),
    "caption id negative": (
        lambda d: edit(d / CAPS, "val_captions", _put(0, 1, -1)),
        VocabularyError,
        CAPS,
        "id -1",
    ),
    "image idx too big": (
        lambda d: edit(d / CAPS, "train_image_idxs", _put1(3, 20)),
        DataFileError,
        CAPS,
        "= 20",
    ),
    "image idx negative": (
        lambda d: edit(d / CAPS, "val_image_idxs", _put1(0, -2)),
        DataFileError,
        CAPS,
        "= -2",
    ),
    "vocab not json": (
        lambda d: (d / VOCAB_FILE).write_text("{idx_to_word"),
        DataFileError,
        VOCAB_FILE,
        "JSON",
    ),
    "vocab not utf8": (
        lambda d: (d / VOCAB_FILE).write_bytes(b"\xff\xfe\x00"),
        DataFileError,
        VOCAB_FILE,
        "JSON",
    ),
    "vocab a list": (lambda d: set_vocab(d, [1, 2]), DataFileError, VOCAB_FILE, "object"),
    "vocab without idx_to_word": (
        lambda d: set_vocab(d, {"word_to_idx": {}}),
        DataFileError,
        VOCAB_FILE,
        "idx_to_word",
    ),
    "vocab without word_to_idx": (
        lambda d: set_vocab(d, {"idx_to_word": VOCAB}),
        DataFileError,
        VOCAB_FILE,
        "word_to_idx",
    ),
    "vocab inconsistent": (
        lambda d: set_vocab(d, ok_vocab(word_to_idx={**{w: i for i, w in enumerate(VOCAB)}, "cat": 6})),
        VocabularyError,
        VOCAB_FILE,
        "inconsistent",
    ),
    "vocab sizes differ": (
        lambda d: set_vocab(d, ok_vocab(word_to_idx={w: i for i, w in enumerate(VOCAB[:-1])})),
        VocabularyError,
        VOCAB_FILE,
        "has 12 words",
    ),
    "vocab special tokens": (
        lambda d: set_vocab(d, swap_first_tokens()),
        VocabularyError,
        VOCAB_FILE,
        "<START>",
    ),
    "vocab duplicate word": (
        lambda d: set_vocab(d, ok_vocab(idx_to_word=VOCAB[:-1] + ["cat"])),
        VocabularyError,
        VOCAB_FILE,
        "twice",
    ),
    "vocab words not strings": (
        lambda d: set_vocab(d, ok_vocab(idx_to_word=[*VOCAB[:-1], 5])),
        VocabularyError,
        VOCAB_FILE,
        "strings",
    ),
    "train urls too few": (
        lambda d: _drop_last_line(d / "train2014_urls.txt"),
        DataFileError,
        "train2014_urls.txt",
        "19 lines",
    ),
    "val urls too many": (
        lambda d: _append(d / "val2014_urls.txt", "http://x/extra.jpg\n"),
        DataFileError,
        "val2014_urls.txt",
        "9 lines",
    ),
    "urls empty line": (
        lambda d: _blank_line(d / "val2014_urls.txt", 2),
        DataFileError,
        "val2014_urls.txt",
        "line 3",
    ),
    "urls not utf8": (
        lambda d: (d / "val2014_urls.txt").write_bytes(b"\xff" * 8),
        DataFileError,
        "val2014_urls",
        "UTF-8",
    ),
}


def _del(path, key):
    with h5py.File(path, "r+") as f:
        del f[key]


def _rename(path, old, new):
    with h5py.File(path, "r+") as f:
        f.move(old, new)


def _group(path):
    with h5py.File(path, "r+") as f:
        del f["features"]
        f.create_group("features")


def _put(r, c, value):
    def fn(a):
        a[r, c] = value

    return fn


def _put1(i, value):
    def fn(a):
        a[i] = value

    return fn


def _drop_last_line(path):
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")


def _append(path, text):
    path.write_text(path.read_text() + text)


def _blank_line(path, i):
    lines = path.read_text().splitlines()
    lines[i] = ""
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_files_raise_specific_errors(tmp_path, fake_scenes, case):
    mutate, error, file_name, words = BAD_CASES[case]
    folder = write_coco_fixture(tmp_path / "coco")
    mutate(folder)
    with pytest.raises(error) as info:
        load_coco_data(folder)
    message = str(info.value)
    assert file_name in message, message
    assert words in message, message
    assert isinstance(info.value, CaptioningError)
    assert not fake_scenes


def test_bad_caption_id_caught_with_max_train(tmp_path):
    folder = write_coco_fixture(tmp_path / "coco")
    edit(folder / CAPS, "train_captions", _put(0, 3, 99))
    with pytest.raises(VocabularyError, match="99"):
        load_coco_data(folder, max_train=2)


def test_nan_in_selected_row_caught_with_max_train(tmp_path):
    folder = write_coco_fixture(tmp_path / "coco", n_train=5, caps_per_image=1)
    edit(folder / TRAIN, "features", lambda a: a.__setitem__((slice(None), 9), np.nan))
    with pytest.raises(NonFiniteError, match=TRAIN):
        load_coco_data(folder, max_train=2, rng=np.random.default_rng(0))


def test_vocab_as_dict_of_ids(tmp_path):
    folder = write_coco_fixture(tmp_path / "coco")
    set_vocab(folder, ok_vocab(idx_to_word={str(i): w for i, w in enumerate(VOCAB)}))
    assert load_coco_data(folder)["idx_to_word"] == VOCAB


# ---------------------------------------------------------------------------------------------- minibatch


@pytest.fixture
def small_data(tmp_path):
    return load_coco_data(write_coco_fixture(tmp_path / "coco"))


def test_sample_minibatch_shapes(small_data):
    caps, feats, urls = sample_coco_minibatch(small_data, batch_size=7, rng=np.random.default_rng(0))
    assert caps.shape == (7, T) and caps.dtype == np.int32
    assert feats.shape == (7, 512) and feats.dtype == np.float32
    assert urls.shape == (7,)
    for cap, feat, url in zip(caps, feats, urls, strict=True):
        assert cap.tolist() == caption_for_image(int(feat[0]))
        assert url == f"http://example.com/train/{int(feat[0])}.jpg"
    vcaps, vfeats, vurls = sample_coco_minibatch(small_data, batch_size=100, split="val")
    assert vcaps.shape == (100, T) and vfeats.shape == (100, 512) and vurls.shape == (100,)
    assert all(u.startswith("http://example.com/val/") for u in vurls)


def test_sample_minibatch_deterministic(small_data):
    a = sample_coco_minibatch(small_data, 5, rng=np.random.default_rng(42))
    b = sample_coco_minibatch(small_data, 5, rng=np.random.default_rng(42))
    c = sample_coco_minibatch(small_data, 5, rng=np.random.default_rng(43))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize(
    ("kwargs", "word"), [({"split": "test"}, "split"), ({"batch_size": 0}, "batch_size")]
)
def test_sample_minibatch_bad_arguments(small_data, kwargs, word):
    with pytest.raises(HyperparameterError, match=word):
        sample_coco_minibatch(small_data, **kwargs)


def test_sample_minibatch_bad_data():
    with pytest.raises(HyperparameterError, match="load_coco_data"):
        sample_coco_minibatch({"train_captions": np.zeros((2, 3))})


# ---------------------------------------------------------------------------------------------- decoding


def test_first_captions_of_images_one_per_image_in_caption_order():
    np.testing.assert_array_equal(first_captions_of_images([3, 3, 0, 0, 5, 3, 7], 3), [0, 2, 4])
    np.testing.assert_array_equal(first_captions_of_images([1, 1], 4), [0])


def test_decode_captions_single_and_batch():
    w = {word: i for i, word in enumerate(VOCAB)}
    one = np.array([w["<START>"], w["a"], w["cat"], w["<NULL>"], w["sits"], w["<END>"], w["dog"]])
    assert decode_captions(one, VOCAB) == "a cat sits"
    batch = np.array([[1, 4, 6, 2, 0], [1, 4, 5, 0, 0], [1, 2, 4, 4, 4]])
    assert decode_captions(batch, VOCAB) == ["a dog", "a cat", ""]
    assert decode_captions(batch.tolist(), dict(enumerate(VOCAB))) == ["a dog", "a cat", ""]


def test_decode_captions_errors():
    with pytest.raises(VocabularyError, match=r"captions\[1, 2\] is word id 13"):
        decode_captions(np.array([[1, 4, 2], [1, 4, 13]]), VOCAB)
    with pytest.raises(VocabularyError, match="-1"):
        decode_captions(np.array([1, -1]), VOCAB)
    with pytest.raises(ShapeError, match="shape"):
        decode_captions(np.zeros((2, 2, 2), dtype=int), VOCAB)
    with pytest.raises(ShapeError, match="dtype"):
        decode_captions(np.array([1.0, 2.0]), VOCAB)


# ---------------------------------------------------------------------------------------------- real sample

needs_sample = pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"{SAMPLE} not present")
SAMPLE_LINES = [8, 24, 129, 164, 189, 17849]  # 1-based lines of the six JPEGs


@needs_sample
def test_real_vocabulary_and_urls(tmp_path):
    vocab = json.loads((SAMPLE / "coco2014_vocab.json").read_text())
    words = vocab["idx_to_word"]
    assert len(words) == 1004
    folder = write_coco_fixture(tmp_path / "coco", n_train=6, n_val=6, caps_per_image=1, vocab=words)
    (folder / VOCAB_FILE).write_text((SAMPLE / "coco2014_vocab.json").read_text())
    all_urls = (SAMPLE / "val2014_urls.txt").read_text().splitlines()
    all_names = (SAMPLE / "val2014_images.txt").read_text().splitlines()
    urls = [all_urls[i - 1] for i in SAMPLE_LINES]
    names = [all_names[i - 1] for i in SAMPLE_LINES]
    (folder / "val2014_urls.txt").write_text("\n".join(urls) + "\n")
    sentence = "a man riding a wave on top of a surfboard"
    w2i = vocab["word_to_idx"]
    ids = [w2i["<START>"]] + [w2i[w] for w in sentence.split()] + [w2i["<END>"]]
    caps = np.zeros((6, 17), np.int32)
    caps[:, : len(ids)] = ids
    caps[5, 1] = len(words) - 1  # the last word of the vocabulary is valid
    with h5py.File(folder / CAPS, "r+") as f:
        del f["val_captions"]
        f["val_captions"] = caps
    d = load_coco_data(folder)
    assert len(d["idx_to_word"]) == 1004 and d["word_to_idx"]["<UNK>"] == 3
    assert list(d["val_urls"]) == urls
    assert all(u.startswith("http://farm") and u.endswith(".jpg") for u in d["val_urls"])
    assert decode_captions(d["val_captions"][0], d["idx_to_word"]) == sentence
    assert all(Path(n).name in {p.name for p in (SAMPLE / "images").glob("*.jpg")} for n in names)
    caps[5, 1] = len(words)  # one past the vocabulary
    with h5py.File(folder / CAPS, "r+") as f:
        f["val_captions"][...] = caps
    with pytest.raises(VocabularyError, match="1004"):
        load_coco_data(folder)


@needs_sample
def test_real_url_file_line_count_checked(tmp_path):
    folder = write_coco_fixture(tmp_path / "coco", n_val=6)
    (folder / "val2014_urls.txt").write_text((SAMPLE / "val2014_urls.txt").read_text())
    with pytest.raises(DataFileError, match="40504 lines"):
        load_coco_data(folder)
