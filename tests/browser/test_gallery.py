"""Part 4: the caption gallery shows images with the trained models' captions."""

from .streamlit_helpers import IMAGE, assert_healthy, click_key, expect_images, open_app, save_screenshot

# Streamlit keeps the other tabs' content in the page, hidden: count only what the learner can see.
TAB = '[data-testid="stTabPanel"]'


def image_sources(page):
    return page.locator(f"{TAB} {IMAGE}:visible").evaluate_all("images => images.map(i => i.src)")


def test_gallery_captions_images_and_explains_one(page, app_server):
    # The first visit trains both models (cached on disk for every later session): minutes on 2 busy cores.
    page.set_default_timeout(400_000)
    open_app(page, f"{app_server.url}/Caption_gallery")
    expect_images(page, 6)
    cards = page.locator(f"{TAB} p:visible").filter(has=page.get_by_text("Model:", exact=True))
    assert cards.count() == len(image_sources(page)) == 6, "six images, each with the model's caption"
    assert all(len(text.split("Model:", 1)[1].strip()) > 0 for text in cards.all_inner_texts())
    save_screenshot(page, "4_caption_gallery")

    before = image_sources(page)
    click_key(page, "gallery.shuffle")
    expect_images(page, 6)
    assert image_sources(page) != before, "Other images shows other images"

    # Tabs are drawn in one run and switched in the browser: no rerun to wait for.
    page.get_by_role("tab", name="Teacher forcing vs free sampling").click()
    page.locator(f"{TAB} .st-key-gallery-divergence .main-svg").first.wait_for(state="visible")
    assert_healthy(page)
