"""The embedded offline dataset: procedurally rendered shape scenes in the CS231n COCO layout.

Scenes are in the spirit of ShapeWorld: 1 to 3 objects, each with a shape, a colour, a size and a
position, on a light plain or faintly textured background. Each image gets five captions written from
a small grammar with paraphrases; every spatial word in a caption is true to the rendered geometry.
Features are computed from the pixels by `core.scene_features.extract_features`, never from the
scene specification or the captions, so a captioning model has to learn to see.

Coordinates: an object's centre (x, y) is a fraction of the canvas, x to the right and y downwards
(image coordinates), both in [0, 1]; its radius is a fraction of the canvas side.

`ensure_embedded_dataset()` generates the folder `core.paths.embedded_dir()` on first use (a few
seconds, deterministic, no network) with the same files as the course's `coco_captioning` folder.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from core import paths
from core.errors import CaptioningError, DataFileError, ShapeError, VocabularyError

# ----------------------------------------------------------------------------------------------------
# Vocabulary of the world

SHAPES = ("circle", "square", "triangle", "star", "cross")
PLURALS = {"circle": "circles", "square": "squares", "triangle": "triangles", "star": "stars", "cross": "crosses"}
COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 165, 60),
    "blue": (40, 90, 220),
    "yellow": (240, 205, 30),
    "purple": (145, 60, 185),
    "orange": (245, 135, 30),
}
SIZES = ("small", "large")
# Radius (fraction of the canvas side) allowed for each size word.
SIZE_RADII = {"small": (0.075, 0.10), "large": (0.145, 0.185)}
SIZE_WORDS = {"small": ("small", "little"), "large": ("large", "big")}
BACKGROUNDS = {
    "white": (246, 246, 244),
    "grey": (226, 226, 228),
    "cream": (245, 239, 222),
    "sky": (226, 236, 246),
    "mint": (230, 243, 232),
}
TEXTURES = ("plain", "stripes", "grid", "gradient", "dots")

IMAGE_SIZE = 128  # pixels; the side of the rendered images of the dataset
MAX_WORDS = 15  # words between <START> and <END> that the file layout allows
CAPTION_LENGTH = MAX_WORDS + 2  # 17 tokens, as in the COCO files
# Words a generated caption may have (at most MAX_WORDS). Longer templates are left out, so three-object
# scenes get compact captions (about 9.9 tokens per caption on average, COCO has about 11.5). With the
# 15-word limit of generator version 2 (11.3 tokens, three-object captions about 14), the notebook's
# overfit run (50 captions, 100 iterations) left tanh at loss 0.12-0.19 on most seeds whatever the feature
# scale; with 11 words it ends below 0.1 on every seed measured (see core.race).
CAPTION_WORDS = 11
CAPTIONS_PER_IMAGE = 5
SPECIAL_TOKENS = ("<NULL>", "<START>", "<END>", "<UNK>")

# Geometry thresholds (fractions of the canvas). A caption generated here states a relation only when
# it is clear (dominant axis at least CLEAR_RATIO times the other one); the checker accepts a relation
# when it is plausible (ratio at least LENIENT_RATIO), so generated captions always pass the checker.
CLEAR_RATIO = 1.5
LENIENT_RATIO = 0.75
MIN_SEPARATION = 0.04
_BOUND = 1.12  # bounding-circle radius / nominal radius, over all shapes

# ----------------------------------------------------------------------------------------------------
# Dataset generation settings. Bump GENERATOR_VERSION whenever rendering, grammar or features change.

GENERATOR_VERSION = 3
GENERATOR_SEED = 231
N_TRAIN = 5000
N_VAL = 500

CAPTIONS_FILE = "coco2014_captions.h5"
VOCAB_FILE = "coco2014_vocab.json"
FEATURE_FILES = {"train": "train2014_vgg16_fc7_pca.h5", "val": "val2014_vgg16_fc7_pca.h5"}
URL_FILES = {"train": "train2014_urls.txt", "val": "val2014_urls.txt"}
SCENES_FILE = "scenes.json"
INFO_FILE = "dataset.json"
IMAGES_DIR = "images"


class SceneError(CaptioningError, ValueError):
    """A scene specification with an unknown shape, colour, size, background or an out-of-range value."""


# ----------------------------------------------------------------------------------------------------
# Scene specification


@dataclass(frozen=True)
class SceneObject:
    """One object: shape, colour, size word, centre (x, y) in [0, 1] (y downwards), optional radius.

    radius: fraction of the canvas side; None means the middle of the size's range SIZE_RADII[size].
    tint: small RGB offset (each in [-20, 20]) added to the colour, for variety.
    """

    shape: str
    colour: str
    size: str
    x: float
    y: float
    radius: float | None = None
    tint: tuple[int, int, int] = (0, 0, 0)

    def __post_init__(self):
        if self.shape not in SHAPES:
            raise SceneError(f"Unknown shape {self.shape!r}; choose one of {', '.join(SHAPES)}.")
        if self.colour not in COLOURS:
            raise SceneError(f"Unknown colour {self.colour!r}; choose one of {', '.join(COLOURS)}.")
        if self.size not in SIZES:
            raise SceneError(f"Unknown size {self.size!r}; choose one of {', '.join(SIZES)}.")
        for name in ("x", "y"):
            value = getattr(self, name)
            if not (0.0 <= float(value) <= 1.0):
                raise SceneError(f"Object position {name}={value} is outside [0, 1]; positions are fractions of the image.")
        if self.radius is not None:
            low, high = SIZE_RADII[self.size]
            if not (low - 1e-9 <= float(self.radius) <= high + 1e-9):
                raise SceneError(
                    f"radius={self.radius} does not fit size {self.size!r}; use a value in [{low}, {high}] or radius=None."
                )
        if len(self.tint) != 3 or any(abs(int(t)) > 20 for t in self.tint):
            raise SceneError(f"tint={self.tint!r} must be three integers in [-20, 20].")

    @property
    def r(self) -> float:
        """The radius actually used (fraction of the canvas side)."""
        if self.radius is not None:
            return float(self.radius)
        low, high = SIZE_RADII[self.size]
        return (low + high) / 2

    @property
    def rgb(self) -> tuple[int, int, int]:
        """Fill colour after the tint, as 0..255 integers."""
        return tuple(min(255, max(0, int(c) + int(t))) for c, t in zip(COLOURS[self.colour], self.tint, strict=True))

    def name(self, with_size: bool = False) -> str:
        """'red circle' or 'small red circle'."""
        return f"{self.size} {self.colour} {self.shape}" if with_size else f"{self.colour} {self.shape}"


@dataclass(frozen=True)
class Scene:
    """A scene: 1 to 3 objects on a background (a BACKGROUNDS name) with a texture (a TEXTURES name)."""

    objects: tuple[SceneObject, ...]
    background: str = "white"
    texture: str = "plain"

    def __post_init__(self):
        object.__setattr__(self, "objects", tuple(self.objects))
        if not 1 <= len(self.objects) <= 3:
            raise SceneError(f"A scene has 1 to 3 objects, got {len(self.objects)}.")
        if not all(isinstance(o, SceneObject) for o in self.objects):
            raise SceneError("Scene.objects must be SceneObject instances.")
        if self.background not in BACKGROUNDS:
            raise SceneError(f"Unknown background {self.background!r}; choose one of {', '.join(BACKGROUNDS)}.")
        if self.texture not in TEXTURES:
            raise SceneError(f"Unknown texture {self.texture!r}; choose one of {', '.join(TEXTURES)}.")

    def to_dict(self) -> dict:
        """A JSON-ready dict (inverse of Scene.from_dict)."""
        return {
            "background": self.background,
            "texture": self.texture,
            "objects": [
                {"shape": o.shape, "colour": o.colour, "size": o.size, "x": o.x, "y": o.y, "radius": o.radius,
                 "tint": list(o.tint)}
                for o in self.objects
            ],
        }

    @classmethod
    def from_dict(cls, d: dict) -> Scene:
        """Build a Scene from Scene.to_dict output."""
        try:
            objects = tuple(SceneObject(**{**o, "tint": tuple(o.get("tint", (0, 0, 0)))}) for o in d["objects"])
            return cls(objects=objects, background=d.get("background", "white"), texture=d.get("texture", "plain"))
        except (KeyError, TypeError) as exc:
            raise SceneError(f"Malformed scene description {d!r}: {exc}.") from exc


def _fits(obj_xy_r, others) -> bool:
    x, y, r = obj_xy_r
    for ox, oy, orr in others:
        if np.hypot(x - ox, y - oy) < _BOUND * (r + orr) + 0.04:
            return False
    return True


def random_scene(rng: np.random.Generator, n_objects: int | None = None) -> Scene:
    """A random scene: 1-3 non-overlapping objects, distinct (colour, shape) pairs, random background.

    rng: a np.random.Generator (same state, same scene). n_objects: force the count (1, 2 or 3).
    """
    if n_objects is None:
        n_objects = int(rng.choice([1, 2, 3], p=[0.25, 0.4, 0.35]))
    if n_objects not in (1, 2, 3):
        raise SceneError(f"n_objects must be 1, 2 or 3, got {n_objects}.")
    colours, shapes = list(COLOURS), list(SHAPES)
    while True:
        pairs: list[tuple[str, str]] = []
        while len(pairs) < n_objects:
            pair = (colours[int(rng.integers(len(colours)))], shapes[int(rng.integers(len(shapes)))])
            if pair not in pairs:
                pairs.append(pair)
        sizes = [SIZES[int(rng.integers(2))] for _ in range(n_objects)]
        placed: list[tuple[float, float, float]] = []
        for size in sizes:
            low, high = SIZE_RADII[size]
            r = float(rng.uniform(low, high))
            margin = _BOUND * r + 0.02
            for _ in range(60):
                x, y = (float(v) for v in rng.uniform(margin, 1 - margin, 2))
                if _fits((x, y, r), placed):
                    placed.append((x, y, r))
                    break
            else:
                break
        if len(placed) == n_objects:
            break
    objects = tuple(
        SceneObject(
            shape=shape,
            colour=colour,
            size=size,
            x=round(x, 4),
            y=round(y, 4),
            radius=round(min(max(r, SIZE_RADII[size][0]), SIZE_RADII[size][1]), 4),
            tint=tuple(int(t) for t in rng.integers(-12, 13, 3)),
        )
        for (colour, shape), size, (x, y, r) in zip(pairs, sizes, placed, strict=True)
    )
    background = list(BACKGROUNDS)[int(rng.integers(len(BACKGROUNDS)))]
    texture = TEXTURES[int(rng.choice(len(TEXTURES), p=[0.4, 0.15, 0.15, 0.15, 0.15]))]
    return Scene(objects=objects, background=background, texture=texture)


# ----------------------------------------------------------------------------------------------------
# Rendering


@lru_cache(maxsize=64)
def _background(background: str, texture: str, size: int) -> Image.Image:
    """The background image (size x size); cached, callers copy it before drawing."""
    base = np.array(BACKGROUNDS[background], dtype=np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    shade = np.zeros((size, size), np.float32)
    if texture == "stripes":
        shade = -5.0 * (((xx + yy) * size / 10.0) % 1.0 < 0.35)
    elif texture == "grid":
        shade = -6.0 * ((((xx * size) % 16) < 1.0) | (((yy * size) % 16) < 1.0))
    elif texture == "gradient":
        shade = 10.0 * (yy - 0.5)
    elif texture == "dots":
        shade = -6.0 * ((((xx * size) % 12) < 2.0) & (((yy * size) % 12) < 2.0))
    img = base[None, None, :] + shade[:, :, None]
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def _polygon(obj: SceneObject, scale: float) -> list[tuple[float, float]] | None:
    cx, cy, r = obj.x * scale, obj.y * scale, obj.r * scale
    if obj.shape == "square":
        h = 0.86 * r
        return [(cx - h, cy - h), (cx + h, cy - h), (cx + h, cy + h), (cx - h, cy + h)]
    if obj.shape == "triangle":
        R = 1.12 * r  # circumradius; centroid at the centre, pointing up
        return [(cx + R * np.cos(a), cy - R * np.sin(a)) for a in np.deg2rad([90, 210, 330])]
    if obj.shape == "star":
        outer, inner = 1.12 * r, 0.47 * r
        angles = np.deg2rad(90 + 36 * np.arange(10))
        radii = np.where(np.arange(10) % 2 == 0, outer, inner)
        return [(cx + q * np.cos(a), cy - q * np.sin(a)) for q, a in zip(radii, angles, strict=True)]
    if obj.shape == "cross":
        L, w = 0.98 * r, 0.36 * r
        pts = [(-w, -L), (w, -L), (w, -w), (L, -w), (L, w), (w, w), (w, L), (-w, L), (-w, w), (-L, w), (-L, -w), (-w, -w)]
        return [(cx + px, cy + py) for px, py in pts]
    return None


def render_scene(scene: Scene, size: int = IMAGE_SIZE) -> np.ndarray:
    """Draw a scene with Pillow (2x supersampled, so edges are smooth).

    Returns: (size, size, 3) uint8 RGB image. The dataset uses size=IMAGE_SIZE (128).
    """
    size = int(size)
    if not 16 <= size <= 2048:
        raise ShapeError(f"render_scene size={size} must be between 16 and 2048 pixels.")
    big = 2 * size
    canvas = _background(scene.background, scene.texture, big).copy()
    draw = ImageDraw.Draw(canvas)
    for obj in scene.objects:
        poly = _polygon(obj, big)
        if poly is None:  # circle
            cx, cy, r = obj.x * big, obj.y * big, obj.r * big
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=obj.rgb)
        else:
            draw.polygon(poly, fill=obj.rgb)
    return np.asarray(canvas.reduce(2), dtype=np.uint8).copy()


# ----------------------------------------------------------------------------------------------------
# Geometry: relations and positions

RELATIONS = ("left", "right", "above", "below")
_INVERSE = {"left": "right", "right": "left", "above": "below", "below": "above"}


def relation(a: SceneObject, b: SceneObject) -> str | None:
    """The clear relation of a to b ('left' = a is to the left of b), or None when diagonal/ambiguous."""
    dx, dy = b.x - a.x, b.y - a.y
    if abs(dx) >= CLEAR_RATIO * abs(dy) and abs(dx) >= MIN_SEPARATION:
        return "left" if dx > 0 else "right"
    if abs(dy) >= CLEAR_RATIO * abs(dx) and abs(dy) >= MIN_SEPARATION:
        return "above" if dy > 0 else "below"
    return None


def relation_holds(rel: str, a: SceneObject, b: SceneObject) -> bool:
    """Whether 'a <rel> b' is true of the geometry (lenient: within about 53 degrees of the axis).

    rel: 'left', 'right', 'above', 'below', or 'beside' (left or right).
    """
    dx, dy = b.x - a.x, b.y - a.y
    if rel == "beside":
        return relation_holds("left", a, b) or relation_holds("right", a, b)
    if rel in ("left", "right"):
        d = dx if rel == "left" else -dx
        return d >= MIN_SEPARATION and d >= LENIENT_RATIO * abs(dy)
    if rel in ("above", "below"):
        d = dy if rel == "above" else -dy
        return d >= MIN_SEPARATION and d >= LENIENT_RATIO * abs(dx)
    raise SceneError(f"Unknown relation {rel!r}; use one of {', '.join((*RELATIONS, 'beside'))}.")


def _region(v: float) -> str | None:
    """'low' (< 0.38), 'mid' (0.42..0.58), 'high' (> 0.62), or None near the borders between them."""
    if v < 0.38:
        return "low"
    if v > 0.62:
        return "high"
    if 0.42 <= v <= 0.58:
        return "mid"
    return None


def position_holds(words: Sequence[str], obj: SceneObject) -> bool:
    """Whether a position phrase's words ('top', 'left', 'middle', ...) are true of obj (lenient)."""
    ok = True
    for w in words:
        if w == "left":
            ok &= obj.x < 0.45
        elif w == "right":
            ok &= obj.x > 0.55
        elif w == "top":
            ok &= obj.y < 0.45
        elif w == "bottom":
            ok &= obj.y > 0.55
        elif w in ("middle", "center"):
            ok &= 0.3 <= obj.x <= 0.7 and 0.3 <= obj.y <= 0.7
    return bool(ok)


def _position_phrases(obj: SceneObject) -> list[str]:
    h, v = _region(obj.x), _region(obj.y)
    hw = {"low": "left", "high": "right"}.get(h)
    vw = {"low": "top", "high": "bottom"}.get(v)
    out = []
    if h == "mid" and v == "mid":
        out += ["in the middle", "in the center"]
    if hw and vw:
        out += [f"in the {vw} {hw} corner", f"at the {vw} {hw}"]
    if hw:
        out.append(f"on the {hw}")
    if vw:
        out.append(f"at the {vw}")
    return out


# ----------------------------------------------------------------------------------------------------
# Captions


def _article(next_word: str) -> str:
    return "an" if next_word[0] in "aeiou" else "a"


def _np(obj: SceneObject, rng: np.random.Generator, with_size: bool) -> str:
    words = []
    if with_size:
        choices = SIZE_WORDS[obj.size]
        words.append(choices[int(rng.integers(len(choices)))])
    words += [obj.colour, obj.shape]
    return f"{_article(words[0])} {' '.join(words)}"


def _rel_phrase(rel: str, rng: np.random.Generator) -> str:
    options = {
        "left": ("to the left of", "to the left of", "left of"),
        "right": ("to the right of", "to the right of", "right of"),
        "above": ("above", "above", "over"),
        "below": ("below", "under", "beneath"),
    }[rel]
    return options[int(rng.integers(len(options)))]


def _pick(rng: np.random.Generator, options: Sequence):
    return options[int(rng.integers(len(options)))]


def _candidates_one(o: SceneObject, rng) -> list[str]:
    s = bool(rng.random() < 0.75)
    out = [
        _np(o, rng, s),
        f"there is {_np(o, rng, s)}",
        f"{_pick(rng, ('a single', 'one'))} {_pick(rng, SIZE_WORDS[o.size])} {o.colour} {o.shape}",
        f"a picture of {_np(o, rng, s)}",
        f"the image shows {_np(o, rng, s)}",
        f"only one shape: {_np(o, rng, True)}",
    ]
    phrases = _position_phrases(o)
    if phrases:
        out.append(f"{_np(o, rng, bool(rng.random() < 0.4))} {_pick(rng, phrases)}")
        out.append(f"there is {_np(o, rng, bool(rng.random() < 0.4))} {_pick(rng, phrases)}")
    return out


def _candidates_two(a: SceneObject, b: SceneObject, rng) -> list[str]:
    s = bool(rng.random() < 0.5)
    out = []
    if rng.random() < 0.5:
        a, b = b, a
    rel = relation(a, b)
    if rel is not None:
        out.append(f"{_np(a, rng, s)} {_rel_phrase(rel, rng)} {_np(b, rng, s)}")
        out.append(f"there is {_np(b, rng, s)} {_rel_phrase(_INVERSE[rel], rng)} {_np(a, rng, s)}")
        out.append(f"{_np(b, rng, not s)} {_rel_phrase(_INVERSE[rel], rng)} {_np(a, rng, not s)}")
        if rel in ("left", "right") and rng.random() < 0.3:
            out.append(f"{_np(a, rng, s)} next to {_np(b, rng, s)}")
    first, second = (a, b) if rng.random() < 0.5 else (b, a)
    out += [
        f"two shapes: {_np(first, rng, s)} and {_np(second, rng, s)}",
        f"{_np(second, rng, s)} and {_np(first, rng, s)}",
        f"a picture of {_np(first, rng, s)} and {_np(second, rng, s)}",
        f"there are two shapes: {_np(second, rng, s)} and {_np(first, rng, not s)}",
    ]
    if a.shape == b.shape:
        out.append(f"two {PLURALS[a.shape]}: {_article(first.colour)} {first.colour} one and {_article(second.colour)} {second.colour} one")
    if a.colour == b.colour:
        out.append(f"two {a.colour} shapes: {_article(first.shape)} {first.shape} and {_article(second.shape)} {second.shape}")
    left, right = (a, b) if a.x < b.x else (b, a)
    if _region(left.x) == "low" and _region(right.x) == "high":
        out.append(f"{_np(left, rng, s)} on the left and {_np(right, rng, s)} on the right")
    top, bottom = (a, b) if a.y < b.y else (b, a)
    if _region(top.y) == "low" and _region(bottom.y) == "high":
        out.append(f"{_np(top, rng, s)} at the top and {_np(bottom, rng, s)} at the bottom")
    return out


def _candidates_three(objs: Sequence[SceneObject], rng) -> list[str]:
    out = []
    order = [objs[i] for i in rng.permutation(3)]
    s = bool(rng.random() < 0.3)
    a, b, c = (_np(o, rng, s) for o in order)
    out += [
        f"three shapes: {a}, {b} and {c}",
        f"three shapes: {a}, {b}, {c}",
        f"{a}, {b} and {c}",
        f"there are three shapes: {a}, {b} and {c}",
        f"a picture of {a}, {b} and {c}",
    ]
    # 'P rel Q and R' can also be read as 'P rel (Q and R)', '(R and P) rel Q' as 'R and P both rel Q':
    # use these templates only when both readings are true.
    for p in objs:
        for q in objs:
            if p is q or relation(p, q) is None:
                continue
            rel = relation(p, q)
            r = next(o for o in objs if o is not p and o is not q)
            if relation_holds(rel, p, r):
                out.append(f"{_np(p, rng, s)} {_rel_phrase(rel, rng)} {_np(q, rng, s)} and {_np(r, rng, s)}")
            if relation_holds(rel, r, q):
                out.append(f"{_np(r, rng, s)} and {_np(p, rng, s)} {_rel_phrase(rel, rng)} {_np(q, rng, s)}")
    by_x = sorted(objs, key=lambda o: o.x)
    if all(by_x[i + 1].x - by_x[i].x >= 0.12 for i in range(2)):
        out.append("from left to right: " + ", ".join(_np(o, rng, s) for o in by_x[:2]) + f" and {_np(by_x[2], rng, s)}")
    by_y = sorted(objs, key=lambda o: o.y)
    if all(by_y[i + 1].y - by_y[i].y >= 0.12 for i in range(2)):
        out.append("from top to bottom: " + ", ".join(_np(o, rng, s) for o in by_y[:2]) + f" and {_np(by_y[2], rng, s)}")
    return out


def _candidates(scene: Scene, rng: np.random.Generator) -> list[str]:
    objs = scene.objects
    if len(objs) == 1:
        return _candidates_one(objs[0], rng)
    if len(objs) == 2:
        return _candidates_two(objs[0], objs[1], rng)
    return _candidates_three(objs, rng)


def tokenize(caption: str) -> list[str]:
    """Lower-case words of a caption, punctuation dropped ('two shapes: a red circle' -> 6 words)."""
    for ch in ":,.;!?":
        caption = caption.replace(ch, " ")
    return caption.lower().split()


def describe_scene(scene: Scene, rng: np.random.Generator, n: int = CAPTIONS_PER_IMAGE) -> list[str]:
    """n (default 5) different captions of the scene, each at most CAPTION_WORDS words, all true to it.

    rng: a np.random.Generator choosing templates and paraphrases (same state, same captions).
    """
    chosen: list[str] = []
    for _ in range(20):
        cands = [c for c in _candidates(scene, rng) if len(tokenize(c)) <= CAPTION_WORDS and c not in chosen]
        rng.shuffle(cands)
        for c in cands:
            if len(chosen) == n:
                break
            if c not in chosen:
                chosen.append(c)
        if len(chosen) == n:
            return chosen
    # Scenes with few paraphrases: repeat captions (never happens with n <= 5 for generated scenes).
    while len(chosen) < n:
        chosen.append(chosen[len(chosen) % max(1, len(chosen))])
    return chosen


def vocabulary_words() -> list[str]:
    """Every word the grammar can produce, sorted (fixed, independent of any generated data)."""
    words = set(COLOURS) | set(SHAPES) | set(PLURALS.values())
    words |= {w for options in SIZE_WORDS.values() for w in options}
    words |= set(
        "a an the there is are two three one single only shape shapes picture of image shows and "
        "to left right above over below under beneath next from top bottom middle center corner in at on".split()
    )
    return sorted(words)


def build_vocab() -> tuple[list[str], dict[str, int]]:
    """(idx_to_word, word_to_idx): <NULL>=0, <START>=1, <END>=2, <UNK>=3, then vocabulary_words()."""
    idx_to_word = list(SPECIAL_TOKENS) + vocabulary_words()
    return idx_to_word, {w: i for i, w in enumerate(idx_to_word)}


def encode_caption(caption: str, word_to_idx: dict[str, int], length: int = CAPTION_LENGTH) -> np.ndarray:
    """Token ids (length,) int32: <START> words <END> then <NULL> padding; unknown words -> <UNK>.

    Raises VocabularyError if the caption has more than length - 2 words.
    """
    words = tokenize(caption)
    if len(words) > length - 2:
        raise VocabularyError(f"Caption {caption!r} has {len(words)} words; at most {length - 2} fit in {length} tokens.")
    unk = word_to_idx["<UNK>"]
    ids = [word_to_idx["<START>"]] + [word_to_idx.get(w, unk) for w in words] + [word_to_idx["<END>"]]
    out = np.full(length, word_to_idx["<NULL>"], dtype=np.int32)
    out[: len(ids)] = ids
    return out


# ----------------------------------------------------------------------------------------------------
# Parsing and checking captions against a scene

_SIZE_LOOKUP = {w: size for size, options in SIZE_WORDS.items() for w in options}
_PLURAL_LOOKUP = {p: s for s, p in PLURALS.items()}
_COUNTS = {"one": 1, "single": 1, "two": 2, "three": 3}
_REL_PATTERNS = (
    (("to", "the", "left", "of"), "left"),
    (("to", "the", "right", "of"), "right"),
    (("left", "of"), "left"),
    (("right", "of"), "right"),
    (("next", "to"), "beside"),
    (("above",), "above"),
    (("over",), "above"),
    (("below",), "below"),
    (("under",), "below"),
    (("beneath",), "below"),
)
_POSITION_WORDS = {"top", "bottom", "left", "right", "middle", "center", "corner"}


@dataclass
class Mention:
    """An object named in a caption: colour/shape/size (None when the caption did not say)."""

    colour: str | None
    shape: str | None
    size: str | None = None
    position: tuple[str, ...] = ()


@dataclass
class ParsedCaption:
    """What a caption claims: mentions, relations (i, rel, j) between mentions, counts, orderings."""

    mentions: list[Mention] = field(default_factory=list)
    relations: list[tuple[int, str, int]] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    orders: list[tuple[str, list[int]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def parse_caption(caption: str | Sequence[str]) -> ParsedCaption:
    """Parse a caption of the scene grammar (a string or a list of words; special tokens are ignored)."""
    words = tokenize(caption) if isinstance(caption, str) else [w for w in caption if w not in SPECIAL_TOKENS]
    out = ParsedCaption()
    size = colour = None
    group: dict[str, str | None] = {"colour": None, "shape": None, "size": None}
    pending_rel: tuple[int, str] | None = None
    order: tuple[str, list[int]] | None = None
    i, n = 0, len(words)

    def add_mention(shape_word: str | None):
        nonlocal size, colour, pending_rel
        m = Mention(colour=colour or group["colour"], shape=shape_word or group["shape"], size=size or group["size"])
        out.mentions.append(m)
        idx = len(out.mentions) - 1
        if pending_rel is not None:
            out.relations.append((pending_rel[0], pending_rel[1], idx))
            pending_rel = None
        if order is not None:
            order[1].append(idx)
        size = colour = None

    while i < n:
        w = words[i]
        rest = tuple(words[i:])
        rel = next(((pat, r) for pat, r in _REL_PATTERNS if rest[: len(pat)] == pat), None)
        if rel is not None:
            if not out.mentions:
                out.problems.append(f"relation '{' '.join(rel[0])}' without an object before it")
            else:
                pending_rel = (len(out.mentions) - 1, rel[1])
            i += len(rel[0])
            continue
        if rest[:4] in (("from", "left", "to", "right"), ("from", "top", "to", "bottom")):
            order = ("x" if rest[1] == "left" else "y", [])
            out.orders.append(order)
            i += 4
            continue
        if w in ("on", "at", "in") and i + 2 < n and words[i + 1] == "the" and words[i + 2] in _POSITION_WORDS:
            j = i + 2
            pos = []
            while j < n and words[j] in _POSITION_WORDS:
                pos.append(words[j])
                j += 1
            if out.mentions:
                m = out.mentions[-1]
                m.position = m.position + tuple(p for p in pos if p != "corner")
            else:
                out.problems.append(f"position '{' '.join(pos)}' without an object before it")
            i = j
            continue
        if w in _COUNTS and not (w == "one" and (colour or size)):
            # 'two red shapes', 'three circles', 'only one shape', 'a single red circle'
            j = i + 1
            adj_colour = adj_size = None
            while j < n and (words[j] in COLOURS or words[j] in _SIZE_LOOKUP):
                if words[j] in COLOURS:
                    adj_colour = words[j]
                else:
                    adj_size = _SIZE_LOOKUP[words[j]]
                j += 1
            if j < n and (words[j] in ("shapes", "shape") or words[j] in _PLURAL_LOOKUP):
                out.counts.append(_COUNTS[w])
                group = {"colour": adj_colour, "size": adj_size, "shape": _PLURAL_LOOKUP.get(words[j])}
                i = j + 1
                continue
            i += 1  # 'one'/'single' used as a determiner
            continue
        if w in COLOURS:
            colour = w
        elif w in _SIZE_LOOKUP:
            size = _SIZE_LOOKUP[w]
        elif w in SHAPES:
            add_mention(w)
        elif w == "one":
            add_mention(None)
        elif w in _PLURAL_LOOKUP:
            out.problems.append(f"'{w}' without a number before it")
        i += 1
    if pending_rel is not None:
        out.problems.append("a relation without an object after it")
    if colour or size:
        out.problems.append("adjectives without a shape after them")
    return out


@dataclass
class CaptionCheck:
    """Result of check_caption: ok and, when not ok, the problems in words."""

    ok: bool
    problems: list[str]


def check_caption(caption: str | Sequence[str], scene: Scene, check_sizes: bool = False) -> CaptionCheck:
    """Whether a caption names every object's shape and colour correctly (each exactly once, nothing
    else), and whether every relation, position, count and ordering it states is true of the scene.

    check_sizes: also require stated size words to be right.
    """
    parsed = parse_caption(caption)
    problems = list(parsed.problems)
    matched: list[SceneObject | None] = []
    for m in parsed.mentions:
        if m.colour is None or m.shape is None:
            problems.append(f"names a {m.colour or ''} {m.shape or 'shape'} without its colour and shape".replace("  ", " "))
            matched.append(None)
            continue
        hits = [o for o in scene.objects if o.colour == m.colour and o.shape == m.shape]
        if not hits:
            problems.append(f"names a {m.colour} {m.shape}, which is not in the image")
            matched.append(None)
            continue
        obj = hits[0]
        if obj in matched:
            problems.append(f"names the {obj.name()} twice")
        matched.append(obj)
        if check_sizes and m.size is not None and m.size != obj.size:
            problems.append(f"calls the {obj.size} {obj.name()} {m.size}")
        if m.position and not position_holds(m.position, obj):
            problems.append(f"says the {obj.name()} is at the {' '.join(m.position)}, which is not true")
    for obj in scene.objects:
        if obj not in matched:
            problems.append(f"does not name the {obj.name()}")
    for count in parsed.counts:
        if count != len(scene.objects):
            problems.append(f"says {count} shape(s), the image has {len(scene.objects)}")
    for i, rel, j in parsed.relations:
        a, b = matched[i], matched[j]
        if a is not None and b is not None and not relation_holds(rel, a, b):
            problems.append(f"says the {a.name()} is {rel} the {b.name()}, which is not true")
    for axis, idxs in parsed.orders:
        objs = [matched[k] for k in idxs]
        if all(o is not None for o in objs):
            coords = [o.x if axis == "x" else o.y for o in objs]
            if any(c2 - c1 < MIN_SEPARATION for c1, c2 in zip(coords, coords[1:], strict=False)):
                problems.append("lists the shapes in the wrong order")
    return CaptionCheck(ok=not problems, problems=problems)


# ----------------------------------------------------------------------------------------------------
# The dataset on disk

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
        "counts": {"train_images": n_train, "val_images": n_val,
                   "train_captions": n_train * CAPTIONS_PER_IMAGE, "val_captions": n_val * CAPTIONS_PER_IMAGE},
    }


def _required_files() -> list[str]:
    return [CAPTIONS_FILE, VOCAB_FILE, *FEATURE_FILES.values(), *URL_FILES.values(), SCENES_FILE, INFO_FILE]


def is_complete(folder: Path, n_train: int | None = None, n_val: int | None = None, seed: int | None = None) -> bool:
    """Whether folder holds a finished dataset of the current generator version, counts and seed,
    written for this very folder (its image paths point inside it)."""
    folder = Path(folder)
    try:
        info = json.loads((folder / INFO_FILE).read_text())
    except (OSError, ValueError):
        return False
    expected = _expected_info(N_TRAIN if n_train is None else n_train, N_VAL if n_val is None else n_val,
                              GENERATOR_SEED if seed is None else seed)
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
    from core.scene_features import extract_features

    batch = np.empty((len(scenes), IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    for k, (scene, path) in enumerate(zip(scenes, files, strict=True)):
        batch[k] = render_scene(scene)
        Image.fromarray(batch[k]).save(path, format="PNG", compress_level=1)
    return extract_features(batch)


def _generate_split(split: str, n_images: int, seed_seq: np.random.SeedSequence, tmp: Path, final: Path,
                    word_to_idx: dict[str, int], progress: Progress, start: float, span: float):
    """Scenes and captions drawn sequentially (one generator: deterministic), rendering and features in
    two threads by chunks (each chunk's result depends only on its scenes: deterministic too)."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(seed_seq)
    scenes = [random_scene(rng) for _ in range(n_images)]
    captions = np.stack([encode_caption(text, word_to_idx) for scene in scenes for text in describe_scene(scene, rng)])
    image_idxs = np.repeat(np.arange(n_images, dtype=np.int32), CAPTIONS_PER_IMAGE)
    names = [f"{split}_{i:06d}.png" for i in range(n_images)]
    urls = [str(final / IMAGES_DIR / name) for name in names]
    features = np.empty((n_images, 512), np.float32)
    chunk = 250
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            lo: pool.submit(_render_chunk, scenes[lo : lo + chunk], [tmp / IMAGES_DIR / nm for nm in names[lo : lo + chunk]])
            for lo in range(0, n_images, chunk)
        }
        for lo, future in futures.items():
            features[lo : lo + chunk] = future.result()
            hi = min(n_images, lo + chunk)
            _report(progress, start + span * hi / n_images, f"Rendering {split} scenes: {hi}/{n_images}")
    return [s.to_dict() for s in scenes], captions.astype(np.int32), image_idxs, features, urls


def generate_dataset(folder: Path, final: Path | None = None, n_train: int | None = None, n_val: int | None = None,
                     seed: int | None = None, progress: Progress = None) -> Path:
    """Write the whole dataset into folder (which must be empty or absent), image paths pointing into
    `final` (default: folder). Counts and seed default to N_TRAIN, N_VAL, GENERATOR_SEED.
    Deterministic: same seed and counts, same files' contents."""
    import h5py

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
        results[split] = _generate_split(split, n_images, seeds[split], folder, final, word_to_idx, progress, done, span)
        done += span
    _report(progress, 0.96, "Writing the caption, feature and vocabulary files")
    with h5py.File(folder / CAPTIONS_FILE, "w") as f:
        for split in ("train", "val"):
            f.create_dataset(f"{split}_captions", data=results[split][1])
            f.create_dataset(f"{split}_image_idxs", data=results[split][2])
    for split in ("train", "val"):
        with h5py.File(folder / FEATURE_FILES[split], "w") as f:
            f.create_dataset("features", data=results[split][3])
        (folder / URL_FILES[split]).write_text("\n".join(results[split][4]) + "\n")
    (folder / VOCAB_FILE).write_text(json.dumps({"idx_to_word": idx_to_word, "word_to_idx": word_to_idx}))
    (folder / SCENES_FILE).write_text(
        json.dumps({split: results[split][0] for split in ("train", "val")}, separators=(",", ":"))
    )
    info = {**_expected_info(n_train, n_val, seed), "folder": str(final.resolve()), "vocab_size": len(idx_to_word),
            "feature_extractor": "core.scene_features.extract_features"}
    (folder / INFO_FILE).write_text(json.dumps(info, indent=1))  # written last
    return folder


def ensure_embedded_dataset(progress: Progress = None) -> Path:
    """The folder of the embedded dataset (core.paths.embedded_dir()), generated on first use.

    progress: optional callable progress(fraction in [0, 1], message). Generation (a few seconds)
    writes into a temporary sibling folder that is renamed into place in one step, so a half-written
    dataset is never picked up; if another process finishes first, its folder is used.
    Raises DataFileError if the folder cannot be written.
    """
    final = paths.embedded_dir().expanduser().resolve()
    if is_complete(final):
        _report(progress, 1.0, "Embedded dataset ready")
        return final
    parent = final.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=parent))
        tmp.chmod(0o755)
    except OSError as exc:
        raise DataFileError(f"Cannot create the embedded dataset under {parent}: {exc}. "
                            f"Set RNN_EXPLAINER_HOME to a writable folder.") from exc
    try:
        t0 = time.perf_counter()
        _report(progress, 0.0, "Generating the embedded dataset of shape scenes: calibrating the feature extractor")
        from core.scene_features import _standardisation

        _standardisation()  # calibrate the feature extractor once, before the worker threads
        _report(progress, 0.05, "Drawing scenes and writing captions")
        generate_dataset(tmp, final=final, progress=progress)
        _install(tmp, final)
        _report(progress, 1.0, f"Embedded dataset ready ({time.perf_counter() - t0:.1f} s)")
    except OSError as exc:
        raise DataFileError(f"Could not write the embedded dataset to {final}: {exc}. "
                            f"Check free disk space and permissions, or set RNN_EXPLAINER_HOME.") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    if not is_complete(final):
        raise DataFileError(f"The embedded dataset in {final} is incomplete after generation; delete the folder and retry.")
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
            trash = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
            try:
                os.rename(final, trash)
            except OSError:
                pass  # someone else moved or replaced it; re-check
            else:
                shutil.rmtree(trash, ignore_errors=True)
    if not is_complete(final):
        raise DataFileError(f"Could not move the generated dataset into {final}; delete that folder and retry.")


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
