"""AppTest of the home page: lessons in order with links, the dataset and the models in use."""

from tests.test_ui_apptest import ROOT, fresh_caches, images, no_problems, open_page  # noqa: F401


def page_links(at):
    found = []

    def walk(node):
        for child in getattr(node, "children", {}).values():
            if getattr(child, "type", "") == "page_link" or type(child).__name__ == "PageLink":
                found.append(child.proto)
            walk(child)

    walk(at._tree)
    return found


def test_home_lists_the_lessons_in_order_with_links_to_existing_pages():
    at = open_page()
    no_problems(at)
    links = page_links(at)
    # A link's page is the URL path Streamlit derives from the file name: "1_Forward_pass.py" -> "Forward_pass".
    existing = [p.stem.split("_", 1)[1] for p in sorted((ROOT / "pages").glob("[0-9]_*.py"))]
    assert [link.page.strip("/") for link in links] == existing
    labels = [link.label for link in links]
    assert labels[:2] == ["1 · The forward pass, step by step", "2 · Backprop through time"]
    pending = [m.value for m in at.markdown if "not available in this version yet" in m.value]
    assert len(links) + len(pending) == 5


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
