"""AppTest of the home page: lessons in order with links, the dataset and the models in use."""

import threading

import core.lab.trained_models
from core.lab.trained_models import new_model
from tests.helpers.apptest import ROOT, images, no_problems, open_page, run_until_trained


def page_links(node):
    """The page links under an AppTest node (at.main for the page itself, at.sidebar for the navigation)."""
    found = []

    def walk(node):
        for child in getattr(node, "children", {}).values():
            if getattr(child, "type", "") == "page_link" or type(child).__name__ == "PageLink":
                found.append(child.proto)
            walk(child)

    walk(node)
    return found


def test_home_lists_the_five_lessons_in_order_with_links():
    at = open_page()
    no_problems(at)
    links = page_links(at.main)
    # A link's page is the URL path Streamlit derives from the file name: "1_Forward_pass.py" -> "Forward_pass".
    existing = [p.stem.split("_", 1)[1] for p in sorted((ROOT / "pages").glob("[0-9]_*.py"))]
    assert [link.page.strip("/") for link in links] == existing
    labels = [link.label for link in links]
    assert labels[:2] == ["1 · The forward pass, step by step", "2 · Backprop through time"]
    assert len(links) == 5


def test_home_names_the_dataset_and_how_to_get_coco():
    at = open_page()
    summary = next(m.value for m in at.markdown if "training and" in m.value and "captions" in m.value)
    assert "embedded shape scenes" in summary and "25,000 training" in summary
    assert any("python -m core.data download" in i.value for i in at.info)
    assert len(images(at)) >= 4  # sample scenes with their captions
    sidebar = [m.value for m in at.sidebar.markdown]
    assert any("embedded shape scenes" in m for m in sidebar)


def test_home_describes_the_models_with_their_sizes():
    at = open_page()
    sizes = [m.value for m in at.markdown if m.value.startswith("Sizes:")]
    assert any("W = 8 (word vector), H = 8 (hidden)" in s for s in sizes)
    assert any("H = 512 (hidden)" in s and "512·(256 + 512 + 1) = **393,728**" in s for s in sizes)
    # What it says about how each trained model is trained is its recipe (as this test run has them).
    (models,) = [m.value for m in at.markdown if m.value.startswith("Every model is a captioner")]
    recipes = core.lab.trained_models.RECIPES
    readable, overfit = recipes["readable"], recipes["overfit"]
    assert f"{readable['num_iterations']} minibatches of {readable['batch_size']} captions drawn" in models
    assert f"{overfit['max_train']} captions, {overfit['num_iterations']} iterations" in models
    lstm_decay, rnn_decay = recipes["lstm_overfit"]["lr_decay"], overfit["lr_decay"]
    assert f"decays by {lstm_decay:g} an epoch (by {rnn_decay:g} in RNN_Captioning's)" in models
    assert lstm_decay != rnn_decay


def test_home_starts_training_in_the_background_and_shows_its_status(monkeypatch):
    release = threading.Event()

    def slow_training(data, recipe="full", progress=None):
        progress(0.5, f"Training the {recipe} model: iteration 2000/4000")
        assert release.wait(timeout=60)
        return new_model(data, 8, 16, seed=0)

    monkeypatch.setattr(core.lab.trained_models, "trained_model", slow_training)
    try:
        at = open_page()
        no_problems(at)
        # The whole guide is there while the models train: home never waits for them.
        assert len(page_links(at.main)) == 5 and any(m.value.startswith("Sizes:") for m in at.markdown)
        bars = [p.proto.text for p in at.get("progress")]
        assert len(bars) == 4
        assert any("Vanilla RNN at readable sizes" in text for text in bars)
        assert any("Overfit" in text for text in bars)
        assert any(text.startswith("**Vanilla RNN trained on the whole training set**") for text in bars)
        assert any(text.startswith("**LSTM trained on the whole training set**") for text in bars)
    finally:
        release.set()
    run_until_trained(at)
    no_problems(at)
    ready = [m.value for m in at.markdown if m.value.startswith("✅")]
    assert len(ready) == 4 and all(text.endswith("**: ready.") for text in ready)


def test_sidebar_lists_every_page_from_the_registry_home_first():
    import ui

    at = open_page()
    links = page_links(at.sidebar)
    assert [link.label for link in links] == [page.label for page in ui.PAGES]
    assert links[0].label == "Home" and links[0].icon == ui.HOME.icon
    assert at.title[0].value == f"{ui.HOME.icon} {ui.HOME.title}"
    main_labels = [link.label for link in page_links(at.main)]
    assert [label.split(" · ", 1)[1] for label in main_labels] == [page.title for page in ui.LESSONS]
    captions = [c.value for c in at.caption]
    assert all(page.description in captions for page in ui.LESSONS)
