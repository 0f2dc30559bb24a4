"""A broken or misspelled data folder: the COCO loader names the file or folder at fault, at once, and a
misspelled folder is said (on the dataset, for every page, and in the log) instead of silently replaced."""

from __future__ import annotations

import json
import logging

import h5py
import numpy as np
import pytest

from core.data import paths
from core.data.coco_utils import load_coco_data
from core.data.image_utils import image_from_url
from core.errors import DataFileError, ImageLoadError, NonFiniteError, VocabularyError
from tests.helpers.coco_fixtures import write_coco_fixture
from tests.helpers.embedded import use_tiny_embedded_dataset
from tests.helpers.faults import raises_within, within


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    use_tiny_embedded_dataset(monkeypatch, tmp_path / "home")
    return tmp_path / "home"


def empty_folder(parent):
    (parent / "empty").mkdir()
    return parent / "empty"


def a_file(parent):
    (parent / "file").write_text("x")
    return parent / "file"


@pytest.mark.parametrize(
    ("make", "how", "state"),
    [
        (lambda d: d / "coco_captoning", "env", "does not exist"),
        (lambda d: d / "coco_captoning", "base_dir", "does not exist"),
        (empty_folder, "env", "holds none of the COCO files"),
        (a_file, "env", "is not a folder"),
    ],
    ids=["misspelled $COCO_DIR", "misspelled base_dir", "empty $COCO_DIR", "$COCO_DIR is a file"],
)
def test_a_coco_folder_that_is_not_there_is_said_not_hidden(tmp_path, monkeypatch, caplog, make, how, state):
    folder = make(tmp_path)
    if how == "env":
        monkeypatch.setenv(paths.COCO_DIR_ENV, str(folder))
    with within(10), caplog.at_level(logging.WARNING, logger="core.data.coco_utils"):
        data = load_coco_data(folder if how == "base_dir" else None)
    assert data["source"] == "embedded" and data["coco_dir_missing"] == folder
    assert str(folder) in data["notice"] and state in data["notice"]
    assert ("$COCO_DIR" if how == "env" else "base_dir") in data["notice"]
    (record,) = [r for r in caplog.records if r.name == "core.data.coco_utils"]  # logged once
    assert record.getMessage() == data["notice"]


def test_the_embedded_dataset_by_default_has_no_notice(caplog):
    with caplog.at_level(logging.WARNING):
        data = load_coco_data()
    assert data["source"] == "embedded" and "notice" not in data and not caplog.records


def test_malformed_url_lines_load_and_fail_image_by_image(tmp_path):
    folder = write_coco_fixture(tmp_path / "coco", n_train=4, n_val=2)
    good = tmp_path / "good.png"
    from PIL import Image

    Image.fromarray(np.zeros((3, 3, 3), np.uint8)).save(good)
    (folder / "train2014_urls.txt").write_text(f"http://[::1/x.jpg\n{good}\nbad\x00byte.jpg\nhttp://\n")
    data = load_coco_data(folder)
    urls = list(data["train_urls"])
    assert image_from_url(urls[1]).shape == (3, 3, 3)
    for url in (urls[0], urls[2], urls[3]):
        with raises_within(ImageLoadError, seconds=2):
            image_from_url(url, timeout=1)


def _truncate(path):
    path.write_bytes(path.read_bytes()[:100])


def _rewrite(path, key, change):
    with h5py.File(path, "r+") as f:
        data = f[key][()]
        del f[key]
        f.create_dataset(key, data=change(data))


FILE_FAULTS = {
    "truncated feature file": (
        lambda d: _truncate(d / "val2014_vgg16_fc7_pca.h5"),
        DataFileError,
        ["val2014_vgg16_fc7_pca.h5", "truncated or corrupt"],
    ),
    "vocabulary that is not JSON": (
        lambda d: (d / "coco2014_vocab.json").write_text('{"idx_to_word": ['),
        DataFileError,
        ["coco2014_vocab.json", "JSON"],
    ),
    "caption id beyond the vocabulary": (
        lambda d: _rewrite(d / "coco2014_captions.h5", "train_captions", lambda c: c + 100),
        VocabularyError,
        ["coco2014_captions.h5", "train_captions", "outside the vocabulary"],
    ),
    "NaN feature": (
        lambda d: _rewrite(d / "train2014_vgg16_fc7_pca.h5", "features", lambda f: f * np.nan),
        NonFiniteError,
        ["train2014_vgg16_fc7_pca.h5", "NaN"],
    ),
    "a URL line missing": (
        lambda d: (d / "val2014_urls.txt").write_text("http://example.com/0.jpg\n"),
        DataFileError,
        ["val2014_urls.txt", "1 lines", "8 feature rows"],
    ),
    "a vocabulary word listed twice": (
        lambda d: (d / "coco2014_vocab.json").write_text(
            json.dumps({"idx_to_word": ["<NULL>", "<START>", "<END>", "<UNK>", "a", "a"], "word_to_idx": {}})
        ),
        VocabularyError,
        ["coco2014_vocab.json", "'a' twice"],
    ),
    "a file missing from $COCO_DIR": (
        lambda d: (d / "train2014_urls.txt").unlink(),
        DataFileError,
        ["train2014_urls.txt", "file missing", "python -m core.data download"],
    ),
}


@pytest.mark.parametrize("case", FILE_FAULTS, ids=list(FILE_FAULTS))
def test_broken_coco_files(tmp_path, monkeypatch, case):
    damage, error, names = FILE_FAULTS[case]
    folder = write_coco_fixture(tmp_path / "coco")
    damage(folder)
    monkeypatch.setenv(paths.COCO_DIR_ENV, str(folder))
    with raises_within(error, *names, seconds=5):
        load_coco_data()
