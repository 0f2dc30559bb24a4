"""serve.py, the README's start command: Streamlit's own command, started with glibc's arenas limited."""

import os
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
        raise Started(path, args, dict(os.environ), os.getcwd())

    def run(argv, environ):
        monkeypatch.chdir(tmp_path)
        monkeypatch.setattr(sys, "argv", ["serve.py", *argv])
        monkeypatch.setattr(os, "name", "posix")
        monkeypatch.setattr(os, "execv", execv)
        monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        with pytest.raises(Started) as start:
            serve.main()
        return start.value.args

    return run


def test_it_becomes_streamlit_run_with_two_arenas_in_the_repository(started):
    path, args, environ, cwd = started(["--server.port", "8600"], {})
    assert path == sys.executable
    assert args == [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", "8600"]
    assert environ["MALLOC_ARENA_MAX"] == "2"
    # Streamlit finds .streamlit/config.toml (the sidebar's navigation, no file watcher) in the folder it starts in.
    assert cwd == str(REPO)


def test_an_operators_own_arena_count_is_kept(started):
    _, _, environ, _ = started([], {"MALLOC_ARENA_MAX": "4"})
    assert environ["MALLOC_ARENA_MAX"] == "4"


def test_elsewhere_it_runs_streamlit_as_a_child_and_exits_with_its_code(monkeypatch):
    calls = []
    monkeypatch.setattr(sys, "argv", ["serve.py"])
    monkeypatch.setattr(os, "name", "nt")
    monkeypatch.setattr(os, "chdir", lambda path: None)
    monkeypatch.setattr(serve.subprocess, "call", lambda command: calls.append(command) or 3)
    with pytest.raises(SystemExit) as exit_:
        serve.main()
    assert exit_.value.code == 3
    assert calls == [[sys.executable, "-m", "streamlit", "run", "streamlit_app.py"]]
