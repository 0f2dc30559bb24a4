"""The code on screen: the engine functions that computed a page's numbers, read from the functions
themselves (``core.lab.source.function_source``), each line coloured like the term of the equation it
computes. The pages render the HTML next to the equation heatmaps, which use the same ``TERM_COLORS``.
"""

import re
from html import escape

from core.engine import activations
from core.engine.rnn_layers import lstm_backward, lstm_forward, rnn_backward, rnn_forward
from core.lab.source import function_source
from explainer.colors import TERM_COLORS

# The term a line computes, by the name it assigns to: "carried_term[t] = prev_h @ Wh" computes Wh·h_{t-1}.
FORWARD_TERMS = {"input_term": "wx_x", "carried_term": "wh_h", "a": "a", "h": "h"}
BACKWARD_TERMS = {"da": "da", "dprev_h": "carried", "dWx": "grad_w", "dWh": "grad_w", "db": "grad_w"}
LSTM_FORWARD_TERMS = {
    "input_term": "wx_x",
    "carried_term": "wh_h",
    "a": "a",
    "gates": "gates",
    "c": "c",
    "tanh_c": "c",
    "h": "h",
}
LSTM_BACKWARD_TERMS = {
    "dc": "c",
    "da_i": "da",
    "da_f": "da",
    "da_o": "da",
    "da_g": "da",
    "dprev_c": "c",
    "dprev_h": "carried",
    "dWx": "grad_w",
    "dWh": "grad_w",
    "db": "grad_w",
}
# How the equations write each activation f.
ACTIVATION_SYMBOLS = {"tanh": "tanh", "sigmoid": "σ", "relu": "ReLU"}
# An assignment that computes something (not one that only allocates the array: np.empty..., np.zeros...).
_ASSIGNMENT = re.compile(r"^\s*([A-Za-z_]\w*)\s*(\[[^\]]*\])?\s*[-+*/]?=(?!=)(?!\s*np\.(empty|zeros))")


def source_lines(function, terms: dict) -> list[tuple[str, str | None]]:
    """(line, term) for every line of function_source(function): the term is terms[name] for a line that
    assigns to `name` (or to an element of it), None for the others."""
    lines = []
    for line in function_source(function).rstrip("\n").split("\n"):
        match = _ASSIGNMENT.match(line)
        lines.append((line, terms.get(match.group(1)) if match else None))
    return lines


def forward_code(activation: str) -> tuple[list, list]:
    """The forward page's code: rnn_forward's lines with their terms, and the lines of the activation f."""
    return source_lines(rnn_forward, FORWARD_TERMS), source_lines(activations.FUNCTIONS[activation], {})


def backward_code(activation: str) -> tuple[list, list]:
    """The backprop page's code: rnn_backward's lines with their terms, and the lines of f' written through h."""
    return source_lines(rnn_backward, BACKWARD_TERMS), source_lines(activations.DERIVATIVES[activation], {})


def lstm_forward_code() -> tuple[list, list]:
    """The forward page's code for the LSTM: lstm_forward's lines with their terms, and σ and tanh."""
    nonlinearities = source_lines(activations.sigmoid, {}) + [("", None)] + source_lines(activations.tanh, {})
    return source_lines(lstm_forward, LSTM_FORWARD_TERMS), nonlinearities


def lstm_backward_code() -> tuple[list, list]:
    """The backprop page's code for the LSTM: lstm_backward's lines with their terms, and σ' and tanh'
    written through the values of the gates."""
    derivatives = source_lines(activations.sigmoid_derivative, {}) + [("", None)]
    return source_lines(lstm_backward, LSTM_BACKWARD_TERMS), derivatives + source_lines(
        activations.tanh_derivative, {}
    )


def code_html(
    lines: list[tuple[str, str | None]], active: str | None = None, changed: set | None = None
) -> str:
    """A <pre> block of `lines`, each term line coloured with its TERM_COLORS entry.

    The lines whose term is `active` are also shaded, to point at what the figure beside it shows; the
    line numbers in `changed` (0-based) are struck through in red (a deliberate bug's replaced line).
    Every character of the code is escaped: nothing in it is interpreted as HTML.
    """
    rows = []
    for number, (text, term) in enumerate(lines):
        if changed and number in changed:
            rows.append(f'<span style="color:#b91c1c;text-decoration:line-through">{escape(text)}</span>')
        elif term is None:
            rows.append(f'<span style="color:#374151">{escape(text)}</span>')
        else:
            color = TERM_COLORS[term]
            shade = f"background:{color}22;" if term == active else ""
            rows.append(
                f'<span data-term="{term}" style="color:{color};font-weight:600;border-left:4px solid {color};'
                f'padding-left:4px;{shade}">{escape(text)}</span>'
            )
    return wrapped_pre(rows)


def wrapped_pre(rows: list[str]) -> str:
    """A <pre> code panel of `rows` (each one line of code, already escaped HTML)."""
    # Each line is a block that wraps where the panel is narrow (a projector), its continuation indented
    # under the code it continues: nothing is cut or hidden behind a scroll bar.
    line = '<div style="padding-left:4ch;text-indent:-4ch;min-height:1.45em">{}</div>'
    body = "".join(line.format(row) for row in rows)
    return (
        '<pre style="font-size:0.78rem;line-height:1.45;background:#f9fafb;padding:0.75rem;'
        f'border-radius:0.5rem;white-space:pre-wrap;overflow-wrap:anywhere">{body}</pre>'
    )


def equation_html(activation: str, t: int) -> str:
    """The step equation at timestep t, each term in its colour (h_0 = W_proj·feature + b_proj at t = 0)."""
    c = TERM_COLORS

    def term(key, text):
        return f'<span style="color:{c[key]};font-weight:600">{text}</span>'

    if t == 0:
        body = f"{term('h', 'h<sub>0</sub>')} = W<sub>proj</sub>·feature + b<sub>proj</sub>"
    else:
        f = ACTIVATION_SYMBOLS[activation]
        body = (
            f"{term('h', f'h<sub>{t}</sub>')} = {f}( {term('wx_x', f'W<sub>x</sub>·x<sub>{t}</sub>')} + "
            f"{term('wh_h', f'W<sub>h</sub>·h<sub>{t - 1}</sub>')} + {term('b', 'b')} )"
        )
    return f'<p style="font-size:1.35rem;text-align:center;margin:0.25rem 0">{body}</p>'


def lstm_equation_html(t: int) -> str:
    """The LSTM's step equations at timestep t, each term in its colour (h_0 and c_0 = 0 at t = 0)."""
    c = TERM_COLORS

    def term(key, text):
        return f'<span style="color:{c[key]};font-weight:600">{text}</span>'

    def sub(name, key, step):
        return term(key, f"{name}<sub>{step}</sub>")

    if t == 0:
        body = f"{sub('h', 'h', 0)} = W<sub>proj</sub>·feature + b<sub>proj</sub>, {sub('c', 'c', 0)} = 0"
    else:
        gates = ", ".join(sub(g, "gates", t) for g in "ifo")
        body = (
            f"{gates} = σ(·), {sub('g', 'gates', t)} = tanh(·) of {term('a', f'W<sub>x</sub>·x<sub>{t}</sub> + W<sub>h</sub>·h<sub>{t - 1}</sub> + b')}"
            f"<br>{sub('c', 'c', t)} = {sub('f', 'gates', t)} ⊙ {sub('c', 'c', t - 1)} + {sub('i', 'gates', t)} ⊙ "
            f"{sub('g', 'gates', t)}, &nbsp; {sub('h', 'h', t)} = {sub('o', 'gates', t)} ⊙ tanh({sub('c', 'c', t)})"
        )
    return f'<p style="font-size:1.2rem;text-align:center;margin:0.25rem 0;line-height:1.6">{body}</p>'
