"""The decoder of Plotly's typed-array JSON that the figure and page tests read charts with."""

import numpy as np
import plotly.graph_objects as go

from tests.helpers.plotly_json import decode, figure_json


def test_decode_typed_array_round_trip():
    z = np.arange(12, dtype=np.float64).reshape(3, 4) / 7
    spec = figure_json(go.Figure(go.Heatmap(z=z)))
    np.testing.assert_allclose(decode(spec["data"][0]["z"]), z)


def test_decode_plain_list():
    np.testing.assert_allclose(decode([1.5, 2.5]), [1.5, 2.5])
