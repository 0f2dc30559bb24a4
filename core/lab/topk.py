"""Ranking a next-word distribution: the top-k words and where the ground-truth word stands."""

import numpy as np

from core.engine.validation import require_ndim
from core.errors import HyperparameterError


def top_k(probs, k):
    """probs: (V,) -> (ids (k,), probabilities (k,)), most probable first; ties keep the lower id first."""
    require_ndim("probs", probs, 1, "(V,)")
    if int(k) < 1:
        raise HyperparameterError(f"k must be at least 1, got {k}.")
    k = min(int(k), probs.shape[0])
    order = np.argsort(-np.asarray(probs), kind="stable")[:k]
    return order, np.asarray(probs)[order]


def rank_of(probs, word_id):
    """1-based rank of `word_id` in probs (V,): 1 + the number of words strictly more probable."""
    require_ndim("probs", probs, 1, "(V,)")
    return int(np.count_nonzero(probs > probs[int(word_id)])) + 1
