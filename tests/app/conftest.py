"""Fixtures of the AppTest page and ui tests."""

import pytest

from tests.helpers.apptest import fresh_streamlit


@pytest.fixture(autouse=True)
def fresh_caches(monkeypatch):
    """Each test starts from empty Streamlit caches (the generated dataset stays on disk) with small recipes,
    and waits at its end for the background training jobs it started (see fresh_streamlit)."""
    with fresh_streamlit(monkeypatch):
        yield


@pytest.fixture(scope="module")
def data():
    """The embedded dataset the pages show (generated once per test session)."""
    from core.data.coco_utils import load_coco_data

    return load_coco_data()
