"""Vocabularies and captions for engine tests, in the course's layout."""

import numpy as np

SPECIAL = ("<NULL>", "<START>", "<END>", "<UNK>")


def make_vocab(size):
    """word_to_idx with the CS231n special tokens at 0..3 and `size` words in total."""
    words = list(SPECIAL) + [f"w{i}" for i in range(size - len(SPECIAL))]
    return {w: i for i, w in enumerate(words)}


def random_captions(rng, n, length, vocab_size):
    """(n, length) captions: <START>, random words, <END>, then <NULL> padding."""
    captions = np.zeros((n, length), dtype=np.int32)
    captions[:, 0] = 1
    for row in captions:
        words = rng.integers(3, length - 1)
        row[1 : 1 + words] = rng.integers(len(SPECIAL), vocab_size, size=words)
        row[1 + words] = 2
    return captions
