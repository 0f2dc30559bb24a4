// Plotly.js for the app's components, and what they share (ui/figure.py, ui/stepper.py put this file before
// their own code).
//
// Every figure of the app is drawn with the bundle of the three trace types the explainer uses (core with
// scatter, bar, heatmap; tools/plotly_bundle), which Streamlit serves from static/. A fresh tab evaluates it
// in about 0.15 s, where the full bundle of st.plotly_chart takes 1.2 s (bench/README.md, "New tabs"). The
// components run in the page itself, so the first to ask loads it and the others share it (window.Plotly).

const CONFIG = { displaylogo: false, modeBarButtonsToRemove: ["toImage"] };
const BUNDLE = "app/static/plotly.js-rnn-4.1.1.min.js";

function whenPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!window.__rnnPlotly) {
    window.__rnnPlotly = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = new URL(BUNDLE, document.baseURI).href;
      const fail = () => {
        window.__rnnPlotly = null; // the next drawing tries again
        reject(new Error(`Plotly.js could not be loaded from ${script.src}; reload the page.`));
      };
      script.onload = () => (window.Plotly ? resolve(window.Plotly) : fail());
      script.onerror = fail;
      document.head.append(script);
    });
  }
  return window.__rnnPlotly;
}

// Runs `task` in a task of its own after the browser's next frame: what is on the page now is painted first.
function afterNextFrame(task) {
  requestAnimationFrame(() => setTimeout(task, 0));
}

// Runs task(Plotly) once Plotly.js is here and returns its promise: at once if it already is; else in its turn
// after the drawings asked for before it, each in a task of its own after a frame. Run as Plotly.js resolves,
// the drawings that waited for it would all be drawn in the task that evaluated it, about 0.1 s each, with
// nothing painted and a click unanswered (a first visit of the lab held the page for 0.35 s; bench/README.md,
// "Plotly.js's task"). Each component's code has a queue of its own.
let drawing = Promise.resolve();
function withPlotly(task) {
  if (window.Plotly) return whenPlotly().then(task);
  const turn = drawing
    .then(whenPlotly)
    .then(() => new Promise((resolve) => afterNextFrame(resolve)))
    .then(() => task(window.Plotly));
  drawing = turn.catch(() => {});
  return turn;
}

// Whether `element` is at least partly inside the browser window now.
function inView(element) {
  const box = element.getBoundingClientRect();
  return box.bottom > 0 && box.top < window.innerHeight && box.width > 0;
}

// Resolves once `element` is entirely outside the browser window, for instance pushed below the fold by
// elements appearing above it; stop() ends the watch.
function whenOutOfView(element) {
  let observer;
  const promise = new Promise((resolve) => {
    observer = new IntersectionObserver((entries) => {
      if (!entries[entries.length - 1].isIntersecting) resolve();
    });
    observer.observe(element);
  });
  return { promise, stop: () => observer.disconnect() };
}

// Redraw a drawn figure at its container's new width: the window resized, or the sidebar opened or closed
// (Plotly.js's own `responsive` follows only the window, and redraws even when the width is unchanged).
function followWidth(element) {
  let width = element.clientWidth;
  new ResizeObserver(() => {
    if (element.clientWidth === width) return;
    width = element.clientWidth;
    // Its title is fitted again after the redraw (draw() has it follow every one).
    if (window.Plotly && element._fullLayout) window.Plotly.Plots.resize(element).catch(() => {}); // hidden
  }).observe(element);
}

// Plotly.js draws `layout` into `element` (Plotly.react), its title fitted to the figure's width after this
// and every later redraw.
function draw(element, data, layout) {
  return window.Plotly.react(element, data, layout, CONFIG).then(() => {
    if (!element.__fitsTitle) {
      element.__fitsTitle = true;
      element.on("plotly_afterplot", () => fitTitle(element));
    }
    fitTitle(element);
  });
}

// Plotly.js does not wrap a title, and cuts one wider than its figure at both edges (a 1024 px screen, a
// projector's zoom): its text is drawn smaller until it fits, down to TITLE_MIN_SIZE px. Only the drawn text
// changes, not the layout, so each redraw starts again from the layout's size.
const TITLE_MIN_SIZE = 10;
function fitTitle(element) {
  const title = element.querySelector(".gtitle");
  const size = element._fullLayout?.title?.font?.size;
  const room = element.clientWidth - 16;
  if (!title || !size || room <= 0) return;
  title.style.fontSize = `${size}px`;
  const width = title.getBBox().width;
  if (width > room) title.style.fontSize = `${Math.max(TITLE_MIN_SIZE, Math.floor((size * room) / width))}px`;
}
