"""The setup every page calls first: page config, the sidebar's navigation and dataset panel."""

from __future__ import annotations

import streamlit as st

from explainer.escape import MAX_MESSAGE, plain
from ui.dataset import get_dataset
from ui.errors import show_error
from ui.figure import preload_plotly
from ui.registry import PAGES, Page
from ui.server import configure_process

APP_TITLE = "RNN captioning explainer"
DOWNLOAD_COMMAND = "python -m core.data download"


def dataset_summary(data: dict) -> str:
    """One line naming the active dataset and its size, in Markdown."""
    name = "real COCO 2014 captions" if data.get("source") == "coco" else "embedded shape scenes (offline)"
    return (
        f"**{name}**: {len(data['train_captions']):,} training and {len(data['val_captions']):,} validation "
        f"captions, {len(data['idx_to_word']):,} words, image features D = {data['train_features'].shape[1]}."
    )


def how_to_get_coco() -> str:
    """Markdown telling how to switch to the real COCO data."""
    return (
        "To use the real COCO data of the CS231n exercise (about 1 GB), run "
        f"`{DOWNLOAD_COMMAND}` in the project folder, then restart the app. "
        "It is found automatically (or set `$COCO_DIR` to a folder that already holds the files)."
    )


def setup_page(page: Page) -> None:
    """Configure the page (wide layout, its title and icon) and draw the common sidebar.

    Call first on every page. The sidebar lists every page of ui.registry (the home page as "Home"), then
    names the active dataset (with the dataset's notice, e.g. that the COCO folder named by $COCO_DIR was
    not found) and how to get the real one; loading the dataset here (cached, with a
    progress bar on first use) means every page, even one opened from a deep link, starts with the data
    ready. On a page with figures, an invisible element then starts loading Plotly.js
    (ui.figure.preload_plotly).
    """
    st.set_page_config(page_title=f"{page.label} · {APP_TITLE}", page_icon=page.icon, layout="wide")
    configure_process()
    with st.sidebar:
        st.caption(APP_TITLE)
        for entry in PAGES:
            st.page_link(entry.path, label=entry.label, icon=entry.icon)
    try:
        data = get_dataset()
    except Exception as exc:  # shown once, here; the page itself cannot do anything without its data
        show_error(exc, "the dataset")
        st.stop()
    with st.sidebar:
        st.markdown("#### Dataset")
        st.markdown(dataset_summary(data))
        if data.get("notice"):
            # e.g. a misspelled $COCO_DIR: said on every page (the server log has it too), as plain text.
            st.warning(plain(data["notice"], MAX_MESSAGE), icon="⚠️")
        if data.get("source") != "coco":
            st.caption(how_to_get_coco())
    if page.figures:
        preload_plotly()  # last in the sidebar, where its empty element's gap shows nowhere


def page_title(page: Page) -> None:
    """The page's heading, from the registry."""
    st.title(f"{page.icon} {page.title}")
