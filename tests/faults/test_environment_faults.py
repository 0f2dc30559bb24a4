"""A read-only or full data home, a generation killed with kill -9, a damaged or half-written model file:
a clear DataFileError or a quiet recovery, and no half-written file is ever used or left for ever."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from core.data import paths
from core.data.coco_utils import load_coco_data
from core.data.image_utils import image_from_url
from core.data.scenes import generate
from core.data.temporary import owned_name
from core.engine.rnn import CaptioningRNN
from core.errors import DataFileError
from core.lab import trained_models as store
from tests.helpers.embedded import TINY_SIZES, use_tiny_embedded_dataset
from tests.helpers.faults import dead_pid, raises_within, unwritable_folder, within
from tests.helpers.paths import REPO
from tests.helpers.processes import project_env

TINY_RECIPE = {"wordvec_dim": 4, "hidden_dim": 6, "num_iterations": 3, "batch_size": 10}


@pytest.fixture
def home(tmp_path, monkeypatch):
    use_tiny_embedded_dataset(monkeypatch, tmp_path / "home")
    return tmp_path / "home"


def run_python(code: str, home, **popen) -> subprocess.Popen:
    """Start `code` in another Python process with the data home `home` and the tiny dataset sizes."""
    sizes = "".join(f"generate.{name} = {value}\n" for name, value in TINY_SIZES.items())
    script = f"from core.data.scenes import generate\n{sizes}{code}"
    return subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, env=project_env(home), text=True, **popen
    )


# --------------------------------------------------------------------------- read-only and full


def test_read_only_data_home_is_one_clear_error(tmp_path, monkeypatch):
    folder = unwritable_folder(tmp_path)
    monkeypatch.setenv(paths.DATA_HOME_ENV, str(folder))
    with raises_within(DataFileError, str(folder.parent), "RNN_EXPLAINER_HOME", seconds=2):
        load_coco_data()
    assert not folder.exists()


def test_read_only_model_store_still_gives_the_model(home, tmp_path, monkeypatch, caplog):
    data = load_coco_data()
    folder = unwritable_folder(tmp_path)
    monkeypatch.setattr(store, "model_cache_dir", lambda: folder)
    with within(10), caplog.at_level(logging.WARNING, logger=store.__name__):
        model = store.trained_model(data, "readable", **TINY_RECIPE)
    assert isinstance(model, CaptioningRNN)
    assert any("Could not store" in r.getMessage() and str(folder) in r.getMessage() for r in caplog.records)


def test_read_only_image_cache_still_shows_the_image(home, tmp_path, monkeypatch):
    from PIL import Image

    from tests.helpers.fault_server import FaultServer

    path = tmp_path / "pixel.png"
    Image.fromarray(np.full((2, 3, 3), 7, np.uint8)).save(path)
    with FaultServer({"/p.png": (200, {"Content-Type": "image/png"}, path.read_bytes())}) as server:
        image = image_from_url(server.url + "/p.png", cache_dir=unwritable_folder(tmp_path))
    assert image.shape == (2, 3, 3) and (image == 7).all()


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE")
def test_full_disk_while_generating_is_one_clear_error_and_leaves_nothing(home):
    """Files may grow to 20 kB only (RLIMIT_FSIZE), as on a full disk: the feature file cannot be written."""
    code = (
        "import resource, signal\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))\n"
        "from core.errors import CaptioningError\n"
        "try:\n    generate.ensure_embedded_dataset()\n"
        "except CaptioningError as exc:\n    print(type(exc).__name__, exc)\n"
    )
    with within(30):
        out, _ = run_python(code, home, stdout=subprocess.PIPE).communicate(timeout=30)
    assert out.startswith("DataFileError Could not write the embedded dataset to "), out
    assert "free disk space" in out
    assert list(home.iterdir()) == []  # no temporary folder, no half-written dataset


# --------------------------------------------------------------------------- killed processes


def test_a_generation_killed_midway_is_cleaned_up_and_a_live_one_is_left_alone(home):
    home.mkdir(parents=True)
    generating = run_python(
        "generate.N_TRAIN = 2000\ngenerate.ensure_embedded_dataset()\n",
        home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not list(home.glob(".embedded_scenes.tmp-*/images/*.png")):
        assert time.monotonic() < deadline and generating.poll() is None, "the generation did not start"
        time.sleep(0.02)
    generating.send_signal(signal.SIGKILL)
    generating.wait()
    (leftover,) = home.glob(".embedded_scenes.tmp-*")
    assert leftover.name.startswith(f".embedded_scenes.tmp-{generating.pid}-")
    # Another process generating right now (here: a live process's folder) must not be disturbed.
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as other:
        running = home / f".embedded_scenes.tmp-{other.pid}-0123abcd"
        running.mkdir()
        with within(10):
            folder = generate.ensure_embedded_dataset()
        other.kill()
    assert generate.is_complete(folder)
    assert not leftover.exists() and running.is_dir()


def test_a_half_written_model_of_a_killed_process_is_removed_and_a_live_ones_kept(home):
    data = load_coco_data()
    path = store.cache_path(data, "readable", **TINY_RECIPE)
    path.parent.mkdir(parents=True)
    killed = path.parent / f".{path.stem}.{dead_pid()}-0123abcd.npz.tmp"
    killed.write_bytes(b"PK\x03\x04 half")
    writing = path.parent / owned_name(f".{path.stem}.", ".npz.tmp")  # this process, writing another
    writing.write_bytes(b"PK\x03\x04 half")
    store.trained_model(data, "readable", **TINY_RECIPE)
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, writing.name])


def test_a_damaged_model_file_is_trained_again_and_replaced(home, caplog):
    data = load_coco_data()
    path = store.cache_path(data, "readable", **TINY_RECIPE)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PK\x03\x04 not really a zip")
    messages = []
    with within(10), caplog.at_level(logging.WARNING, logger=store.__name__):
        model = store.trained_model(data, "readable", progress=lambda f, m: messages.append(m), **TINY_RECIPE)
    assert any(str(path) in m and "Training it again" in m for m in messages)
    assert any(str(path) in r.getMessage() for r in caplog.records)
    again = store.load_model(path)
    for name, value in model.params.items():
        np.testing.assert_array_equal(again.params[name], value)
        assert np.isfinite(value).all()


def test_image_cache_leftovers_of_a_killed_process_are_removed_on_the_first_write(home, tmp_path):
    from PIL import Image

    from core.data import image_utils
    from tests.helpers.fault_server import FaultServer

    cache = tmp_path / "cache"
    cache.mkdir()
    killed = cache / f".tmp-{dead_pid()}-0123abcd"
    killed.write_bytes(b"half an image")
    writing = cache / owned_name(".tmp-")
    writing.write_bytes(b"being written")
    path = tmp_path / "pixel.png"
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(path)
    image_utils._remove_stale_once.cache_clear()
    with FaultServer({"/p.png": (200, {"Content-Type": "image/png"}, path.read_bytes())}) as server:
        image_from_url(server.url + "/p.png", cache_dir=cache)
    assert not killed.exists() and writing.exists()
    assert len(list(cache.glob("*.img"))) == 1
