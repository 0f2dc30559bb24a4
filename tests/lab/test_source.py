"""The code on screen is the code that ran (core.lab.source), even when its file is edited while the app runs."""

import importlib.util

import pytest

from core.lab.source import SourceChangedError, function_source

MODULE = '''def unchanged(x):
    """Its docstring is not shown."""
    return x + 1


def edited(x):
    return x * 2
'''


def load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_source_shown_is_the_definition_that_runs_without_its_docstring(tmp_path):
    path = tmp_path / "engine_loaded.py"
    path.write_text(MODULE)
    module = load(path)
    assert function_source(module.unchanged) == "def unchanged(x):\n    return x + 1\n"


def test_a_file_edited_after_loading_shows_the_running_code_or_says_to_restart(tmp_path):
    path = tmp_path / "engine_edited.py"
    path.write_text(MODULE)
    module = load(path)
    # Lines added above both functions, and one of them changed: what Python would read for it is not what runs.
    path.write_text("import math  # a new first line\n\n" + MODULE.replace("x * 2", "x * 3"))
    assert function_source(module.unchanged) == "def unchanged(x):\n    return x + 1\n"
    with pytest.raises(
        SourceChangedError, match=r"engine_edited\.py has changed .* edited .*Restart the app"
    ):
        function_source(module.edited)
