"""Views that step through time in the browser.

A stepped figure is sent once with every step in it: the figure of the first step (``base``) and, for each
step, what differs from it (``patches``): the traces' attributes and the layout's top-level keys that
change. The page's stepper component swaps them in the browser, so moving to another timestep needs no
round trip to the server. Every number in a patch is one the explainer read from the trace.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
from _plotly_utils.utils import to_typed_array_spec


@dataclass
class Stepped:
    """A figure over steps 0 … len(patches) - 1.

    patches[i]: {"data": {trace index: {attribute: value}}, "layout": {key: value}} for step i, each value
    replacing the base's (a None layout value removes the key).
    """

    base: go.Figure
    patches: list = field(default_factory=list)

    def at(self, step: int) -> go.Figure:
        """The whole figure of one step, as the browser draws it."""
        fig = go.Figure(self.base)
        patch = self.patches[step]
        for index, attributes in patch.get("data", {}).items():
            fig.data[int(index)].update(attributes, overwrite=True)
        layout = patch.get("layout", {})
        fig.update_layout({key: value for key, value in layout.items() if value is not None}, overwrite=True)
        for key in (key for key, value in layout.items() if value is None):
            fig.layout[key] = None
        return fig

    def payload(self) -> dict:
        """JSON-ready {"base": figure, "patches": [...]}: numeric arrays as Plotly's base64 typed arrays."""
        return {"base": json.loads(self.base.to_json()), "patches": encode(self.patches)}


def encode(value):
    """A value made of dicts, lists, numbers, strings and NumPy arrays, as JSON-ready data for Plotly.js:
    numeric arrays become typed-array specs ({"dtype", "bdata", "shape"}), other arrays lists."""
    if isinstance(value, dict):
        return {str(key): encode(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(item) for item in value]
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fiub" and value.size:
            return to_typed_array_spec(value.astype(np.float32) if value.dtype.kind == "f" else value)
        return [encode(item) for item in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value
