"""Resources shared by every browser session: the dataset, the models, the traces. All read-only.

Long work (generating the embedded dataset, training) shows a ``st.progress`` bar in the session that
triggered it. That is why the work is not done inside an ``st.cache_resource`` function (Streamlit
would replay the progress bar on every later cache hit): the cached object is a write-once slot, filled
under a lock by the first session that needs it, while any other session waits for the same result.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass

import numpy as np
import streamlit as st

from core.errors import CaptioningError
from core.model import CaptioningRNN
from core.readable import READABLE_HIDDEN_DIM, READABLE_WORDVEC_DIM, fresh_model, readable_model
from core.trace import ExampleTrace, trace_example

MODEL_CHOICES = ("fresh", "trained")
SIZE_CHOICES = ("readable", "real")
MODEL_LABELS = {"fresh": "Freshly initialised", "trained": "Trained on this dataset"}
SIZE_LABELS = {
    "readable": f"Readable numbers (W = {READABLE_WORDVEC_DIM}, H = {READABLE_HIDDEN_DIM})",
    "real": "Real sizes",
}
# The notebook's sizes for the captioning RNN (wordvec_dim=256, hidden_dim=512).
REAL_WORDVEC_DIM = 256
REAL_HIDDEN_DIM = 512
MODEL_SEED = 0


@dataclass
class _Slot:
    """A value computed once, on first request, shared read-only by every session."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    value: object = None


def _fill(slot: _Slot, compute: Callable[[Callable[[float, str], None]], object], start_text: str):
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
def _dataset_slot() -> _Slot:
    return _Slot()


def get_dataset() -> dict:
    """The active dataset dict of ``core.data.load_coco_data()`` (real COCO if present, else embedded scenes).

    Loaded once per server process; the first call generates the embedded dataset if needed (about 15 s,
    with a progress bar). Arrays are read-only: copy before changing anything.
    """
    from core.data import load_coco_data

    return _fill(
        _dataset_slot(), lambda progress: freeze(load_coco_data(progress=progress)), "Loading the dataset…"
    )


@st.cache_resource(show_spinner=False)
def _trained_slot(recipe: str) -> _Slot:
    return _Slot()


def get_trained_model(recipe: str = "full") -> CaptioningRNN:
    """``core.pretrained.trained_model(get_dataset(), recipe)``: trained once (progress bar), cached to disk.

    recipe: "full" (the properly trained model) or "overfit" (the notebook's small-data model).
    Read-only and shared: call ``.copy()`` before training or changing it.
    """
    try:
        from core.pretrained import trained_model
    except ImportError:
        raise CaptioningError(
            f"The {recipe!r} trained model is not available in this installation (core.pretrained is missing). "
            "Choose the freshly initialised model or readable sizes."
        ) from None

    data = get_dataset()
    return _fill(
        _trained_slot(recipe),
        lambda progress: freeze(trained_model(data, recipe=recipe, progress=progress)),
        f"Preparing the {recipe} model…",
    )


@st.cache_resource(show_spinner=False)
def _model_slot(choice: str, sizes: str) -> _Slot:
    return _Slot()


def get_model(choice: str, sizes: str) -> CaptioningRNN:
    """The model the explainer pages trace, read-only.

    choice: "fresh" (initialised with seed 0) or "trained"; sizes: "readable" (W = H = 8, trained in a
    few seconds by ``core.readable``) or "real" (the notebook's W = 256, H = 512 when fresh; the
    ``get_trained_model("full")`` model when trained).
    """
    if choice == "trained" and sizes == "real":
        return get_trained_model("full")
    data = get_dataset()
    if sizes == "readable":
        compute = lambda progress: readable_model(data, trained=choice == "trained", progress=progress)  # noqa: E731
    else:
        compute = lambda progress: fresh_model(data, REAL_WORDVEC_DIM, REAL_HIDDEN_DIM, seed=MODEL_SEED)  # noqa: E731
    return _fill(
        _model_slot(choice, sizes), lambda progress: freeze(compute(progress)), "Preparing the model…"
    )


def example(split: str, index: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Caption `index` of `split`: (caption (T + 1,) ids, feature (D,), image url or path)."""
    data = get_dataset()
    row = int(data[f"{split}_image_idxs"][index])
    return data[f"{split}_captions"][index], data[f"{split}_features"][row], str(data[f"{split}_urls"][row])


def _compute_trace(split, index, activation, choice, sizes, wh_scale) -> ExampleTrace:
    caption, feature, _ = example(split, index)
    model = get_model(choice, sizes)
    return freeze(trace_example(model, feature, caption, wh_scale=wh_scale, activation=activation))


# Real-size traces hold every step's (H, H) gradient contribution (~25 MB), so few are kept; readable ones are tiny.
@st.cache_resource(show_spinner=False, max_entries=256)
def _readable_trace(split, index, activation, choice, wh_scale) -> ExampleTrace:
    return _compute_trace(split, index, activation, choice, "readable", wh_scale)


@st.cache_resource(show_spinner=False, max_entries=8)
def _real_trace(split, index, activation, choice, wh_scale) -> ExampleTrace:
    return _compute_trace(split, index, activation, choice, "real", wh_scale)


def get_trace(
    split: str, index: int, activation: str, choice: str, sizes: str, wh_scale: float = 1.0
) -> ExampleTrace:
    """The forward and backward trace of one example, computed once per settings and shared, read-only.

    Moving the timestep never recomputes it: pages index into the cached trace.
    """
    # The model is prepared outside the cached trace functions so its progress bar is not replayed.
    get_model(choice, sizes)
    cached = _readable_trace if sizes == "readable" else _real_trace
    return cached(split, int(index), activation, choice, float(wh_scale))
