// The stepper: a timestep control and every view that depends on the timestep, stepped in the browser.
//
// data (see ui/stepper.py): trace (identity of the sequence), version (of the views), t, first, last,
// restart (where Play starts again from the end), direction (+1 forward in time, -1 backward), interval_ms,
// label, rows (panel ids per row, with widths), from_url (how many times the page's t came from the URL)
// and panels: {id: {kind: "plotly", base, patches} | {kind: "text", steps} | {kind: "html", steps}}.
// A click paints the new step from data already here, then reports it (setStateValue("step"), with an id of
// its own), so the server keeps the URL and the page state in step without the learner waiting for it.

// draw(), fitTitle(), whenPlotly(), withPlotly(), afterNextFrame(), inView() and followWidth() come from
// plotly_loader.js, which ui/stepper.py puts before this file.
//
// A figure is first drawn with the step when it is in view, else in a task of its own after the next frame
// (about 0.1 s each): a new tab answers the learner before every figure below the fold is drawn; those that
// waited for Plotly.js are drawn one per task too (withPlotly). Once drawn, a figure follows every step.
// data-painted is the step every drawn figure shows.

// **bold** and `code` become <strong> and <code> (code may sit inside bold); everything else is text:
// nothing is parsed as HTML.
function appendInline(parent, text) {
  const pattern = /(\*\*[^*]+\*\*|`[^`]+`)/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > last) parent.append(text.slice(last, match.index));
    const bold = match[0].startsWith("**");
    const node = document.createElement(bold ? "strong" : "code");
    if (bold) appendInline(node, match[0].slice(2, -2));
    else node.textContent = match[0].slice(1, -1);
    parent.append(node);
    last = match.index + match[0].length;
  }
  if (last < text.length) parent.append(text.slice(last));
}

function renderInline(element, markdown) {
  element.replaceChildren();
  for (const paragraph of String(markdown).split("\n\n")) {
    const p = document.createElement("p");
    appendInline(p, paragraph);
    element.append(p);
  }
}

function stepFigure(panel, i) {
  const patch = panel.patches[i] || {};
  const updates = patch.data || {};
  const data = panel.base.data.map((trace, k) => (updates[k] ? { ...trace, ...updates[k] } : { ...trace }));
  const layout = { ...panel.base.layout, ...(patch.layout || {}) };
  for (const [key, value] of Object.entries(patch.layout || {})) if (value === null) delete layout[key];
  return { data, layout };
}

function makePanel(id, spec, container) {
  const element = document.createElement("div");
  element.className = `rnn-panel rnn-panel-${spec.kind}`;
  element.dataset.panel = id;
  container.append(element);
  if (spec.kind === "plotly") {
    let shown = null; // the step on screen
    let waiting = 0; // drawings asked for and not done yet (Plotly.js may still be loading)
    const hasData = (i) => Object.keys((spec.patches[i] || {}).data || {}).length > 0;
    // Its room is kept before it is drawn, so the page does not jump and what is in view is known.
    if (spec.base.layout.height) element.style.minHeight = `${spec.base.layout.height}px`;
    followWidth(element);
    let asked = null; // the step last asked for
    const show = (i) => {
      waiting += 1;
      asked = i;
      return withPlotly((Plotly) => {
        // A drawing that waited for Plotly.js and was overtaken by a later step is left to that step's
        // drawing.
        if (asked !== i) return;
        if (shown === null || hasData(i) || hasData(shown)) {
          const { data, layout } = stepFigure(spec, i);
          shown = i;
          return draw(element, data, layout);
        }
        // Only layout keys differ (highlight shapes, titles): relayout redraws those alone, in a few ms.
        const before = (spec.patches[shown] || {}).layout || {};
        const after = (spec.patches[i] || {}).layout || {};
        const update = {};
        for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
          const value = key in after ? after[key] : spec.base.layout[key];
          update[key] = value === undefined ? null : value;
        }
        shown = i;
        return Plotly.relayout(element, update).then(() => fitTitle(element));
      }).catch((error) => {
        shown = null;
        element.textContent = `This figure could not be drawn: ${error.message}`;
        throw error; // the step is not marked painted
      }).finally(() => (waiting -= 1));
    };
    return {
      drawn: () => shown !== null,
      // A figure on screen or on its way follows every step, so that it ends on the step shown.
      due: () => shown !== null || waiting > 0 || inView(element),
      show,
      // What a step waits for. A figure's first drawing waits for Plotly.js; when the elements appearing
      // above it meanwhile push it out of view, the step no longer waits for it (it is drawn all the same).
      painted: (i) => {
        const drawing = show(i);
        if (shown !== null || window.Plotly) return drawing;
        const away = whenOutOfView(element);
        drawing.then(away.stop, away.stop);
        return Promise.race([drawing, away.promise]);
      },
    };
  }
  const always = { drawn: () => true, due: () => true };
  const show =
    spec.kind === "html"
      ? (i) => { element.innerHTML = spec.steps[i] ?? ""; } // built by the explainer from escaped text
      : (i) => renderInline(element, spec.steps[i] ?? "");
  return { ...always, show, painted: show };
}

function build(root, data) {
  const container = root.querySelector(".rnn-panels");
  container.replaceChildren();
  const panels = [];
  for (const row of data.rows) {
    const line = document.createElement("div");
    line.className = "rnn-row";
    container.append(line);
    for (const { id, width, min_width } of row) {
      const cell = document.createElement("div");
      cell.className = "rnn-cell";
      cell.style.flex = `${width} 1 0`;
      cell.style.minWidth = `min(100%, ${min_width}px)`; // narrower, it takes a line of its own (.rnn-row wraps)
      line.append(cell);
      panels.push(makePanel(id, data.panels[id], cell));
    }
  }
  return panels;
}

export default function (component) {
  const { parentElement, setStateValue } = component;
  const [data] = component.data; // sent as a one-item list (ui/stepper.py)
  let root = parentElement.querySelector(".rnn-stepper");
  if (!root) {
    root = document.createElement("div");
    root.className = "rnn-stepper";
    root.innerHTML = `
      <div class="rnn-controls">
        <button type="button" class="rnn-prev"></button>
        <label class="rnn-slider"><span class="rnn-label"></span>
          <span class="rnn-track"><input type="range" class="rnn-range" step="1" />
          <output class="rnn-value"></output></span></label>
        <button type="button" class="rnn-next"></button>
        <button type="button" class="rnn-play"></button>
      </div>
      <div class="rnn-panels"></div>`;
    parentElement.append(root);
    root.__state = {};
  }
  const state = root.__state;
  const range = root.querySelector(".rnn-range");
  const [prev, next, play] = ["prev", "next", "play"].map((name) => root.querySelector(`.rnn-${name}`));
  const playLabel = data.direction > 0 ? "▶ Play" : "▶ Play back";
  // Backprop goes from the last word down to 0: its next step is t − 1, on the left as on the slider.
  [prev.textContent, next.textContent] =
    data.direction > 0 ? ["‹ Previous", "Next ›"] : ["‹ Next (t − 1)", "Previous (t + 1) ›"];

  if (state.version !== data.version) {
    state.version = data.version;
    state.panels = build(root, data);
  }
  if (state.trace !== data.trace || state.fromUrl !== data.from_url) {
    // Another sequence opens on the page's step, or the page's step came from the URL (Back or Forward).
    state.trace = data.trace;
    state.fromUrl = data.from_url;
    state.t = data.t;
  }
  root.querySelector(".rnn-label").textContent = data.label;
  range.min = data.first;
  range.max = data.last;
  range.setAttribute("aria-label", data.label);

  const clamp = (t) => Math.min(Math.max(Math.round(t), data.first), data.last);
  const stopPlaying = () => {
    clearInterval(state.timer);
    state.timer = null;
    play.textContent = playLabel;
  };
  const show = (t, report) => {
    t = clamp(t);
    state.t = t;
    range.value = String(t);
    root.querySelector(".rnn-value").textContent = `t = ${t}`;
    // A button just disabled drops the keyboard focus to the page: keep it in the stepper, on the slider.
    // Which button had it is read before disabling: Chromium 150 moves the focus away at once.
    const focused = document.activeElement;
    prev.disabled = t <= data.first;
    next.disabled = t >= data.last;
    if ([prev, next].some((button) => button.disabled && focused === button)) range.focus();
    root.dataset.step = String(t);
    const i = t - data.first;
    Promise.all(state.panels.filter((panel) => panel.due()).map((panel) => panel.painted(i))).then(
      () => {
        if (state.t === t) root.dataset.painted = String(t);
        state.drawTheRest();
      },
      () => {}, // said in the panel
    );
    if (report) setStateValue("step", { t, id: Math.random() });
  };

  // The figures not drawn yet, one per task from the top after a frame each (the step shown is painted
  // first), each at the step shown when its turn comes (kept in state: the chain outlives this call when new
  // data arrive).
  state.first = data.first;
  state.drawTheRest = () => {
    if (state.drawing) return;
    const panel = state.panels.find((candidate) => !candidate.drawn());
    if (!panel) return;
    state.drawing = true;
    afterNextFrame(() => {
      panel.show(state.t - state.first).then(
        () => {
          state.drawing = false;
          state.drawTheRest();
        },
        () => (state.drawing = false), // said in the panel; the next step tries again
      );
    });
  };

  // A step the learner takes stops Play.
  const step = (t) => {
    stopPlaying();
    show(t, true);
  };
  prev.onclick = () => step(state.t - 1);
  next.onclick = () => step(state.t + 1);
  range.oninput = () => step(Number(range.value));
  play.onclick = () => {
    if (state.timer) return stopPlaying();
    const end = data.direction > 0 ? data.last : data.first;
    if (state.t === end) show(data.restart, true);
    play.textContent = "⏸ Pause";
    state.timer = setInterval(() => {
      if (state.t === end) return stopPlaying();
      show(state.t + data.direction, true);
    }, data.interval_ms);
  };
  if (!state.timer) play.textContent = playLabel;
  show(state.t, false);
}
