"""serve.py, the README's start command: Streamlit's own command, started with glibc's arenas limited."""

import os
import signal
import sys

import pytest

import serve
from tests.helpers.paths import REPO


class Started(Exception):
    """Raised in place of os.execv: the command serve.py would have become."""


@pytest.fixture
def started(monkeypatch, tmp_path):
    """Run serve.main() from another folder with os.execv caught; returns a function of argv and environ."""

    def execv(path, args):
        raise Started(path, args, dict(os.environ))

    def run(argv, environ):
        monkeypatch.chdir(tmp_path)
        monkeypatch.setattr(sys, "argv", ["serve.py", *argv])
        monkeypatch.setattr(os, "name", "posix")
        monkeypatch.setattr(os, "execv", execv)
        # Set, then deleted: monkeypatch puts back whatever the variable was, absent included, after the test.
        monkeypatch.setenv("MALLOC_ARENA_MAX", "unset by the test")
        monkeypatch.delenv("MALLOC_ARENA_MAX")
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        with pytest.raises(Started) as start:
            serve.main()
        return start.value.args

    return run


def test_it_becomes_streamlit_run_of_the_app_with_two_arenas(started):
    path, args, environ = started(["--server.port", "8600"], {})
    assert path == sys.executable
    app = str(REPO / "streamlit_app.py")  # by its full path, so that its .streamlit/config.toml is read
    assert args == [sys.executable, "-m", "streamlit", "run", app, "--server.port", "8600"]
    assert environ["MALLOC_ARENA_MAX"] == "2"


def test_an_operators_own_arena_count_is_kept(started):
    _, _, environ = started([], {"MALLOC_ARENA_MAX": "4"})
    assert environ["MALLOC_ARENA_MAX"] == "4"


def test_elsewhere_it_runs_streamlit_as_a_child_and_exits_with_its_code(monkeypatch):
    calls = []
    monkeypatch.setattr(sys, "argv", ["serve.py"])
    monkeypatch.setattr(os, "name", "nt")
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
    monkeypatch.setattr(serve.signal, "signal", lambda number, handler: calls.append((number, handler)))
    monkeypatch.setattr(serve.subprocess, "call", lambda command: calls.append(command) or 3)
    with pytest.raises(SystemExit) as exit_:
        serve.main()
    assert exit_.value.code == 3
    # Ctrl+C is left to Streamlit, which stops by itself, instead of killing it from here.
    assert calls == [
        (signal.SIGINT, signal.SIG_IGN),
        [sys.executable, "-m", "streamlit", "run", str(REPO / "streamlit_app.py")],
    ]
