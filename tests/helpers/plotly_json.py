"""Decoding Plotly's typed-array JSON ({"dtype", "bdata", "shape"}), shared by the page and figure tests."""

import base64
import json

import numpy as np
import plotly.graph_objects as go


def decode(value):
    """A Plotly JSON value as a NumPy array: typed arrays are base64-decoded, lists converted as they are."""
    if isinstance(value, dict) and "bdata" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        if shape:
            dims = [int(d) for d in str(shape).split(",")] if not isinstance(shape, list) else shape
            array = array.reshape(dims)
        return array
    return np.asarray(value)


def figure_json(fig_or_spec) -> dict:
    """A figure (go.Figure, or the JSON spec AppTest exposes) as a plain dict."""
    if isinstance(fig_or_spec, go.Figure):
        return json.loads(fig_or_spec.to_json())
    return json.loads(fig_or_spec) if isinstance(fig_or_spec, str) else fig_or_spec


def stepped_figure(payload: dict, step: int) -> dict:
    """The figure the stepper component draws at `step` from a Stepped payload, merged as ui/stepper.js does:
    a patch's trace attributes and top-level layout keys replace the base's (a None layout value removes)."""
    patch = payload["patches"][step]
    updates = patch.get("data", {})
    data = [{**trace, **updates.get(str(i), {})} for i, trace in enumerate(payload["base"]["data"])]
    layout = {**payload["base"]["layout"], **patch.get("layout", {})}
    return {"data": data, "layout": {key: value for key, value in layout.items() if value is not None}}
