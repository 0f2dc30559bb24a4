"""The activation race: tanh against sigmoid (optionally ReLU and an LSTM), trained side by side, live."""

import streamlit as st

import ui
from core.lab.race import LIMITS, MAX_ITERATIONS, MILESTONES, Race, RaceConfig, iterations_run
from explainer import race as figures
from explainer.escape import MAX_MESSAGE, MAX_SENTENCE, plain
from explainer.summary import race_summary
from explainer.table import html_table
from explainer.wording import counted
from ui import url_state
from ui.race_runner import RaceRunner

STATE_KEY = "race"
# While a race trains, the page redraws it every TICK_INTERVAL seconds from what the lanes recorded; they
# train in between, on background threads (ui.race_runner), not in the page's script run.
TICK_INTERVAL = 1.0
# The histogram and the captions change slowly and cost the most to draw (half of a redraw's CPU time, which
# other learners wait for): they are redrawn less often.
HIDDEN_INTERVAL = 3.0
HIDDEN_CHOICES = (8, 16, 32, 64, 128, 256, 512)
WORDVEC_CHOICES = (8, 16, 32, 64, 128, 256)
LR_CHOICES = (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5, 1.0)
LR_DECAY_STEP = 0.01
MAX_SEED = 10_000
# Pixels of the "More iterations" box: room for 4 digits and its − / + buttons.
EXTRA_WIDTH = 150


def box_limits(max_train: int) -> dict[str, tuple[int, int]]:
    """(low, high) of each number box's URL field: core.lab.race.LIMITS, and no more captions than there are."""
    low, high, _ = LIMITS["num_train"]
    return {
        "captions": (low, min(high, max_train)),
        "batch": LIMITS["batch_size"][:2],
        "iterations": LIMITS["iterations"][:2],
        "seed": (0, MAX_SEED),
    }


def url_fields(max_train: int) -> list[url_state.Field]:
    """Every setting of the race and the loss axis, so that a link sets up the same race (core.lab.race.LIMITS)."""
    limits = box_limits(max_train)

    def bounded(name, url_name, label):
        low, high = limits[url_name]
        return url_state.integer(url_name, min(LIMITS[name][2], high), low, high, label)

    return [
        bounded("num_train", "captions", "training captions"),
        bounded("batch_size", "batch", "batch size"),
        bounded("iterations", "iterations", "iterations"),
        url_state.choice("hidden", LIMITS["hidden_dim"][2], HIDDEN_CHOICES, "hidden size H"),
        url_state.choice("wordvec", LIMITS["wordvec_dim"][2], WORDVEC_CHOICES, "word-vector size W"),
        url_state.choice("lr", LIMITS["learning_rate"][2], LR_CHOICES, "learning rate"),
        url_state.number(
            "decay", LIMITS["lr_decay"][2], *LIMITS["lr_decay"][:2], LR_DECAY_STEP, "learning-rate decay"
        ),
        url_state.flag("relu", False, "ReLU lane"),
        url_state.flag("lstm", False, "LSTM lane"),
        url_state.integer("seed", 0, *limits["seed"], "seed", key="race.seed"),
        url_state.flag("log", True, "log-scale loss", key="race.log"),
    ]


# The number boxes, by URL field: label and step. Their bounds are the fields' (url_fields), not the browser's:
# a value past them is refused with a message and the box shows the value in use again (url_state.bind).
NUMBER_BOXES = {
    "captions": ("Training captions", 10),
    "batch": ("Batch size", 5),
    "iterations": ("Iterations", 50),
    "seed": ("Seed", 1),
}


def _number_box(column, field: url_state.Field, limits: tuple[int, int]) -> None:
    label, step = NUMBER_BOXES[field.name]
    column.number_input(
        f"{label}, {limits[0]}–{limits[1]}", step=step, **url_state.bind(field.state_name, field=field)
    )


def settings(fields: list[url_state.Field], max_train: int) -> RaceConfig:
    """The settings widgets, bound to the URL fields -> RaceConfig."""
    by_name = {field.name: field for field in fields}
    with st.expander("Settings (the notebook's values by default)", expanded=False):
        left, middle, right = st.columns(3)
        limits = box_limits(max_train)
        for name in ("captions", "batch", "iterations"):
            _number_box(left, by_name[name], limits[name])
        middle.select_slider("Hidden size H", HIDDEN_CHOICES, **url_state.bind("hidden"))
        middle.select_slider("Word-vector size W", WORDVEC_CHOICES, **url_state.bind("wordvec"))
        _number_box(middle, by_name["seed"], limits["seed"])
        right.select_slider(
            "Adam learning rate", LR_CHOICES, format_func="{:g}".format, **url_state.bind("lr")
        )
        right.slider(
            "Learning-rate decay per epoch",
            *LIMITS["lr_decay"][:2],
            step=LR_DECAY_STEP,
            **url_state.bind("decay"),
        )
        right.checkbox("Add a ReLU lane", **url_state.bind("relu"))
        right.checkbox(
            "Add an LSTM lane",
            help="An LSTM captioner with the same weights outside its cell, on the same minibatches.",
            **url_state.bind("lstm"),
        )
        refused = [
            message for name in NUMBER_BOXES if (message := url_state.refusal(by_name[name].state_name))
        ]
        if refused:
            st.warning(" ".join(refused), icon="✋")
    lanes = ("tanh", "sigmoid") + ("relu",) * url_state.get("relu") + ("lstm",) * url_state.get("lstm")
    return RaceConfig(
        activations=lanes,
        num_train=int(url_state.get("captions")),
        hidden_dim=int(url_state.get("hidden")),
        wordvec_dim=int(url_state.get("wordvec")),
        learning_rate=float(url_state.get("lr")),
        lr_decay=float(url_state.get("decay")),
        batch_size=int(url_state.get("batch")),
        iterations=int(url_state.get("iterations")),
        seed=int(url_state.get("race.seed")),
    )


def settings_line(config: RaceConfig) -> str:
    """The race's settings in one line, so that a shared link says what it sets up without opening them."""
    return (
        f"Lanes {', '.join(config.activations)}: {config.num_train} training captions, batch {config.batch_size}, "
        f"{counted(config.iterations, 'iteration')}, H = {config.hidden_dim}, W = {config.wordvec_dim}, Adam "
        f"{config.learning_rate:g} with decay {config.lr_decay:g} per epoch, seed {config.seed}."
    )


def buttons(row, data: dict, config: RaceConfig, runner: RaceRunner | None) -> None:
    """Start / pause / resume / reset / extend, side by side in `row` (a horizontal container, which wraps them
    onto a second line rather than cut their labels on a narrow or zoomed page); each changes
    st.session_state[STATE_KEY]."""
    if runner is None:
        if row.button("▶ Start", type="primary", key="race.start"):
            with st.spinner("Building the lanes…"):
                runner = RaceRunner(Race(data, config))
            runner.wanted = True
            runner.start()
            st.session_state[STATE_KEY] = runner
            st.rerun()
        return
    race = runner.race
    if runner.wanted and not race.done:
        if row.button("⏸ Pause", key="race.pause"):
            runner.wanted = False
            runner.stop()
            st.rerun()
    elif not race.done and row.button("▶ Resume", type="primary", key="race.resume"):
        runner.wanted = True
        runner.start()
        st.rerun()
    if row.button(
        "↺ Reset", key="race.reset", help="Discard this run; Start builds a new one from the settings."
    ):
        runner.stop()
        del st.session_state[STATE_KEY]
        st.rerun()
    room = MAX_ITERATIONS - race.target
    if room > 0:
        extra = row.number_input(
            "More iterations", 1, room, min(100, room), step=50, key="race.extra", width=EXTRA_WIDTH
        )
        if row.button("➕ Extend", key="race.extend"):
            described = config == race.config  # else the settings hold a change the learner has not started
            race.extend(int(extra))
            if described:  # the settings, the URL and a copied link follow the race
                url_state.set("iterations", race.target)
            runner.wanted = True
            runner.start()
            st.rerun()


def metrics(records) -> None:
    """Each lane's latest minibatch loss (the table and the summary give the mean of the last 5), its change
    over the last 10 iterations (or all there are), and whether it diverged."""
    # Each metric as wide as its label, the row wrapping when they do not fit: fixed columns cut the labels
    # ("tanh loss on mini…") with four lanes on a projector's zoomed page.
    row = st.container(horizontal=True, gap="medium")
    for record in records:
        last, change = record.final_loss(1), record.loss_change(10)
        row.metric(
            f"{record.activation} loss on minibatch {record.iteration}",
            f"{last:.3f}" if last is not None else "–",
            f"{change[0]:+.3f} over {change[1]} it."
            if change is not None and not record.diverged_at
            else None,
            delta_color="inverse",
            width="content",
        )
    for record in records:
        if record.diverged_at:
            st.warning(
                f"**{record.activation} diverged at iteration {record.diverged_at}**; the other lanes go on. "
                + plain(record.error, MAX_MESSAGE),
                icon="💥",
            )


def draw_training(runner: RaceRunner, log_y: bool) -> None:
    """Progress, losses, gradient norms and milestones, from a copy of what the lanes recorded so far."""
    race = runner.race
    records = runner.records()
    summary = race.summary(records)
    done = iterations_run(records)
    stopped = [f"{r.activation} diverged at iteration {r.diverged_at}" for r in records if r.diverged_at]
    st.progress(
        min(done / race.target, 1.0),
        text=f"Iteration {done} of {race.target}" + (f" ({'; '.join(stopped)})" if stopped else ""),
    )
    metrics(records)

    curves, norms = st.columns([3, 2])
    with curves:
        st.markdown("**Training loss**")
        ui.plotly_figure(
            figures.loss_figure(
                {r.activation: r.losses for r in records},
                log_y,
                MILESTONES,
                race.target,
                diverged={r.activation: r.diverged_at for r in records},
            ),
            key="race.loss",
        )
    with norms:
        st.markdown("**Gradient norms**")
        ui.plotly_figure(
            figures.grad_norm_figure(
                {r.activation: r.grad_norms for r in records},
                {r.activation: r.wh_grad_norms for r in records},
                target=race.target,
            ),
            key="race.grad",
        )
    st.html(html_table(figures.milestone_rows(summary, MILESTONES)))


def draw_hidden(runner: RaceRunner, data: dict) -> None:
    """The hidden activations, the sample image's captions and, once done, what happened."""
    race = runner.race
    records = runner.records()
    lstm = any(r.cell_type == "lstm" for r in records)
    st.markdown(
        "**Hidden activations on the training captions** (shaded: saturated, where f′(a) is below a tenth of "
        "its peak"
        + (
            "; the LSTM's panel has no shading, since its o·tanh′(c) is not a function of h: its title gives "
            "the share below a tenth)"
            if lstm
            else ")"
        )
    )
    ui.plotly_figure(figures.histogram_figure([r.stats for r in records]), key="race.hist")

    st.markdown("**One training image, captioned by each lane as it learns**")
    picture, captions = st.columns([1, 3])
    with picture:
        if race.sample_url:
            ui.show_image(race.sample_url, base_dir=data.get("base_dir"))
    with captions:
        # Captions are the data's words: shown as text, never as Markdown.
        st.markdown(
            "Ground truth: " + " / ".join(f"“{plain(text, MAX_SENTENCE)}”" for text in race.sample_truth)
        )
        for record in records:
            st.markdown(
                f"**{record.activation}** (iteration {record.iteration}): “{plain(record.caption, MAX_SENTENCE)}”"
                + (" ✅" if record.caption in race.sample_truth else "")
            )
        with st.expander("Every change of caption"):
            st.html(html_table(figures.sample_rows(records)))
    st.caption(
        f"All lanes start from the same weights (fingerprint {race.initial_fingerprint}: "
        + ", ".join(f"{r.activation} {r.initial_fingerprint}" for r in records)
        + (
            "; the LSTM's own cell weights differ, those outside its cell are the same"
            if any(r.cell_type == "lstm" for r in records)
            else ""
        )
        + f") and draw the same minibatches (seed {race.config.seed})."
    )
    if race.done:
        st.subheader("What happened")
        st.markdown(race_summary(race.summary(records), MILESTONES))


def page() -> None:
    ui.page_title(ui.RACE)
    st.markdown(
        "Captioning RNNs identical except for their recurrent cell (tanh against sigmoid; Settings adds a ReLU "
        "lane and an LSTM lane) learn the same small training set from the same starting weights, one "
        "minibatch at a time. The IE590 edition of CS231n's "
        "RNN_Captioning notebook trains both: with tanh the loss goes from 78.5 to 0.084 in 100 iterations, "
        "with sigmoid from about 80 to about 18 in 400. Watch the same race here, on this app's dataset; the "
        "summary at the end is written from the numbers measured here."
    )
    data = ui.get_dataset()
    fields = url_fields(len(data["train_captions"]))
    url_state.load(fields)
    config = settings(fields, len(data["train_captions"]))
    st.caption(settings_line(config))
    # The buttons at the left and the toggle at the right, on one line where they fit.
    controls = st.container(horizontal=True, horizontal_alignment="distribute", vertical_alignment="bottom")
    actions = controls.container(horizontal=True, vertical_alignment="bottom", width="content")
    log_y = controls.toggle("Log-scale loss", **url_state.bind("race.log"))
    url_state.save(fields)
    runner = st.session_state.get(STATE_KEY)
    buttons(actions, data, config, runner)
    if runner is None:
        st.info("Press **Start** to train the lanes. Each browser tab runs its own race.")
        return
    if runner.race.config != config:
        st.info("The settings changed since this run started: press Reset, then Start, to race with them.")
    running = runner.wanted and not runner.race.done

    @st.fragment(run_every=TICK_INTERVAL if running else None)
    def training() -> None:
        current = st.session_state.get(STATE_KEY)
        if current is None:
            return
        with ui.friendly_errors("the race"):
            if current.wanted and not current.race.done and not current.training:
                current.start()  # again after the learner came back to a race left idle
            draw_training(current, log_y)
        if current.wanted and current.race.done:
            # A full rerun stops the timers (run_every=None), draws both parts at the end and swaps Pause for
            # the finished controls.
            current.wanted = False
            url_state.keep_notices()
            st.rerun()

    @st.fragment(run_every=HIDDEN_INTERVAL if running else None)
    def hidden() -> None:
        current = st.session_state.get(STATE_KEY)
        if current is not None:
            with ui.friendly_errors("the race"):
                draw_hidden(current, data)

    training()
    hidden()


ui.setup_page(ui.RACE)
with ui.friendly_errors("the activation race"):
    page()
