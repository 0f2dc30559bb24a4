"""A hostile deep link in the real browser: the issue's link that posed as the app's own login prompt."""

from urllib.parse import quote

from .streamlit_helpers import open_app

# The example: a backtick closes the notice's code span, then a Markdown link to another site;
# and a Markdown image that every visitor's browser would fetch.
EXAMPLE = "x` [Session expired - log in again](https://evil.example/login) `y"
SPLIT = "![t](https://evil.example/p.png)"


def test_a_link_carrying_markdown_shows_it_as_text(page, app_server):
    open_app(page, f"{app_server.url}/Forward_pass?example={quote(EXAMPLE)}&split={quote(SPLIT)}")
    notice = page.locator('[data-testid="stAlertContentInfo"]').filter(has_text="Some settings in the link")
    notice.wait_for(state="visible")
    shown = notice.inner_text().replace("\u200b", "")  # the zero-width space that keeps URLs from linking
    assert "[Session expired - log in again](https://evil.example/login)" in shown  # the text, as typed
    assert "![t](https://evil.example/p.png)" in shown
    assert page.locator('a[href*="evil.example"]').count() == 0  # no link
    assert page.locator('img[src*="evil.example"]').count() == 0  # no remote image
