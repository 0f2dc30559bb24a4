"""The stepper component (ui/stepper.js) on its own, in Chromium, with Plotly.js held back as on a first visit.

A page opened in a new tab mounts the stepper before the elements above it have appeared, so its first figure
may be in view for a moment and then pushed below the fold; meanwhile Plotly.js is still loading.
"""

import json
from pathlib import Path
from urllib.parse import urlparse

import plotly.graph_objects as go
import pytest

from ui import figure, stepper

ORIGIN = "http://stepper.test"
STATIC = Path(__file__).resolve().parents[2] / "static"

PAGE = """<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0">
<div id="above" style="height:0"></div><div id="host"></div></body></html>"""

# Mounts the component as Streamlit does: its code as a module, called with the data and the element.
MOUNT = """async ([script, data]) => {
  const url = URL.createObjectURL(new Blob([script], { type: "text/javascript" }));
  const mount = (await import(url)).default;
  window.__reported = [];
  mount({ parentElement: document.getElementById("host"), data: [data],
          setStateValue: (name, value) => window.__reported.push([name, value]) });
}"""


@pytest.fixture
def component_page(browser):
    """A blank page at 1280x720 and the requests for the app's static files (Plotly.js), held unanswered."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    held = []
    context.route(f"{ORIGIN}/", lambda route: route.fulfill(body=PAGE, content_type="text/html"))
    context.route(f"{ORIGIN}/app/static/**", lambda route: held.append(route))
    page = context.new_page()
    page.goto(f"{ORIGIN}/")
    yield page, held
    context.close()


def mount(page, data, t=0):
    """The stepper with `data` (ui.stepper.payload) at step t, as Streamlit mounts it; its root element."""
    page.evaluate(MOUNT, [stepper.SCRIPT, json.loads(json.dumps({**data, "t": t}))])
    return page.locator(".rnn-stepper")


def answer(route):
    """Answer a held request for a static file with the file."""
    route.fulfill(path=STATIC / Path(urlparse(route.request.url).path).name, content_type="text/javascript")


def figure_panel(steps):
    """A one-bar figure whose title names the step it shows."""
    base = {"data": [{"type": "bar", "x": ["a"], "y": [1]}], "layout": {"height": 300}}
    return {
        "kind": "plotly",
        "base": base,
        "patches": [{"layout": {"title": {"text": f"step {t}"}}} for t in steps],
    }


def test_a_figure_pushed_out_of_view_no_longer_holds_the_step_and_is_drawn_at_the_step_shown(component_page):
    page, held = component_page
    data = stepper.payload(
        "caption",
        0,
        2,
        rows=[[("figure", 1)], [("text", 1)]],
        panels={"figure": figure_panel(range(3)), "text": {"kind": "text", "steps": ["t0", "t1", "t2"]}},
    )
    root = mount(page, data)
    page.wait_for_function("document.querySelector('.rnn-stepper')?.dataset.step === '0'")

    # In view, the figure holds the step until Plotly.js is here.
    page.wait_for_timeout(400)
    assert held, "the stepper asked for Plotly.js"
    assert root.get_attribute("data-painted") is None

    # The elements above appear and push it below the fold: the step is painted without it.
    page.evaluate("document.getElementById('above').style.height = '2000px'")
    page.wait_for_function("document.querySelector('.rnn-stepper').dataset.painted === '0'", timeout=5000)
    assert page.evaluate("window.Plotly") is None
    assert root.locator(".rnn-panel-text").inner_text() == "t0"

    # A step taken meanwhile is painted at once, and the figure still on its way follows it.
    root.locator(".rnn-next").evaluate("(button) => button.click()")
    page.wait_for_function("document.querySelector('.rnn-stepper').dataset.painted === '1'", timeout=5000)
    assert root.locator(".rnn-panel-text").inner_text() == "t1"
    ((name, report),) = page.evaluate("window.__reported")
    assert name == "step" and report["t"] == 1

    answer(held[0])
    title = root.locator(".rnn-panel-plotly .gtitle")
    title.wait_for(timeout=10_000)
    page.wait_for_function(
        "document.querySelector('.rnn-panel-plotly .gtitle')?.textContent === 'step 1'", timeout=10_000
    )
    page.wait_for_timeout(300)  # every drawing asked for has run: the figure stays on the step shown
    assert title.text_content() == "step 1"


# As Streamlit reveals a new tab's elements: the stepper and the sidebar's Plotly.js preloader (ui/figure.py) mounted
# in one task. The page counts its frames, and records the frame in which the stepper marked its step painted and
# the one in which Plotly.js was asked for (its script element added).
MOUNT_WITH_PRELOADER = """async ([stepperScript, figureScript, data]) => {
  const load = async (script) =>
    (await import(URL.createObjectURL(new Blob([script], { type: "text/javascript" })))).default;
  const [mountStepper, mountFigure] = [await load(stepperScript), await load(figureScript)];
  window.__frames = 0;
  const tick = () => { window.__frames += 1; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  new MutationObserver(() => {
    window.__askedAt ??= window.__frames;
  }).observe(document.head, { childList: true });
  const sidebar = document.createElement("div");
  document.body.append(sidebar);
  new MutationObserver(() => {
    if (document.querySelector(".rnn-stepper")?.dataset.painted === "0") window.__paintedAt ??= window.__frames;
  }).observe(document.getElementById("host"), { attributes: true, subtree: true });
  mountStepper({ parentElement: document.getElementById("host"), data: [data], setStateValue: () => {} });
  mountFigure({ parentElement: sidebar, data: [{ preload: true }] });
}"""


def test_with_no_figure_in_view_the_step_is_painted_a_frame_before_plotly_is_asked_for(component_page):
    """A first visit evaluates Plotly.js in a task of about 0.1 s: it comes after the step is on screen."""
    page, held = component_page
    page.evaluate("document.getElementById('above').style.height = '2000px'")
    data = stepper.payload(
        "caption",
        0,
        2,
        rows=[[("text", 1)], [("figure", 1)]],
        panels={"figure": figure_panel(range(3)), "text": {"kind": "text", "steps": ["t0", "t1", "t2"]}},
    )
    page.evaluate(
        MOUNT_WITH_PRELOADER, [stepper.SCRIPT, figure.SCRIPT, json.loads(json.dumps({**data, "t": 0}))]
    )
    page.wait_for_function("window.__askedAt !== undefined", timeout=5000)
    painted, asked = page.evaluate("[window.__paintedAt, window.__askedAt]")
    assert painted is not None, "the step was painted"
    assert asked > painted, "Plotly.js was asked for before a frame showed the step"
    # The figure below the fold is drawn once Plotly.js is here.
    answer(held[0])
    page.wait_for_function(
        "document.querySelector('.rnn-panel-plotly .gtitle')?.textContent === 'step 0'", timeout=10_000
    )


def test_a_step_taken_during_play_stops_it_and_the_keyboard_focus_stays_in_the_stepper(component_page):
    page, _ = component_page
    steps = [f"t{t}" for t in range(6)]
    data = stepper.payload(
        "caption", 0, 5, [[("text", 1)]], {"text": {"kind": "text", "steps": steps}}, interval=0.2
    )
    root = mount(page, data)
    root.locator(".rnn-play").click()
    page.wait_for_function("document.querySelector('.rnn-stepper').dataset.painted === '2'", timeout=5000)
    root.locator(".rnn-prev").click()
    stopped = root.get_attribute("data-step")
    page.wait_for_timeout(700)  # more than three Play ticks
    assert root.get_attribute("data-step") == stopped
    assert root.locator(".rnn-play").inner_text() == "▶ Play"

    # Enter on Next up to the last step: Next is disabled there, and the focus moves to the slider, not to the
    # top of the page.
    root.locator(".rnn-next").focus()
    for _ in range(6):
        page.keyboard.press("Enter")
    assert root.get_attribute("data-step") == "5"
    assert root.locator(".rnn-next").is_disabled()
    assert page.evaluate("document.activeElement.className") == "rnn-range"
    page.keyboard.press("ArrowLeft")
    assert root.get_attribute("data-step") == "4"


# Counts the page's animation frames and records, for each element matching `selector` in document order, the
# frame in which it first matched (window.__drawnIn).
COUNT_FRAMES = """(selector) => {
  window.__frames = 0;
  const tick = () => { window.__frames += 1; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  window.__drawnIn = [];
  new MutationObserver(() => {
    document.querySelectorAll(selector).forEach((element, k) => { window.__drawnIn[k] ??= window.__frames; });
  }).observe(document.body, { childList: true, subtree: true, attributes: true });
}"""


def test_figures_that_waited_for_plotly_are_drawn_in_frames_of_their_own(component_page):
    """On a first visit every figure in view waits for Plotly.js. Drawn in the task that evaluated it, they
    held the page about 0.1 s each, with nothing painted and a click unanswered."""
    page, held = component_page
    data = stepper.payload(
        "caption",
        0,
        2,
        rows=[[("left", 1), ("right", 1)]],
        panels={"left": figure_panel(range(3)), "right": figure_panel(range(3))},
    )
    page.evaluate(COUNT_FRAMES, ".rnn-panel-plotly:has(.main-svg)")
    root = mount(page, data)
    page.wait_for_timeout(400)
    assert held, "the stepper asked for Plotly.js"
    answer(held[0])
    page.wait_for_function("document.querySelector('.rnn-stepper').dataset.painted === '0'", timeout=10_000)
    left, right = page.evaluate("window.__drawnIn")
    assert left != right
    assert root.locator(".gtitle").all_text_contents() == ["step 0", "step 0"]


def test_a_step_taken_as_plotly_arrives_is_not_drawn_over_by_the_step_before(component_page):
    """The drawing of step 0 waited for Plotly.js and takes its turn after a frame; Next is clicked before."""
    page, held = component_page
    data = stepper.payload("caption", 0, 2, rows=[[("figure", 1)]], panels={"figure": figure_panel(range(3))})
    root = mount(page, data)
    page.wait_for_timeout(400)
    assert held, "the stepper asked for Plotly.js"
    # Run right after the loader's own handler, in the task that evaluated Plotly.js.
    page.evaluate(
        """() => [...document.scripts].find((script) => script.src.includes('plotly'))
             .addEventListener('load', () => document.querySelector('.rnn-next').click())"""
    )
    answer(held[0])
    page.wait_for_function("document.querySelector('.rnn-stepper').dataset.painted === '1'", timeout=10_000)
    page.wait_for_timeout(300)  # every drawing asked for has run
    assert root.locator(".gtitle").text_content() == "step 1"


# Mounts the figure component (ui/figure.js) once per payload, each in a host of its own, as Streamlit mounts
# the figures of a page: one module, shared by them all.
MOUNT_FIGURES = """async ([script, payloads]) => {
  const url = URL.createObjectURL(new Blob([script], { type: "text/javascript" }));
  const mountFigure = (await import(url)).default;
  for (const payload of payloads) {
    const host = document.createElement("div");
    document.getElementById("host").append(host);
    mountFigure({ parentElement: host, data: [payload] });
  }
}"""


def test_a_pages_figures_that_waited_for_plotly_are_drawn_in_frames_of_their_own(component_page):
    page, held = component_page
    payloads = [
        figure.payload(
            go.Figure(go.Bar(x=["a"], y=[k]), layout={"height": 200, "title": {"text": f"figure {k}"}})
        )
        for k in range(3)
    ]
    page.evaluate(COUNT_FRAMES, ".rnn-figure[data-drawn]")
    page.evaluate(MOUNT_FIGURES, [figure.SCRIPT, json.loads(json.dumps(payloads))])
    page.wait_for_timeout(400)
    assert held, "a figure asked for Plotly.js"
    answer(held[0])
    page.wait_for_function("window.__drawnIn.length === 3", timeout=10_000)
    frames = page.evaluate("window.__drawnIn")
    assert len(set(frames)) == 3, frames
    titles = page.locator(".rnn-figure .gtitle").all_text_contents()
    assert titles == ["figure 0", "figure 1", "figure 2"]
