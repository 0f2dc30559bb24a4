"""Page state that lives in the URL, so a teacher's link reopens exactly the same view.

Each piece of state is a :class:`Field` (query-parameter name, default, parser). The canonical value
lives in ``st.session_state`` under a non-widget key, so it survives page switches (Streamlit drops
the state of widgets that a page does not draw); widgets are bound to it with :func:`bind`. Pages share a
field's value when they use the same name with the same meaning (the forward and backprop pages' example);
a field whose name another page uses for something else has a `key` of its own (the race's, the gallery's
and the lab's seeds), which :func:`get`, :func:`set` and :func:`bind` take in place of the name.

Typical page::

    fields = [url_state.choice("split", "train", ("train", "val")), url_state.integer("t", 0, 0, 16)]
    url_state.load(fields)                     # URL -> session (bad values: default + st.info)
    st.radio("Split", ["train", "val"], **url_state.bind("split"))
    ...
    url_state.save(fields)                     # session -> URL, at the end of the script

Values from the URL are validated; a bad one falls back to its default with a gentle ``st.info``,
never an exception. The notice quotes the value as plain text (escaped, cut to 80 characters): a link
can carry anything, Markdown links and images included.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from explainer.escape import plain

_STATE_PREFIX = "url_state."
_SYNCED_PREFIX = "url_state_synced."
_WIDGET_PREFIX = "url_state_widget."
_SEEN_PREFIX = "url_state_seen."
_REFUSED_PREFIX = "url_state_refused."
# How many times a field's value came from the URL (a link opened, or the browser's Back and Forward buttons).
_FROM_URL_PREFIX = "url_state_from_url."
# The link values this page refused: {"page": its script, "notices": {name: notice}, "shown": whether a run
# drew them to its end}. Said again on the runs the page starts by itself (keep_notices: a model ready, a race
# finished) and after a run that stopped before save() (waiting for a model); gone once the learner changes a
# setting, a link brings a value that is used, or another page opens.
_PENDING = "url_state_pending"
# Choices a notice names at most.
MAX_LISTED = 6


def _page() -> str:
    """The page running now (its script's hash; "" outside a Streamlit run)."""
    ctx = get_script_run_ctx()
    return ctx.page_script_hash if ctx is not None else ""


def _pending() -> dict:
    """This page's entry of _PENDING (a new one on another page)."""
    pending = st.session_state.get(_PENDING)
    if pending is None or pending["page"] != _page():
        pending = st.session_state[_PENDING] = {"page": _page(), "notices": {}, "shown": False}
    return pending


def keep_notices() -> None:
    """Say the refused link values again on the next run: call it before an ``st.rerun`` the page starts by
    itself, which the learner did not ask for."""
    _pending()["shown"] = False


def _text(value) -> str:
    """A value as the URL writes it: floats short (1e-05), flags as 1 and 0, lists as "a,b"."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple)):
        return ",".join(_text(item) for item in value)
    if isinstance(value, float):
        return f"{value + 0.0:g}"  # + 0.0: -0.0 is written 0, as its slider shows it
    return str(value)


@dataclass(frozen=True)
class Field:
    """One URL parameter: `parse` turns the query string into a value or raises ValueError saying why, in
    Markdown that quotes any part of the query string with explainer.escape.plain (load() shows it as it is)."""

    name: str
    default: object
    parse: Callable[[str], object]
    label: str = ""
    # Where the session keeps the value, if not under `name` (another page has a field of that name).
    key: str = ""

    @property
    def state_name(self) -> str:
        return self.key or self.name

    def format(self, value) -> str:
        return _text(value)


def choice(name: str, default, choices: Sequence, label: str = "", key: str = "") -> Field:
    """A value from a fixed list: strings, or numbers (matched by how the URL writes them, e.g. 1e-05)."""
    allowed = {_text(value): value for value in choices}
    numbers = {value for value in choices if isinstance(value, (int, float)) and not isinstance(value, bool)}

    def parse(raw: str):
        if raw in allowed:
            return allowed[raw]
        try:  # a number written another way: 5e-3 or 0.0050 for 0.005
            return next(value for value in numbers if value == float(raw))
        except (ValueError, StopIteration):
            raise ValueError(f"must be one of {_listed(allowed)}") from None

    return Field(name, default, parse, label or name, key)


def _listed(choices) -> str:
    """The choices a refused link value could have been, the first MAX_LISTED of a long list (the lab offers
    23 gradients to look at: a notice naming them all fills the screen)."""
    choices = list(choices)
    if len(choices) <= MAX_LISTED:
        return ", ".join(choices)
    return ", ".join(choices[:MAX_LISTED]) + f", … ({len(choices)} in all)"


def subset(name: str, default: Sequence[str], choices: Sequence[str], label: str = "") -> Field:
    """Some of a fixed list of strings, in the order chosen (a multiselect's value), written "a,b" in the
    URL; an empty value is none of them."""
    allowed = tuple(choices)

    def parse(raw: str) -> list[str]:
        chosen = raw.split(",") if raw else []
        if any(item not in allowed for item in chosen):
            raise ValueError(f"must be some of {_listed(allowed)}, separated by commas")
        if len(dict.fromkeys(chosen)) < len(chosen):  # (this module's set() is url_state.set)
            raise ValueError("names one choice twice")
        return chosen

    return Field(name, list(default), parse, label or name)


def flag(name: str, default: bool, label: str = "", key: str = "") -> Field:
    """On or off (a checkbox, a toggle): 1 or 0 in the URL; true, false, on and off are read too."""
    words = {"1": True, "true": True, "on": True, "0": False, "false": False, "off": False}

    def parse(raw: str) -> bool:
        if raw.lower() not in words:
            raise ValueError("must be 1 (on) or 0 (off)")
        return words[raw.lower()]

    return Field(name, bool(default), parse, label or name, key)


def integer(name: str, default: int, low: int, high: int, label: str = "", key: str = "") -> Field:
    """An integer in [low, high]."""
    return _bounded(name, min(max(default, low), high), low, high, label, key, int, "a whole number")


def number(
    name: str, default: float, low: float, high: float, step: float, label: str = "", key: str = ""
) -> Field:
    """A float in [low, high] on the grid low + k·step of its slider (a slider can show no other value)."""
    parse_bounded = _bounded(name, default, low, high, label, key, float, "a number").parse

    def parse(raw: str) -> float:
        value = parse_bounded(raw)
        on_grid = round(low + round((value - low) / step) * step, 10)  # without the float sum's last digits
        # The same number as the URL writes it (6 significant digits): 0.15000000000000002 is 0.15, 1e-300 is not 0.
        if _text(value) != _text(on_grid):
            raise ValueError(f"must be between {low:g} and {high:g} in steps of {step:g}")
        return on_grid

    return Field(name, default, parse, label or name, key)


def _bounded(name, default, low, high, label, key, convert, kind: str) -> Field:
    """A value `convert` reads from the URL (int or float), finite and in [low, high]."""

    def parse(raw: str):
        try:
            value = convert(raw)
        except ValueError:
            # Decimal digits int() refuses are too many of them (isdigit() would count ² as a digit too).
            if convert is int and raw.strip().lstrip("+-").isdecimal():
                raise ValueError(f"must be between {show(low)} and {show(high)}") from None
            raise ValueError(f"must be {kind}") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise ValueError(f"must be between {show(low)} and {show(high)}")
        return value

    show = str if convert is int else "{:g}".format
    return Field(name, default, parse, label or name, key)


def _state_key(name: str) -> str:
    return _STATE_PREFIX + name


def get(name: str, default=None):
    """The current value of a URL field (after :func:`load`), by its name or its own key."""
    return st.session_state.get(_state_key(name), default)


def has(name: str) -> bool:
    """Whether this session has a value for the field (from a link, a default loaded or a widget)."""
    return _state_key(name) in st.session_state


def set(name: str, value) -> None:  # noqa: A001 - mirrors get(); module-qualified at call sites
    """Set a URL field's value; a widget bound with :func:`bind` shows it on the next draw."""
    st.session_state[_state_key(name)] = value


def times_from_url(name: str) -> int:
    """How many times :func:`load` took the field's value from the URL in this session: a link opened, or
    the browser's Back or Forward button (Streamlit reruns the page with that entry's query string). A
    component holding its own copy of the value (the stepper) takes the page's value when this changes."""
    return st.session_state.get(_FROM_URL_PREFIX + name, 0)


def load(fields: Sequence[Field], notices: list[str] | None = None) -> dict:
    """Bring URL values into the session and return {name: value} for `fields`.

    A query parameter wins when it differs from what this session last wrote to the URL (a link just
    opened, or an edited address); otherwise the session's value is kept. Missing values take the
    default; values that do not parse, or are no longer valid (e.g. a timestep beyond the caption),
    fall back to the default with one ``st.info`` naming them. Pass a list as `notices` to collect
    those messages instead (to load fields in several groups) and show them with :func:`notify`.
    """
    collect = notices is not None
    notices = notices if collect else []
    values = {}
    for field in fields:
        key = _state_key(field.state_name)
        raw = st.query_params.get(field.name)
        if raw is not None and raw != st.session_state.get(_SYNCED_PREFIX + field.state_name):
            # Consumed now: if the page stops before save(), the stale URL must not override later changes.
            st.session_state[_SYNCED_PREFIX + field.state_name] = raw
            st.session_state[_FROM_URL_PREFIX + field.state_name] = times_from_url(field.state_name) + 1
            try:
                st.session_state[key] = field.parse(raw)
                _pending()["notices"].pop(field.name, None)
            except ValueError as exc:
                # The raw value comes from whoever wrote the link: shown as text, cut, never as Markdown.
                refuse(field.name, f"**{field.label}** = “{plain(raw)}” {exc}", notices)
                st.session_state[key] = field.default
        elif key in st.session_state:
            try:
                st.session_state[key] = field.parse(field.format(st.session_state[key]))
            except ValueError:
                # Still valid before but not now, e.g. after the split changed and the range shrank.
                st.session_state[key] = field.default
        else:
            st.session_state[key] = field.default
        values[field.state_name] = st.session_state[key]
    if not collect:
        notify(notices)
    return values


def load_one(field: Field, notices: list[str]):
    """:func:`load` the one `field` (collecting into `notices`); returns the value this session held before if
    it is no longer valid and gave way to the default (e.g. an example past a shorter split), for the page to
    say so; else None. A value the URL brings is not dropped: load() takes it, or refuses it with a notice."""
    before, links = get(field.state_name), times_from_url(field.state_name)
    load([field], notices)
    if before is not None and get(field.state_name) != before and times_from_url(field.state_name) == links:
        return before
    return None


def refuse(name: str, notice: str, notices: list[str]) -> None:
    """Add `notice`, on the link's value of field `name` that the page cannot use (load() refuses those that do
    not parse; a page, those it cannot use for a reason of its own), to `notices` for :func:`notify`: said
    again on the runs the page starts by itself."""
    notices.append(notice)
    _pending()["notices"][name] = notice
    _pending()["shown"] = False


def notify(notices: Sequence[str]) -> None:
    """One gentle ``st.info`` listing the link values that could not be used (nothing if none): `notices`, and
    those this page refused on an earlier run that the learner has not moved on from. Once a run."""
    pending = _pending()
    if not pending["shown"]:
        notices = [*notices] + [notice for notice in pending["notices"].values() if notice not in notices]
    if notices:
        st.info(
            "Some settings in the link could not be used, so their defaults are shown instead: "
            + "; ".join(notices)
            + ".",
            icon="ℹ️",
        )


def save(fields: Sequence[Field], without: Sequence[Field] = ()) -> None:
    """Write the current values of `fields` to the URL (call at the end of the page), and take the fields
    `without` out of it (a setting the view shown does not use), in one change: the browser gets one history
    entry per run that changed them (Back then undoes that run's change)."""
    _pending()["shown"] = True  # the page ran to its end with its notices on screen
    changed = {}
    for field in fields:
        text = field.format(st.session_state.get(_state_key(field.state_name), field.default))
        st.session_state[_SYNCED_PREFIX + field.state_name] = text
        if st.query_params.get_all(field.name) != [text]:  # a name written twice in the link is written once
            changed[field.name] = text
    dropped = {field.name for field in without if field.name in st.query_params}
    for field in without:
        st.session_state.pop(_SYNCED_PREFIX + field.state_name, None)  # a link bringing it back is read
    if dropped:
        kept = {name: st.query_params.get_all(name) for name in st.query_params if name not in dropped}
        st.query_params.from_dict(kept | changed)
    elif changed:
        st.query_params.update(changed)


def query(fields: Sequence[Field]) -> dict[str, str]:
    """The current values of `fields` as query parameters, e.g. for ``st.page_link(query_params=...)``."""
    return {f.name: f.format(st.session_state.get(_state_key(f.state_name), f.default)) for f in fields}


def bind(name: str, labels: dict | None = None, options_of: str = "", field: Field | None = None) -> dict:
    """Keyword arguments binding a widget to a URL field: ``st.slider("t", 0, 9, **bind("t"))``.

    The widget gets its own key, seeded from the canonical value on every draw, and an ``on_change``
    that copies the widget's value back, so buttons that call :func:`set` move the widget too. With
    `labels` ({value: label}) the widget holds the label of the value (e.g. ``st.tabs``, whose state is
    the open tab's label) while the URL keeps the short value. `options_of` names what the widget's
    options depend on (e.g. the image whose captions it lists): each gets a widget of its own, so the
    browser never shows the options of the previous one. With `field`, a value it does not accept (a number
    past its limits, typed into an ``st.number_input`` without bounds) is refused: the field keeps its
    value, the widget shows that value again, and :func:`refusal` says why.
    """
    widget_key = _WIDGET_PREFIX + name + (f".{options_of}" if options_of else "")
    value = st.session_state[_state_key(name)]
    st.session_state[widget_key] = labels[value] if labels else value
    values = {label: value for value, label in (labels or {}).items()}

    def copy_back() -> None:
        _pending()["notices"].clear()  # the learner has moved on from the link
        chosen = st.session_state[widget_key]
        chosen = values[chosen] if labels else chosen
        if field is not None:
            try:
                field.parse(field.format(chosen))
            except ValueError as exc:
                # The learner typed it: quoted as text.
                st.session_state[_REFUSED_PREFIX + name] = (
                    f"**{field.label}** = {plain(field.format(chosen))} was not used: it {exc}."
                )
                return
        st.session_state[_state_key(name)] = chosen

    return {"key": widget_key, "on_change": copy_back}


def refusal(name: str) -> str | None:
    """Why the value last entered in the widget bound with ``bind(name, field=...)`` was refused (Markdown,
    the value escaped), once; None if it was not."""
    return st.session_state.pop(_REFUSED_PREFIX + name, None)


def reset_on_change(name: str, context, value) -> None:
    """Set field `name` to `value` when `context` (what its options depend on, e.g. the image whose captions
    it chooses from) differs from the last run's, so that a choice follows the choice it depends on. A
    link's value is kept: the first run only records the context."""
    seen = _SEEN_PREFIX + name
    if st.session_state.get(seen, context) != context:
        set(name, value)
    st.session_state[seen] = context
