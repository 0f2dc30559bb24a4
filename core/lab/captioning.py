"""Captioning one image in the ways the gallery compares: sampled word by word with the per-word top-k,
teacher-forced against free-running, and with the image feature zeroed (the language model alone).

All functions take a trained `CaptioningRNN` and one image feature (D,); none of them changes the model.
"""

from dataclasses import dataclass

import numpy as np

from core.data.coco_utils import decode_captions
from core.data.scenes.check import check_caption
from core.data.scenes.features import extract_features
from core.data.scenes.generate import scenes_of_rows
from core.data.scenes.render import render_scene
from core.engine.rnn_layers import softmax, temporal_affine_forward
from core.engine.validation import require_ndim
from core.errors import HyperparameterError, ShapeError
from core.lab.topk import top_k
from core.lab.trace import trace_example
from core.lab.trained_models import recipe_config, training_caption_indices

MAX_K = 10


@dataclass
class GeneratedCaption:
    """A caption generated word by word, L steps (the last is <END> unless max_length was reached).

    ids: (L,) word ids; words: the L words; topk_ids, topk_probs: (L, k) the k most probable words of the
    distribution each word was drawn from, most probable first; chosen_probs: (L,) probability of the word
    actually chosen; temperature and seed of the sampling.
    """

    ids: np.ndarray
    words: list
    topk_ids: np.ndarray
    topk_probs: np.ndarray
    chosen_probs: np.ndarray
    temperature: float
    seed: int | None

    @property
    def text(self):
        """The caption without <END>."""
        return " ".join(w for w in self.words if w != "<END>")


def _check_k(k):
    if isinstance(k, bool) or not 1 <= int(k) <= MAX_K:
        raise HyperparameterError(f"k={k!r}: show between 1 and {MAX_K} candidate words per step.")
    return int(k)


def _check_feature(model, feature):
    require_ndim("feature", feature, 1, "(D,)")
    model.check_features(np.asarray(feature)[None], name="feature")


def generate_caption(model, feature, temperature=0.0, seed=0, k=5, max_length=16):
    """Caption one image. feature: (D,) -> GeneratedCaption.

    temperature 0 is greedy (argmax); above 0, each word is drawn from softmax(scores / temperature) with
    np.random.default_rng(seed), so the same seed gives the same caption.
    """
    _check_feature(model, feature)
    k = _check_k(k)
    generation = model.generate(
        np.asarray(feature)[None],
        max_length=max_length,
        temperature=float(temperature),
        rng=np.random.default_rng(seed),
        keep_distributions=True,
    )
    ids = generation.ids[0]
    end = model.word_to_idx["<END>"]
    stops = np.flatnonzero(ids == end)
    length = int(stops[0]) + 1 if stops.size else ids.shape[0]
    ids = ids[:length]
    distributions = generation.distributions[0, :length].astype(np.float64)
    tops = [top_k(distributions[t], k) for t in range(length)]
    return GeneratedCaption(
        ids=ids,
        words=[model.idx_to_word[int(i)] for i in ids],
        topk_ids=np.array([ids_ for ids_, _ in tops]).reshape(length, -1),
        topk_probs=np.array([p for _, p in tops]).reshape(length, -1),
        chosen_probs=distributions[np.arange(length), ids],
        temperature=float(temperature),
        seed=seed,
    )


@dataclass
class Divergence:
    """Teacher forcing against free sampling on one image and one ground-truth caption of S words.

    truth: (S,) ground-truth word ids after <START>, up to and including <END>;
    forced_best: (S,) the model's most probable word at each step when fed the ground truth (teacher forcing);
    forced_truth_prob: (S,) the probability it gives the ground-truth word there;
    free: GeneratedCaption feeding back its own words (greedy, or sampled at its temperature);
    first_difference: index of the first step where the free caption's word differs from the truth
    (None if they agree everywhere); forced_correct: (S,) forced_best == truth.
    """

    truth: np.ndarray
    truth_words: list
    forced_best: np.ndarray
    forced_best_words: list
    forced_truth_prob: np.ndarray
    free: GeneratedCaption
    first_difference: int | None

    @property
    def forced_correct(self):
        return self.forced_best == self.truth

    @property
    def forced_accuracy(self):
        """Share of steps where teacher forcing predicts the ground-truth word."""
        return float(self.forced_correct.mean()) if self.truth.size else 0.0


def teacher_forcing_vs_free(model, feature, caption, k=5, temperature=0.0, seed=0):
    """feature: (D,), caption: (T + 1,) ids starting with <START> -> Divergence.

    The free caption is generated as generate_caption does: greedy at temperature 0, else sampled with seed.
    """
    _check_feature(model, feature)
    caption = np.asarray(caption)
    require_ndim("caption", caption, 1, "(T + 1,)")
    trace = trace_example(model, feature, caption).forward
    steps = int(trace.mask.sum())
    if steps == 0:
        raise ShapeError("caption has no words after <START>; choose a caption with at least one word.")
    truth = trace.ids_target[:steps]
    probs = trace.probs[:steps].astype(np.float64)
    forced_best = probs.argmax(axis=1)
    free = generate_caption(model, feature, temperature, seed, k, max_length=caption.shape[0] - 1)
    first = None
    for t in range(max(steps, free.ids.shape[0])):
        truth_id = truth[t] if t < steps else None
        free_id = free.ids[t] if t < free.ids.shape[0] else None
        if truth_id != free_id:
            first = t
            break
    idx_to_word = model.idx_to_word
    return Divergence(
        truth=truth,
        truth_words=[idx_to_word[int(i)] for i in truth],
        forced_best=forced_best,
        forced_best_words=[idx_to_word[int(i)] for i in forced_best],
        forced_truth_prob=probs[np.arange(steps), truth],
        free=free,
        first_difference=first,
    )


@dataclass
class Ablation:
    """The same image captioned with its feature and with the feature zeroed.

    with_image, without_image: GeneratedCaptions (greedy, or sampled with the same temperature and seed);
    word_probs_with, word_probs_without: (L,)
    probability of each word of with_image's caption (fed to the model word by word) with and without the
    image; a word whose probability collapses without the image is one the model reads from the picture.
    """

    with_image: GeneratedCaption
    without_image: GeneratedCaption
    word_probs_with: np.ndarray
    word_probs_without: np.ndarray

    @property
    def image_dependence(self):
        """(L,) log10 p(word | image) - log10 p(word | no image) for each word of the image's caption."""
        return np.log10(np.maximum(self.word_probs_with, 1e-300)) - np.log10(
            np.maximum(self.word_probs_without, 1e-300)
        )


def image_ablation(model, feature, k=5, max_length=16, temperature=0.0, seed=0):
    """feature: (D,) -> Ablation comparing the caption of the image with that of a zero feature (D,), both
    generated as generate_caption does with this temperature and seed."""
    _check_feature(model, feature)
    feature = np.asarray(feature)
    zero = np.zeros_like(feature)
    with_image = generate_caption(model, feature, temperature, seed, k, max_length)
    without_image = generate_caption(model, zero, temperature, seed, k, max_length)
    caption = np.concatenate([[model.word_to_idx["<START>"]], with_image.ids])
    return Ablation(
        with_image,
        without_image,
        _word_probabilities(model, feature, caption),
        _word_probabilities(model, zero, caption),
    )


def _word_probabilities(model, feature, caption):
    """feature: (D,), caption: (T + 1,) ids -> (T,) the probability `model` gives each word of caption[1:]
    when fed the words before it. Every word gets its probability, a drawn <NULL> too, which the loss (and so
    a trace) leaves unscored."""
    h, _ = model.recurrent_forward(np.asarray(feature)[None], np.asarray(caption)[None])
    scores, _ = temporal_affine_forward(h, model.params["W_vocab"], model.params["b_vocab"])
    probs = softmax(scores[0].astype(np.float64))
    return probs[np.arange(probs.shape[0]), caption[1:]]


@dataclass
class GalleryItem:
    """One image of a split: its feature row, image source, and every ground-truth caption of it.

    captions: (C, T + 1) ids of the C ground-truth captions; truths: their text.
    """

    split: str
    row: int
    source: str
    feature: np.ndarray
    captions: np.ndarray
    truths: list


def gallery_items(data, split, count, seed=0, caption_indices=None):
    """`count` distinct images of `split` chosen with `seed` (or the images of `caption_indices`).

    data: the dataset dict; caption_indices: optional caption numbers of the split whose images to show
    (e.g. the captions a model was trained on). -> list of GalleryItem.
    """
    if split not in ("train", "val"):
        raise HyperparameterError(f"split must be 'train' or 'val', got {split!r}.")
    if isinstance(count, bool) or not 1 <= int(count) <= 24:
        raise HyperparameterError(f"count={count!r}: the gallery shows 1 to 24 images.")
    image_idxs = np.asarray(data[f"{split}_image_idxs"])
    pool = np.unique(image_idxs if caption_indices is None else image_idxs[np.asarray(caption_indices)])
    rows = np.random.default_rng(seed).permutation(pool)[: int(count)]
    items = []
    for row in rows.tolist():
        captions = np.asarray(data[f"{split}_captions"])[image_idxs == row]
        items.append(
            GalleryItem(
                split=split,
                row=int(row),
                source=str(data[f"{split}_urls"][row]),
                feature=np.asarray(data[f"{split}_features"][row]),
                captions=captions,
                truths=[decode_captions(c, data["idx_to_word"]) for c in captions],
            )
        )
    return items


@dataclass
class ComposedScene:
    """A scene the learner composed: its rendered image (S, S, 3) uint8, feature (D,), generated caption,
    and whether that caption is true of the scene (core.data.scenes.check.check_caption)."""

    scene: object
    image: np.ndarray
    feature: np.ndarray
    caption: GeneratedCaption
    check: object


def caption_scene(model, scene, temperature=0.0, seed=0, k=5, max_length=16):
    """Render a core.data.scenes.spec.Scene, extract its features as the embedded dataset does, and caption it."""
    image = render_scene(scene)
    feature = extract_features(image[None])[0]
    caption = generate_caption(model, feature, temperature, seed, k, max_length)
    return ComposedScene(scene, image, feature, caption, check_caption(caption.text, scene))


def recipe_caption_indices(data, recipe):
    """Sorted train-caption numbers a core.lab.trained_models recipe trains on, or None when it uses them all
    (core.lab.trained_models.training_caption_indices with the recipe's max_train and seed)."""
    config = recipe_config(recipe)
    return training_caption_indices(data, config["max_train"], config["seed"])


def scenes_by_row(data, split):
    """{feature row: core.data.scenes.spec.Scene} of the embedded dataset's split, or None for other datasets
    (core.data.scenes.generate.scenes_of_rows over every row)."""
    rows = range(len(data[f"{split}_urls"]))
    scenes = scenes_of_rows(data, split, rows)
    return None if scenes is None else dict(zip(rows, scenes, strict=True))
