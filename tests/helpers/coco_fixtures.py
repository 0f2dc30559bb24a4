"""Small COCO-layout fixtures written with h5py, shared by the data and download tests.

Every image row i of a split has features[i, 0] == i and url ".../<split>/<i>.jpg", and every caption
of image i has word id 4 + i % 7 at position 1, so tests can check that captions, image indices,
feature rows and URLs stay consistent after subsetting.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

import h5py
import numpy as np

SPECIAL = ["<NULL>", "<START>", "<END>", "<UNK>"]
WORDS = ["a", "cat", "dog", "on", "mat", "red", "blue", "sits", "the"]
VOCAB = SPECIAL + WORDS  # V = 13
T = 7


def caption_for_image(i: int) -> list[int]:
    """<START> (4 + i % 7) 8 <END> <NULL> ..., length T."""
    return [1, 4 + i % 7, 8, 2] + [0] * (T - 4)


def make_split(n_images: int, caps_per_image: int, dim: int, split: str, seed: int):
    rng = np.random.default_rng(seed)
    idxs = np.repeat(np.arange(n_images), caps_per_image)
    rng.shuffle(idxs)
    captions = np.array([caption_for_image(int(i)) for i in idxs], dtype=np.int32).reshape(-1, T)
    features = rng.standard_normal((n_images, dim)).astype(np.float32)
    features[:, 0] = np.arange(n_images)
    urls = [f"http://example.com/{split}/{i}.jpg" for i in range(n_images)]
    return captions, idxs.astype(np.int32), features, urls


def write_coco_fixture(
    folder,
    *,
    n_train: int = 20,
    n_val: int = 8,
    caps_per_image: int = 3,
    pca: bool = True,
    idx_spelling: str = "image_idxs",
    vocab: list[str] | None = None,
    seed: int = 0,
) -> Path:
    """Write the six COCO files (tiny) into ``folder`` and return it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dim = 512 if pca else 4096
    suffix = "_pca" if pca else ""
    vocab = list(vocab or VOCAB)
    with h5py.File(folder / "coco2014_captions.h5", "w") as f:
        for k, (split, n) in enumerate((("train", n_train), ("val", n_val))):
            captions, idxs, features, urls = make_split(n, caps_per_image, dim, split, seed + k)
            f.create_dataset(f"{split}_captions", data=captions)
            f.create_dataset(f"{split}_{idx_spelling}", data=idxs)
            with h5py.File(folder / f"{split}2014_vgg16_fc7{suffix}.h5", "w") as g:
                g.create_dataset("features", data=features)
            (folder / f"{split}2014_urls.txt").write_text("\n".join(urls) + "\n")
    (folder / "coco2014_vocab.json").write_text(
        json.dumps({"idx_to_word": vocab, "word_to_idx": {w: i for i, w in enumerate(vocab)}})
    )
    return folder


def build_zip(tmp_path, *, prefix="coco_captioning/", skip=(), extra=(), stored=False) -> bytes:
    """The course archive's layout with tiny files (written outside ``tmp_path``)."""
    buf = io.BytesIO()
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(buf, "w", method) as zf:
        src = write_coco_fixture(Path(tmp) / "src", n_train=6, n_val=4)
        if prefix:
            zf.writestr(prefix, b"")
        for path in sorted(src.iterdir()):
            if path.name not in skip:
                zf.write(path, prefix + path.name)
        for name, data in extra:
            zf.writestr(name, data)
    return buf.getvalue()


def write_hostile_coco_fixture(folder, *, n_train: int = 20, n_val: int = 8) -> Path:
    """The COCO fixture as a hostile data folder: its vocabulary words are Markdown links, images and HTML
    (tests.helpers.faults.HOSTILE and a few more), every train URL line is malformed (an unclosed IPv6
    address, a NUL byte) and every val line a local PNG file."""
    from PIL import Image

    from tests.helpers.faults import HOSTILE

    words = [*HOSTILE, "**bold**", "`tick`", "$x$"]
    folder = write_coco_fixture(folder, n_train=n_train, n_val=n_val, vocab=SPECIAL + words)
    bad = ["http://[::1/{}.jpg", "image\x00{}.png"]
    (folder / "train2014_urls.txt").write_text("".join(bad[i % 2].format(i) + "\n" for i in range(n_train)))
    (folder / "images").mkdir()
    for i in range(n_val):
        Image.fromarray(np.full((8, 8, 3), 20 * i, np.uint8)).save(folder / "images" / f"{i}.png")
    (folder / "val2014_urls.txt").write_text("".join(f"images/{i}.png\n" for i in range(n_val)))
    return folder
