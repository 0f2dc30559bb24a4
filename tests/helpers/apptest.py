"""Helpers of the AppTest page tests: open a page as a browser would, read its charts and images, check it
ran cleanly, wait for the background training jobs."""

import json
import re
import threading
import time
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from explainer.table import TABLE_CLASS
from tests.helpers.plotly_json import decode

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60


# --------------------------------------------------------------------------- helpers for the page tests


def open_page(page: str | None = None, query: dict | None = None) -> AppTest:
    """Run the app from its entry point, as a browser would, then open `page` with `query` in the URL."""
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.run()
    if page is not None:
        at.switch_page(page)
        at.query_params.clear()
        at.query_params.update(query or {})
        at.run()
    return at


def page_app(page: str, timeout: float = TIMEOUT) -> AppTest:
    """An AppTest of the app with `page` (e.g. "pages/3_Activation_race.py") open, not yet run: a deep link
    on a fresh server, where the entry point stays streamlit_app.py."""
    return AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=timeout).switch_page(page)


def components(node) -> list[tuple[object, object]]:
    """Every custom component (components v2) under an AppTest node (the page: at._tree), in page order, with
    the data it was sent (ui/figure.py and ui/stepper.py send it as a one-item list)."""
    found = []

    def walk(node):
        for child in getattr(node, "children", {}).values():
            if getattr(child, "type", "") == "bidi_component":
                (data,) = json.loads(child.proto.json)
                found.append((child, data))
            walk(child)

    walk(node)
    return found


def figures(at: AppTest) -> dict[str, dict]:
    """The Plotly spec (dict) of every figure the page drew with ui.plotly_figure, by key, in page order."""
    return {
        element.proto.id.rsplit("-", 1)[-1]: data["figure"]
        for element, data in components(at._tree)
        if element.proto.component_name.endswith(".figure") and "figure" in data  # not the sidebar's preload
    }


def chart(at: AppTest, key: str) -> dict:
    """The Plotly spec (dict) of the figure drawn with `key`."""
    drawn = figures(at)
    assert key in drawn, f"no figure with key {key!r}; figures: {list(drawn)}"
    return drawn[key]


def drawn_trace_types(at: AppTest) -> set[str]:
    """The Plotly trace types of the page's figures, which must be in the app's Plotly.js bundle
    (tests.helpers.stepper.bundled_trace_types)."""
    return {trace.get("type", "scatter") for spec in figures(at).values() for trace in spec["data"]}


def axes_without_automargin(at: AppTest) -> list[str]:
    """The axes of the page's figures whose margin does not grow to fit their labels, as "key: xaxis2" (drawn
    without Streamlit's theme, a figure gets this from its own layout: explainer.colors.base_layout)."""
    return [
        f"{key}: {name}"
        for key, spec in figures(at).items()
        for name, axis in spec["layout"].items()
        if re.fullmatch(r"[xy]axis\d*", name) and not axis.get("automargin")
    ]


def trace_values(spec: dict, index: int = 0, field: str = "z") -> np.ndarray:
    return decode(spec["data"][index][field])


def no_problems(at: AppTest) -> None:
    """The page ran without an exception element or an error message."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def images(at: AppTest) -> list:
    """Image elements anywhere on the page."""
    found = []

    def walk(node):
        for child in getattr(node, "children", {}).values():
            if type(child).__name__ == "Image" or getattr(child, "type", "") == "imgs":
                found.append(child)
            walk(child)

    walk(at._tree)
    return found


# Tiny versions of the core.lab.trained_models recipes (their stored files differ from the real ones): the home
# page starts training them in the background, and the pages wait for them.
SMALL_RECIPES = {
    "readable": {"num_iterations": 100},
    "full": {"hidden_dim": 32, "wordvec_dim": 16, "num_iterations": 250},
    "overfit": {"hidden_dim": 48, "wordvec_dim": 24},
    "lstm": {"hidden_dim": 24, "wordvec_dim": 16, "num_iterations": 150},
    "lstm_readable": {"num_iterations": 100},
    "lstm_overfit": {"hidden_dim": 32, "wordvec_dim": 16},
}


@contextmanager
def fresh_streamlit(monkeypatch):
    """Empty Streamlit caches (the generated dataset stays on disk) and SMALL_RECIPES for the block; at the
    end, wait for the background training jobs it started, so none outlives the small recipes and trains
    a real one during later tests."""
    import streamlit as st

    import core.lab.trained_models

    for recipe, changes in SMALL_RECIPES.items():
        monkeypatch.setitem(
            core.lab.trained_models.RECIPES, recipe, {**core.lab.trained_models.RECIPES[recipe], **changes}
        )
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    for thread in threading.enumerate():
        if thread.name.startswith("train-"):
            thread.join(timeout=120)


def run_until_trained(at: AppTest, timeout: float = 120, said: list | None = None) -> AppTest:
    """Rerun `at` (each run is one tick of the page's progress fragment) until no model is training.

    said: an optional list; it receives the text of every st.info of every run, in order. In AppTest each
    tick reruns the whole page, so a notice the browser keeps on screen between two reruns of the page (the
    fragment's ticks redraw only the progress) is drawn by one run only.
    """
    deadline = time.monotonic() + timeout
    while at.get("progress") or any("Training goes on if you leave" in c.value for c in at.caption):
        assert time.monotonic() < deadline, "the models were not trained in time"
        time.sleep(0.2)
        at.run()
        if said is not None:
            said += [info.value for info in at.info]
    return at


# --------------------------------------------------------------------------- what a page shows as Markdown


def markdown_texts(at: AppTest) -> list[str]:
    """Everything on the page that Streamlit renders as Markdown: st.markdown, captions, alerts, image
    captions and progress texts (widget options are plain text and are not listed)."""
    texts = [
        e.value
        for kind in ("markdown", "caption", "info", "warning", "error", "success")
        for e in at.get(kind)
    ]
    texts += [image.caption for node in images(at) for image in node.proto.imgs]
    texts += [bar.proto.text for bar in at.get("progress")]
    return texts


def figure_strings(at: AppTest) -> list[str]:
    """Every string inside the page's Plotly figures (labels, ticks, hover texts, titles)."""
    found = []

    def walk(value):
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for spec in figures(at).values():
        walk(spec)
    return found


# --------------------------------------------------------------------------- what the explainer pages trace

# The cell selector of the forward and backprop pages: its value is (cell, activation).
CELL = "controls.cell"


def fresh_trace(data, index, split="train", cell="rnn", activation="tanh", **trace_options):
    """The trace the forward and backprop pages show for the fresh readable model (seed 0) and caption
    `index` of `split`, computed directly with core. trace_options: wh_scale, forget_bias_shift."""
    from core.lab.trace import trace_example
    from core.lab.trained_models import new_model
    from ui.resources import FRESH_SIZES

    model = new_model(data, *FRESH_SIZES["readable"], seed=0, cell_type=cell)
    row = data[f"{split}_image_idxs"][index]
    feature, caption = data[f"{split}_features"][row], data[f"{split}_captions"][index]
    return trace_example(
        model, feature, caption, activation=activation if cell == "rnn" else None, **trace_options
    )


def other_html(at: AppTest) -> list[str]:
    """The HTML the page shows that is not a table of explainer.table (code, bugs, word tables...)."""
    return [h.proto.body for h in at.get("html") if f'class="{TABLE_CLASS}"' not in h.proto.body]


def tables(at: AppTest) -> list[list[dict]]:
    """Every table of explainer.table on the page (shown with st.html), in order: a list of rows, each
    {column heading: cell text as shown}. Other HTML (e.g. the gallery's word tables) is other_html's."""
    return [
        table
        for element in at.get("html")
        if f'class="{TABLE_CLASS}"' in element.proto.body
        for table in parse_tables(element.proto.body)
    ]


def parse_tables(html: str) -> list[list[dict]]:
    """The tables of `html`: a list of rows each, {column heading: cell text as shown}."""
    parser = _TableParser()
    parser.feed(html)
    return parser.tables


class _TableParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables, self._head, self._cells, self._text = [], [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
            self._head = []
        elif tag == "tr":
            self._cells = []
        elif tag in ("td", "th"):
            self._text = ""

    def handle_data(self, data):
        if self._text is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._cells.append(self._text)
            self._text = None
        elif tag == "tr" and self._cells is not None:
            if not self._head:
                self._head = self._cells
            else:
                self.tables[-1].append(dict(zip(self._head, self._cells, strict=True)))
            self._cells = None
