// The Plotly.js the stepper draws with (ui/stepper.js): the core (with scatter) and the two other trace types
// the explainer's stepped figures use. Built by build.sh into static/.
const Plotly = require("plotly.js/lib/core");

Plotly.register([require("plotly.js/lib/bar"), require("plotly.js/lib/heatmap")]);
window.Plotly = Plotly;
