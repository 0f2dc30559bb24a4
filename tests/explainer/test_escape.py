"""explainer.escape: outside values as text for Streamlit's Markdown and Plotly's labels."""

import re
import string

import numpy as np

from explainer.escape import MAX_SHOWN, figure_text, plain, shorten
from tests.helpers.faults import HOSTILE


def unescape(markdown: str) -> str:
    """What CommonMark shows for a text whose only markup is backslash escapes (and zero-width spaces)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace("\u200b", "")


def test_every_ascii_punctuation_is_escaped_and_shown_as_itself():
    escaped = plain(string.punctuation, None)
    assert escaped.replace("\u200b", "") == "".join("\\" + c for c in string.punctuation)
    assert unescape(escaped) == string.punctuation


def test_random_text_round_trips_and_leaves_no_punctuation_bare():
    rng = np.random.default_rng(0)
    alphabet = string.printable + "é“”…→\u202e"
    for _ in range(200):
        text = "".join(rng.choice(list(alphabet), size=int(rng.integers(0, 120))))
        escaped = plain(text)
        assert unescape(escaped) == shorten(text)
        bare = re.sub(r"\\[!-/:-@\[-`{-~]", "", escaped)
        assert not set(bare) & set(string.punctuation), escaped
        assert "\n" not in escaped and "\r" not in escaped and "\u202e" not in escaped


def test_urls_written_as_text_are_not_linked():
    """GitHub's Markdown links https://…, www.… and e-mail addresses found in text, escaped or not."""
    escaped = plain("see https://evil.example/a, WWW.evil.example or me@evil.example")
    assert unescape(escaped) == "see https://evil.example/a, WWW.evil.example or me@evil.example"
    assert "https\\:\u200b\\/\\/" in escaped and "WWW\u200b\\." in escaped and "\\@\u200b" in escaped


def test_long_values_are_cut_with_an_ellipsis():
    long = HOSTILE[-1]
    assert len(long) > MAX_SHOWN
    assert shorten(long) == long[: MAX_SHOWN - 1] + "…" and len(shorten(long)) == MAX_SHOWN
    assert shorten(long, None) == long
    assert shorten("line one\nline two\ttab") == "line one line two tab"


def test_figure_text_escapes_only_what_plotly_reads_as_markup():
    assert figure_text("<a href='https://evil.example'>x</a> & <br>") == (
        "&lt;a href='https://evil.example'&gt;x&lt;/a&gt; &amp; &lt;br&gt;"
    )
    assert figure_text("<START>") == "&lt;START&gt;"
    assert figure_text("[x](y) *z*") == "[x](y) *z*"  # Plotly does not read Markdown


def test_invisible_characters_are_shown_by_their_codes():
    """A bidirectional override or a zero-width space in a link's value is shown, not dropped: a message
    quoting “\\u202eWh” must not read as if it quoted “Wh”."""
    assert shorten("\u202eWh") == "\\u202eWh" and shorten("W\u200bh") == "W\\u200bh"
    assert unescape(plain("\u202eWh")) == "\\u202eWh"
