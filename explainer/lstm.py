"""The LSTM's own views on the forward and backprop pages, for the page's stepper.

Timesteps as on the vanilla cell's views (explainer.forward, explainer.backward): t = 0 is the image
(h_0 = W_proj·feature + b_proj, c_0 = 0), step t reads row t - 1 of the trace. ``forward`` is a
``core.lab.trace.LSTMForwardTrace``; the other views (network, top-k, loss, gradients) are the vanilla
cell's, which read only what both traces hold.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from explainer import highlights
from explainer.axes import log_ticks
from explainer.backward import step_unit_view
from explainer.colors import LEGEND_ABOVE, NEUTRAL, SERIES_COLORS, base_layout
from explainer.stepping import Stepped


def equation_rows(forward, t: int) -> list[tuple[str, str, np.ndarray]]:
    """(term key, label, values) of the strips of the LSTM's step t, for explainer.forward.equation_view.

    t = 0: h_0 (H,), the projection of the image feature (c_0 is 0). t >= 1: x_t (W,), then (H,) each:
    h_{t-1} and c_{t-1} as the step receives them, the gates i, f, o (between 0 and 1: how much is let
    through) and the candidate g, what the cell keeps (f ⊙ c_{t-1}) and writes (i ⊙ g), c_t, and h_t.
    """
    if t == 0:
        return [("h", "h_0 = W_proj·feature + b_proj", forward.h0)]
    s = t - 1
    return [
        ("x", "x_t (word vector, W)", forward.x[s]),
        ("h_prev", "h_t−1", forward.h_prev[s]),
        ("c", "c_t−1", forward.c_prev[s]),
        ("gates", "i = σ(a_i): input gate", forward.i[s]),
        ("gates", "f = σ(a_f): forget gate", forward.f[s]),
        ("gates", "o = σ(a_o): output gate", forward.o[s]),
        ("gates", "g = tanh(a_g): candidate", forward.g[s]),
        ("c", "f ⊙ c_t−1: kept", forward.kept[s]),
        ("gates", "i ⊙ g: written", forward.written[s]),
        ("c", "c_t = f ⊙ c_t−1 + i ⊙ g", forward.c[s]),
        ("h", "h_t = o ⊙ tanh(c_t)", forward.h[s]),
    ]


def forget_view(forward, mask) -> Stepped:
    """Heatmap of the forget gate f_t over t = 1 … T × hidden unit, the current row outlined: backprop
    multiplies the gradient carried along the cell state by f_t at every step (0 cuts it, 1 keeps it)."""
    return step_unit_view(
        forward.f, mask, "f_t", "σ(a_f), share of dL/dc_t passed to c_t−1", "Purples", "forget"
    )


def reach_view(lstm_reach, rnn_reach) -> Stepped:
    """Two lines over t = 1 … T (log axis): the share of the last scored word's loss gradient that reaches the
    state of step t, for the LSTM and for the vanilla cell traced on the same example (core.lab.trace.
    GradientReach.relative, 1 at that word's step). Steps after it get nothing: they are left out."""
    fig = go.Figure()
    for name, reach, color in (
        ("LSTM (h and c)", lstm_reach, SERIES_COLORS["cell"]),
        ("vanilla RNN (h)", rnn_reach, NEUTRAL),
    ):
        steps = np.arange(1, reach.source + 2)
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=reach.relative[: reach.source + 1],
                name=name,
                mode="lines+markers",
                line={"color": color, "width": 3},
                hovertemplate=f"{name}<br>step %{{x}}: %{{y:.2e}} of the gradient<extra></extra>",
            )
        )
    shares = np.concatenate([lstm_reach.relative, rnn_reach.relative])
    fig.update_xaxes(title="timestep t", dtick=1)
    fig.update_yaxes(title="share reaching step t", **log_ticks(shares))
    base_layout(
        fig,
        "reach",
        height=320,
        legend=LEGEND_ABOVE,
        shapes=[highlights.vline(0)],
    )
    T = lstm_reach.relative.shape[0]
    return Stepped(fig, [{"layout": {"shapes": [highlights.vline(t)]}} for t in range(T + 1)])


def gate_means(forward, t: int) -> dict[str, float]:
    """The mean over the H units of each gate at step t >= 1: {"i", "f", "o", "g"}."""
    return {name: float(getattr(forward, name)[t - 1].mean()) for name in "ifog"}
