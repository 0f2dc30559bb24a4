"""Part 4: the caption gallery shows images with the trained models' captions, then explains one."""

import re

from .streamlit_helpers import (
    FITS,
    IMAGE,
    act_and_wait,
    click_key,
    expect_images,
    open_app,
    overflowing,
    save_screenshot,
    wrapped,
)

# Only the open view is drawn (the others run when opened): count what the learner can see.
TAB = '[data-testid="stTabPanel"]'


def image_sources(page):
    return page.locator(f"{TAB} {IMAGE}:visible").evaluate_all("images => images.map(i => i.src)")


def test_gallery_captions_images_and_explains_one(projector_page, app_server):
    page = projector_page
    # The first visit trains the models (cached on disk for every later session): minutes on 2 busy cores.
    page.set_default_timeout(400_000)
    open_app(page, f"{app_server.url}/Caption_gallery")
    expect_images(page, 6)
    cards = page.locator(f"{TAB} p:visible").filter(has=page.get_by_text("Model:", exact=True))
    assert cards.count() == len(image_sources(page)) == 6, "six images, each with the model's caption"
    assert all(len(text.split("Model:", 1)[1].strip()) > 0 for text in cards.all_inner_texts())
    assert overflowing(page, FITS) == []
    save_screenshot(page, "4_caption_gallery")

    before = image_sources(page)
    click_key(page, "gallery.shuffle")
    expect_images(page, 6)
    assert image_sources(page) != before, "Other images shows other images"

    # A card leads into the word-by-word view of its image, which the URL keeps.
    click_key(page, "gallery.explain.1")
    assert re.search(r"[?&]view=words(&|$)", page.url) and re.search(r"[?&]image=2(&|$)", page.url)
    table = page.locator(f"{TAB} table").first
    table.wait_for(state="visible")
    assert table.locator("tr").count() >= 2
    assert overflowing(page, FITS) == []
    save_screenshot(page, "4_caption_gallery_word_by_word")

    # Another view runs when it is opened, and goes to the URL too.
    act_and_wait(page, lambda: page.get_by_role("tab", name="Teacher forcing vs free sampling").click())
    page.locator(f"{TAB} .st-key-gallery-divergence .main-svg").first.wait_for(state="visible")
    assert re.search(r"[?&]view=forcing(&|$)", page.url)
    assert overflowing(page, FITS) == []


def test_compose_a_scene_reads_whole_on_a_small_screen(small_screen_page, app_server):
    """At 1024 px each object's five controls share a row, every label on one line, so that the rows line up."""
    page = small_screen_page
    open_app(page, f"{app_server.url}/Caption_gallery?view=compose")
    labels = f"{TAB} [data-testid='stWidgetLabel'] p"
    page.locator(f"{TAB} [data-testid='stSlider']").nth(3).wait_for()  # x and y of the two default objects
    assert page.locator(labels).count() >= 12 and wrapped(page, labels) == []
    assert overflowing(page, labels) == []
