// The Plotly.js every figure of the app is drawn with (ui/plotly_loader.js): the core (with scatter) and the
// two other trace types the explainer's figures use. Built by build.sh into static/.
const Plotly = require("plotly.js/lib/core");

Plotly.register([require("plotly.js/lib/bar"), require("plotly.js/lib/heatmap")]);
window.Plotly = Plotly;
