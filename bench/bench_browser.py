"""What a learner waits for in the browser: from a click or key press to the new step painted.

    python -m bench.bench_browser [--actions 10] [--home DIR]

Starts the app as the learner does (``streamlit run streamlit_app.py``, one server, one learner) and drives
headless Chromium as the browser suite does (tests/browser). The data home defaults to a folder kept
between runs, so the data are warm after the first run; every page is opened and stepped a few times
before anything is timed.

Steps (the forward and backprop pages, readable and notebook sizes): Next, Previous, the slider's arrow keys
and Play's ticks. A time runs from the input event's timestamp (pointerdown or keydown; for Play, the tick
starting the step) to the first frame after the stepper marks the step painted (ui/stepper.js sets
``data-painted`` once every panel is drawn): what the learner sees. Reported: median and range of each
action (target: median ≤ 150 ms).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from core.data.paths import DATA_HOME_ENV
from tests.browser.streamlit_helpers import CHROMIUM, CHROMIUM_ARGS
from tests.helpers.processes import free_port, stop

ROOT = Path(__file__).resolve().parents[1]
STEP_TARGET_MS = 150

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


def start_server(home: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, DATA_HOME_ENV: str(home), "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    command = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true"]
    command += ["--server.address", "127.0.0.1", "--server.port", str(port)]
    log = open(home / "bench-server.log", "wb")  # noqa: SIM115 (the server writes it until stopped)
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
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
    page.wait_for_function(
        "(() => { const s = document.querySelector('.rnn-stepper');"
        " return s && s.dataset.painted !== undefined && s.dataset.painted === s.dataset.step; })()",
        timeout=600_000,
    )


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
            context = browser.new_context(viewport={"width": 1280, "height": 720})
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
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    args.home.mkdir(parents=True, exist_ok=True)
    process, url = start_server(args.home)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            print(
                f"steps: from the input event to the new step painted (target: median ≤ {STEP_TARGET_MS} ms)"
            )
            rows = bench_steps(url, browser, max(args.actions, 8), args.settle)
            browser.close()
    finally:
        stop(process)
    worst = max(statistics.median(times) for _, _, times in rows)
    print(f"slowest median: {worst:.0f} ms ({'met' if worst <= STEP_TARGET_MS else 'NOT met'})")


if __name__ == "__main__":
    main()
