"""explainer.table: rows of dicts as an HTML table that shows every value as text."""

from explainer.table import html_table
from tests.helpers.apptest import parse_tables


def test_every_key_is_a_column_in_order_and_missing_cells_show_a_dash():
    rows = [{"lane": "tanh", "loss": 1.25}, {"lane": "lstm", "loss": None, "f": "0.8"}]
    assert parse_tables(html_table(rows)) == [
        [{"lane": "tanh", "loss": "1.25", "f": "—"}, {"lane": "lstm", "loss": "—", "f": "0.8"}]
    ]


def test_columns_of_numbers_are_right_aligned_and_others_left_aligned():
    table = html_table([{"iteration": 30, "caption": "a red circle", "diverged": True}, {"iteration": None}])
    assert 'text-align:right">iteration<' in table and 'text-align:right;white-space:nowrap">30<' in table
    assert 'text-align:left">caption<' in table
    assert 'text-align:left;white-space:nowrap">a red circle<' in table
    assert 'text-align:left;white-space:nowrap">True<' in table
    assert "text-align:right" not in html_table([{"loss": 1.5}, {"loss": "not yet"}])


def test_columns_of_short_values_are_kept_on_one_line():
    table = html_table([{"error": "6.54e-11", "check": "RNN step (rnn_step_backward)"}, {"error": None}])
    assert 'white-space:nowrap">6.54e-11<' in table
    assert 'white-space:normal">RNN step (rnn_step_backward)<' in table


def test_words_of_the_data_are_shown_as_text_never_as_markup():
    caption = '<img src=x onerror="alert(1)"> **bold** [link](http://example.com)'
    table = html_table([{"caption": caption}])
    assert "<img" not in table and "&lt;img src=x" in table
    assert parse_tables(table) == [[{"caption": caption}]]


def test_long_values_are_cut():
    (row,) = parse_tables(html_table([{"caption": "word " * 200}]))[0]
    assert len(row["caption"]) == 300 and row["caption"].endswith("…")
