"""Where the project keeps data on disk.

Everything lives under one per-user data home so that tests and CI can point
the whole app at a temporary folder with one environment variable.
"""

import os
from pathlib import Path

DATA_HOME_ENV = "RNN_EXPLAINER_HOME"
COCO_DIR_ENV = "COCO_DIR"


def data_home() -> Path:
    """The per-user data folder: $RNN_EXPLAINER_HOME, else $XDG_CACHE_HOME/rnn-captioning-explainer, else ~/.cache/..."""
    explicit = os.environ.get(DATA_HOME_ENV)
    if explicit:
        return Path(explicit).expanduser()
    cache_root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_root).expanduser() / "rnn-captioning-explainer"


def coco_dir(base_dir=None) -> Path:
    """The COCO folder: the argument, else $COCO_DIR, else <data home>/coco_captioning."""
    if base_dir is not None:
        return Path(base_dir).expanduser()
    from_env = os.environ.get(COCO_DIR_ENV)
    if from_env:
        return Path(from_env).expanduser()
    return data_home() / "coco_captioning"


def embedded_dir() -> Path:
    """Folder of the generated offline dataset (embedded scenes), in the COCO layout."""
    return data_home() / "embedded_scenes"


def model_cache_dir() -> Path:
    """Folder of trained models cached to disk (.npz)."""
    return data_home() / "models"


def image_cache_dir() -> Path:
    """Folder of images downloaded by image_from_url."""
    return data_home() / "image_cache"
