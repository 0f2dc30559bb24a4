"""Log axes are labelled in full: every label carries its decade."""

import numpy as np

from explainer.axes import log_ticks


def test_a_narrow_range_is_labelled_at_one_two_and_five():
    axis = log_ticks(np.array([0.03, 0.4, 0.0, np.nan]), [1.7])
    assert axis["type"] == "log"
    assert axis["ticktext"] == ["0.02", "0.05", "0.1", "0.2", "0.5", "1", "2"]
    np.testing.assert_allclose(axis["tickvals"], [0.02, 0.05, 0.1, 0.2, 0.5, 1, 2])


def test_a_wide_range_is_labelled_per_decade_and_nothing_is_bare():
    axis = log_ticks([3e-7, 40.0])
    assert axis["ticktext"] == ["1e-06", "1e-05", "0.0001", "0.001", "0.01", "0.1", "1", "10"]
    assert all(float(text) == value for text, value in zip(axis["ticktext"], axis["tickvals"], strict=True))
    assert set(np.log10(axis["tickvals"]) % 1) <= {0.0}


def test_without_positive_values_the_axis_is_plain_log():
    assert log_ticks([0.0, np.nan]) == {"type": "log"}
