"""The step functions as code, each line coloured like the term of the equation it computes.

The pages render the returned HTML next to the equation heatmaps, which use the same ``TERM_COLORS``.
"""

from html import escape

from explainer.colors import TERM_COLORS

ACTIVATION_CODE = {
    "tanh": ("np.tanh(a)", "1 - next_h**2"),
    "sigmoid": ("1 / (1 + np.exp(-a))", "next_h * (1 - next_h)"),
    "relu": ("np.maximum(a, 0)", "(next_h > 0)"),
}


def forward_step_lines(activation: str) -> list[tuple[str, str | None]]:
    """(code line, term) pairs of rnn_step_forward for `activation`; term None for plain lines."""
    f, _ = ACTIVATION_CODE[activation]
    return [
        ("def rnn_step_forward(x, prev_h, Wx, Wh, b):", None),
        ("    input_term = x @ Wx         # Wx·x_t", "wx_x"),
        ("    carried_term = prev_h @ Wh  # Wh·h_{t-1}", "wh_h"),
        ("    a = input_term + carried_term + b", "b"),
        (f"    next_h = {f}  # h_t = f(a_t)", "h"),
        ("    return next_h, (x, prev_h, next_h, Wx, Wh)", None),
    ]


def backward_step_lines(activation: str) -> list[tuple[str, str | None]]:
    """(code line, term) pairs of rnn_step_backward for `activation`."""
    _, derivative = ACTIVATION_CODE[activation]
    return [
        ("def rnn_step_backward(dnext_h, cache):", None),
        ("    x, prev_h, next_h, Wx, Wh = cache", None),
        (f"    da = dnext_h * ({derivative})  # f'(a_t)", "da"),
        ("    dx = da @ Wx.T", None),
        ("    dprev_h = da @ Wh.T  # to step t-1", "carried"),
        ("    dWx = x.T @ da       # step t's share", "grad_w"),
        ("    dWh = prev_h.T @ da  # step t's share", "grad_w"),
        ("    db = da.sum(axis=0)", "grad_w"),
        ("    return dx, dprev_h, dWx, dWh, db", None),
    ]


def code_html(lines: list[tuple[str, str | None]], active: str | None = None) -> str:
    """A <pre> block of `lines`, each term line coloured with its TERM_COLORS entry.

    The line whose term is `active` is also shaded, to point at what the figure beside it shows.
    """
    rows = []
    for text, term in lines:
        if term is None:
            rows.append(f'<span style="color:#374151">{escape(text)}</span>')
            continue
        color = TERM_COLORS[term]
        shade = f"background:{color}22;" if term == active else ""
        rows.append(
            f'<span data-term="{term}" style="color:{color};font-weight:600;border-left:4px solid {color};'
            f'padding-left:4px;{shade}">{escape(text)}</span>'
        )
    body = "\n".join(rows)
    return (
        '<pre style="font-size:0.85rem;line-height:1.5;background:#f9fafb;padding:0.75rem;'
        f'border-radius:0.5rem;overflow-x:auto">{body}</pre>'
    )


def equation_latex(activation: str, t: int) -> str:
    """LaTeX of the step equation at timestep t with each term in its colour (for ``st.latex``)."""
    f = {"tanh": r"\tanh", "sigmoid": r"\sigma", "relu": r"\mathrm{ReLU}"}[activation]
    c = TERM_COLORS
    return (
        rf"\color{{{c['h']}}}{{h_{{{t}}}}} \color{{black}}{{\;=\;{f}\big(}}"
        rf"\color{{{c['wx_x']}}}{{W_x\,x_{{{t}}}}} \color{{black}}{{\;+\;}}"
        rf"\color{{{c['wh_h']}}}{{W_h\,h_{{{t - 1}}}}} \color{{black}}{{\;+\;}}"
        rf"\color{{{c['b']}}}{{b}}\color{{black}}{{\big)}}"
    )
