"""Caption quality measures: corpus BLEU-4 over multiple references, and, for the embedded shape
scenes, the share of images whose caption names every object correctly.

BLEU follows Papineni et al. (2002): clipped n-gram precisions p_1..p_4 summed over the corpus, their
geometric mean (uniform weights), times the brevity penalty exp(1 - r / c) when the candidates' total
length c is below r, the sum of each candidate's closest reference length (the shorter one on ties).
No smoothing: a corpus without a single matching 4-gram scores 0.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.data.scenes.check import check_caption
from core.data.scenes.generate import scenes_of_rows
from core.errors import ShapeError


@dataclass(frozen=True)
class BleuScore:
    """Corpus BLEU with its parts: precisions p_1..p_n, brevity penalty, total lengths c and r."""

    bleu: float
    precisions: tuple[float, ...]
    brevity_penalty: float
    candidate_length: int
    reference_length: int


def _words(text) -> list[str]:
    return text.split() if isinstance(text, str) else list(text)


def _ngrams(words: Sequence[str], n: int) -> Counter:
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def corpus_bleu(candidates: Sequence, references: Sequence[Sequence], max_n: int = 4) -> BleuScore:
    """Corpus BLEU-max_n (default BLEU-4) with uniform weights.

    candidates: N captions (strings of space-separated words, or lists of words);
    references: N lists of reference captions (same forms), at least one per candidate.
    """
    if len(candidates) != len(references):
        raise ShapeError(
            f"corpus_bleu got {len(candidates)} candidates but {len(references)} reference lists; "
            "pass one list of references per candidate."
        )
    matches = [0] * max_n
    totals = [0] * max_n
    c_len = r_len = 0
    for cand, refs in zip(candidates, references, strict=True):
        cand = _words(cand)
        refs = [_words(r) for r in refs]
        if not refs:
            raise ShapeError("corpus_bleu needs at least one reference caption for every candidate.")
        c_len += len(cand)
        r_len += min((abs(len(r) - len(cand)), len(r)) for r in refs)[1]
        for n in range(1, max_n + 1):
            counts = _ngrams(cand, n)
            max_ref: Counter = Counter()
            for r in refs:
                max_ref |= _ngrams(r, n)
            matches[n - 1] += sum(min(k, max_ref[g]) for g, k in counts.items())
            totals[n - 1] += max(len(cand) - n + 1, 0)
    precisions = tuple(m / t if t else 0.0 for m, t in zip(matches, totals, strict=True))
    bp = 1.0 if c_len > r_len else (math.exp(1 - r_len / c_len) if c_len else 0.0)
    bleu = bp * math.exp(sum(math.log(p) for p in precisions) / max_n) if min(precisions) > 0 else 0.0
    return BleuScore(bleu, precisions, bp, c_len, r_len)


def caption_words(ids, idx_to_word) -> list[str]:
    """Words of one caption's ids (T,), stopping at <END>: <START> and <NULL> dropped, <UNK> kept (as in
    core.data.decode_captions)."""
    words = []
    for i in np.asarray(ids).ravel():
        w = idx_to_word[int(i)]
        if w == "<END>":
            break
        if w not in ("<NULL>", "<START>"):
            words.append(w)
    return words


def references_by_image(
    captions: np.ndarray, image_idxs: np.ndarray, idx_to_word
) -> dict[int, list[list[str]]]:
    """Reference captions (as word lists) of each image row: {row: [words, ...]}.

    captions: (N_cap, T) ids; image_idxs: (N_cap,) feature rows.
    """
    refs: dict[int, list[list[str]]] = {}
    for row, idx in zip(captions, image_idxs, strict=True):
        refs.setdefault(int(idx), []).append(caption_words(row, idx_to_word))
    return refs


def scene_accuracy(captions: Sequence, scenes: Sequence) -> float:
    """Share of scenes whose caption names every object's shape and colour correctly, nothing else,
    and states only true sizes, relations, positions, counts and orders (core.data.scenes.check.check_caption).

    captions: N captions (strings or word lists); scenes: N core.data.scenes.spec.Scene.
    """
    if len(captions) != len(scenes):
        raise ShapeError(f"scene_accuracy got {len(captions)} captions but {len(scenes)} scenes.")
    if not scenes:
        return 0.0
    return sum(check_caption(c, s).ok for c, s in zip(captions, scenes, strict=True)) / len(scenes)


@dataclass(frozen=True)
class ValScore:
    """How well a model captions the val images (greedy decoding).

    bleu4: corpus BLEU-4 against all reference captions of each image; scene_accuracy: share of images
    whose caption names every object correctly (embedded dataset only, else None); n_images.
    """

    bleu4: float
    scene_accuracy: float | None
    n_images: int


def val_score(model, data: dict, max_images: int | None = None, split: str = "val") -> ValScore:
    """BLEU-4 and (embedded data) scene accuracy of a CaptioningRNN's greedy captions of the split's images.

    max_images: score only the first max_images images that have references (None: all).
    """
    refs = references_by_image(data[f"{split}_captions"], data[f"{split}_image_idxs"], data["idx_to_word"])
    rows = sorted(refs)[:max_images] if max_images is not None else sorted(refs)
    ids = model.sample(np.asarray(data[f"{split}_features"][rows], np.float32), max_length=16)
    words = [caption_words(row, data["idx_to_word"]) for row in ids]
    bleu = corpus_bleu(words, [refs[r] for r in rows]).bleu
    scenes = scenes_of_rows(data, split, rows)
    accuracy = scene_accuracy(words, scenes) if scenes is not None else None
    return ValScore(bleu4=bleu, scene_accuracy=accuracy, n_images=len(rows))
