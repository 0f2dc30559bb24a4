"""The active dataset, shared read-only by every browser session, and the write-once slots behind it.

Long work (generating the embedded dataset, training a readable model) shows a ``st.progress`` bar in the
session that triggered it. That is why the work is not done inside an ``st.cache_resource`` function
(Streamlit would replay the progress bar on every later cache hit): the cached object is a write-once
slot, filled under a lock by the first session that needs it, while any other session waits for the
same result.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass

import numpy as np
import streamlit as st

from core import runtime
from core.engine.rnn import CaptioningRNN


@dataclass
class Slot:
    """A value computed once, on first request, shared read-only by every session."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    value: object = None


def fill_once(slot: Slot, compute: Callable[[Callable[[float, str], None]], object], start_text: str):
    """Compute the slot's value once, with a progress bar in the calling session; return it."""
    if slot.value is not None:
        return slot.value
    with slot.lock:
        if slot.value is None:
            bar = st.progress(0.0, text=start_text)

            def progress(fraction: float, message: str) -> None:
                bar.progress(min(max(float(fraction), 0.0), 1.0), text=message)

            try:
                slot.value = compute(progress)
            finally:
                bar.empty()
                runtime.release_free_memory()  # what the work freed, kept by malloc (core.runtime)
    return slot.value


def freeze(value):
    """Make every NumPy array inside `value` (dicts, lists, dataclasses, models) read-only; returns it."""
    if isinstance(value, np.ndarray):
        value.setflags(write=False)
    elif isinstance(value, dict):
        for item in value.values():
            freeze(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            freeze(item)
    elif isinstance(value, CaptioningRNN):
        freeze(value.params)
    elif is_dataclass(value):
        for f in fields(value):
            freeze(getattr(value, f.name))
    return value


@st.cache_resource(show_spinner=False)
def _dataset_slot() -> Slot:
    return Slot()


def get_dataset() -> dict:
    """The active dataset dict of ``core.data.load_coco_data()`` (real COCO if present, else embedded scenes).

    Loaded once per server process; the first call generates the embedded dataset if needed (in a process of
    its own, 6-15 s, with a progress bar). Arrays are read-only: copy before changing anything.
    """
    from core.data.coco_utils import coco_files_present, load_coco_data
    from core.data.scenes.generate import ensure_embedded_dataset_in_subprocess

    def load(progress):
        if not coco_files_present():
            # Generated in a process of its own: the server keeps none of the generation's leftover memory.
            ensure_embedded_dataset_in_subprocess(progress)
        return freeze(load_coco_data(progress=progress))

    return fill_once(_dataset_slot(), load, "Loading the dataset…")


def example(split: str, index: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Caption `index` of `split`: (caption (T + 1,) ids, feature (D,), image url or path)."""
    data = get_dataset()
    row = int(data[f"{split}_image_idxs"][index])
    return data[f"{split}_captions"][index], data[f"{split}_features"][row], str(data[f"{split}_urls"][row])
