"""Part 3 (the activation race, trained live) and part 5 (the gradient-check lab) in a real browser."""

from .streamlit_helpers import (
    BUTTON_LABEL,
    ERROR_ALERT,
    HTML_BOXES,
    METRIC_LABEL,
    act_and_wait,
    assert_healthy,
    choose,
    click_key,
    expect_charts,
    key_selector,
    open_app,
    overflowing,
    save_screenshot,
    wait_for_curves,
)

SUCCESS_ALERT = '[data-testid="stAlertContentSuccess"]'
# What must never be cut in the lab at 1280 px: buttons, select values (Streamlit 1.67 shows them in the
# combobox's input, which scrolls a value too long for it), widget labels, code lines, the table.
DETAIL_SELECT = '[data-testid="stSelectbox"]:has(input[aria-label="Look at one gradient element by element"])'
LAB_FITS = ", ".join(
    [
        '[data-testid="stButton"] button',
        BUTTON_LABEL,
        '[data-testid="stSelectbox"] input',
        '[data-testid="stWidgetLabel"] p',
        '[data-testid="stHtml"] pre',
        '[data-testid="stDataFrame"] .dvn-scroller',
    ]
)
# What must never be cut on a projector (1280×720): buttons, select values, widget labels, the metrics.
RACE_FITS = ", ".join(
    [
        '[data-testid="stButton"] button',
        BUTTON_LABEL,
        '[data-testid="stSelectbox"] [data-baseweb="select"] > div > div:first-child',
        '[data-testid="stWidgetLabel"]',
        '[data-testid="stMetricLabel"]',
        METRIC_LABEL,
        '[data-testid="stMetricValue"]',
        '[data-testid="stMetricDelta"]',
    ]
)
# Pixels from the bottom of each "loss t" label of the loss chart to its dashed line at t (negative: above).
THRESHOLD_LABEL_OFFSETS = """() => {
  const chart = document.querySelector('.st-key-race-loss .js-plotly-plot');
  const layout = chart._fullLayout, axis = layout.yaxis;
  const top = chart.querySelector('.main-svg').getBoundingClientRect().top + layout._size.t;
  const offsets = {};
  for (const text of chart.querySelectorAll('text')) {
    const found = text.textContent.match(/^loss ([0-9.]+)$/);
    if (!found) continue;
    const value = parseFloat(found[1]);
    const line = top + axis.l2p(axis.type === 'log' ? Math.log10(value) : value);
    offsets[found[1]] = text.getBoundingClientRect().bottom - line;
  }
  return offsets;
}"""
# Long enough to watch both curves grow in a browser on a busy machine (the lanes train on their own threads;
# the first curves are drawn within a second of the start, and 120 iterations take 7 s on an idle machine);
# not the page's default of 100, so that the URL must carry it.
ITERATIONS = 120


def test_race_trains_both_lanes_live_until_the_summary(projector_page, app_server):
    page = projector_page
    open_app(page, f"{app_server.url}/Activation_race?iterations={ITERATIONS}")
    assert overflowing(page, RACE_FITS) == []
    click_key(page, "race.start")

    first = wait_for_curves(page, 0)
    grown = wait_for_curves(page, max(first.values()))
    assert grown["tanh"] > first["tanh"] and grown["sigmoid"] > first["sigmoid"]
    assert_healthy(page)
    assert overflowing(page, RACE_FITS) == []

    # At the end the page writes what happened, and every label of the loss chart sits on its own line.
    page.get_by_role("heading", name="What happened").wait_for(state="visible")
    assert wait_for_curves(page, ITERATIONS - 1) == {"tanh": ITERATIONS, "sigmoid": ITERATIONS}
    assert_healthy(page)
    offsets = page.evaluate(THRESHOLD_LABEL_OFFSETS)
    assert set(offsets) == {"1", "0.1"} and all(-20 < offset <= 2 for offset in offsets.values()), offsets
    assert overflowing(page, RACE_FITS) == []
    assert f"iterations={ITERATIONS}" in page.url
    expect_charts(page, 3)
    save_screenshot(page, "3_activation_race")
    # Zoomed to 150 % on the projector (an 853 px wide page), no button or metric is cut either: they wrap.
    page.set_viewport_size({"width": 853, "height": 480})
    assert overflowing(page, RACE_FITS) == []
    # On a 1024 px screen the tables still fit the page (the milestones: a row per measure, a column per lane).
    page.set_viewport_size({"width": 1024, "height": 768})
    assert page.locator('[data-testid="stHtml"] table').count() == 2
    assert overflowing(page, HTML_BOXES) == []


def shown_gradient(page) -> str:
    """The gradient the element-by-element selector shows, e.g. "dWh"."""
    return page.locator(f"{DETAIL_SELECT} input").input_value().split(" · ")[-1]


def charted_gradient(page) -> str:
    """The gradient the element heatmap draws, from its title ("dWh: relative error of each element")."""
    title = page.locator(f"{key_selector('gradcheck.elements')} .gtitle").text_content()
    return title.split(":")[0]


def test_gradient_check_lab_passes_then_catches_a_deliberate_bug(projector_page, app_server):
    """At 1280×720: the checks pass, a bug is caught and the element view names the gradient its charts show;
    the LSTM's bug is caught by exactly its checks; nothing is cut, and the URL holds the view."""
    page = projector_page
    open_app(page, f"{app_server.url}/Gradient_check_lab")
    page.locator(SUCCESS_ALERT).filter(has_text="agree with finite differences").wait_for(state="visible")
    expect_charts(page, 3)
    assert overflowing(page, LAB_FITS) == []
    save_screenshot(page, "5_gradient_check_lab")

    choose(page, "Deliberate bug", "Forget the gradient carried back from step t+1", allow_error_alerts=True)
    page.locator(ERROR_ALERT).filter(has_text="Caught.").wait_for(state="visible")
    expect_charts(page, 4)  # the worst gradient fails: its error at each step h is drawn too
    assert shown_gradient(page) == charted_gradient(page)
    assert "bug=no_carried_gradient" in page.url
    assert overflowing(page, LAB_FITS) == []

    cells = page.locator('[data-testid="stRadio"]').filter(has_text="RNN · tanh")
    act_and_wait(page, lambda: cells.get_by_text("LSTM", exact=True).click())
    page.locator(SUCCESS_ALERT).filter(has_text="agree with finite differences").wait_for(state="visible")
    assert "cell=lstm" in page.url and "bug=none" in page.url
    choose(
        page, "Deliberate bug", "Drop c_{t-1} from the LSTM forget gate's gradient", allow_error_alerts=True
    )
    caught = page.locator(ERROR_ALERT).filter(has_text="Caught.").inner_text()
    shown_in = caught.split("shows in: ")[1].split(": there")[0]
    assert shown_in == (
        "LSTM step (lstm_step_backward), LSTM over a sequence (lstm_backward), "
        "Whole LSTM model (CaptioningRNN.loss)"
    )
    assert shown_gradient(page) == charted_gradient(page)
    assert overflowing(page, LAB_FITS) == []
    save_screenshot(page, "5_gradient_check_lab_lstm_bug")
