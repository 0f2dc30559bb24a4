"""The models and traces the explainer pages show, shared read-only by every browser session.

Trained models come from the store of ``core.lab.trained_models`` through the server-wide background jobs
of ``ui.training`` (TRAINED_RECIPE: the "readable" recipe at readable sizes; at the notebook's sizes the
"overfit" recipe, the notebook's own training run on 50 captions; their LSTM versions for the LSTM cell);
fresh ones are built once into a write-once slot (see ``ui.dataset``).
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
CELL_CHOICES = ("rnn", "lstm")
CELL_LABELS = {"rnn": "Vanilla RNN", "lstm": "LSTM"}
# The recipe of the trained model of each cell and size: at the notebook's sizes, the notebook's own run.
TRAINED_RECIPE = {
    ("rnn", "readable"): "readable",
    ("rnn", "real"): "overfit",
    ("lstm", "readable"): "lstm_readable",
    ("lstm", "real"): "lstm_overfit",
}
MODEL_LABELS = {"fresh": "Untrained", "trained": "Trained"}
# The notebook's sizes for the captioning RNN (wordvec_dim=256, hidden_dim=512).
REAL_WORDVEC_DIM = 256
REAL_HIDDEN_DIM = 512
FRESH_SIZES = {
    "readable": (RECIPES["readable"]["wordvec_dim"], RECIPES["readable"]["hidden_dim"]),
    "real": (REAL_WORDVEC_DIM, REAL_HIDDEN_DIM),
}
SIZE_LABELS = {
    # Short enough for the select box at 1280 px, where "Notebook's: W = 256, H = 512" lost its end.
    "readable": "Readable: W {}, H {}".format(*FRESH_SIZES["readable"]),
    "real": "Notebook's: W {}, H {}".format(*FRESH_SIZES["real"]),
}
MODEL_SEED = 0


@st.cache_resource(show_spinner=False)
def _fresh_slot(sizes: str, cell: str) -> Slot:
    return Slot()


def get_model(choice: str, sizes: str, cell: str = "rnn") -> CaptioningRNN:
    """The model the explainer pages trace, read-only.

    choice: "fresh" (initialised with seed 0) or "trained"; sizes: "readable" or "real"; cell: "rnn" or
    "lstm". A trained model comes from its recipe's background job (TRAINED_RECIPE); until it is ready the
    page shows the training progress and waits.
    """
    if choice == "trained":
        return get_trained_model(TRAINED_RECIPE[cell, sizes])
    data = get_dataset()
    wordvec_dim, hidden_dim = FRESH_SIZES[sizes]
    return fill_once(
        _fresh_slot(sizes, cell),
        lambda progress: freeze(new_model(data, wordvec_dim, hidden_dim, seed=MODEL_SEED, cell_type=cell)),
        "Preparing the model…",
    )


def _compute_trace(split, index, activation, choice, sizes, cell, wh_scale, forget_shift) -> ExampleTrace:
    caption, feature, _ = example(split, index)
    model = get_model(choice, sizes, cell)
    return freeze(
        trace_example(
            model,
            feature,
            caption,
            wh_scale=wh_scale,
            activation=activation if cell == "rnn" else None,
            forget_bias_shift=forget_shift,
        )
    )


# Readable traces are tiny. A real-size trace is 1.6 MiB (vanilla) to 6.2 MiB (LSTM) since it keeps the factors
# of each step's gradient contributions, not the (T, H, 4H) stacks (25.6 and 102 MiB before): few are kept all
# the same, and the pages keep what they draw of them (ui.stepped_views), not the traces.
@st.cache_resource(show_spinner=False, max_entries=256)
def _readable_trace(*key) -> ExampleTrace:
    return _compute_trace(*key)


@st.cache_resource(show_spinner=False, max_entries=2)
def _real_trace(*key) -> ExampleTrace:
    return _compute_trace(*key)


def get_trace(
    settings, wh_scale: float = 1.0, forget_shift: float = 0.0, cell: str | None = None
) -> ExampleTrace:
    """The forward and backward trace of one example (ui.controls.Settings), computed once and shared,
    read-only; `cell` traces the same example with the other cell (same model choice and sizes).

    Moving the timestep never recomputes it: pages index into the cached trace.
    """
    cell = cell or settings.cell
    # The model is prepared outside the cached trace functions so its progress bar is not replayed.
    get_model(settings.choice, settings.sizes, cell)
    cached = _readable_trace if settings.sizes == "readable" else _real_trace
    key = (settings.split, int(settings.index), settings.activation, settings.choice, settings.sizes)
    return cached(*key, cell, float(wh_scale), float(forget_shift))
