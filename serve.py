"""Start the app: `python serve.py [Streamlit's options]` runs `streamlit run streamlit_app.py [options]` in a
server process set up for a class on a small machine. `streamlit run streamlit_app.py` starts the same app
without these settings.

- **Two malloc arenas** (`MALLOC_ARENA_MAX=2`). glibc gives every thread that allocates an arena of its
  own, up to eight per core, and each arena keeps what its threads held at their peak. The server runs
  every learner's script in a thread of its own, and the race's workers and the training jobs in others:
  with ten learners and two races on 2 cores, the server peaked at 321-422 MiB with the default arenas and
  at 242-261 MiB with two (bench/README.md, "Ten learners at once"), answering clicks as fast: Python
  threads allocate while holding the interpreter's lock, so they seldom wait for each other's arena.
  Other C libraries ignore the variable.
- **Every response sent at once** (`TCP_NODELAY`). Streamlit 1.67 binds its listening socket itself, as
  `socket.socket(family)`, whose protocol number is 0; asyncio switches Nagle's algorithm off only on
  sockets whose protocol is `IPPROTO_TCP`, so it stays on. The server writes a response's headers and its
  body separately, and on a connection the browser keeps open for its next request the body then waits
  for the browser's delayed acknowledgement of the headers, for every file after a connection's first:
  40 ms with a browser on Linux (Windows' timer is 200 ms). A first visit of a page fetches more than a
  hundred files, up to six at a time (bench/README.md, "In the browser"). The option set on the listening
  socket is inherited by every connection it accepts (Linux; tests/test_serve.py checks it).
- **OpenBLAS's AVX2 kernels on AMD's Zen 4** (`OPENBLAS_CORETYPE=Haswell`). OpenBLAS 0.3.31 gives Zen 4
  its AVX-512 kernels (SkylakeX), but Zen 4 runs AVX-512 on 256-bit units, and there its AVX2 kernels are
  faster. A training iteration at the notebook's sizes took about 4 % less for the vanilla cell (from 10 %
  less to 1 % more) and about 9 % less for the LSTM (5-12 %) in alternated runs (bench/README.md,
  "OpenBLAS's kernels on Zen 4"). Other processors keep OpenBLAS's choice. To compare on another machine or
  with a later OpenBLAS, run `python -m bench.bench_iteration` with and without `OPENBLAS_CORETYPE=SkylakeX`.

- **A deep link connects at once** (`window.__streamlit.BACKEND_BASE_URL` in Streamlit's `index.html`).
  Streamlit's page code looks for its server below the page's address first (`/Forward_pass/_stcore/health`,
  a 404 by design) and, 100 ms later (its shortest retry delay), below the address's parent: every new tab
  opened on a page other than Home waited that long and one more request before it could connect. The
  page's code asks only the address it is given in `window.__streamlit.BACKEND_BASE_URL` (the setting hosts
  that embed Streamlit use), so the `index.html` served for a page sets it to the page's address less its
  last part (the page), as the browser sees it: right behind a proxy that adds a prefix too. The served
  file holds no part of the address it was asked for. Measured on 2 cores shared by browser and server
  (bench/README.md, "A deep link connects at once"): new tabs in a browser that had opened the page were
  sooner in 6 of 7 interleaved comparisons (by up to 0.19 s); first visits in 4 of 9, the others later,
  within their spread.

glibc and OpenBLAS read these variables only when a process starts, so on Linux serve.py sets those the
environment lacks and starts itself again (`exec`: the same process id and signals, the interpreter's options
kept); processes the server starts inherit them. A value already in the environment is kept (an empty one is
replaced). bench/ starts its engine measurements the same way (`restart_with_server_environment`), so that
they measure the server's setup.
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
# /proc/cpuinfo's fields for AMD's Zen 4: family 25 (0x19) is Zen 3 and Zen 4, and only Zen 4 has AVX-512.
ZEN_4 = {"vendor_id": "AuthenticAMD", "cpu family": "25"}
CPU_INFO = Path("/proc/cpuinfo")


def main() -> None:
    restart_with_server_environment(Path(__file__))
    run(APP, sys.argv[1:])


def run(app: Path, options: list[str]) -> None:
    """`streamlit run app [options]` in this process, every response sent at once (bench/ runs its reference
    page this way)."""
    send_responses_at_once()
    connect_deep_links_at_once()
    # Imported only now: the first process of a start needs no Streamlit.
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(app), *options]
    cli.main(prog_name="streamlit")


def server_environment(cpu_info: str | None = None) -> dict[str, str]:
    """The variables a server process starts with (module docstring). cpu_info: /proc/cpuinfo's text, read
    if None (none outside Linux)."""
    environment = {"MALLOC_ARENA_MAX": MALLOC_ARENAS}
    if is_zen_4(read_cpu_info() if cpu_info is None else cpu_info):
        environment["OPENBLAS_CORETYPE"] = "Haswell"
    return environment


def read_cpu_info() -> str:
    """/proc/cpuinfo's text; empty where there is none (not Linux, or a sandbox that hides it)."""
    try:
        return CPU_INFO.read_text()
    except OSError:
        return ""


def is_zen_4(cpu_info: str) -> bool:
    """Whether /proc/cpuinfo's first processor is an AMD Zen 4."""
    fields = {}
    for line in cpu_info.partition("\n\n")[0].splitlines():
        name, _, value = line.partition(":")
        fields[name.strip()] = value.strip()
    return (
        all(fields.get(name) == value for name, value in ZEN_4.items())
        and "avx512f" in fields.get("flags", "").split()
    )


def restart_with_server_environment(script: Path) -> bool:
    """Set the server's variables the environment lacks (or has empty); then, on Linux and when `script` is
    the one this process runs, run the same command again in a process that starts with them.

    Returns whether this process started with them all: False where it could not start again (they are then
    set for the processes it starts, but its own C libraries did not read them)."""
    missing = {name: value for name, value in server_environment().items() if not os.environ.get(name)}
    if not missing:
        return True
    os.environ.update(missing)
    if sys.platform == "linux" and started_as(script):
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
    return False


def started_as(script: Path) -> bool:
    """Whether this process runs `script` (`python serve.py`, `python -m serve`, `python -m bench.x`), so that
    its command line starts the same again; not when it is called from other code or a prompt."""
    return bool(sys.argv[0]) and Path(sys.argv[0]).resolve() == script.resolve()


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


# Sets the server's address for Streamlit's page code (module docstring), before its own scripts: the
# address the browser shows, less its last `parts` parts (0 for the root, 1 for a page).
_BASE_SCRIPT = """<script>
      (function (parts) {{
        const path = location.pathname.replace(/\\/+$/, "").split("/")
        const base = path.slice(0, path.length - parts).join("/")
        window.__streamlit = {{ BACKEND_BASE_URL: location.origin + base + "/" }}
      }})({parts})
    </script>
"""


def connect_deep_links_at_once() -> None:
    """Serve Streamlit's index.html with the server's address set for its page code (module docstring)."""
    try:
        from starlette.responses import FileResponse, HTMLResponse
        from streamlit.web.server.starlette import starlette_static_routes as routes
    except ImportError:
        routes = None
    create = getattr(routes, "create_streamlit_static_handler", None)
    if create is None:
        print(
            "serve.py: this Streamlit creates its static files' handler elsewhere than "
            "starlette_static_routes.create_streamlit_static_handler; a new tab of a page other than Home "
            "connects 0.1 s later (see serve.py's docstring).",
            file=sys.stderr,
        )
        return

    @functools.wraps(create)
    def create_with_base_address(directory, base_url):
        handler = create(directory, base_url)
        index_path = Path(directory, "index.html")
        index = index_path.read_text(encoding="utf-8")
        served = {parts: index_with_base_address(index, parts) for parts in (0, 1)}
        get_response = handler.get_response

        async def get_response_with_base_address(path, scope):
            response = await get_response(path, scope)
            if not (isinstance(response, FileResponse) and Path(response.path) == index_path):
                return response  # any other file, untouched
            below_root = scope["path"][len(scope.get("root_path", "")) :].strip("/")
            page = served.get(len(below_root.split("/")) if below_root else 0)
            return response if page is None else HTMLResponse(page, headers={"Cache-Control": "no-cache"})

        handler.get_response = get_response_with_base_address
        return handler

    routes.create_streamlit_static_handler = create_with_base_address


def index_with_base_address(index: str, parts: int) -> str | None:
    """Streamlit's index.html with the server's address set for a path of `parts` parts below the server's
    root, before the first script of its <head>; None if its <head> has none."""
    head = index.find("<head>")
    at = index.find("<script", head) if head >= 0 else -1
    if at < 0 or at > index.find("</head>", head):
        return None
    return f"{index[:at]}{_BASE_SCRIPT.format(parts=parts)}    {index[at:]}"


if __name__ == "__main__":
    main()
