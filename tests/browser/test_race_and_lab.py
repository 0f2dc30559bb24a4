"""Part 3 (the activation race, trained live) and part 5 (the gradient-check lab) in a real browser."""

from .streamlit_helpers import (
    ERROR_ALERT,
    assert_healthy,
    choose,
    click_key,
    expect_charts,
    open_app,
    save_screenshot,
    wait_for_curves,
)

SUCCESS_ALERT = '[data-testid="stAlertContentSuccess"]'


def test_race_trains_both_lanes_live_until_the_summary(page, app_server):
    open_app(page, f"{app_server.url}/Activation_race")
    click_key(page, "race.start")

    first = wait_for_curves(page, 0)
    grown = wait_for_curves(page, max(first.values()))
    assert grown["tanh"] > first["tanh"] and grown["sigmoid"] > first["sigmoid"]
    assert_healthy(page)

    # The default race is the notebook's 100 iterations; at the end the page writes what happened.
    page.get_by_role("heading", name="What happened").wait_for(state="visible")
    assert wait_for_curves(page, 99) == {"tanh": 100, "sigmoid": 100}
    assert_healthy(page)
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
