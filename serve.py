"""Start the app: `python serve.py [Streamlit's options]` runs `streamlit run streamlit_app.py [options]` in a
server process set up for a class on a small machine. `streamlit run streamlit_app.py` starts the same app
without these two settings.

- **Two malloc arenas** (`MALLOC_ARENA_MAX=2`). glibc gives every thread that allocates an arena of its
  own, up to eight per core, and each arena keeps what its threads held at their peak. The server runs
  every learner's script in a thread of its own, and the race's workers and the training jobs in others:
  with ten learners and two races on 2 cores, the server peaked at 321-422 MiB with the default arenas and
  at 242-261 MiB with two (bench/README.md, "Ten learners at once"), answering clicks as fast: Python
  threads allocate while holding the interpreter's lock, so they seldom wait for each other's arena.
  glibc reads the variable only when a process starts, so on Linux serve.py sets it and starts itself
  again (`exec`: the same process id and signals, the interpreter's options kept); processes the server
  starts inherit it. A value already in the environment is kept; other C libraries ignore the variable.
- **Every response sent at once** (`TCP_NODELAY`). Streamlit 1.67 binds its listening socket itself, as
  `socket.socket(family)`, whose protocol number is 0; asyncio switches Nagle's algorithm off only on
  sockets whose protocol is `IPPROTO_TCP`, so it stays on. The server writes a response's headers and its
  body separately, and on a connection the browser keeps open for its next request the body then waits
  for the browser's delayed acknowledgement of the headers, for every file after a connection's first:
  40 ms with a browser on Linux (Windows' timer is 200 ms). A first visit of a page fetches more than a
  hundred files, up to six at a time (bench/README.md, "In the browser"). The option set on the listening
  socket is inherited by every connection it accepts (Linux; tests/test_serve.py checks it).
"""

import functools
import os
import socket
import sys
from pathlib import Path

# The app's entry point, named by its full path: Streamlit then reads .streamlit/config.toml beside it from
# whichever folder the command is given.
APP = Path(__file__).resolve().parent / "streamlit_app.py"
MALLOC_ARENAS = "2"


def main() -> None:
    if "MALLOC_ARENA_MAX" not in os.environ:
        os.environ["MALLOC_ARENA_MAX"] = MALLOC_ARENAS
        if sys.platform == "linux" and started_as_this_script():
            # The same command again, in a process that starts with the variable.
            os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
    # Imported only after the restart: the first process of a start needs no Streamlit.
    send_responses_at_once()
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(APP), *sys.argv[1:]]
    cli.main(prog_name="streamlit")


def started_as_this_script() -> bool:
    """Whether this process runs serve.py as its script (`python serve.py` or `python -m serve`), so that its
    command line starts the same again; not when serve.main() is called from other code or a prompt."""
    return bool(sys.argv[0]) and Path(sys.argv[0]).resolve() == Path(__file__).resolve()


def send_responses_at_once() -> None:
    """Switch Nagle's algorithm off on the socket Streamlit's server listens on, so on every connection."""
    try:
        from streamlit.web.server.starlette import starlette_server
    except ImportError:
        starlette_server = None
    if getattr(starlette_server, "_bind_socket", None) is None:
        print(
            "serve.py: this Streamlit binds its socket elsewhere than starlette_server._bind_socket; its "
            "responses may each wait for the browser (see serve.py's docstring).",
            file=sys.stderr,
        )
        return
    bind = starlette_server._bind_socket

    @functools.wraps(bind)
    def bind_without_delay(*args, **kwargs):
        sock = bind(*args, **kwargs)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    starlette_server._bind_socket = bind_without_delay


if __name__ == "__main__":
    main()
