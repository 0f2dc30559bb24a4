#!/bin/sh
# Builds static/plotly.js-rnn-<version>.min.js, the Plotly.js of every figure of the app (ui/plotly_loader.js,
# whose BUNDLE names the file: change it with the version), from plotly.js on npm: its core (with scatter), bar
# and heatmap. The version must be plotly.py's
# (python -c "import plotly.offline as o; print(o.get_plotlyjs_version())"; tests/app/test_ui.py checks it).
#
# Why not a ready-made bundle: a fresh browser tab evaluates this one in about 0.15 s, the cartesian bundle
# (plotly.js-cartesian-dist-min) in 0.45 s and Streamlit's full one in 1.2 s (bench/README.md, "New tabs");
# esbuild runs each module only when it is first required.
#
#   sh tools/plotly_bundle/build.sh 4.1.1
set -eu
version="$1"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund "plotly.js@$version" esbuild@0.28.2 >/dev/null
cp "$here/entry.js" .
# The maplibre stylesheet is required only when a map trace is registered: none is. Some modules read
# Node's `global`: in a browser it is `window`.
npx esbuild entry.js --bundle --minify --format=iife --loader:.css=empty --define:global=window \
  --banner:js="/*! plotly.js v$version (core, bar, heatmap) built by tools/plotly_bundle/build.sh. MIT license: static/plotly.js-LICENSE.txt */" \
  --outfile="$root/static/plotly.js-rnn-$version.min.js"
