"""Controls shared by the forward-pass and backprop pages: which example, activation, model and sizes.

Both pages read and write the same URL fields, so switching page keeps the example and model, and a
link reopens the same view.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from core.data.coco_utils import decode_captions
from core.engine.activations import ACTIVATIONS
from explainer.escape import MAX_SENTENCE, plain
from ui import url_state
from ui.dataset import example
from ui.images import show_image
from ui.resources import MODEL_CHOICES, MODEL_LABELS, SIZE_CHOICES, SIZE_LABELS

SPLITS = ("train", "val")
# Scales of Wh the backprop page offers: wide enough to see both vanishing and exploding gradients.
WH_SCALE_RANGE = (0.1, 3.0)

# The splits as the learner sees them.
_SPLIT_LABELS = {"train": "Training images", "val": "Validation images"}


@dataclass(frozen=True)
class Settings:
    """What the page shows: caption `index` of `split`, traced with `activation` by model `choice` at `sizes`."""

    split: str
    index: int
    activation: str
    choice: str
    sizes: str
    num_steps: int


def base_fields() -> list[url_state.Field]:
    """URL fields that do not depend on the data: split, activation, model, sizes."""
    return [
        url_state.choice("split", "train", SPLITS, "split"),
        url_state.choice("activation", "tanh", ACTIVATIONS, "activation"),
        url_state.choice("model", "fresh", MODEL_CHOICES, "model"),
        url_state.choice("sizes", "readable", SIZE_CHOICES, "sizes"),
    ]


def data_fields(data: dict, split: str, t_default: int = 0) -> list[url_state.Field]:
    """URL fields bounded by the data: the example index within `split` and the timestep t = 0 … T."""
    count = len(data[f"{split}_captions"])
    num_steps = data[f"{split}_captions"].shape[1] - 1
    return [
        url_state.integer("example", 0, 0, count - 1, "example"),
        url_state.integer("t", t_default, 0, num_steps, "timestep t"),
    ]


def wh_field() -> url_state.Field:
    return url_state.number("wh", 1.0, *WH_SCALE_RANGE, "Wh scale")


def _random_example(count: int) -> None:
    url_state.set("example", int(np.random.default_rng().integers(count)))


def controls(data: dict, t_default: int = 0, extra_fields=()) -> tuple[Settings, list[url_state.Field]]:
    """Load the URL state and draw the example / activation / model / sizes controls.

    Returns the settings and every field loaded (pass them to ``url_state.save`` at the end of the page).
    """
    notices: list[str] = []
    fields = base_fields() + list(extra_fields)
    url_state.load(fields, notices)
    split = url_state.get("split")
    more = data_fields(data, split, t_default)
    url_state.load(more, notices)
    url_state.notify(notices)
    fields += more
    count = len(data[f"{split}_captions"])

    c1, c2, c3, c4, c5 = st.columns([1.2, 1.4, 1, 1.3, 1.6], vertical_alignment="bottom")
    c1.radio("Images", SPLITS, format_func=_SPLIT_LABELS.get, horizontal=False, **url_state.bind("split"))
    with c2:
        inner, dice = st.columns([3, 1], vertical_alignment="bottom")
        inner.number_input(
            f"Example (0 … {count - 1})",
            min_value=0,
            max_value=count - 1,
            step=1,
            **url_state.bind("example"),
        )
        dice.button(
            "",
            icon=":material/casino:",
            help="A random example",
            on_click=_random_example,
            args=(count,),
            key="explain.random",
        )
    c3.selectbox(
        "Activation f",
        ACTIVATIONS,
        help="The nonlinearity of the cell, h = f(a)",
        **url_state.bind("activation"),
    )
    c4.selectbox(
        "Model",
        MODEL_CHOICES,
        format_func=MODEL_LABELS.get,
        help="Fresh: random weights (seed 0). Trained: fitted on the active dataset once, then cached. "
        "The trained weights were learned with tanh; another activation reuses them.",
        **url_state.bind("model"),
    )
    c5.selectbox("Sizes", SIZE_CHOICES, format_func=SIZE_LABELS.get, **url_state.bind("sizes"))
    settings = Settings(
        split=url_state.get("split"),
        index=int(url_state.get("example")),
        activation=url_state.get("activation"),
        choice=url_state.get("model"),
        sizes=url_state.get("sizes"),
        num_steps=data[f"{split}_captions"].shape[1] - 1,
    )
    return settings, fields


def example_card(data: dict, settings: Settings) -> None:
    """The example's image with its ground-truth caption (placeholder if the image cannot load)."""
    caption, _, source = example(settings.split, settings.index)
    text = decode_captions(caption, data["idx_to_word"])
    show_image(source, base_dir=data.get("base_dir"), width="stretch")
    st.markdown(f"**Ground truth:** “{plain(text, MAX_SENTENCE)}”")
    st.caption(f"{_SPLIT_LABELS[settings.split]}, caption #{settings.index}")


def save_and_link(fields: list[url_state.Field], target, label: str) -> None:
    """Write the page's state to the URL, then link to the `target` page (ui.registry) with the same state,
    so the example and the model carry over."""
    url_state.save(fields)
    st.page_link(target.path, label=label, icon=target.icon, query_params=url_state.query(fields))
