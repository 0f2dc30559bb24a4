"""serve.py, the README's start command: Streamlit's own command in a process started with glibc's arenas
limited, whose connections send every response at once."""

import os
import select
import socket
import sys

import pytest
from streamlit.web import cli
from streamlit.web.server.starlette import starlette_server

import serve
from tests.helpers.paths import REPO

SERVE = str(REPO / "serve.py")


class Started(Exception):
    """Raised in place of os.execv or Streamlit's command line: what serve.py would have run."""


@pytest.fixture
def started(monkeypatch, tmp_path):
    """Run serve.main() from another folder with os.execv and Streamlit's command line caught; returns a
    function of (argv, environ, script, platform) giving what serve.py ran: ("exec", path, args, environ)
    or ("streamlit", sys.argv, environ, starlette_server._bind_socket)."""

    def execv(path, args):
        raise Started("exec", path, args, dict(os.environ))

    def streamlit_main(prog_name):
        assert prog_name == "streamlit"
        raise Started("streamlit", list(sys.argv), dict(os.environ), starlette_server._bind_socket)

    def run(argv, environ, script=SERVE, platform="linux"):
        monkeypatch.chdir(tmp_path)
        monkeypatch.setattr(sys, "argv", [script, *argv])
        monkeypatch.setattr(sys, "orig_argv", ["python3", "-X", "dev", script, *argv])
        monkeypatch.setattr(sys, "platform", platform)
        monkeypatch.setattr(os, "execv", execv)
        monkeypatch.setattr(cli, "main", streamlit_main)
        # Put back after the test: serve.py replaces it for the process it runs in.
        bind_socket = getattr(starlette_server, "_bind_socket", None)
        monkeypatch.setattr(starlette_server, "_bind_socket", bind_socket, raising=False)
        # Set, then deleted: monkeypatch puts back whatever the variable was, absent included, after the test.
        monkeypatch.setenv("MALLOC_ARENA_MAX", "unset by the test")
        monkeypatch.delenv("MALLOC_ARENA_MAX")
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        with pytest.raises(Started) as start:
            serve.main()
        return start.value.args

    return run


def test_it_starts_itself_again_with_two_arenas(started):
    how, path, args, environ = started(["--server.port", "8600"], {})
    assert how == "exec"
    # The same command, the interpreter's options included, run by this interpreter.
    assert path == sys.executable
    assert args == [sys.executable, "-X", "dev", SERVE, "--server.port", "8600"]
    assert environ["MALLOC_ARENA_MAX"] == "2"


def test_then_it_runs_streamlit_run_of_the_app_without_nagles_delay(started):
    bind_socket = starlette_server._bind_socket
    how, argv, _, bind = started(["--server.port", "8600"], {"MALLOC_ARENA_MAX": "2"})
    assert how == "streamlit"
    app = str(REPO / "streamlit_app.py")  # by its full path, so that its .streamlit/config.toml is read
    assert argv == ["streamlit", "run", app, "--server.port", "8600"]
    assert bind.__wrapped__ is bind_socket  # wrapped: the option is set on the socket it binds


def test_an_operators_own_arena_count_is_kept(started):
    how, _, environ, _ = started([], {"MALLOC_ARENA_MAX": "4"})
    assert how == "streamlit"
    assert environ["MALLOC_ARENA_MAX"] == "4"


@pytest.mark.parametrize(
    ("script", "platform"),
    [
        (SERVE, "darwin"),  # no glibc: nothing to start again for
        (SERVE, "win32"),
        ("", "linux"),  # serve.main() called from a prompt or other code: its command line is not serve.py's
        ("-", "linux"),  # `python - < serve.py`: started again, it would read an empty stdin
    ],
)
def test_otherwise_it_runs_streamlit_in_the_same_process(started, script, platform):
    how, argv, environ, _ = started([], {}, script=script, platform=platform)
    assert how == "streamlit"
    assert argv == ["streamlit", "run", str(REPO / "streamlit_app.py")]
    assert environ["MALLOC_ARENA_MAX"] == "2"


def test_a_streamlit_that_binds_elsewhere_still_starts_with_a_warning(started, monkeypatch, capsys):
    monkeypatch.delattr(starlette_server, "_bind_socket")
    how, *_ = started([], {"MALLOC_ARENA_MAX": "2"})
    assert how == "streamlit"
    assert "starlette_server._bind_socket" in capsys.readouterr().err


def test_every_connection_the_server_accepts_sends_at_once(monkeypatch):
    """The socket Streamlit's server binds (through its own call site), as serve.py has it: TCP_NODELAY on it
    and on what it accepts.

    Without it, the body of a response written after its headers waits for the browser's delayed
    acknowledgement on a kept-alive connection: 44 ms per file here against 1 ms (bench/README.md).
    """
    monkeypatch.setattr(starlette_server, "_bind_socket", starlette_server._bind_socket)

    def bind():
        return starlette_server._bind_server_socket("127.0.0.1", "127.0.0.1", 0, 8)[0]

    with bind() as listening:
        # If Streamlit ever sets the option itself, serve.send_responses_at_once is no longer needed.
        assert listening.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0

    serve.send_responses_at_once()
    with bind() as listening, socket.create_connection(listening.getsockname()):
        assert select.select([listening], [], [], 5)[0], "no connection to accept"
        accepted, _ = listening.accept()
        with accepted:
            assert listening.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
