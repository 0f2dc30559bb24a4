"""Every page, opened from a deep link, against a hostile link, a hostile data folder, a misspelled $COCO_DIR
and a dataset that fails to load: values from outside are shown as text (nothing becomes a link, an image
or HTML), a bad image is a placeholder for that image only, and a problem is said once."""

from __future__ import annotations

import pytest

from core.data import paths
from explainer.escape import plain
from tests.helpers.apptest import (
    figure_strings,
    fresh_streamlit,
    images,
    markdown_texts,
    page_app,
    run_until_trained,
)
from tests.helpers.coco_fixtures import write_coco_fixture, write_hostile_coco_fixture
from tests.helpers.embedded import use_tiny_embedded_dataset
from tests.helpers.faults import HOSTILE, figure_injections, markdown_injections, within

PAGES = (
    "streamlit_app.py",
    "pages/1_Forward_pass.py",
    "pages/2_Backprop_through_time.py",
    "pages/3_Activation_race.py",
    "pages/4_Caption_gallery.py",
    "pages/5_Gradient_check_lab.py",
)
# Every URL field of every page, each given a hostile value (pages ignore the fields they do not have).
FIELDS = ("split", "example", "t", "activation", "model", "sizes", "wh", "recipe", "images", "page")
FIELDS += ("temperature", "seed", "k", "image")
LAB_FIELDS = ("cell", "dtype", "step", "repeat", "N", "T", "D", "W", "H", "V", "checks", "bug", "detail")
FIELDS += LAB_FIELDS
LINK = {name: HOSTILE[i % len(HOSTILE)] for i, name in enumerate(FIELDS)}
# The fields each page reads from its link.
PAGE_FIELDS = {
    "pages/1_Forward_pass.py": FIELDS[:6],
    "pages/2_Backprop_through_time.py": FIELDS[:7],
    "pages/4_Caption_gallery.py": ("recipe", "split", "images", "page", "temperature", "seed", "k"),
    "pages/5_Gradient_check_lab.py": ("seed", *LAB_FIELDS),
}
# A page may take this long on its first run (the small models train in the background meanwhile).
BOUND = 60


@pytest.fixture(autouse=True)
def fresh(monkeypatch, tmp_path):
    use_tiny_embedded_dataset(monkeypatch, tmp_path / "home")
    with fresh_streamlit(monkeypatch):
        yield


def open_deep_link(page: str, query: dict | None = None):
    """The page opened from a link with `query`, run until its models are trained, and the Markdown texts
    of its first run (the link's notice is shown once, then the link holds the page's own values)."""
    at = page_app(page, timeout=BOUND)
    at.query_params.update(query or {})
    with within(BOUND):
        at.run()
        first = markdown_texts(at)
        run_until_trained(at)
    return at, first


@pytest.mark.parametrize("page", PAGES)
def test_a_hostile_link_and_data_folder_are_shown_as_text(tmp_path, monkeypatch, page):
    """The link sets every field to a Markdown link, an image, HTML or a 321-character value; the data
    folder's words are such values and its train URL lines are malformed."""
    monkeypatch.setenv(paths.COCO_DIR_ENV, str(write_hostile_coco_fixture(tmp_path / "coco")))
    at, first = open_deep_link(page, LINK)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    texts = first + markdown_texts(at)
    assert not markdown_injections(texts), markdown_injections(texts)
    assert not figure_injections(figure_strings(at)), figure_injections(figure_strings(at))
    if page in PAGE_FIELDS:
        (notice,) = [text for text in first if text.startswith("Some settings in the link")]
        for name in PAGE_FIELDS[page]:
            assert plain(LINK[name]) in notice, name  # named, escaped and cut to 80 characters
        assert "a" * 100 not in notice
    if page in ("streamlit_app.py", "pages/1_Forward_pass.py", "pages/4_Caption_gallery.py"):
        # Train images: each malformed URL line is a placeholder saying why, the page goes on.
        captions = [image.caption for node in images(at) for image in node.proto.imgs]
        assert captions and any("Image unavailable: malformed URL" in c for c in captions), captions


@pytest.mark.parametrize("page", PAGES)
def test_a_misspelled_coco_dir_is_said_on_every_page(tmp_path, monkeypatch, page):
    missing = tmp_path / "coco_captoning"
    monkeypatch.setenv(paths.COCO_DIR_ENV, str(missing))
    at, _ = open_deep_link(page)
    assert not at.exception and not at.error
    (warning,) = [w.value for w in at.sidebar.warning]
    assert plain(str(missing), None) in warning and "does not exist" in warning
    assert "embedded dataset" in warning


@pytest.mark.parametrize("page", PAGES)
def test_a_dataset_that_fails_to_load_is_one_error_box(tmp_path, monkeypatch, page):
    folder = write_coco_fixture(tmp_path / "coco")
    (folder / "val2014_urls.txt").unlink()  # an incomplete $COCO_DIR: DataFileError
    monkeypatch.setenv(paths.COCO_DIR_ENV, str(folder))
    at = page_app(page, timeout=BOUND)
    with within(10):
        at.run()
    assert not at.exception
    (error,) = at.error.values
    assert plain("val2014_urls.txt", None) in error and "file missing" in error
    at.run()  # again: still one box, the learner's state kept
    assert len(at.error) == 1 and not at.exception
