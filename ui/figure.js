// One Plotly figure, drawn in the page with the app's Plotly.js.
//
// data (see ui/figure.py): {figure: {data, layout}, version} where version changes with the figure, or
// {preload: true} to start loading Plotly.js early. draw(), whenPlotly(), withPlotly(), afterNextFrame(),
// inView() and followWidth() come from plotly_loader.js, which ui/figure.py puts before this file. When the
// figure is on screen, the element's data-drawn is its version.

export default function (component) {
  const { parentElement } = component;
  const [data] = component.data; // sent as a one-item list (ui/figure.py)
  if (data.preload) {
    // From ui.page.setup_page on a page with figures: Plotly.js loads while the page computes them, but after
    // the next frame, so that the elements shown with this one (a stepper's step among them) are painted
    // before a first visit evaluates it (one task of about 0.1 s). A figure in view asks for it at once.
    afterNextFrame(() => whenPlotly().catch(() => {})); // each figure retries, and says so if it fails
    return;
  }
  let element = parentElement.querySelector(".rnn-figure");
  if (!element) {
    element = document.createElement("div");
    element.className = "rnn-figure";
    parentElement.append(element);
    followWidth(element);
  }
  if (element.dataset.version !== data.version) {
    element.dataset.version = data.version;
    // Its room is kept before it is drawn, so the page does not jump and what is in view is known.
    if (data.figure.layout.height) element.style.minHeight = `${data.figure.layout.height}px`;
    // Out of view, it is drawn in a task of its own (about 0.1 s) after the next frame, so after what the
    // learner sees.
    const turn = inView(element) ? Promise.resolve() : new Promise((resolve) => afterNextFrame(resolve));
    turn
      .then(() =>
        withPlotly(() => {
          // A newer figure sent meanwhile is drawn instead, by its own call.
          if (element.dataset.version === data.version) {
            return draw(element, data.figure.data, data.figure.layout);
          }
        }),
      )
      .then(
        () => {
          if (element.dataset.version === data.version) element.dataset.drawn = data.version;
        },
        (error) => {
          delete element.dataset.version; // the next rerun tries again
          element.textContent = `This figure could not be drawn: ${error.message}`;
        },
      );
  }
  return () => window.Plotly?.purge(element); // removed from the page: its listeners go too
}
