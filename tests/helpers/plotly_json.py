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
