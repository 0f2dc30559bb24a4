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
from core.lab.captioning import recipe_caption_indices
from core.lab.trained_models import recipe_config
from explainer import backward
from explainer.escape import MAX_SENTENCE, plain
from explainer.text import model_note
from ui import url_state
from ui.dataset import example, get_dataset
from ui.images import show_image
from ui.resources import (
    CELL_CHOICES,
    MODEL_CHOICES,
    MODEL_LABELS,
    SIZE_CHOICES,
    SIZE_LABELS,
    TRAINED_RECIPE,
    get_model,
)

SPLITS = ("train", "val")
# Scales of Wh the backprop page offers: wide enough to see both vanishing and exploding gradients.
WH_SCALE_RANGE = (0.1, 3.0)
WH_SCALE_STEP = 0.05
# Shifts of the LSTM forget gate's bias: from a gate nearly shut (σ(-5) ≈ 0.007) to nearly open (0.993).
FORGET_SHIFT_RANGE = (-5.0, 5.0)
FORGET_SHIFT_STEP = 0.5

# The splits as the learner sees them, and as the "Images" choice names them.
_SPLIT_LABELS = {"train": "Training images", "val": "Validation images"}
_SPLIT_CHOICES = {"train": "Training", "val": "Validation"}


@dataclass(frozen=True)
class Settings:
    """What the page shows: caption `index` of `split`, traced by model `choice` with the `cell` ("rnn" or
    "lstm") at `sizes`; `activation` is the vanilla cell's f ("tanh" for the LSTM, whose g and cell use it)."""

    split: str
    index: int
    activation: str
    choice: str
    sizes: str
    num_steps: int
    cell: str = "rnn"


# The cell selector's options: the vanilla cell with each activation, and the LSTM.
CELL_OPTIONS = {
    # Short enough for their box (CONTROL_WIDTHS; the lab's cells read the same: core.lab.gradcheck_lab.CELL_TITLES).
    ("rnn", "tanh"): "RNN · tanh",
    ("rnn", "sigmoid"): "RNN · sigmoid",
    ("rnn", "relu"): "RNN · ReLU",
    ("lstm", "tanh"): "LSTM",
}
_CELL_WIDGET = "controls.cell"
# Pixels of each select box of the controls' row: its longest choice and the arrow.
CONTROL_WIDTHS = {"cell": 138, "model": 110, "sizes": 210}


def base_fields() -> list[url_state.Field]:
    """URL fields that do not depend on the data: split, cell, activation, model, sizes."""
    return [
        url_state.choice("split", "train", SPLITS, "split"),
        url_state.choice("cell", "rnn", CELL_CHOICES, "cell"),
        url_state.choice("activation", "tanh", ACTIVATIONS, "activation"),
        url_state.choice("model", "fresh", MODEL_CHOICES, "model"),
        url_state.choice("sizes", "readable", SIZE_CHOICES, "sizes"),
    ]


def _cell_choice() -> tuple[str, str]:
    """(cell, activation) as the URL fields hold them; the LSTM's nonlinearity is always tanh."""
    cell = url_state.get("cell")
    return cell, "tanh" if cell == "lstm" else url_state.get("activation")


def _choose_cell() -> None:
    cell, activation = st.session_state[_CELL_WIDGET]
    url_state.set("cell", cell)
    url_state.set("activation", activation)


def example_field(data: dict, split: str) -> url_state.Field:
    """The example index within `split`."""
    return url_state.integer("example", 0, 0, len(data[f"{split}_captions"]) - 1, "example")


def timestep_field(data: dict, split: str, default: int, key: str) -> url_state.Field:
    """The timestep t = 0 … T of the split's captions (kept under `key` in the session, "t" in the URL)."""
    return url_state.integer("t", default, 0, data[f"{split}_captions"].shape[1] - 1, "timestep t", key=key)


def wh_field() -> url_state.Field:
    return url_state.number("wh", 1.0, *WH_SCALE_RANGE, WH_SCALE_STEP, "Wh scale")


def forget_field() -> url_state.Field:
    """The shift of the LSTM forget gate's bias the backprop page traces with."""
    return url_state.number("forget", 0.0, *FORGET_SHIFT_RANGE, FORGET_SHIFT_STEP, "forget-gate bias shift")


def _random_example(count: int) -> None:
    url_state.set("example", int(np.random.default_rng().integers(count)))


def controls(
    data: dict, step_key: str, t_default=0, extra_fields=()
) -> tuple[Settings, list[url_state.Field]]:
    """Load the URL state and draw the example / activation / model / sizes controls.

    step_key: the page's own name for its timestep in the session (the URL says t): the forward pass and
    backprop share the example but not the step, so that backprop, opened from the sidebar, is not left at
    the step the forward pass was on (its first, where backprop ends). t_default: the timestep a view opens on,
    a number or a function of (split, example index); with a function, choosing another example moves t to
    that example's default.
    Returns the settings and every field loaded (pass them to ``url_state.save`` at the end of the page).
    """
    notices: list[str] = []
    fields = base_fields() + list(extra_fields)
    url_state.load(fields, notices)
    if url_state.get("cell") == "lstm" and url_state.get("activation") != "tanh":
        # Only a link can pair them (the cell selector sets both): the LSTM's gates fix their nonlinearities.
        url_state.refuse(
            "activation",
            f"**activation** = “{url_state.get('activation')}” is the vanilla cell's; the LSTM's gates fix "
            "their nonlinearities (σ and tanh)",
            notices,
        )
        url_state.set("activation", "tanh")
    split = url_state.get("split")
    example = example_field(data, split)
    fields.append(example)
    # The other split has fewer examples.
    dropped = url_state.load_one(example, notices)
    if dropped is not None:
        st.info(
            f"Example {int(dropped)} is past the last of the {_SPLIT_LABELS[split].lower()} "
            f"({len(data[f'{split}_captions']) - 1}), so example {url_state.get('example')} is shown.",
            icon="ℹ️",
        )
    default = t_default
    if callable(t_default):
        default = t_default(split, int(url_state.get("example")))
        # Another example opens on its own default step (a t in the link still wins: load() prefers it).
        url_state.reset_on_change(step_key, (split, int(url_state.get("example"))), default)
    fields.append(timestep_field(data, split, default, step_key))
    url_state.load(fields[-1:], notices)
    url_state.notify(notices)
    count = len(data[f"{split}_captions"])

    # One row of controls of fixed widths, each wide enough for its longest choice, that wraps onto a second row
    # where the page is narrower (a 1024 px screen, or a projector's zoom) instead of cutting the labels short.
    with st.container(horizontal=True, vertical_alignment="bottom", gap="small", key="controls.row"):
        st.radio("Images", SPLITS, format_func=_SPLIT_CHOICES.get, width="content", **url_state.bind("split"))
        with st.container(horizontal=True, vertical_alignment="bottom", gap="small", width="content"):
            # No bounds of its own: a number past them is refused by the field with a message, and the box
            # shows the example on screen again (a bounded box keeps the refused number, red, behind later
            # choices).
            st.number_input(
                f"Example (0 … {count - 1})", step=1, width=140, **url_state.bind("example", field=example)
            )
            st.button(
                "",
                icon=":material/casino:",
                help="A random example",
                on_click=_random_example,
                args=(count,),
                key="explain.random",
            )
        st.session_state[_CELL_WIDGET] = _cell_choice()
        st.selectbox(
            "Cell",
            list(CELL_OPTIONS),
            format_func=CELL_OPTIONS.get,
            key=_CELL_WIDGET,
            on_change=_choose_cell,
            width=CONTROL_WIDTHS["cell"],
            help="The vanilla RNN's cell h = f(Wx·x + Wh·h + b) with its activation f, or the LSTM, whose gates "
            "decide what its cell state keeps, writes and shows.",
        )
        st.selectbox(
            "Model",
            MODEL_CHOICES,
            format_func=MODEL_LABELS.get,
            width=CONTROL_WIDTHS["model"],
            help="Untrained: random weights (seed 0). Trained: at readable sizes on minibatches of the whole "
            "training set; at the notebook's sizes on 50 captions, as the notebook does. Trained once, then "
            "cached. The vanilla cell's weights were learned with tanh; another activation reuses them.",
            **url_state.bind("model"),
        )
        st.selectbox(
            "Sizes",
            SIZE_CHOICES,
            format_func=SIZE_LABELS.get,
            width=CONTROL_WIDTHS["sizes"],
            **url_state.bind("sizes"),
        )
    if refused := url_state.refusal("example"):
        st.warning(refused, icon="✋")
    settings = Settings(
        split=url_state.get("split"),
        index=int(url_state.get("example")),
        activation=url_state.get("activation"),
        choice=url_state.get("model"),
        sizes=url_state.get("sizes"),
        num_steps=data[f"{split}_captions"].shape[1] - 1,
        cell=url_state.get("cell"),
    )
    return settings, fields


def example_card(data: dict, settings: Settings) -> None:
    """The example's image with its ground-truth caption (placeholder if the image cannot load)."""
    caption, _, source = example(settings.split, settings.index)
    text = decode_captions(caption, data["idx_to_word"])
    show_image(source, base_dir=data.get("base_dir"), width="stretch")
    st.markdown(f"**Ground truth:** “{plain(text, MAX_SENTENCE)}”")
    st.caption(f"{_SPLIT_LABELS[settings.split]}, caption #{settings.index}")
    st.caption(_model_note(data, settings))


def _model_note(data: dict, settings: Settings) -> str:
    """explainer.text.model_note for the model these settings trace."""
    model = get_model(settings.choice, settings.sizes, settings.cell)
    if settings.choice == "fresh":
        return model_note(model, None, None, None)
    recipe = TRAINED_RECIPE[settings.cell, settings.sizes]
    chosen = recipe_caption_indices(data, recipe)
    trained_on = chosen is not None and settings.split == "train" and settings.index in chosen
    first = None if chosen is None else int(chosen[0])
    return model_note(model, recipe_config(recipe), trained_on, first, settings.activation)


def link(fields: list[url_state.Field], target, label: str, step: int | None = None) -> None:
    """A link to the `target` page (ui.registry) with the same example, cell, model and sizes, and this
    page's timestep, or `step` if given (the step the target starts from). Fields only this page has (e.g.
    the backprop page's Wh scale) stay here."""
    shared = {field.name for field in base_fields()} | {"example", "t"}
    query = url_state.query([field for field in fields if field.name in shared])
    if step is not None:
        query["t"] = str(step)
    st.page_link(target.path, label=label, icon=target.icon, query_params=query)


def last_scored_step(split: str, index: int) -> int:
    """Where backprop starts for caption `index` of `split`: its last step whose target is a word."""
    caption, _, _ = example(split, index)
    return backward.last_scored_step(caption[1:] != get_dataset()["word_to_idx"]["<NULL>"])
