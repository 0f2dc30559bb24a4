"""The fault suite's assertion: a bad input or fault raises exactly the expected CaptioningError, whose
message names the thing at fault, within a time bound."""

from __future__ import annotations

import time
from contextlib import contextmanager

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
