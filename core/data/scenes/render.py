"""Drawing a Scene with Pillow: the images of the embedded dataset."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from core.data.scenes.spec import BACKGROUNDS, IMAGE_SIZE, Scene, SceneObject
from core.errors import ShapeError


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
        pts = [
            (-w, -L),
            (w, -L),
            (w, -w),
            (L, -w),
            (L, w),
            (w, w),
            (w, L),
            (-w, L),
            (-w, w),
            (-L, w),
            (-L, -w),
            (-w, -w),
        ]
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
