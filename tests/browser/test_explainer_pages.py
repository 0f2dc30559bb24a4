"""Parts 1 and 2 as a learner walks them: step the forward pass, then follow the link to backprop."""

import re

from .streamlit_helpers import (
    act_and_wait,
    click_key,
    expect_charts,
    expect_images,
    open_app,
    save_screenshot,
    slider,
    slider_value,
)

TIMESTEP = "Timestep t"


def test_forward_pass_steps_forward_and_back_then_backprop_steps_back(page, app_server):
    open_app(page, f"{app_server.url}/Forward_pass")
    expect_images(page, 1)
    expect_charts(page, 3)
    assert slider_value(page, TIMESTEP) == 0

    click_key(page, "timestep.t.forward")
    click_key(page, "timestep.t.forward")
    assert slider_value(page, TIMESTEP) == 2
    click_key(page, "timestep.t.back")
    assert slider_value(page, TIMESTEP) == 1
    assert re.search(r"[?&]t=1(&|$)", page.url), page.url
    # From t = 1 on, the next-word probabilities join the network, equation and loss charts.
    assert expect_charts(page, 4) >= 4
    save_screenshot(page, "1_forward_pass")

    example = re.search(r"[?&]example=(\d+)", page.url).group(1)
    act_and_wait(page, lambda: page.get_by_text("Next: backprop through time").click())
    assert "/Backprop_through_time" in page.url
    assert re.search(rf"[?&]example={example}(&|$)", page.url), "the link keeps the example"
    expect_images(page, 1)
    expect_charts(page, 6)

    last = int(slider(page, TIMESTEP).get_attribute("max"))
    act_and_wait(page, lambda: slider(page, TIMESTEP).press("End"))
    assert slider_value(page, TIMESTEP) == last
    click_key(page, "timestep.t.back")
    click_key(page, "timestep.t.back")
    assert slider_value(page, TIMESTEP) == last - 2
    save_screenshot(page, "2_backprop_through_time")
