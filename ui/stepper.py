"""The stepper: a timestep control with every view that depends on the timestep, stepped in the browser.

A page builds its views once for all steps (``explainer.stepping``) and mounts them with ``stepped_view``.
The component (``stepper.js``) paints a step from the data it already holds, so Next, Previous, the slider,
the keyboard and Play need no round trip to the server; it then reports the step, and a fragment rerun
stores it in the URL. Streamlit sends the views once: fragment reruns pass identical data, which the
browser has cached.

The component draws Plotly figures with the app's Plotly.js of three trace types (``plotly_loader.js``, shared
with ui/figure.py), which Streamlit serves from the project's ``static/`` folder (``server.enableStaticServing``).
The browser tests check that the figures are drawn.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from ui import url_state

_HERE = Path(__file__).parent
# px: below this a panel takes a line of its own instead of sharing its row (a 1024 px screen), so that two
# figures side by side are not each squeezed to a few hundred pixels.
PANEL_MIN_WIDTH = 300
# The component's code: the shared Plotly.js loader, then the stepper (its default export).
SCRIPT = (_HERE / "plotly_loader.js").read_text() + (_HERE / "stepper.js").read_text()
_COMPONENT = st.components.v2.component(
    "rnn_explainer.stepper",
    css=(_HERE / "stepper.css").read_text(),
    js=SCRIPT,
    isolate_styles=False,  # Plotly.js styles its charts with the page's global stylesheet
)


def payload(
    trace: str,
    first: int,
    last: int,
    rows: list,
    panels: dict,
    direction: int = 1,
    label: str = "",
    interval: float = 0.9,
    restart: int | None = None,
) -> dict:
    """The stepper's data: `rows` of (panel id, width[, minimum width in px]) laid out left to right, a panel
    narrower than its minimum (PANEL_MIN_WIDTH by default) on a line of its own, `panels` {id: spec}
    where a spec is a Stepped figure's payload with kind "plotly", or {"kind": "text" | "html", "steps":
    [one string per step]}. `trace` names the sequence (a new one resets the step to the page's t);
    "version" changes with any view. Play, pressed at the end of its `direction`, starts again at `restart`
    (by default the other end)."""
    if restart is None:
        restart = first if direction > 0 else last
    data = {
        "trace": trace,
        "first": int(first),
        "last": int(last),
        "restart": int(restart),
        "direction": int(direction),
        "interval_ms": int(interval * 1000),
        "label": label,
        "rows": [[_cell(*panel) for panel in row] for row in rows],
        "panels": panels,
    }
    data["version"] = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
    return data


def _cell(panel: str, width: float, min_width: int = PANEL_MIN_WIDTH) -> dict:
    return {"id": panel, "width": width, "min_width": min_width}


def _mount(key: str, data: dict, **callbacks):
    """The component with `data` sent inside a one-item list, which Streamlit sends as JSON as it is. (It
    checks each value of a dict, and a string, for a dataframe, which imports pandas and pyarrow: about 75 MB
    of the server, ui/server.py.)"""
    return _COMPONENT(key=key, data=[data], height="content", **callbacks)


def stepped_view(
    data: dict,
    fields: list[url_state.Field],
    below: Callable[[], None] | None = None,
    key: str = "stepper",
) -> None:
    """Mount the stepper on the page's URL field t (one of `fields`, loaded by the page, kept in the session
    under its own name), in a fragment: the step it reports goes to the URL without rerunning the rest of the
    page. `below()` is drawn after it in the same fragment (e.g. a link carrying the current step)."""
    name = next(field.state_name for field in fields if field.name == "t")
    # The page's step goes in with the views: fragment reruns then pass the very same data (cached by the
    # browser), while the component keeps the step it is on, unless the step came from the URL again since
    # (the browser's Back or Forward button): `from_url` counts those.
    step = {"t": int(url_state.get(name)), "from_url": url_state.times_from_url(name)}
    _stepper_fragment({**data, **step}, tuple(fields), below, name, key)


@st.fragment
def _stepper_fragment(data, fields, below, name, key):
    result = _mount(key, data, on_step_change=lambda: None)
    # The component keeps its last report across reruns, and each report has an id of its own: only a new id is
    # the learner moving. (The page may have moved t since, to another example's first step or with the
    # browser's Back button; a stale report must not undo that, and a new one to the same step must count.)
    report, seen = getattr(result, "step", None), f"{key}.reported"
    if report is not None and report["id"] != st.session_state.get(seen):
        st.session_state[seen] = report["id"]
        url_state.set(name, min(max(int(report["t"]), data["first"]), data["last"]))
    url_state.save(list(fields))
    if below is not None:
        below()
