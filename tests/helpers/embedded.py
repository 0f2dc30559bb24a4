"""A tiny embedded dataset in a fresh data home, for tests that load data like the app does."""

from core.data import paths
from core.data.scenes import generate

TINY_SIZES = {"N_TRAIN": 30, "N_VAL": 10}


def use_tiny_embedded_dataset(monkeypatch, home) -> None:
    """Point the data home at `home` (no $COCO_DIR) and make the embedded dataset 30 train + 10 val images
    (generated in about a second on first use)."""
    monkeypatch.setenv(paths.DATA_HOME_ENV, str(home))
    monkeypatch.delenv(paths.COCO_DIR_ENV, raising=False)
    for name, value in TINY_SIZES.items():
        monkeypatch.setattr(generate, name, value)
