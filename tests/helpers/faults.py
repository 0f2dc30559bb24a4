"""The fault suite's assertions (a bad input or fault raises exactly the expected CaptioningError, whose
message names the thing at fault, within a time bound) and the faults of its environment (a read-only
folder, a process that has ended)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def raises_within(error: type[Exception], *names: str, seconds: float = 2.0):
    """Assert that the block raises `error` itself (not a parent or a sibling class) within `seconds`, with a
    message holding every string of `names`; yields pytest's ExceptionInfo."""
    start = time.monotonic()
    with pytest.raises(Exception) as info:
        yield info
    elapsed = time.monotonic() - start
    assert type(info.value) is error, f"{type(info.value).__name__}: {info.value}"
    message = str(info.value)
    for name in names:
        assert name in message, f"{name!r} is not named in: {message}"
    assert elapsed < seconds, f"the error came after {elapsed:.1f} s (bound {seconds} s): {message}"


@contextmanager
def within(seconds: float):
    """Assert that the block ends within `seconds`."""
    start = time.monotonic()
    yield
    elapsed = time.monotonic() - start
    assert elapsed < seconds, f"took {elapsed:.1f} s (bound {seconds} s)"


def unwritable_folder(tmp_path) -> Path:
    """A folder path under which nothing can be created: a folder of mode 0555, or, for root (whom modes do
    not stop), a path inside /sys, where nobody may create anything."""
    if os.geteuid() == 0:
        if not os.path.isdir("/sys"):
            pytest.skip("root without /sys: no folder is read-only")
        return Path("/sys") / f"rnn-explainer-{tmp_path.name}"
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder / "home"


def dead_pid() -> int:
    """The id of a process that has ended."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# Values a hostile link, vocabulary or URL file carries: a Markdown link posing as the app (the issue's
# example, with backticks that would close a code span), a remote image, HTML, a line break that would start
# a heading, and a value far longer than anything shown.
HOSTILE = (
    "x` [Session expired - log in again](https://evil.example/login) `y",
    "![t](https://evil.example/p.png)",
    "<img src=https://evil.example/x.png onerror=alert(1)>",
    "<a href='https://evil.example/a'>click</a>",
    "1\n\n# [Heading](https://evil.example/h)",
    "https://evil.example/" + "a" * 300,
)
# What Markdown or Plotly would turn into a link, an image or HTML; in text escaped for them, none is left
# (escaped Markdown reads "evil\\.example", escaped HTML "&lt;a"). Markdown also links a URL written as
# text, escaped or not ("https\\:\\/\\/…"), unless something breaks its "://".
_MARKDOWN_INJECTION = re.compile(
    r"(?<!\\)\]\(|(?<!\\)<\s*(?:a|img|script)\b|evil\.example|https?\\?:\\?/\\?/|www\\?\.", re.IGNORECASE
)
_FIGURE_INJECTION = re.compile(r"<\s*(?:a|img|script)\b", re.IGNORECASE)


def markdown_injections(texts) -> list[str]:
    """The Markdown texts in which an outside value would become a link, an image or HTML."""
    return [text for text in texts if _MARKDOWN_INJECTION.search(text)]


def figure_injections(texts) -> list[str]:
    """The Plotly texts in which an outside value would become a link, an image or HTML."""
    return [text for text in texts if _FIGURE_INJECTION.search(text)]
