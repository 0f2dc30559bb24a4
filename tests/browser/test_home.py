"""The home page as a learner first sees it, and deep links to every page on a fresh server."""

import ui

from .streamlit_helpers import FITS, expect_images, open_app, overflowing, save_screenshot

SIDEBAR_LINKS = '[data-testid="stSidebar"] [data-testid="stPageLink"]'


def sidebar_labels(page):
    page.locator(SIDEBAR_LINKS).nth(len(ui.PAGES) - 1).wait_for(state="visible")
    return [text.strip() for text in page.locator(SIDEBAR_LINKS).all_inner_texts()]


def test_home_page_renders_and_links_every_page(projector_page, app_server):
    page = projector_page
    open_app(page, app_server.url)

    page.locator('[data-testid="stMain"] h1').first.wait_for(state="visible")
    labels = sidebar_labels(page)
    assert [label.split("\n")[-1] for label in labels] == [p.label for p in ui.PAGES]
    assert not page.locator('[data-testid="stSidebarNav"]').count()  # Streamlit's own list is hidden
    # The home page shows a few training examples with their captions.
    expect_images(page, 4)
    assert overflowing(page, FITS) == []
    save_screenshot(page, "0_home")


def test_deep_links_open_their_pages_on_a_fresh_server(page, fresh_server):
    """The first request of the new server is a deep link (the lab), then every other lesson's link. Each page
    asks the server's root whether it is up, told where it is by serve.py, and never its own address first
    (a 404, then a retry 100 ms later)."""
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    for target in (ui.GRADIENT_CHECK_LAB, *[p for p in ui.LESSONS if p is not ui.GRADIENT_CHECK_LAB]):
        asked.clear()
        open_app(page, f"{fresh_server.url}/{target.url_path}")
        heading = page.locator('[data-testid="stMain"] h1').first
        heading.wait_for(state="visible")
        assert target.title in heading.inner_text(), target.url_path
        assert sidebar_labels(page)[0].split("\n")[-1] == "Home"
        assert page.evaluate("window.__streamlit.BACKEND_BASE_URL") == f"{fresh_server.url}/"
        assert f"{fresh_server.url}/_stcore/health" in asked
        assert not [url for url in asked if f"/{target.url_path}/_stcore/" in url], target.url_path
