"""Part 3 (the activation race, trained live) and part 5 (the gradient-check lab) in a real browser."""

from .streamlit_helpers import (
    ERROR_ALERT,
    assert_healthy,
    choose,
    click_key,
    expect_charts,
    open_app,
    overflowing,
    save_screenshot,
    wait_for_curves,
)

SUCCESS_ALERT = '[data-testid="stAlertContentSuccess"]'
# What must never be cut on a projector (1280×720): buttons, select values, widget labels, the metrics.
RACE_FITS = ", ".join(
    [
        '[data-testid="stButton"] button',
        '[data-testid="stSelectbox"] [data-baseweb="select"] > div > div:first-child',
        '[data-testid="stWidgetLabel"]',
        '[data-testid="stMetricLabel"]',
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
# Long enough to watch both curves grow in a browser on a busy machine (the lanes train on their own threads).
ITERATIONS = 300


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


def test_gradient_check_lab_passes_then_catches_a_deliberate_bug(page, app_server):
    open_app(page, f"{app_server.url}/Gradient_check_lab")
    page.locator(SUCCESS_ALERT).filter(has_text="agree with finite differences").wait_for(state="visible")
    expect_charts(page, 3)
    save_screenshot(page, "5_gradient_check_lab")

    choose(page, "Deliberate bug", "Forget the gradient carried back from step t+1", allow_error_alerts=True)
    page.locator(ERROR_ALERT).filter(has_text="Caught.").wait_for(state="visible")
    expect_charts(page, 3)
