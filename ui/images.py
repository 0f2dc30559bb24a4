"""Showing dataset images: local files or URLs, with a placeholder (never an error) when one cannot load."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import streamlit as st

from core.data.image_utils import image_from_url
from core.errors import ImageLoadError
from explainer.escape import MAX_SENTENCE, plain

_PLACEHOLDER_SIZE = 224


def resolve_source(source: str, base_dir=None) -> str:
    """`source` as given when it is a URL or absolute path (or malformed: image_from_url then says so);
    relative paths are taken inside `base_dir`."""
    text = str(source)
    try:
        if urlsplit(text).scheme or base_dir is None or Path(text).is_absolute():
            return text
    except ValueError:  # e.g. "http://[::1/x.jpg"
        return text
    return str(Path(base_dir) / text)


# Failures are cached too (for ten minutes) so an offline server does not wait for a timeout on every rerun.
@st.cache_data(show_spinner=False, max_entries=512, ttl=600)
def load_image(source: str) -> tuple[np.ndarray | None, str | None]:
    """(image (H, W, 3) uint8, None) or (None, reason) for an image URL or path."""
    try:
        return image_from_url(source), None
    except ImageLoadError as exc:
        return None, exc.reason


def placeholder(size: int = _PLACEHOLDER_SIZE) -> np.ndarray:
    """A light grey (size, size, 3) uint8 square with a darker frame, standing in for a missing image."""
    image = np.full((size, size, 3), 232, dtype=np.uint8)
    image[:4], image[-4:], image[:, :4], image[:, -4:] = 200, 200, 200, 200
    return image


def show_image(source: str, caption: str | None = None, base_dir=None, width: int | str = "stretch") -> bool:
    """Show the image at `source` (URL or path, relative paths inside `base_dir`) with `caption`, shown as
    plain text (it usually comes from the data).

    When it cannot be loaded (offline, dead link, not an image, a malformed URL) a grey placeholder is
    shown with the reason as its caption, for this image only. Returns True if the real image was shown.
    """
    image, reason = load_image(resolve_source(source, base_dir))
    caption = plain(caption, MAX_SENTENCE) if caption else None
    if image is None:
        note = f"Image unavailable: {plain(reason)}"
        st.image(placeholder(), caption=f"{caption} — {note}" if caption else note, width=width)
        return False
    st.image(image, caption=caption, width=width)
    return True
