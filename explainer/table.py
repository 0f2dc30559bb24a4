"""A small table (a few rows of numbers and words) as HTML for st.html, every cell shown as text.

Streamlit's st.dataframe would need pandas and pyarrow in the server, about 75 MB of its memory for tables
of at most a few dozen rows (bench/README.md, "Ten learners").
"""

from __future__ import annotations

from numbers import Number

from explainer.escape import MAX_SENTENCE, figure_text

_CELL = "padding:0.3rem 0.5rem;border-bottom:1px solid #e5e7eb;"
_HEAD = "padding:0.3rem 0.5rem;border-bottom:2px solid #d1d5db;font-weight:600;"
TABLE_CLASS = "rnn-table"
# Long tables (e.g. every change of a lane's caption) scroll inside this height.
_MAX_HEIGHT = "24rem"
# Characters: a column whose values are all this short (numbers such as 6.54e-11, shapes, verdicts) is never
# broken across lines, where a narrow screen would write "6.54e-" above "11".
_SHORT = 12


def html_table(rows: list[dict], empty: str = "—") -> str:
    """A <table> of `rows`: one column per key (in the order they first appear), one line per row.

    A missing key or None shows `empty`; a column of numbers is right-aligned, a column of short values kept on
    one line; every cell is cut to MAX_SENTENCE characters and HTML-escaped, so a word of the data is shown as
    itself, never as markup.
    """
    columns = list(dict.fromkeys(key for row in rows for key in row))
    values = {column: [row.get(column) for row in rows] for column in columns}
    align = {column: "right" if _numeric(values[column]) else "left" for column in columns}
    white_space = {
        column: "nowrap" if all(len(str(v)) <= _SHORT for v in values[column] if v is not None) else "normal"
        for column in columns
    }
    head = "".join(
        f'<th style="{_HEAD}text-align:{align[c]}">{figure_text(c, MAX_SENTENCE)}</th>' for c in columns
    )
    body = []
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column)
            shown = empty if value is None else value
            cells.append(
                f'<td style="{_CELL}text-align:{align[column]};white-space:{white_space[column]}">'
                f"{figure_text(shown, MAX_SENTENCE)}</td>"
            )
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<div style="max-height:{_MAX_HEIGHT};overflow-y:auto">'
        f'<table class="{TABLE_CLASS}" style="border-collapse:collapse;width:100%;font-size:0.9rem">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _numeric(values: list) -> bool:
    """Whether the values that are there are all numbers (not booleans), and there is one."""
    present = [v for v in values if v is not None]
    return bool(present) and all(isinstance(v, Number) and not isinstance(v, bool) for v in present)
