"""Reading a caption of the scene grammar back (what it names, relations, positions, counts, orders) and
checking it against a Scene: the ✅/❌ of the gallery and the scene accuracy of a model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from core.data.coco_files import SPECIAL_TOKENS
from core.data.scenes.grammar import tokenize
from core.data.scenes.spec import (
    COLOURS,
    MIN_SEPARATION,
    PLURALS,
    SHAPES,
    SIZE_WORDS,
    Scene,
    SceneObject,
    position_holds,
    relation_holds,
)

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
# How a problem names a relation of spec.RELATIONS: "the square is left of the circle".
RELATION_PHRASES = {"left": "left of", "right": "right of", "above": "above", "below": "below"}
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
        m = Mention(
            colour=colour or group["colour"], shape=shape_word or group["shape"], size=size or group["size"]
        )
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
        if (
            w in ("on", "at", "in")
            and i + 2 < n
            and words[i + 1] == "the"
            and words[i + 2] in _POSITION_WORDS
        ):
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


def _with_article(words: str) -> str:
    """ "an orange triangle", "a red circle": the article its first sound takes (every word here is plain)."""
    return f"{'an' if words[:1] and words[0] in 'aeiou' else 'a'} {words}"


def check_caption(caption: str | Sequence[str], scene: Scene) -> CaptionCheck:
    """Whether a caption names every object's shape and colour correctly (each exactly once, nothing
    else), and whether every size, relation, position, count and ordering it states is true of the scene."""
    parsed = parse_caption(caption)
    problems = list(parsed.problems)
    matched: list[SceneObject | None] = []
    for m in parsed.mentions:
        if m.colour is None or m.shape is None:
            if m.shape is not None:
                problems.append(f"names {_with_article(m.shape)} without its colour")
            elif m.colour is not None:
                problems.append(f"names the colour {m.colour} without a shape")
            else:
                problems.append("mentions a shape without its colour or shape")
            matched.append(None)
            continue
        hits = [o for o in scene.objects if o.colour == m.colour and o.shape == m.shape]
        if not hits:
            problems.append(f"names {_with_article(f'{m.colour} {m.shape}')}, which is not in the image")
            matched.append(None)
            continue
        obj = hits[0]
        if obj in matched:
            problems.append(f"names the {obj.name()} twice")
        matched.append(obj)
        if m.size is not None and m.size != obj.size:
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
            problems.append(
                f"says the {a.name()} is {RELATION_PHRASES[rel]} the {b.name()}, which is not true"
            )
    for axis, idxs in parsed.orders:
        objs = [matched[k] for k in idxs]
        if all(o is not None for o in objs):
            coords = [o.x if axis == "x" else o.y for o in objs]
            if any(c2 - c1 < MIN_SEPARATION for c1, c2 in zip(coords, coords[1:], strict=False)):
                problems.append("lists the shapes in the wrong order")
    return CaptionCheck(ok=not problems, problems=problems)
