"""The timestep control shared by the forward and backprop pages: slider, previous / next, play / pause."""

from __future__ import annotations

import time

import streamlit as st

from ui import url_state


def _step(name: str, delta: int, first: int, last: int) -> None:
    url_state.set(name, min(max(int(url_state.get(name, first)) + delta, first), last))


def _toggle_play(name: str, playing_key: str, tick_key: str, direction: int, first: int, last: int) -> None:
    playing = not st.session_state.get(playing_key, False)
    st.session_state[playing_key] = playing
    st.session_state[tick_key] = time.monotonic()
    end = last if direction > 0 else first
    if playing and url_state.get(name) == end:
        # Play from the start again rather than doing nothing at the end.
        url_state.set(name, first if direction > 0 else last)


def timestep_control(
    last: int,
    name: str = "t",
    first: int = 0,
    direction: int = 1,
    label: str = "Timestep t",
    interval: float = 1.0,
    help: str | None = None,
) -> int:
    """Draw the control for URL field `name` over first..last and return the current timestep.

    The field must have been loaded with ``url_state.load``. direction = +1 plays forward in time,
    -1 plays backward (backprop). While playing, a ``st.fragment(run_every=interval)`` moves one step
    per tick and reruns the page; it stops at the end. Buttons change the URL field, so the slider,
    the URL and every figure follow.
    """
    playing_key, tick_key = f"timestep.{name}.playing", f"timestep.{name}.tick"
    playing = st.session_state.get(playing_key, False)
    current = int(url_state.get(name, first))
    back, slider, forward, play = st.columns([1.2, 7, 1.2, 1.4], vertical_alignment="bottom")
    with slider:
        st.slider(label, first, last, help=help, **url_state.bind(name))
    back.button(
        "Previous",
        icon=":material/chevron_left:",
        key=f"timestep.{name}.back",
        help="One step earlier (t − 1)",
        disabled=current <= first,
        on_click=_step,
        args=(name, -1, first, last),
        width="stretch",
    )
    forward.button(
        "Next",
        icon=":material/chevron_right:",
        key=f"timestep.{name}.forward",
        help="One step later (t + 1)",
        disabled=current >= last,
        on_click=_step,
        args=(name, 1, first, last),
        width="stretch",
    )
    play.button(
        "Pause" if playing else ("Play" if direction > 0 else "Play back"),
        icon=":material/pause:" if playing else ":material/play_arrow:",
        key=f"timestep.{name}.play",
        on_click=_toggle_play,
        args=(name, playing_key, tick_key, direction, first, last),
        width="stretch",
        help="Step through time automatically"
        + ("" if direction > 0 else ", from the last step back to the first"),
    )
    if playing:
        _ticker(name, playing_key, tick_key, direction, first, last, interval)
    return int(url_state.get(name, first))


def _ticker(
    name: str, playing_key: str, tick_key: str, direction: int, first: int, last: int, interval: float
) -> None:
    @st.fragment(run_every=interval)
    def tick() -> None:
        # The fragment also runs inline during every full rerun; only advance once a full interval has passed.
        now = time.monotonic()
        if now - st.session_state.get(tick_key, 0.0) < 0.8 * interval:
            return
        st.session_state[tick_key] = now
        current = int(url_state.get(name, first))
        end = last if direction > 0 else first
        if current == end:
            st.session_state[playing_key] = False
        else:
            url_state.set(name, current + direction)
        st.rerun()

    tick()
