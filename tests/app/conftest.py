"""Fixtures of the AppTest page and ui tests."""

import threading

import pytest
import streamlit as st

from tests.helpers.apptest import SMALL_RECIPES


@pytest.fixture(autouse=True)
def fresh_caches(monkeypatch):
    """Each test starts from empty Streamlit caches (the generated dataset stays on disk) with small recipes.

    At the end it waits for the background training jobs the test started, so none outlives the small
    recipes and trains a real one during later tests.
    """
    import core.lab.trained_models

    for recipe, changes in SMALL_RECIPES.items():
        monkeypatch.setitem(
            core.lab.trained_models.RECIPES, recipe, {**core.lab.trained_models.RECIPES[recipe], **changes}
        )
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    for thread in threading.enumerate():
        if thread.name.startswith("train-"):
            thread.join(timeout=120)
