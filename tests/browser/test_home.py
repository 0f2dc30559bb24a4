"""The home page, as a learner first sees it."""

from pathlib import Path

from .streamlit_helpers import expect_images, open_app, save_screenshot

PAGES = Path(__file__).resolve().parents[2] / "pages"


def nav_label(page_file: Path):
    """Streamlit's sidebar label for pages/<n>_<Name_with_underscores>.py."""
    return page_file.stem.split("_", 1)[1].replace("_", " ")


def test_home_page_renders_and_links_every_page(page, app_server):
    open_app(page, app_server.url)

    page.locator('[data-testid="stMain"] h1').first.wait_for(state="visible")
    nav = page.locator('[data-testid="stSidebarNav"]')
    for page_file in sorted(PAGES.glob("[0-9]*_*.py")):
        nav.get_by_text(nav_label(page_file), exact=True).wait_for(state="visible")
    # The home page shows a few training examples with their captions.
    expect_images(page, 4)
    save_screenshot(page, "0_home")
