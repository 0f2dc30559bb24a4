"""What a learner waits for in the browser: from a click or key press to the new step painted.

    python -m bench.bench_browser [--actions 10] [--home DIR]

Starts the app as the learner does (``python serve.py``, one server, one learner) and drives
headless Chromium as the browser suite does (tests/browser). The data home defaults to a folder kept
between runs, so the data are warm after the first run; every page is opened and stepped a few times
before anything is timed.

Steps (the forward and backprop pages, readable and notebook sizes): Next, Previous, the slider's arrow keys
and Play's ticks. A time runs from the input event's timestamp (pointerdown or keydown; for Play, the tick
starting the step) to the first frame after the stepper marks the step painted (ui/stepper.js sets
``data-painted`` once every panel is drawn): what the learner sees. Reported: median and range of each
action (target: median ≤ 150 ms).

Gallery controls: the Images slider's arrow keys (one more or one fewer card) and the temperature slider's
(other captions), from the keydown to the first frame in which the rerun it caused has finished. Target:
median ≤ 500 ms.

New tabs: each page opened in a new tab of a browser window already open (open_window: as a learner opens the
app beside what they have open, not in a new window), from the navigation's start to the first frame in which
its first script run has finished and it is interactive: every element is shown (no grey placeholder is left where
Streamlit is still loading an element's code), the stepper shows its first step (ui/stepper.js sets
``data-painted``), drawn wherever it is in view, and every figure in view is drawn (ui/figure.js sets
``data-drawn``); the figures below the fold are drawn after that, one per task. Target: median ≤ 1.5 s.
Also reported: the time until every figure is drawn. Measured twice: in one browser that has opened the page
before (Streamlit's files and the app's Plotly.js in its HTTP cache, as in a learner's browser), and as
first visits (each tab in the window of a fresh browser context, nothing cached).

Floor (`--only floor`): a page of a heading and a paragraph (bench/floor_app.py), served as serve.py serves the
app, opened in new tabs as the app's pages are: what Streamlit itself takes on this machine, to read the app's
new tabs against. Reported only.

Files (`--only files`): every file a first visit of the forward page fetched from the server, fetched again
one after the other on one kept-alive connection (a browser keeps up to six open to the server and sends each
its next request when an answer is complete): the time of each, from the request to the last byte of its
answer. `--streamlit-run` starts the app with `streamlit run streamlit_app.py` instead of serve.py, for
comparison (serve.py's docstring says what it changes).
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import serve
from core.data.paths import DATA_HOME_ENV
from tests.browser.streamlit_helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    NO_PLACEHOLDER,
    STEP_PAINTED,
    install_run_counter,
    slider,
    wait_for_trained_models,
)
from tests.helpers.processes import free_port, start, stop
from ui.registry import PAGES

ROOT = Path(__file__).resolve().parents[1]
FLOOR_APP = Path(__file__).resolve().parent / "floor_app.py"
STEP_TARGET_MS = 150
GALLERY_TARGET_MS = 500
NEW_TAB_TARGET_MS = 1500
# The size of every browser context this benchmark opens, as the browser suite's (1280x720).
VIEWPORT = {"width": 1280, "height": 720}
# ms: a new window's work done (open_window); its omnibox's popup took up to 0.8 s here.
WINDOW_SETTLES_MS = 2000
NEW_TAB_KINDS = ((True, "in a browser that has opened the page before"), (False, "first visits"))

# Records, in the page, when each step was asked for (the input event's timestamp, or the start of a Play
# tick) and when it was painted (the first animation frame after data-painted). window.__steps is the list.
_RECORDER = """
(() => {
  window.__steps = [];
  let input = null, started = null;
  for (const type of ["pointerdown", "keydown"]) {
    document.addEventListener(type, (event) => { input = event.timeStamp; }, true);
  }
  const watch = () => {
    const root = document.querySelector(".rnn-stepper");
    if (!root) return setTimeout(watch, 50);
    new MutationObserver((changes) => {
      for (const change of changes) {
        const now = performance.now();
        if (change.attributeName === "data-step") {
          // A step shown right after an input event answers it; otherwise a Play tick started it.
          started = input !== null && now - input < 100 ? input : now;
          input = null;
        } else if (root.dataset.painted === root.dataset.step && started !== null) {
          const start = started, step = Number(root.dataset.painted);
          started = null;
          requestAnimationFrame(() => window.__steps.push({ step, ms: performance.now() - start }));
        }
      }
    }).observe(root, { attributes: true, attributeFilter: ["data-step", "data-painted"] });
  };
  watch();
})();
"""


def start_server(
    home: Path, streamlit_run: bool = False, floor: bool = False
) -> tuple[subprocess.Popen, str]:
    """The app as `python serve.py` starts it (or `streamlit run streamlit_app.py`); `floor`: FLOOR_APP
    served by serve.run in a process with serve.py's variables, as serve.py serves the app."""
    port = free_port()
    env = {**os.environ, DATA_HOME_ENV: str(home), "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    if floor:
        env.update(serve.server_environment())
        run = "import sys; from pathlib import Path; import serve; serve.run(Path(sys.argv[1]), sys.argv[2:])"
        app = ["-c", run, str(FLOOR_APP)]
    else:
        app = ["-m", "streamlit", "run", "streamlit_app.py"] if streamlit_run else ["serve.py"]
    command = [sys.executable, *app, "--server.headless", "true"]
    command += ["--server.address", "127.0.0.1", "--server.port", str(port)]
    process = start(command, ROOT, env, home / "bench-server.log")
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return process, url
        except OSError:
            time.sleep(0.3)
    stop(process)
    raise SystemExit(f"the server did not start; see {home / 'bench-server.log'}")


def open_stepper(page, url: str) -> None:
    page.goto(url)
    wait_until_painted(page)


# How many components of the main area are ready (a component's element appears only once Streamlit has loaded
# its code, so a page is waited for until as many are ready as it shows when settled). Interactive: the stepper
# (ui/stepper.js) shows its step, drawn wherever it is in view, and every figure (ui/figure.js) in view is drawn.
# Everything: every figure is drawn, the stepper's below the fold too.
def ready_count(everything: bool) -> str:
    return f"""[...document.querySelectorAll('[data-testid="stMain"] .stBidiComponent')].filter((host) => {{
  const everything = {str(everything).lower()};
  const figure = host.querySelector('.rnn-figure');
  const stepper = host.querySelector('.rnn-stepper');
  const box = host.getBoundingClientRect();
  const inView = box.bottom > 0 && box.top < window.innerHeight;
  if (figure) return figure.dataset.drawn === figure.dataset.version || (!everything && !inView);
  if (!stepper || stepper.dataset.painted === undefined || stepper.dataset.painted !== stepper.dataset.step) return false;
  return !everything || [...stepper.querySelectorAll('.rnn-panel-plotly')].every((panel) => panel.querySelector('.main-svg'));
}}).length"""


def wait_until_painted(page) -> None:
    """Until the stepper has drawn the step it is on, every figure included (those below the fold too)."""
    page.wait_for_function(STEP_PAINTED, timeout=600_000)


def timed(page, act, count: int, settle: float) -> list[float]:
    """Run `act(i)` `count` times, each time waiting for the step to be painted; the times in ms."""
    page.evaluate("window.__steps = []")
    for i in range(count):
        before = page.evaluate("window.__steps.length")
        act(i)
        page.wait_for_function(f"window.__steps.length > {before}", timeout=30_000)
        time.sleep(settle)  # as a learner reads; also lets the report's rerun finish
    return [entry["ms"] for entry in page.evaluate("window.__steps")]


def step_actions(page, count: int, settle: float) -> dict[str, list[float]]:
    """Times of Next / Previous (alternating, so the step stays in range), arrow keys and Play's ticks."""
    stepper = page.locator(".rnn-stepper")
    first = int(page.evaluate("document.querySelector('.rnn-range').min"))
    last = int(page.evaluate("document.querySelector('.rnn-range').max"))
    middle = (first + last) // 2

    def go_to(t):
        while int(stepper.get_attribute("data-painted")) != t:
            now = int(stepper.get_attribute("data-painted"))
            page.locator(".rnn-next" if now < t else ".rnn-prev").click()
            page.wait_for_function(f"document.querySelector('.rnn-stepper').dataset.painted !== '{now}'")
            time.sleep(settle)

    go_to(middle)
    results = {
        "Next / Previous": timed(
            page, lambda i: page.locator(".rnn-next" if i % 2 == 0 else ".rnn-prev").click(), count, settle
        )
    }
    page.locator(".rnn-range").focus()
    results["slider keys"] = timed(
        page, lambda i: page.keyboard.press("ArrowRight" if i % 2 == 0 else "ArrowLeft"), count, settle
    )
    playing_back = "back" in page.locator(".rnn-play").inner_text()
    go_to(last if playing_back else first)
    page.evaluate("window.__steps = []")
    page.locator(".rnn-play").click()
    ticks = min(count, last - first)
    page.wait_for_function(f"window.__steps.length >= {ticks}", timeout=60_000)
    page.locator(".rnn-play").click()
    results["Play ticks"] = [entry["ms"] for entry in page.evaluate("window.__steps")][:ticks]
    return results


def summary(times: list[float]) -> str:
    return f"{statistics.median(times):6.0f} ms median ({min(times):.0f}–{max(times):.0f}, n = {len(times)})"


def bench_steps(url: str, browser, count: int, settle: float) -> list[tuple[str, str, list[float]]]:
    rows = []
    for path, name in (("Forward_pass", "forward"), ("Backprop_through_time", "backprop")):
        for sizes in ("readable", "real"):
            context = browser.new_context(viewport=VIEWPORT)
            context.add_init_script(_RECORDER)
            page = context.new_page()
            open_stepper(page, f"{url}/{path}?sizes={sizes}")
            step_actions(page, 3, settle)  # warm-up: the browser's caches and JIT, the server's fragment
            page.goto("about:blank")
            open_stepper(page, f"{url}/{path}?sizes={sizes}")
            for action, times in step_actions(page, count, settle).items():
                rows.append((f"{name}, {sizes}", action, times))
                print(f"{name:9} {sizes:9} {action:16} {summary(times)}", flush=True)
            context.close()
    return rows


def first_frame(page, condition: str) -> float:
    """The time (performance.now()) of the first animation frame in which the JavaScript `condition` holds, read
    in that frame (if it holds already when asked, the time it is asked: later, never sooner). Read in a frame
    after Playwright's answer had come back to this process, it was 10-31 ms later in new tabs, and once 0.36 s,
    when a figure's drawing came in between (bench/README.md, "One window, new tabs")."""
    handle = page.wait_for_function(f"({condition}) && performance.now()", polling="raf", timeout=600_000)
    return handle.json_value()


def run_finished(runs_before: int) -> str:
    """JavaScript: a script run beyond `runs_before` has finished and the app is idle."""
    return (
        f"window.__stRunsDone > {runs_before} && document.querySelector("
        "'[data-testid=\"stApp\"]').dataset.testScriptState === 'notRunning'"
    )


def idle_after(page, runs_before: int) -> float:
    """Wait until a script run beyond `runs_before` has finished and the app is idle; the time of the first
    frame that shows it (performance.now())."""
    return first_frame(page, run_finished(runs_before))


def bench_gallery(url: str, browser, count: int, settle: float) -> list[tuple[str, str, list[float]]]:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    install_run_counter(page)
    page.add_init_script(
        "document.addEventListener('keydown', (e) => { window.__asked = e.timeStamp; }, true);"
    )
    page.goto(f"{url}/Caption_gallery", timeout=600_000)
    idle_after(page, 0)
    page.wait_for_selector('[data-testid="stImage"] img', timeout=600_000)
    rows = []
    for label in ("Images", "Temperature"):
        handle = slider(page, label)
        times = []
        for i in range(count + 2):  # the first two warm up
            runs = page.evaluate("window.__stRunsDone")
            handle.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")
            done = idle_after(page, runs)
            if i >= 2:
                times.append(done - page.evaluate("window.__asked"))
            time.sleep(settle)
        rows.append(("gallery", f"{label} slider", times))
        print(f"gallery   {'':9} {label + ' slider':16} {summary(times)}", flush=True)
    context.close()
    return rows


def bench_new_tabs(
    url: str,
    browser,
    count: int,
    cached: bool,
    pages: tuple[tuple[str, str], ...] = tuple((page.url_path, page.url_path or "Home") for page in PAGES),
) -> list[tuple[str, str, list[float]]]:
    """Each page (the app's, or `pages`: (path under `url`, name)) opened `count` times in a new tab of an open
    window (open_window).

    `cached`: every tab in one browser context, which has opened the page once before (as a learner's browser
    has: Streamlit's files and the app's Plotly.js in its HTTP cache); else every tab in the window of a fresh
    context, with nothing cached (a first visit)."""
    rows = []
    shared = open_window(browser) if cached else None
    for path, name in pages:
        interactive, everything = [], []
        for i in range(count + 1):  # the first load warms the server's caches for this page
            context = shared or open_window(browser)
            page = context.new_page()  # a new tab of the context's open window
            install_run_counter(page)
            page.goto(f"{url}/{path}", timeout=600_000)
            if not i:
                idle_after(page, 0)
                page.wait_for_timeout(5_000)
                shown = page.evaluate(ready_count(everything=True))
            for times, all_drawn in ((interactive, False), (everything, True)):
                ready = f"{run_finished(0)} && {ready_count(all_drawn)} >= {shown} && {NO_PLACEHOLDER}"
                done = first_frame(page, ready)
                if i:
                    times.append(done)  # performance.now() counts from the navigation's start
            page.close()
            if not cached:
                context.close()
        rows.append(("new tab", name, interactive))  # the target's measure; `everything` is reported only
        print(f"new tab   {name:26} {summary(interactive)}", flush=True)
        print(f"          {'every figure drawn':26} {summary(everything)} ({shown} components)", flush=True)
    if shared:
        shared.close()
    return rows


def open_window(browser):
    """A browser context with a window open on a blank tab, settled: pages opened in it are new tabs of that window.

    Chromium opens a new window for a context's first page, and with every new window (Chromium 156) it loads its
    omnibox's popup, a page of its own: about 0.7 s of CPU over the next 0.8 s. A tab opened meanwhile, or a tab
    that is the context's only page (a new window each time it is opened again), shares the two cores with that
    work: new tabs were timed 0.2-0.5 s slower so (bench/README.md, "One window, new tabs")."""
    context = browser.new_context(viewport=VIEWPORT)
    context.new_page().wait_for_timeout(WINDOW_SETTLES_MS)
    return context


def bench_files(url: str, browser) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    install_run_counter(page)
    page.goto(f"{url}/Forward_pass", timeout=600_000)
    idle_after(page, 0)
    page.wait_for_timeout(3_000)  # the files fetched after the script run too: images, Plotly.js, fonts
    fetched = page.evaluate("performance.getEntriesByType('resource').map((r) => r.name)")
    context.close()
    server = urllib.parse.urlsplit(url)
    paths = [urllib.parse.urlsplit(name) for name in fetched if name.startswith(f"{url}/")]
    paths = [f"{part.path}?{part.query}" if part.query else part.path for part in paths]
    connection = http.client.HTTPConnection(server.hostname, server.port)
    connection.connect()
    kept_alive = connection.sock
    times = []
    for path in paths:
        start = time.perf_counter()
        connection.request("GET", path)
        connection.getresponse().read()
        times.append((time.perf_counter() - start) * 1000)
    if connection.sock is not kept_alive:
        raise SystemExit("the server closed the connection: the files were not fetched on one connection")
    connection.close()
    print(f"files     {len(paths)} files, one after the other  {summary(times)}; {sum(times):.0f} ms in all")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--actions", type=int, default=10, help="timed actions of each kind (at least 8)")
    parser.add_argument("--settle", type=float, default=0.4, help="seconds between actions")
    parser.add_argument(
        "--home",
        type=Path,
        default=Path(tempfile.gettempdir()) / "rnn-explainer-bench",
        help="the app's data home (kept between runs, so the data are warm)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=["steps", "gallery", "tabs"],
        choices=["steps", "gallery", "tabs", "files", "floor"],
    )
    parser.add_argument(
        "--streamlit-run",
        action="store_true",
        help="start the app with `streamlit run streamlit_app.py` instead of serve.py, for comparison",
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    args.home.mkdir(parents=True, exist_ok=True)
    count = max(args.actions, 8)
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        if set(args.only) - {"floor"}:
            process, url = start_server(args.home, args.streamlit_run)
            try:
                results = bench_app(url, browser, args, count)
            finally:
                stop(process)
        if "floor" in args.only:
            process, url = start_server(args.home, floor=True)
            try:
                bench_floor(url, browser, count)
            finally:
                stop(process)
        browser.close()
    for target, rows in results:
        worst = max(statistics.median(times) for _, _, times in rows)
        print(f"slowest median {worst:.0f} ms against {target} ms: {'met' if worst <= target else 'NOT met'}")


def bench_app(url: str, browser, args, count: int) -> list[tuple[int, list[tuple[str, str, list[float]]]]]:
    """The measures of args.only on the app at `url`: (target, rows) for each measure that has a target."""
    wait_for_trained_models(browser, url)  # the figures are measured on warm data
    results = []
    if "steps" in args.only:
        print(f"steps: from the input event to the new step painted (target ≤ {STEP_TARGET_MS} ms)")
        results.append((STEP_TARGET_MS, bench_steps(url, browser, count, args.settle)))
    if "gallery" in args.only:
        print(f"gallery: from the key press to its rerun on screen (target ≤ {GALLERY_TARGET_MS} ms)")
        results.append((GALLERY_TARGET_MS, bench_gallery(url, browser, count, args.settle)))
    if "tabs" in args.only:
        for cached, kind in NEW_TAB_KINDS:
            print(f"new tabs, {kind}: from navigation to interactive (target ≤ {NEW_TAB_TARGET_MS} ms)")
            results.append((NEW_TAB_TARGET_MS, bench_new_tabs(url, browser, count, cached)))
    if "files" in args.only:
        print("files: each file of a first visit of the forward page, on one kept-alive connection")
        bench_files(url, browser)
    return results


def bench_floor(url: str, browser, count: int) -> None:
    """FLOOR_APP's page opened in new tabs as bench_new_tabs opens the app's: Streamlit's own time."""
    for cached, kind in NEW_TAB_KINDS:
        print(f"floor, {kind}: Streamlit's page of a heading and a paragraph (bench/floor_app.py)")
        bench_new_tabs(url, browser, count, cached, pages=(("", "the floor's page"),))


if __name__ == "__main__":
    main()
