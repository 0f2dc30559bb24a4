"""The stepper component of a page in AppTest (ui/stepper.py): what the page sent it, and what it does when
the learner moves to another step in the browser."""

import itertools
import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.helpers.apptest import components
from tests.helpers.plotly_json import stepped_figure

_REPORT_IDS = itertools.count(1)


def sent(at: AppTest, key: str) -> dict:
    """The data the page sent to its stepper component `key` (ui/stepper.py): every step of every view."""
    found = [data for element, data in components(at._tree) if element.proto.id.endswith(f"-{key}")]
    assert len(found) == 1, f"expected one stepper {key!r}, found {len(found)}"
    return found[0]


def report(at: AppTest, key: str, t: int) -> AppTest:
    """What the stepper does when the learner moves to step t in the browser: it reports t with an id of its
    own, and Streamlit reruns."""
    at.session_state[key] = {"step": {"t": t, "id": next(_REPORT_IDS)}}
    return at.run()


def figure(at: AppTest, key: str, panel: str, t: int | None = None) -> dict:
    """The figure the stepper `key` draws for `panel` at step t (default: the step it was sent with)."""
    data = sent(at, key)
    return stepped_figure(data["panels"][panel], (data["t"] if t is None else t) - data["first"])


def text(at: AppTest, key: str, panel: str, t: int | None = None) -> str:
    """The text or HTML the stepper `key` shows in `panel` at step t (default: the step it was sent with)."""
    data = sent(at, key)
    return data["panels"][panel]["steps"][(data["t"] if t is None else t) - data["first"]]


def trace_types(data: dict) -> set[str]:
    """The Plotly trace types of every figure the stepper was sent (each step's changes keep its types)."""
    return {
        trace.get("type", "scatter")
        for panel in data["panels"].values()
        if panel["kind"] == "plotly"
        for trace in panel["base"]["data"]
    }


def bundled_trace_types() -> set[str]:
    """The trace types of the stepper's Plotly.js bundle (tools/plotly_bundle/entry.js: the core has scatter)."""
    entry = (Path(__file__).parents[2] / "tools/plotly_bundle/entry.js").read_text()
    return {"scatter", *re.findall(r'require\("plotly\.js/lib/(\w+)"\)', entry)} - {"core"}
