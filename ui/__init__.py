"""Shared Streamlit layer of every page: setup, friendly errors, cached resources, URL state, widgets.

API (Streamlit lives only here and in the pages):

- ``setup_page(page)``: call first on every page, with its entry of ``ui.registry`` (``ui.FORWARD_PASS``,
  ...). Wide layout, the page's title and icon, the process settings of the server (``ui.server``, once),
  and the common sidebar: every page by name ("Home" first), the active dataset (embedded scenes or real
  COCO) and how to get the real data (``python -m core.data download``). Pages stand alone (``pages/``
  directory, no st.navigation). ``page_title(page)`` draws the heading.
- ``friendly_errors(what="this view")``: context manager. ``core.errors.CaptioningError`` -> ``st.error``
  with its message; any other exception -> a friendly ``st.error`` plus a collapsed "Technical details"
  expander. Never a traceback on the page; session state is kept; ``st.rerun``/``st.stop`` pass through.
- ``get_dataset() -> dict``: ``core.data.load_coco_data()`` once per server (progress bar on first
  use), arrays read-only (``setflags(write=False)``): copy before changing.
- ``get_trained_model(recipe="readable"|"full"|"overfit") -> CaptioningRNN`` and ``trained_models(*recipes) ->
  {recipe: model}``: ``core.lab.trained_models.trained_model`` in a server-wide background job per recipe
  (``ui.training``), read-only: ``.copy()`` before training or mutating. Until ready they draw the
  jobs' live progress and stop the script; the page reruns by itself when the models are ready.
- ``ready_models(*recipes) -> {recipe: model}``: the recipes ready now (never waits; the others' progress is
  drawn and the page reruns as each one becomes ready); ``ready_recipes(*recipes)`` only names them.
- ``show_training(recipes)`` starts the jobs without waiting and draws their live status (progress
  bars; errors with a button to train again). The home page does, so the models are usually ready by
  the time a learner needs them.
- ``get_model(choice="fresh"|"trained", sizes="readable"|"real", cell="rnn"|"lstm")``: the models the
  explainer traces.
- ``get_trace(settings, wh_scale, forget_shift, cell=None) -> core.lab.trace.ExampleTrace``: cached and
  read-only, so moving a timestep never recomputes a pass.
- ``example(split, index) -> (caption (T + 1,), feature (D,), image source)``.
- ``freeze(value)``: make the arrays inside a value read-only (for your own cached objects).
- ``url_state``: page state in ``st.query_params``. Declare fields with ``url_state.choice/integer/
  number/flag/subset``; ``url_state.load(fields)`` at the top (URL -> session; bad values fall back to defaults
  with an ``st.info``; ``load(fields, notices)`` + ``notify(notices)`` to load in groups and show one
  notice), widgets with ``**url_state.bind(name)`` (``options_of=`` for options that depend on another
  choice, ``field=`` to refuse values past a field's limits, said by ``url_state.refusal(name)``),
  ``url_state.reset_on_change``, ``url_state.get/set(name)``, ``url_state.save(fields)`` at the end
  (session -> URL), ``url_state.query(fields)`` for ``st.page_link(query_params=...)``.
- ``show_image(source, caption=None, base_dir=None, width="stretch") -> bool``: an image from a URL or
  path via ``core.data.image_utils.image_from_url``; a grey placeholder with the reason when it cannot load.
- ``stepper.stepped_view(data, fields, below=None, key=...)``: the timestep control (slider, previous /
  next, play, keyboard) with every view that depends on the timestep, stepped in the browser from data
  built once (``ui.stepped_views``); the step goes to the URL field ``t`` without rerunning the page.
- ``plotly_figure(fig, key)``: a Plotly figure (or its payload, e.g. cached) across the container's width, drawn by
  the app's small Plotly.js (``ui.figure``; never ``st.plotly_chart``, whose full Plotly.js blocks a fresh tab for
  a second).
- ``gradient_checks(**settings)``: the gradient-check lab's results (``core.lab.gradcheck_lab.run_all_checks``),
  once per server and settings, read-only; ``gradient_check_figures(detail, **settings)``: its figures, built
  once per server, settings and gradient looked at, for ``plotly_figure``; ``gradient_looked_at(results, detail)``:
  the result and the check of that gradient ("layer.name").
- ``controls``: the example / activation / model / sizes controls of the forward and backprop pages;
  ``gallery``: the caption gallery's shared caches.
"""

from ui import controls, gallery, stepped_views, stepper, url_state
from ui.dataset import example, freeze, get_dataset
from ui.errors import friendly_errors
from ui.figure import plotly_figure
from ui.gradient_checks import gradient_check_figures, gradient_checks, gradient_looked_at
from ui.images import show_image
from ui.page import dataset_summary, how_to_get_coco, page_title, setup_page
from ui.registry import BACKPROP, FORWARD_PASS, GALLERY, GRADIENT_CHECK_LAB, HOME, LESSONS, PAGES, RACE
from ui.resources import (
    CELL_LABELS,
    MODEL_CHOICES,
    MODEL_LABELS,
    SIZE_CHOICES,
    SIZE_LABELS,
    get_model,
    get_trace,
)
from ui.training import (
    RECIPE_LABELS,
    get_trained_model,
    ready_models,
    ready_recipes,
    show_training,
    trained_models,
)

__all__ = [
    "BACKPROP",
    "CELL_LABELS",
    "FORWARD_PASS",
    "GALLERY",
    "GRADIENT_CHECK_LAB",
    "HOME",
    "LESSONS",
    "MODEL_CHOICES",
    "MODEL_LABELS",
    "PAGES",
    "RACE",
    "RECIPE_LABELS",
    "SIZE_CHOICES",
    "SIZE_LABELS",
    "controls",
    "dataset_summary",
    "example",
    "freeze",
    "friendly_errors",
    "gallery",
    "get_dataset",
    "get_model",
    "get_trace",
    "get_trained_model",
    "gradient_check_figures",
    "gradient_checks",
    "gradient_looked_at",
    "how_to_get_coco",
    "page_title",
    "plotly_figure",
    "ready_models",
    "ready_recipes",
    "setup_page",
    "show_image",
    "show_training",
    "stepped_views",
    "stepper",
    "trained_models",
    "url_state",
]
