"""Text from outside the code (a link's values, the words and URLs of a data file, a learner's input, an error
message quoting them) shown as text: cut when long, and escaped for the Markdown of Streamlit's elements or
the HTML-like labels of Plotly figures, so that nothing in it becomes a link, an image or markup."""

from __future__ import annotations

import html
import re
import unicodedata

# How many characters of an outside value are shown (the rest is cut, with an ellipsis): a value (a word,
# a URL, a link's setting), a sentence made of them (a caption), a message quoting them (an error).
MAX_SHOWN = 80
MAX_SENTENCE = 300
MAX_MESSAGE = 1000

# CommonMark lets any ASCII punctuation be escaped with a backslash, and then shows it as itself; escaping
# all of it covers links, images, emphasis, code spans, HTML, autolinks, tables, headings and lists, and
# Streamlit's own directives (:colour[...], :material/...:, $math$).
_MARKDOWN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")
# Streamlit's Markdown (GitHub's) turns a URL written in plain text into a link, after the escapes are read:
# a zero-width space after "scheme:", "www" and "@" keeps https://…, www.… and e-mail addresses as text.
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?<=\bwww)(?=\.)|(?<=@)", re.IGNORECASE)
_ZERO_WIDTH_SPACE = "\u200b"


def _visible(character: str) -> str:
    """Line breaks and other control characters would start new Markdown blocks (or hide text): a space.
    Invisible format characters (bidirectional overrides, which could reorder what is shown, zero-width
    spaces and joiners) are written as their code, so that a message quoting a value shows all of it."""
    category = unicodedata.category(character)
    if category == "Cc":
        return " "
    return f"\\u{ord(character):04x}" if category == "Cf" else character


def shorten(value, limit: int | None = MAX_SHOWN) -> str:
    """str(value) on one line, control characters as spaces and invisible ones as their codes (\\u202e),
    cut to `limit` characters with an ellipsis (no cut with limit None)."""
    text = "".join(map(_visible, str(value)))
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    return text


def plain(value, limit: int | None = MAX_SHOWN) -> str:
    """Markdown that shows `value` literally (see shorten), for st.markdown, st.caption, st.info, image
    captions and the like: no part of it becomes a link (a URL gets an invisible zero-width space), an
    image or markup. Do not put the result inside a code span (backslashes show there)."""
    text = _AUTOLINK.sub(_ZERO_WIDTH_SPACE, shorten(value, limit))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def figure_text(value, limit: int | None = MAX_SHOWN) -> str:
    """`value` for a Plotly label, tick, hover or annotation text, which read <b>, <a href=...>, <br> and
    the like as markup: &, < and > as HTML entities, which Plotly shows as the characters. The same holds in
    the HTML the explainer builds for st.html (explainer.table's cells)."""
    return html.escape(shorten(value, limit), quote=False)
