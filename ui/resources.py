"""The models and traces the explainer pages show, shared read-only by every browser session.

The real-size trained model is the "full" recipe of ``core.pretrained``, trained by the server-wide
background job of ``ui.training``; the others are quick and filled once into a write-once slot
(see ``ui.dataset``).
"""

from __future__ import annotations

import streamlit as st

from core.model import CaptioningRNN
from core.readable import READABLE_HIDDEN_DIM, READABLE_WORDVEC_DIM, fresh_model, readable_model
from core.trace import ExampleTrace, trace_example
from ui.dataset import Slot, example, fill_once, freeze, get_dataset
from ui.training import get_trained_model

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


@st.cache_resource(show_spinner=False)
def _model_slot(choice: str, sizes: str) -> Slot:
    return Slot()


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
    return fill_once(
        _model_slot(choice, sizes), lambda progress: freeze(compute(progress)), "Preparing the model…"
    )


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
