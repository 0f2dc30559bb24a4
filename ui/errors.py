"""Friendly error display: problems become short messages on the page, never a raw traceback."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from core.errors import CaptioningError, ImageLoadError, NonFiniteError
from explainer.escape import MAX_MESSAGE, plain

_LOG = logging.getLogger(__name__)


def _advice(exc: CaptioningError) -> str:
    """A sentence on what to do next, by kind of problem."""
    if isinstance(exc, NonFiniteError):
        return "Try a smaller Wh scale or learning rate, or reset."
    if isinstance(exc, ImageLoadError):
        return "The rest of the page still works without the picture."
    return "Change the setting named above and the page will update."


@contextmanager
def friendly_errors(what: str = "this view") -> Iterator[None]:
    """Show exceptions raised inside the block as ``st.error`` messages and carry on.

    A ``core.errors.CaptioningError`` is something the learner can fix: its message (which names the
    setting or file at fault) is shown as is. Anything else is a bug: a short apology plus a collapsed
    "Technical details" expander for the bug report. Streamlit's own control flow (``st.rerun``,
    ``st.stop``) derives from BaseException and passes through untouched; session state is never cleared.
    """
    try:
        yield
    except Exception as exc:
        show_error(exc, what)


def show_error(exc: Exception, what: str = "this view") -> None:
    """Show one exception as ``friendly_errors`` does (also for errors caught in a background job)."""
    if isinstance(exc, CaptioningError):
        # The message quotes file names, words and values from outside: shown as text, not Markdown.
        st.error(f"{plain(exc, MAX_MESSAGE)} {_advice(exc)}", icon="⚠️")
        return
    # A bug: the whole traceback goes to the server's log for whoever runs the server.
    _LOG.error("Error while drawing %s", what, exc_info=exc)
    st.error(
        f"Something went wrong while drawing {what} ({type(exc).__name__}). Your settings are kept: "
        "change one of them or reload the page. If it happens again, please report it with the details below.",
        icon="🐞",
    )
    with st.expander("Technical details"):
        st.code(_details(exc), language="text")


def _details(exc: Exception) -> str:
    """Exception type, message and the innermost frame: enough for a bug report, not a wall of text."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"\nat {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"
