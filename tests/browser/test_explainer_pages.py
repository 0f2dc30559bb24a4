"""Parts 1 and 2 as a learner walks them: step the forward pass, then follow the link to backprop.

They run at 1280×720, a classroom projector: nothing a learner reads or clicks may be cut off.
"""

import re
import time

from .streamlit_helpers import (
    FITS,
    HTML_BOXES,
    STEP_PAINTED,
    STEPPER,
    act_and_wait,
    choose,
    cut_titles,
    expect_charts,
    expect_images,
    open_app,
    overflowing,
    overlapping_cell_numbers,
    painted_step,
    save_screenshot,
    stepper_click,
    stepper_panel,
    url_step,
    wrapped,
)

CONTROLS = ".st-key-controls-row"


def equation_rows(page) -> list[str]:
    """The row labels of the equation heatmap as drawn."""
    return stepper_panel(page, "equation").locator(".ytick text").all_text_contents()


def test_forward_pass_steps_in_the_browser_and_the_url_follows(projector_page, app_server):
    page = projector_page
    open_app(page, f"{app_server.url}/Forward_pass")
    expect_images(page, 1)
    assert painted_step(page) == 0
    assert equation_rows(page) == ["h_0 = W_proj·feature + b_proj"]
    assert overflowing(page, FITS) == []

    assert page.locator(f"{STEPPER} .rnn-prev").inner_text() == "‹ Previous"
    assert page.locator(f"{STEPPER} .rnn-next").inner_text() == "Next ›"
    stepper_click(page, "next", 1)
    stepper_click(page, "next", 2)
    stepper_click(page, "prev", 1)
    assert "h_t = tanh(a_t)" in equation_rows(page)
    assert "h1 = tanh(" in stepper_panel(page, "formula").inner_text().replace("\n", "")
    assert stepper_panel(page, "summary").inner_text().startswith("t = 1: reads")

    # Keyboard steps in quick succession all land, and the slider, the text, the figures and the URL agree.
    page.locator(f"{STEPPER} .rnn-range").focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
        time.sleep(0.08)
    url_step(page, 6)
    assert painted_step(page) == 6
    assert page.locator(f"{STEPPER} .rnn-value").inner_text() == "t = 6"
    assert "h6 = tanh(" in stepper_panel(page, "formula").inner_text().replace("\n", "")
    assert stepper_panel(page, "summary").inner_text().startswith("t = 6")
    save_screenshot(page, "1_forward_pass")

    # Play steps on by itself; Pause stops it and the URL keeps the step shown.
    page.locator(f"{STEPPER} .rnn-play").click()
    page.wait_for_function(f"Number(document.querySelector('{STEPPER}').dataset.painted) >= 8")
    page.locator(f"{STEPPER} .rnn-play").click()
    shown = painted_step(page)
    url_step(page, shown)
    time.sleep(1.2)
    assert painted_step(page) == shown

    # The link copied now opens the same step.
    link = page.url
    page.goto("about:blank")
    open_app(page, link)
    assert painted_step(page) == shown

    example = re.search(r"[?&]example=(\d+)", page.url).group(1)
    act_and_wait(page, lambda: page.get_by_text("Next: backprop through time").click())
    assert "/Backprop_through_time" in page.url
    assert re.search(rf"[?&]example={example}(&|$)", page.url), "the link keeps the example"
    expect_images(page, 1)
    last = painted_step(page)
    assert last > 6, "backprop opens where it starts, at the caption's last scored word, not at t = 6"
    summary = stepper_panel(page, "summary").inner_text()
    assert summary.startswith(f"t = {last}: ‖dL/dh_{last}‖") and "0.000e+00" not in summary
    url_step(page, last)
    # Backprop's next step is t - 1: the button that goes there says so.
    assert page.locator(f"{STEPPER} .rnn-prev").inner_text() == "‹ Next (t − 1)"
    assert page.locator(f"{STEPPER} .rnn-next").inner_text() == "Previous (t + 1) ›"
    stepper_click(page, "prev", last - 1)
    stepper_click(page, "prev", last - 2)
    assert overflowing(page, FITS) == []
    save_screenshot(page, "2_backprop_through_time")
    # Played back from t = 0, it starts again where backprop starts, not in the padding after the caption.
    page.locator(f"{STEPPER} .rnn-range").focus()
    page.keyboard.press("Home")
    url_step(page, 0)
    page.locator(f"{STEPPER} .rnn-play").click()
    page.wait_for_function(f"Number(document.querySelector('{STEPPER}').dataset.painted) === {last}")
    page.locator(f"{STEPPER} .rnn-play").click()
    assert painted_step(page) <= last


def test_the_lstm_cell_on_both_pages(projector_page, app_server):
    page = projector_page
    open_app(page, f"{app_server.url}/Forward_pass")
    choose(page, "Cell", "LSTM")
    assert re.search(r"[?&]cell=lstm(&|$)", page.url), page.url
    assert painted_step(page) == 0
    stepper_click(page, "next", 1)
    stepper_click(page, "next", 2)
    rows = equation_rows(page)
    assert "f = σ(a_f): forget gate" in rows and "c_t = f ⊙ c_t−1 + i ⊙ g" in rows
    assert "forget f = " in stepper_panel(page, "summary").inner_text()
    assert overflowing(page, FITS) == []
    save_screenshot(page, "1_forward_pass_lstm")

    act_and_wait(page, lambda: page.get_by_text("Next: backprop through time").click())
    assert re.search(r"[?&]cell=lstm(&|$)", page.url), "the link keeps the cell"
    last = painted_step(page)
    assert last > 2, "backprop opens at the caption's last scored word"
    stepper_panel(page, "reach").locator(".main-svg").first.wait_for(state="visible")
    assert "Along the cell" in stepper_panel(page, "summary").inner_text()
    stepper_click(page, "prev", last - 1)
    assert overflowing(page, FITS) == []
    save_screenshot(page, "2_backprop_through_time_lstm")


def control_rows(page) -> int:
    """How many rows the example, cell, model and sizes controls take (each row aligns them at the bottom)."""
    return page.evaluate(
        f"new Set([...document.querySelector('{CONTROLS}').children]"
        ".map(e => Math.round(e.getBoundingClientRect().bottom))).size"
    )


def test_the_controls_read_whole_on_a_projector_and_wrap_on_a_small_screen(
    projector_page, small_screen_page, app_server
):
    """The longest choices (RNN · sigmoid, the notebook's sizes) in full, every label on one line: in one row at
    1280 px, in two at 1024 px rather than cut short."""
    for page, rows in ((projector_page, 1), (small_screen_page, 2)):
        open_app(page, f"{app_server.url}/Backprop_through_time?activation=sigmoid&sizes=real")
        expect_images(page, 1)
        assert overflowing(page, FITS) == []
        labels = f'{CONTROLS} [data-testid="stWidgetLabel"] p, {CONTROLS} [role="radiogroup"] label p'
        assert page.locator(labels).count() >= 7 and wrapped(page, labels) == []
        assert control_rows(page) == rows


def test_the_steppers_figures_share_a_row_on_a_projector_and_take_a_line_each_on_a_small_screen(
    projector_page, small_screen_page, app_server
):
    """Side by side at 1280 px; at 1024 px each figure of a row on a line of its own, so that the forward page's
    equation keeps its numbers apart (squeezed beside the next word's chart, they ran into each other)."""
    pairs = {"Forward_pass": ("equation", "topk"), "Backprop_through_time": ("dh", "norms")}
    for page, side_by_side in ((projector_page, True), (small_screen_page, False)):
        for path, (left, right) in pairs.items():
            open_app(page, f"{app_server.url}/{path}")
            page.wait_for_function(STEP_PAINTED)
            tops = [stepper_panel(page, panel).bounding_box()["y"] for panel in (left, right)]
            assert (tops[0] == tops[1]) == side_by_side, (path, tops)
        open_app(page, f"{app_server.url}/Forward_pass")  # t = 0: the one row of h_0, the widest numbers
        numbers = page.locator(f"{STEPPER} g.hm g.heatmap-label text")
        numbers.nth(7).wait_for(state="attached")
        assert numbers.count() == 8 and overlapping_cell_numbers(page) == []


def test_the_labs_controls_read_whole_on_a_projector_and_a_small_screen(
    projector_page, small_screen_page, app_server
):
    """Every label of the lab's controls on one line and every box with its steppers; the test input's button
    whole, its popover inside the window with the sizes three a row, and staying open while a size changes,
    the button then naming the new size; its results table fits the page, no error broken across lines."""
    popover = '[class*="st-key-lab-test_input"] button'
    sizes = '[data-testid="stPopoverBody"] [data-testid="stNumberInput"]'
    for page in (projector_page, small_screen_page):
        open_app(page, f"{app_server.url}/Gradient_check_lab")
        expect_charts(page, 3)
        # Streamlit draws a popover's widgets only once it is open.
        assert page.locator(sizes).count() == 0
        assert overflowing(page, f"{popover}, {popover} p") == []
        page.locator(popover).click()
        labels = ", ".join(
            f'[data-testid="{area}"] {label}'
            for area in ("stMain", "stPopoverBody")
            for label in ('[data-testid="stWidgetLabel"] p', "label p")
        )
        # Streamlit shows a widget once its code has loaded, which in a fresh browser can follow the figures.
        page.locator(labels).nth(19).wait_for()
        assert wrapped(page, labels) == []
        assert overflowing(page, labels) == []
        steppers = page.locator(f'{sizes} button[data-testid="stNumberInputStepUp"]:visible')
        steppers.nth(6).wait_for()  # a box's steppers can be drawn a frame after its label
        assert steppers.count() == 7  # the six sizes and the seed
        tops = page.locator(sizes).evaluate_all(
            "(boxes) => boxes.map((box) => box.getBoundingClientRect().top)"
        )
        assert [tops.count(top) for top in sorted(set(tops))] == [3, 3, 1]
        body = page.locator('[data-testid="stPopoverBody"]').bounding_box()
        assert body["x"] >= 0 and body["x"] + body["width"] <= page.viewport_size["width"]
        page.keyboard.press("Escape")
        # The results table fits the page, its max relative errors (e.g. 6.54e-11) each one line of text (a cell
        # is as tall as its row).
        errors = page.locator('[data-testid="stHtml"] td:nth-child(4)')
        errors.nth(19).wait_for()
        assert overflowing(page, HTML_BOXES) == []
        lines = errors.evaluate_all(
            "(cells) => cells.map((cell) => { const range = document.createRange();"
            " range.selectNodeContents(cell); return new Set([...range.getClientRects()].map((r) => r.top)).size; })"
        )
        assert len(lines) >= 20 and set(lines) == {1}, lines
    page.locator(popover).click()
    act_and_wait(page, lambda: steppers.nth(0).click())
    assert "N=3" in page.url
    assert steppers.count() == 7, "the popover stays open while a size changes"
    assert "N 3 · T 3" in page.locator(popover).inner_text()


def test_figure_titles_shrink_to_fit_a_small_screen(small_screen_page, app_server):
    """The longest titles (the LSTM's forget-gate heatmap, the lab's comparison of a gradient) are whole at 1024 px,
    and narrower than a title (a phone, a projector's zoom) its font shrinks to the figure's width, as Plotly.js
    would cut it at its edges."""
    page = small_screen_page
    open_app(page, f"{app_server.url}/Backprop_through_time?cell=lstm")
    page.wait_for_function(STEP_PAINTED)
    titles = page.locator(f"{STEPPER} .gtitle").all_text_contents()
    assert any(title.startswith("f_t = σ(a_f)") for title in titles), titles
    assert cut_titles(page) == []
    forget = f"{STEPPER} .js-plotly-plot:has(.gtitle[data-unformatted^='f_t'])"
    own_size = page.locator(forget).evaluate("(plot) => plot._fullLayout.title.font.size")
    page.set_viewport_size({"width": 360, "height": 800})
    page.wait_for_function(
        f'(() => {{ const plot = document.querySelector("{forget}");'
        " return parseFloat(plot.querySelector('.gtitle').style.fontSize) < plot._fullLayout.title.font.size; })()"
    )
    assert cut_titles(page) == []
    last = painted_step(page)
    stepper_click(page, "prev", last - 1)
    stepper_click(page, "prev", last - 2)
    assert cut_titles(page) == []
    # Wider again, the title is drawn at its own size (the layout's, which the fitting never changed).
    shrunk = page.locator(f"{forget} .gtitle").evaluate("(title) => parseFloat(title.style.fontSize)")
    page.set_viewport_size({"width": 1600, "height": 900})
    page.wait_for_function(
        f'(() => {{ const plot = document.querySelector("{forget}");'
        " return parseFloat(plot.querySelector('.gtitle').style.fontSize) === plot._fullLayout.title.font.size; })()"
    )
    assert shrunk < own_size == page.locator(forget).evaluate("(plot) => plot._fullLayout.title.font.size")
    page.set_viewport_size({"width": 1024, "height": 768})
    open_app(page, f"{app_server.url}/Gradient_check_lab")
    expect_charts(page, 3)
    assert any(
        title.endswith(": analytic vs numeric") for title in page.locator(".gtitle").all_text_contents()
    )
    assert cut_titles(page) == []


def test_back_and_forward_take_the_stepper_to_the_step_in_the_url(projector_page, app_server):
    """Each step is one entry of the browser's history (the page writes its URL in one change a run), and Back
    and Forward move the stepper with the URL."""
    page = projector_page

    def shows(t):
        page.wait_for_function(
            f"document.querySelector('{STEPPER}')?.dataset.painted === '{t}'", timeout=20_000
        )
        assert page.locator(f"{STEPPER} .rnn-value").inner_text() == f"t = {t}"

    open_app(page, f"{app_server.url}/Forward_pass?example=3&t=0")
    assert painted_step(page) == 0
    stepper_click(page, "next", 1)
    stepper_click(page, "next", 2)
    page.go_back()
    url_step(page, 1)
    shows(1)
    page.go_back()
    url_step(page, 0)
    shows(0)
    page.go_forward()
    url_step(page, 1)
    shows(1)
    # A step taken from there is a new step, stored as usual.
    stepper_click(page, "next", 2)
    assert re.search(r"[?&]example=3(&|$)", page.url)
