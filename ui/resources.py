"""The models and traces the explainer pages show, shared read-only by every browser session.

Trained models come from the store of ``core.lab.trained_models`` through the server-wide background jobs
of ``ui.training`` (the "readable" recipe at readable sizes; at the notebook's sizes the "overfit" recipe, the
notebook's own training run on 50 captions); fresh ones are built
once into a write-once slot (see ``ui.dataset``).
"""

from __future__ import annotations

import streamlit as st

from core.engine.rnn import CaptioningRNN
from core.lab.trace import ExampleTrace, trace_example
from core.lab.trained_models import RECIPES, new_model
from ui.dataset import Slot, example, fill_once, freeze, get_dataset
from ui.training import get_trained_model

MODEL_CHOICES = ("fresh", "trained")
SIZE_CHOICES = ("readable", "real")
# The recipe of the trained model at each size: at the notebook's sizes, the notebook's own training run.
TRAINED_RECIPE = {"readable": "readable", "real": "overfit"}
MODEL_LABELS = {"fresh": "Freshly initialised", "trained": "Trained"}
# The notebook's sizes for the captioning RNN (wordvec_dim=256, hidden_dim=512).
REAL_WORDVEC_DIM = 256
REAL_HIDDEN_DIM = 512
FRESH_SIZES = {
    "readable": (RECIPES["readable"]["wordvec_dim"], RECIPES["readable"]["hidden_dim"]),
    "real": (REAL_WORDVEC_DIM, REAL_HIDDEN_DIM),
}
SIZE_LABELS = {
    "readable": "Readable: W = {}, H = {}".format(*FRESH_SIZES["readable"]),
    "real": "Notebook's: W = {}, H = {}".format(*FRESH_SIZES["real"]),
}
MODEL_SEED = 0


@st.cache_resource(show_spinner=False)
def _fresh_slot(sizes: str) -> Slot:
    return Slot()


def get_model(choice: str, sizes: str) -> CaptioningRNN:
    """The model the explainer pages trace, read-only.

    choice: "fresh" (initialised with seed 0) or "trained"; sizes: "readable" or "real". A trained model
    comes from its recipe's background job (TRAINED_RECIPE); until it is ready the page shows the training
    progress and waits.
    """
    if choice == "trained":
        return get_trained_model(TRAINED_RECIPE[sizes])
    data = get_dataset()
    wordvec_dim, hidden_dim = FRESH_SIZES[sizes]
    return fill_once(
        _fresh_slot(sizes),
        lambda progress: freeze(new_model(data, wordvec_dim, hidden_dim, seed=MODEL_SEED)),
        "Preparing the model…",
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
