"""The embedded dataset's world: shapes, colours, sizes and backgrounds, the Scene that places 1 to 3
objects, random scenes, and the geometry of relations ('left of', 'above') and positions ('at the top').

Scenes are in the spirit of ShapeWorld. Coordinates: an object's centre (x, y) is a fraction of the canvas,
x to the right and y downwards (image coordinates), both in [0, 1]; its radius is a fraction of the side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import SceneError

SHAPES = ("circle", "square", "triangle", "star", "cross")
PLURALS = {
    "circle": "circles",
    "square": "squares",
    "triangle": "triangles",
    "star": "stars",
    "cross": "crosses",
}
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

# Geometry thresholds (fractions of the canvas). A caption generated here states a relation only when
# it is clear (dominant axis at least CLEAR_RATIO times the other one); the checker accepts a relation
# when it is plausible (ratio at least LENIENT_RATIO), so generated captions always pass the checker.
CLEAR_RATIO = 1.5
LENIENT_RATIO = 0.75
MIN_SEPARATION = 0.04
_BOUND = 1.12  # bounding-circle radius / nominal radius, over all shapes


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
                raise SceneError(
                    f"Object position {name}={value} is outside [0, 1]; positions are fractions of the image."
                )
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
        return tuple(
            min(255, max(0, int(c) + int(t))) for c, t in zip(COLOURS[self.colour], self.tint, strict=True)
        )

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
            raise SceneError(
                f"Unknown background {self.background!r}; choose one of {', '.join(BACKGROUNDS)}."
            )
        if self.texture not in TEXTURES:
            raise SceneError(f"Unknown texture {self.texture!r}; choose one of {', '.join(TEXTURES)}.")

    def to_dict(self) -> dict:
        """A JSON-ready dict (inverse of Scene.from_dict)."""
        return {
            "background": self.background,
            "texture": self.texture,
            "objects": [
                {
                    "shape": o.shape,
                    "colour": o.colour,
                    "size": o.size,
                    "x": o.x,
                    "y": o.y,
                    "radius": o.radius,
                    "tint": list(o.tint),
                }
                for o in self.objects
            ],
        }

    @classmethod
    def from_dict(cls, d: dict) -> Scene:
        """Build a Scene from Scene.to_dict output."""
        try:
            objects = tuple(
                SceneObject(**{**o, "tint": tuple(o.get("tint", (0, 0, 0)))}) for o in d["objects"]
            )
            return cls(
                objects=objects, background=d.get("background", "white"), texture=d.get("texture", "plain")
            )
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


RELATIONS = ("left", "right", "above", "below")
INVERSE = {"left": "right", "right": "left", "above": "below", "below": "above"}


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


def region(v: float) -> str | None:
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
