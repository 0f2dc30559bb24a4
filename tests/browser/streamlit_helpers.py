"""Driving a Streamlit app in Playwright the way a learner does, and knowing when it has settled."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling Google's hosts, which this
# machine's closed network refuses; the rest keep a root, display-less run quiet and deterministic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
# The first load generates the embedded dataset and may train a model: minutes, not seconds, on 2 cores.
DEFAULT_TIMEOUT_MS = 180_000

EXCEPTION = '[data-testid="stException"]'
ERROR_ALERT = '[data-testid="stAlertContentError"]'
PLOTLY_CHART = ".rnn-figure"  # ui/figure.js; Plotly.js draws inside it
IMAGE = '[data-testid="stImage"] img'
PROGRESS = '[data-testid="stProgress"]'
APP = '[data-testid="stApp"]'
# JavaScript: no grey placeholder (stSkeleton) is left. Streamlit shows one where an element's code is still loading,
# after the script run has finished too (0.1-0.27 s on a new tab of Home, the race or the gallery on Zen 4;
# bench/README.md, "Grey placeholders count"): an element looked for meanwhile is not there yet.
NO_PLACEHOLDER = "!document.querySelector('[data-testid=\"stSkeleton\"]')"

# Counts the server's "script finished" messages (ForwardMsg field 6, read straight off the websocket) so
# that a test can wait for the rerun its own click caused. The page's script-state attribute alone is not
# enough: a short rerun on a busy browser can go running -> notRunning within one React render, unseen.
_RUN_COUNTER = """
(() => {
  window.__stRunsDone = 0;
  const SCRIPT_FINISHED = 6, FINISHED_EARLY_FOR_RERUN = 2;
  const varint = (bytes, pos) => {
    let value = 0, shift = 0, byte;
    do { byte = bytes[pos++]; value += (byte & 0x7f) * 2 ** shift; shift += 7; } while (byte & 0x80);
    return [value, pos];
  };
  const finishedRun = (buffer) => {
    const bytes = new Uint8Array(buffer);
    let pos = 0, key, value;
    while (pos < bytes.length) {
      [key, pos] = varint(bytes, pos);
      const wire = key & 7;
      if (wire === 0) {
        [value, pos] = varint(bytes, pos);
        if (key >>> 3 === SCRIPT_FINISHED) return value !== FINISHED_EARLY_FOR_RERUN;
      } else if (wire === 2) { [value, pos] = varint(bytes, pos); pos += value; }
      else if (wire === 1) pos += 8;
      else if (wire === 5) pos += 4;
      else return false;
    }
    return false;
  };
  const Native = window.WebSocket;
  window.WebSocket = function (...args) {
    const socket = new Native(...args);
    socket.addEventListener("message", (event) => {
      // Counted after Streamlit's own handler has applied the message.
      if (event.data instanceof ArrayBuffer && finishedRun(event.data)) {
        setTimeout(() => { window.__stRunsDone += 1; }, 0);
      }
    });
    return socket;
  };
  window.WebSocket.prototype = Native.prototype;
  for (const name of ["CONNECTING", "OPEN", "CLOSING", "CLOSED"]) window.WebSocket[name] = Native[name];
})();
"""


def install_run_counter(page: Page):
    page.add_init_script(_RUN_COUNTER)


def wait_for_idle(page: Page, timeout_ms=DEFAULT_TIMEOUT_MS):
    """Wait until the app is connected, no script run is in progress and every element is shown (no grey
    placeholder left)."""
    page.wait_for_selector(f"{APP}[data-test-connection-state='CONNECTED']", timeout=timeout_ms)
    page.wait_for_selector(f"{APP}[data-test-script-state='notRunning']", timeout=timeout_ms)
    page.wait_for_function(NO_PLACEHOLDER, timeout=timeout_ms)


def open_app(page: Page, url: str, timeout_ms=DEFAULT_TIMEOUT_MS):
    """Load a page and wait for its first full script run."""
    install_run_counter(page)
    page.goto(url)
    page.wait_for_function("window.__stRunsDone >= 1", timeout=timeout_ms)
    wait_for_idle(page, timeout_ms)
    assert_healthy(page)


def act_and_wait(page: Page, action, timeout_ms=DEFAULT_TIMEOUT_MS, allow_error_alerts=False):
    """Run `action` (a click, a key press) and wait for the script rerun it triggers to finish."""
    done = page.evaluate("window.__stRunsDone")
    action()
    page.wait_for_function(f"window.__stRunsDone > {done}", timeout=timeout_ms)
    wait_for_idle(page, timeout_ms)
    assert_healthy(page, allow_error_alerts)


def assert_healthy(page: Page, allow_error_alerts=False):
    """No Streamlit exception (a traceback) anywhere, and no error callout on a learner's happy path."""
    exceptions = page.locator(EXCEPTION)
    assert exceptions.count() == 0, f"Streamlit exception on {page.url}:\n{exceptions.first.inner_text()}"
    if not allow_error_alerts:
        errors = page.locator(ERROR_ALERT)
        assert errors.count() == 0, f"error shown on {page.url}:\n{errors.first.inner_text()}"


def expect_charts(page: Page, at_least=1):
    """At least `at_least` Plotly charts have been drawn (their SVG exists, not only the container)."""
    page.locator(PLOTLY_CHART).nth(at_least - 1).locator(".main-svg").first.wait_for(state="visible")
    return page.locator(PLOTLY_CHART).count()


def expect_images(page: Page, at_least=1):
    """At least `at_least` images are shown and have really loaded (non-zero natural width)."""
    page.locator(IMAGE).nth(at_least - 1).wait_for(state="visible")
    page.wait_for_function(
        f"[...document.querySelectorAll('{IMAGE}')].slice(0, {at_least}).every(i => i.complete && i.naturalWidth > 0)"
    )
    return page.locator(IMAGE).count()


def save_screenshot(page: Page, name: str):
    """Save a full-length PNG under artifacts/screenshots once every chart and image has drawn."""
    page.wait_for_function(
        """[...document.querySelectorAll('.rnn-figure')].every(f => f.dataset.drawn === f.dataset.version)
           && [...document.querySelectorAll('[data-testid="stImage"] img')].every(i => i.complete)"""
    )
    # Move the pointer off the last clicked button and take its focus, so that its tooltip is not in the picture.
    page.mouse.move(0, 0)
    page.evaluate("document.activeElement && document.activeElement.blur()")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    # Streamlit scrolls inside its main container, not the document, so a "full page" screenshot would
    # stop at the viewport: grow the viewport to the content's height for the shot instead.
    viewport = page.viewport_size
    height = page.evaluate(
        'Math.max(...[...document.querySelectorAll(\'[data-testid="stMain"], [data-testid="stSidebarContent"]\')]'
        ".map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": viewport["width"], "height": min(max(height, viewport["height"]), 6000)})
    try:
        page.screenshot(path=path)
    finally:
        page.set_viewport_size(viewport)
    return path


def click_key(page: Page, key: str):
    """Click the button created with `key=...` (Streamlit tags its container with class st-key-<key>)."""
    # A button with a tooltip is drawn twice, one copy hidden for layout; click the one a learner sees.
    act_and_wait(page, lambda: page.locator(f"{key_selector(key)} button:visible").first.click())


def key_selector(key: str):
    return ".st-key-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in key)


def choose(page: Page, label: str, option: str, allow_error_alerts=False):
    """Pick `option` in the selectbox whose label contains `label`."""
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).click()

    def pick():
        page.get_by_role("option", name=option).click()

    act_and_wait(page, pick, allow_error_alerts=allow_error_alerts)


def slider(page: Page, label: str):
    """The range input of the slider whose label contains `label`."""
    return page.locator('[data-testid="stSlider"]').filter(has_text=label).locator('input[type="range"]')


def slider_value(page: Page, label: str) -> int:
    return int(float(slider(page, label).input_value()))


# Lengths of the loss curves the browser has drawn, by activation. Plotly keeps NumPy arrays base64-encoded
# in `data`; `_fullData` holds the decoded arrays it plotted.
CURVE_LENGTHS = """() => {
  const chart = document.querySelector('.st-key-race-loss .js-plotly-plot');
  const lengths = {};
  for (const trace of (chart && chart._fullData) || []) {
    if (trace.name === 'tanh' || trace.name === 'sigmoid') lengths[trace.name] = trace.y.length;
  }
  return lengths;
}"""


def wait_for_curves(page: Page, longer_than):
    """The race's tanh and sigmoid loss curves both drawn with more than `longer_than` points; their lengths."""
    page.wait_for_function(
        f"(() => {{ const l = ({CURVE_LENGTHS})(); return l.tanh > {longer_than} && l.sigmoid > {longer_than}; }})()"
    )
    return page.evaluate(CURVE_LENGTHS)


# The timestep stepper (ui/stepper.js): it marks the step it shows (data-step) and, once every figure drawn
# so far (those in view first, the others one per task after) shows it, data-painted; the server then stores
# the reported step in the URL.
STEPPER = ".rnn-stepper"


# True once the stepper has painted the step it shows, with every figure drawn (those out of view too, without
# scrolling to them).
STEP_PAINTED = (
    f"(() => {{ const s = document.querySelector('{STEPPER}');"
    " return s && s.dataset.painted !== undefined && s.dataset.painted === s.dataset.step"
    " && [...s.querySelectorAll('.rnn-panel-plotly')].every((panel) => panel.querySelector('.main-svg')); })()"
)


def painted_step(page: Page) -> int:
    """Wait until the stepper has painted the step it shows (STEP_PAINTED); that step."""
    page.wait_for_function(STEP_PAINTED)
    return int(page.locator(STEPPER).get_attribute("data-painted"))


def url_step(page: Page, t: int):
    """Wait until the URL's t is `t` (the server has stored the step the stepper reported)."""
    page.wait_for_function(f"new URLSearchParams(location.search).get('t') === '{t}'")


def stepper_click(page: Page, control: str, expected: int):
    """Click the stepper's `control` ("prev", "next" or "play") and wait until `expected` is painted and in
    the URL."""
    page.locator(f"{STEPPER} .rnn-{control}").click()
    page.wait_for_function(f"document.querySelector('{STEPPER}').dataset.painted === '{expected}'")
    url_step(page, expected)
    assert_healthy(page)


def stepper_panel(page: Page, panel: str):
    """The element of one of the stepper's panels (e.g. "equation", "summary")."""
    return page.locator(f'{STEPPER} [data-panel="{panel}"]')


def overflowing(page: Page, selector: str) -> list[str]:
    """Texts of the elements matching `selector` whose content is wider than their box (cut or scrolled)."""
    return page.evaluate(
        f"""[...document.querySelectorAll({selector!r})]
            .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
            .map(e => e.innerText.slice(0, 80))"""
    )


def wrapped(page: Page, selector: str) -> list[str]:
    """Texts of the elements matching `selector` that take more than one line."""
    return page.evaluate(
        f"""[...document.querySelectorAll({selector!r})]
            .filter(e => e.offsetParent !== null
                && e.getBoundingClientRect().height > 1.5 * parseFloat(getComputedStyle(e).lineHeight))
            .map(e => e.innerText.slice(0, 80))"""
    )


def cut_titles(page: Page) -> list[str]:
    """The titles of drawn Plotly figures that reach past their figure's edges (Plotly.js cuts them there)."""
    return page.evaluate(
        """[...document.querySelectorAll('.js-plotly-plot')].flatMap((plot) => {
          const box = plot.getBoundingClientRect();
          return [...plot.querySelectorAll('.gtitle')].filter((title) => {
            const r = title.getBoundingClientRect();
            return r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1);
          }).map((title) => title.textContent);
        })"""
    )


# The boxes of st.html elements (the app's tables), which scroll sideways when a table is wider than the page.
HTML_BOXES = '[data-testid="stHtml"], [data-testid="stHtml"] div'


def overlapping_cell_numbers(page: Page) -> list[str]:
    """The numbers written in drawn heatmaps' cells that run into another number of the same heatmap."""
    return page.evaluate(
        """[...document.querySelectorAll('g.hm')].flatMap((heatmap) => {
          const labels = [...heatmap.querySelectorAll('g.heatmap-label text')];
          const boxes = labels.map((label) => label.getBoundingClientRect());
          const meet = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5
            && b.top < a.bottom - 0.5;
          return labels.filter((_, i) => boxes.some((box, j) => j !== i && meet(boxes[i], box)))
            .map((label) => label.textContent);
        })"""
    )


# Streamlit 1.67 cuts a label too long for its button or metric with an ellipsis on the label's own text block,
# not on the button or the metric, which keep their size.
BUTTON_LABEL = '[data-testid="stButton"] [data-testid="stMarkdownContainer"]'
TOGGLE_LABEL = '[data-testid="stCheckbox"] [data-testid="stMarkdownContainer"]'  # a checkbox's too
METRIC_LABEL = '[data-testid="stMetricLabel"] [data-testid="stMarkdownContainer"]'
# What must never be cut at 1280 px (a projector): buttons, toggles, select values, the stepper's controls, code
# lines.
FITS = ", ".join(
    [
        '[data-testid="stButton"] button',
        BUTTON_LABEL,
        TOGGLE_LABEL,
        '[data-testid="stSelectbox"] [data-baseweb="select"] > div > div:first-child',
        f"{STEPPER} button",
        f"{STEPPER} .rnn-label",
        '[data-testid="stHtml"] pre',
    ]
)


def wait_for_trained_models(browser, url: str, timeout_ms=1_800_000):
    """Open the home page, which trains every model in the background, in a tab of its own and wait until
    none is training: what comes next meets a warm server."""
    context = browser.new_context()
    page = context.new_page()
    install_run_counter(page)
    open_app(page, url, timeout_ms)
    page.wait_for_function(f"!document.querySelector('{PROGRESS}')", polling=1000, timeout=timeout_ms)
    context.close()
