"""The activation race: tanh against sigmoid (and optionally ReLU), trained side by side, live."""

import streamlit as st

import ui
from core.lab.race import LIMITS, MAX_ITERATIONS, MILESTONES, Race, RaceConfig
from explainer import race as figures
from explainer.summary import race_summary

STATE_KEY = "race"
# Each fragment tick trains for at most TICK_BUDGET seconds (and ROUNDS_PER_TICK iterations per lane),
# then draws; TICK_INTERVAL leaves the server time to answer this and other sessions between ticks.
# Two races on 2 cores must not delay another learner's click by a second: ticks stay short.
TICK_BUDGET = 0.25
TICK_INTERVAL = 0.5
ROUNDS_PER_TICK = 10
HIDDEN_CHOICES = (8, 16, 32, 64, 128, 256, 512)
WORDVEC_CHOICES = (8, 16, 32, 64, 128, 256)
LR_CHOICES = (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2)


def settings(max_train: int) -> RaceConfig:
    """The settings widgets (bounded by core.lab.race.LIMITS) -> RaceConfig."""
    with st.expander("Settings (the notebook's values by default)", expanded=False):
        left, middle, right = st.columns(3)
        low, high, default = LIMITS["num_train"]
        num_train = left.number_input(
            "Training captions",
            low,
            min(high, max_train),
            min(default, max_train),
            step=10,
            key="race.num_train",
        )
        batch_size = left.number_input("Batch size", *LIMITS["batch_size"], step=5, key="race.batch_size")
        iterations = left.number_input("Iterations", *LIMITS["iterations"], step=50, key="race.iterations")
        hidden_dim = middle.select_slider(
            "Hidden size H", HIDDEN_CHOICES, value=LIMITS["hidden_dim"][2], key="race.hidden_dim"
        )
        wordvec_dim = middle.select_slider(
            "Word-vector size W", WORDVEC_CHOICES, value=LIMITS["wordvec_dim"][2], key="race.wordvec_dim"
        )
        learning_rate = right.select_slider(
            "Adam learning rate",
            LR_CHOICES,
            value=LIMITS["learning_rate"][2],
            format_func="{:g}".format,
            key="race.learning_rate",
        )
        lr_decay = right.slider(
            "Learning-rate decay per epoch",
            LIMITS["lr_decay"][0],
            LIMITS["lr_decay"][1],
            LIMITS["lr_decay"][2],
            step=0.01,
            key="race.lr_decay",
        )
        relu = right.checkbox("Add a ReLU lane", key="race.relu")
        seed = right.number_input("Seed", 0, 10_000, 0, key="race.seed")
    return RaceConfig(
        activations=("tanh", "sigmoid", "relu") if relu else ("tanh", "sigmoid"),
        num_train=int(num_train),
        hidden_dim=int(hidden_dim),
        wordvec_dim=int(wordvec_dim),
        learning_rate=float(learning_rate),
        lr_decay=float(lr_decay),
        batch_size=int(batch_size),
        iterations=int(iterations),
        seed=int(seed),
    )


def buttons(data: dict, config: RaceConfig, race: Race | None) -> None:
    """Start / pause / resume / reset / extend; each changes st.session_state[STATE_KEY]."""
    start, pause, reset, extend_by, extend = st.columns([1, 1, 1, 1, 1], vertical_alignment="bottom")
    if race is None:
        if start.button("▶ Start", type="primary", key="race.start"):
            with st.spinner("Building the lanes…"):
                race = Race(data, config)
            race.running = True
            st.session_state[STATE_KEY] = race
            st.rerun()
        return
    if race.running:
        if pause.button("⏸ Pause", key="race.pause"):
            race.running = False
            st.rerun()
    elif not race.done and start.button("▶ Resume", type="primary", key="race.resume"):
        race.running = True
        st.rerun()
    if reset.button(
        "↺ Reset", key="race.reset", help="Discard this run; Start builds a new one from the settings."
    ):
        del st.session_state[STATE_KEY]
        st.rerun()
    room = MAX_ITERATIONS - race.target
    if room > 0:
        extra = extend_by.number_input("More iterations", 1, room, min(100, room), step=50, key="race.extra")
        if extend.button("➕ Extend", key="race.extend"):
            race.extend(int(extra))
            race.running = True
            st.rerun()
    if race.config != config:
        st.info("The settings changed since this run started: press Reset, then Start, to race with them.")


def draw(race: Race, data: dict, log_y: bool) -> None:
    """Everything the race shows, from its current state."""
    stats = [race.hidden_stats(lane) for lane in race.lanes]
    summary = race.summary(stats)
    st.progress(min(race.iteration / race.target, 1.0), text=f"Iteration {race.iteration} of {race.target}")
    for column, lane in zip(st.columns(len(race.lanes)), race.lanes, strict=True):
        last, change = lane.final_loss(1), lane.loss_change(10)
        value = f"{last:.3f}" if last is not None else "–"
        delta = f"{change:+.3f} over 10 it." if change is not None else None
        column.metric(f"{lane.activation} loss", value, delta, delta_color="inverse")
        if lane.error:
            column.error(lane.error)

    curves, norms = st.columns([3, 2])
    with curves:
        st.plotly_chart(
            figures.loss_figure(
                {lane.activation: lane.losses for lane in race.lanes}, log_y, MILESTONES, race.target
            ),
            key="race.loss",
            width="stretch",
        )
    with norms:
        st.plotly_chart(
            figures.grad_norm_figure(
                {lane.activation: lane.grad_norms() for lane in race.lanes},
                {lane.activation: lane.grad_norms("Wh") for lane in race.lanes},
            ),
            key="race.grad",
            width="stretch",
        )
    st.dataframe(
        figures.milestone_rows(summary, MILESTONES), hide_index=True, width="stretch", key="race.milestones"
    )
    st.markdown(
        "**Hidden activations on the training captions** (shaded: saturated, where f′(a) is below a tenth of its peak)"
    )
    st.plotly_chart(figures.histogram_figure(stats), key="race.hist", width="stretch")

    st.markdown("**One training image, captioned by each lane as it learns**")
    picture, captions = st.columns([1, 3])
    with picture:
        if race.sample_url:
            ui.show_image(race.sample_url, base_dir=data.get("base_dir"))
    with captions:
        st.markdown("Ground truth: " + " / ".join(f"“{text}”" for text in race.sample_truth))
        for lane in race.lanes:
            latest = lane.samples[-1] if lane.samples else None
            st.markdown(
                f"**{lane.activation}** (iteration {lane.iteration}): “{latest.text if latest else ''}”"
                + (" ✅" if latest and latest.text in race.sample_truth else "")
            )
        with st.expander("Every change of caption"):
            st.dataframe(figures.sample_rows(race.lanes), hide_index=True, width="stretch")
    st.caption(
        f"All lanes start from the same weights (fingerprint {race.initial_fingerprint}: "
        + ", ".join(f"{lane.activation} {lane.initial_fingerprint}" for lane in race.lanes)
        + f") and draw the same minibatches (seed {race.config.seed}). "
        f"Last tick: {race.last_tick_seconds:.2f} s of training."
    )
    if race.done:
        st.subheader("What happened")
        st.markdown(race_summary(summary, MILESTONES))


def page() -> None:
    ui.page_title(ui.RACE)
    st.markdown(
        "Two captioning RNNs, identical except for the activation of their cell, learn the same small "
        "training set from the same starting weights, one minibatch at a time. On COCO the notebook found "
        "that with tanh the loss falls to about 0.1 within 100 iterations while with sigmoid it stays far "
        "above. Watch the race on this dataset; the summary at the end is written from the numbers "
        "measured here."
    )
    data = ui.get_dataset()
    config = settings(len(data["train_captions"]))
    race = st.session_state.get(STATE_KEY)
    buttons(data, config, race)
    log_y = st.toggle("Log-scale loss", value=True, key="race.log")
    if race is None:
        st.info("Press **Start** to train the lanes. Each browser tab runs its own race.")
        return
    running = race.running and not race.done

    @st.fragment(run_every=TICK_INTERVAL if running else None)
    def live() -> None:
        current = st.session_state.get(STATE_KEY)
        if current is None:
            return
        with ui.friendly_errors("the race"):
            if current.running and not current.done:
                current.advance(TICK_BUDGET, max_rounds=ROUNDS_PER_TICK)
            draw(current, data, log_y)
        if current.running and current.done:
            # A full rerun stops the timer (run_every=None) and swaps Pause for the finished controls.
            current.running = False
            st.rerun()

    live()


ui.setup_page(ui.RACE)
with ui.friendly_errors("the activation race"):
    page()
