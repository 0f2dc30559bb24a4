"""serve.py, the README's start command: Streamlit's own command in a process started with glibc's arenas
limited (and OpenBLAS's AVX2 kernels on Zen 4), whose connections send every response at once and whose
pages connect at once."""

import asyncio
import concurrent.futures
import json
import os
import select
import socket
import subprocess
import sys
import urllib.parse

import pytest
from starlette.applications import Starlette
from streamlit.web import cli
from streamlit.web.server.starlette import starlette_server, starlette_static_routes

import serve
from tests.helpers.paths import REPO

SERVE = str(REPO / "serve.py")

# /proc/cpuinfo's first processor, the fields serve.py reads, as four machines report them.
ZEN_4 = "vendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\nflags\t\t: fpu avx2 avx512f avx512bw\n"
ZEN_3 = "vendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\nflags\t\t: fpu avx2\n"
ZEN_5 = "vendor_id\t: AuthenticAMD\ncpu family\t: 26\nmodel\t\t: 2\nflags\t\t: fpu avx2 avx512f\n"
SAPPHIRE_RAPIDS = "vendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 143\nflags\t\t: fpu avx2 avx512f\n"
SERVER_VARIABLES = ("MALLOC_ARENA_MAX", "OPENBLAS_CORETYPE")


class Started(Exception):
    """Raised in place of os.execv or Streamlit's command line: what serve.py would have run."""


@pytest.fixture
def processor(monkeypatch, tmp_path):
    """No server variable in the environment (each put back after the test, absent included); returns a
    function that has serve.py read its argument as /proc/cpuinfo."""
    for name in SERVER_VARIABLES:
        monkeypatch.setenv(name, "unset by the test")
        monkeypatch.delenv(name)

    def read_as_cpu_info(cpu_info):
        (tmp_path / "cpuinfo").write_text(cpu_info)
        monkeypatch.setattr(serve, "CPU_INFO", tmp_path / "cpuinfo")

    return read_as_cpu_info


@pytest.fixture
def started(monkeypatch, tmp_path, processor):
    """Run serve.main() from another folder with os.execv and Streamlit's command line caught; returns a
    function of (argv, environ, script, platform) giving what serve.py ran: ("exec", path, args, environ)
    or ("streamlit", sys.argv, environ, starlette_server._bind_socket)."""

    def execv(path, args):
        raise Started("exec", path, args, dict(os.environ))

    def streamlit_main(prog_name):
        assert prog_name == "streamlit"
        raise Started("streamlit", list(sys.argv), dict(os.environ), starlette_server._bind_socket)

    def run(argv, environ, script=SERVE, platform="linux", cpu_info=SAPPHIRE_RAPIDS):
        monkeypatch.chdir(tmp_path)
        processor(cpu_info)
        monkeypatch.setattr(sys, "argv", [script, *argv])
        monkeypatch.setattr(sys, "orig_argv", ["python3", "-X", "dev", script, *argv])
        monkeypatch.setattr(sys, "platform", platform)
        monkeypatch.setattr(os, "execv", execv)
        monkeypatch.setattr(cli, "main", streamlit_main)
        # Put back after the test: serve.py replaces it for the process it runs in.
        bind_socket = getattr(starlette_server, "_bind_socket", None)
        monkeypatch.setattr(starlette_server, "_bind_socket", bind_socket, raising=False)
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
    assert "OPENBLAS_CORETYPE" not in environ  # OpenBLAS's own choice on this Intel processor


def test_on_zen_4_it_starts_itself_again_with_openblas_avx2_kernels(started):
    how, _, _, environ = started([], {"MALLOC_ARENA_MAX": "2"}, cpu_info=ZEN_4)
    assert how == "exec"  # the arenas were set, the kernels not: started again all the same
    assert environ["OPENBLAS_CORETYPE"] == "Haswell"
    assert environ["MALLOC_ARENA_MAX"] == "2"


@pytest.mark.parametrize(
    ("cpu_info", "zen_4"),
    [
        (ZEN_4, True),
        (ZEN_3, False),
        (ZEN_5, False),
        (SAPPHIRE_RAPIDS, False),
        ("", False),
        # one block per processor, a blank line between: the first processor's is read
        (ZEN_4 + "\n" + SAPPHIRE_RAPIDS, True),
        (SAPPHIRE_RAPIDS + "\n" + ZEN_4, False),
    ],
)
def test_only_zen_4_gets_openblas_avx2_kernels(cpu_info, zen_4):
    assert serve.is_zen_4(cpu_info) is zen_4
    assert ("OPENBLAS_CORETYPE" in serve.server_environment(cpu_info)) is zen_4


def has_openblas_and_avx2():
    """Whether NumPy runs OpenBLAS here, on a processor with AVX2 (which OpenBLAS's Haswell kernels need)."""
    from threadpoolctl import threadpool_info

    return "avx2" in serve.read_cpu_info().split() and any(
        pool["internal_api"] == "openblas" for pool in threadpool_info()
    )


@pytest.mark.skipif(
    not has_openblas_and_avx2(), reason="NumPy's BLAS here is not OpenBLAS on an AVX2 processor"
)
def test_openblas_takes_the_kernels_serve_py_names():
    """The variable reaches this NumPy's OpenBLAS: a process started with it runs the Haswell kernels (on any
    processor with AVX2; OpenBLAS would fall back on one without)."""
    environment = {**os.environ, **serve.server_environment(ZEN_4)}
    report = "import json, numpy, threadpoolctl; print(json.dumps(threadpoolctl.threadpool_info()))"
    done = subprocess.run(
        [sys.executable, "-c", report], env=environment, capture_output=True, text=True, check=True
    )
    blas = [pool for pool in json.loads(done.stdout) if pool["user_api"] == "blas"]
    assert [pool["architecture"] for pool in blas] == ["Haswell"]


def test_then_it_runs_streamlit_run_of_the_app_without_nagles_delay(started):
    bind_socket = starlette_server._bind_socket
    how, argv, _, bind = started(["--server.port", "8600"], {"MALLOC_ARENA_MAX": "2"})
    assert how == "streamlit"
    app = str(REPO / "streamlit_app.py")  # by its full path, so that its .streamlit/config.toml is read
    assert argv == ["streamlit", "run", app, "--server.port", "8600"]
    assert bind.__wrapped__ is bind_socket  # wrapped: the option is set on the socket it binds


def test_it_runs_another_page_the_same_way_for_the_benchmarks(monkeypatch):
    """bench_browser serves its reference page (bench/floor_app.py) with serve.run, as serve.py the app."""

    def streamlit_main(prog_name):
        raise Started(list(sys.argv), starlette_server._bind_socket)

    bind_socket = starlette_server._bind_socket
    monkeypatch.setattr(starlette_server, "_bind_socket", bind_socket)
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    monkeypatch.setattr(cli, "main", streamlit_main)
    floor = REPO / "bench" / "floor_app.py"
    with pytest.raises(Started) as start:
        serve.run(floor, ["--server.port", "8601"])
    argv, bind = start.value.args
    assert argv == ["streamlit", "run", str(floor), "--server.port", "8601"]
    assert bind.__wrapped__ is bind_socket


def test_an_operators_own_kernels_are_kept_when_it_starts_again_for_the_arenas(started):
    how, _, _, environ = started([], {"OPENBLAS_CORETYPE": "SkylakeX"}, cpu_info=ZEN_4)
    assert how == "exec"
    assert environ["OPENBLAS_CORETYPE"] == "SkylakeX"
    assert environ["MALLOC_ARENA_MAX"] == "2"


def test_an_empty_variable_counts_as_unset(started):
    how, _, _, environ = started([], {"MALLOC_ARENA_MAX": ""})
    assert how == "exec"
    assert environ["MALLOC_ARENA_MAX"] == "2"


def test_a_benchmark_starts_itself_again_the_same_way(monkeypatch, processor):
    """bench/ calls it with its own file: `python -m bench.bench_iteration` has that file as sys.argv[0]."""
    script = REPO / "bench" / "bench_iteration.py"
    processor(SAPPHIRE_RAPIDS)
    monkeypatch.setattr(sys, "argv", [str(script), "--cell", "lstm"])
    monkeypatch.setattr(sys, "orig_argv", ["python3", "-m", "bench.bench_iteration", "--cell", "lstm"])
    monkeypatch.setattr(sys, "platform", "linux")

    def execv(path, args):
        raise Started(path, args, os.environ["MALLOC_ARENA_MAX"])

    monkeypatch.setattr(os, "execv", execv)
    with pytest.raises(Started) as start:
        serve.restart_with_server_environment(script)
    assert start.value.args == (
        sys.executable,
        [sys.executable, "-m", "bench.bench_iteration", "--cell", "lstm"],
        "2",
    )
    # Started with every variable, it goes on in this process and says so; elsewhere it says it could not.
    assert serve.restart_with_server_environment(script) is True
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    monkeypatch.setattr(sys, "platform", "darwin")
    assert serve.restart_with_server_environment(script) is False


def test_an_operators_own_settings_are_kept(started):
    own = {"MALLOC_ARENA_MAX": "4", "OPENBLAS_CORETYPE": "SkylakeX"}
    how, _, environ, _ = started([], own, cpu_info=ZEN_4)
    assert how == "streamlit"
    assert {name: environ[name] for name in own} == own


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


def get(app, path: str) -> tuple[int, dict[str, str], str]:
    """GET `path` (as the browser sends it) from an ASGI app: (status, headers, body as text, with any bytes that
    are not UTF-8 replaced)."""
    raw_path, _, query = path.partition("?")
    path = urllib.parse.unquote(raw_path)
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "server": ("127.0.0.1", 8501),
        "path": path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [],
    }
    requests, messages = [{"type": "http.request", "body": b"", "more_body": False}], []

    async def receive():
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # no disconnect while the response is sent

    async def send(message):
        messages.append(message)

    # In a thread of its own: the browser tests' Playwright leaves an event loop running in this one.
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, app(scope, receive, send)).result()
    start, *body = messages
    headers = {name.decode(): value.decode() for name, value in start["headers"]}
    return start["status"], headers, b"".join(part.get("body", b"") for part in body).decode(errors="replace")


@pytest.fixture
def static_routes(monkeypatch):
    """Streamlit's static files as serve.py serves them (its handler put back after the test): a function of
    Streamlit's base URL path giving the ASGI app."""
    monkeypatch.setattr(
        starlette_static_routes,
        "create_streamlit_static_handler",
        starlette_static_routes.create_streamlit_static_handler,
    )
    serve.connect_deep_links_at_once()
    return lambda base_url: Starlette(
        routes=starlette_static_routes.create_streamlit_static_assets_routes(base_url)
    )


@pytest.mark.parametrize("base_url", [None, "rnn"])
def test_a_page_and_the_root_tell_streamlits_page_code_where_the_server_is(static_routes, base_url):
    """A page's index.html drops one part of the address the browser shows, the root's none; the served file is
    the same whatever the page's address (it holds nothing of it), and other paths and files are Streamlit's.

    Without it, a new tab of a page asks /<page>/_stcore/health first, a 404, and its parent 100 ms later
    (serve.py's docstring); the browser suite checks that a deep link asks only the server's root."""
    app, prefix = static_routes(base_url), f"/{base_url}" if base_url else ""
    status, headers, root = get(app, f"{prefix}/")
    assert status == 200 and headers["cache-control"] == "no-cache"
    assert "window.__streamlit = { BACKEND_BASE_URL:" in root and "})(0)" in root
    _, _, page = get(app, f"{prefix}/Forward_pass?t=3")
    assert "})(1)" in page
    assert get(app, f"{prefix}/Gradient_check_lab")[2] == page
    assert get(app, f"{prefix}/%3Cscript%3Eunknown")[2] == page  # no such page: Streamlit's page code says so
    assert page.index("window.__streamlit") < page.index('<script type="module"')  # before Streamlit's code
    assert "__streamlit" not in get(app, f"{prefix}/a/b")[2]
    status, headers, _ = get(app, f"{prefix}/favicon.png")
    assert status == 200 and headers["content-type"] == "image/png"


def test_a_streamlit_that_serves_its_files_elsewhere_still_starts_with_a_warning(
    started, monkeypatch, capsys
):
    monkeypatch.delattr(starlette_static_routes, "create_streamlit_static_handler")
    how, *_ = started([], {"MALLOC_ARENA_MAX": "2"})
    assert how == "streamlit"
    assert "create_streamlit_static_handler" in capsys.readouterr().err
