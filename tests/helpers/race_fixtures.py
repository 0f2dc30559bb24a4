"""A small synthetic captioning data dict for the race and gallery tests (no dataset generation needed).

Image i has feature row i (D-dimensional, random) and `caps` captions of random words ids >= 4 between
<START> and <END>, padded with <NULL>, in the layout `core.data.load_coco_data` returns.
"""

import numpy as np

SPECIAL = ["<NULL>", "<START>", "<END>", "<UNK>"]


def synthetic_data(n_images=25, caps=2, D=32, V=20, T=12, seed=0):
    """Dict with train_/val_ captions (N, T + 1) int32, image_idxs, features (n, D) float32, urls, vocabulary."""
    rng = np.random.default_rng(seed)
    words = SPECIAL + [f"w{i}" for i in range(V - len(SPECIAL))]
    data = {"word_to_idx": {w: i for i, w in enumerate(words)}, "idx_to_word": words, "source": "synthetic"}
    for split, n in (("train", n_images), ("val", max(n_images // 5, 2))):
        idxs = np.repeat(np.arange(n), caps)
        captions = np.zeros((n * caps, T + 1), np.int32)
        for k in range(n * caps):
            length = int(rng.integers(3, T - 1))
            captions[k, 0] = 1
            captions[k, 1 : length + 1] = rng.integers(len(SPECIAL), V, size=length)
            captions[k, length + 1] = 2
        data[f"{split}_captions"] = captions
        data[f"{split}_image_idxs"] = idxs
        data[f"{split}_features"] = rng.standard_normal((n, D)).astype(np.float32)
        data[f"{split}_urls"] = np.array(
            [f"https://example.invalid/{split}/{i}.jpg" for i in range(n)], dtype=object
        )
    return data
