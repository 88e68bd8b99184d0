#!/usr/bin/env bash
# UI speed report: the shipped bundle's size (release build, gzipped: wasm + JS glue, without
# ECharts, which is vendored separately) and the server render time of `/` and of a big group's
# page with 10 000 groups and 1 000 000 occurrences in the store.
# Usage: scripts/bench-ui.sh [signalbox bench ui flags, e.g. --url sqlite:///tmp/ui.db]
set -euo pipefail
cd "$(dirname "$0")/.."

site=${LEPTOS_SITE_ROOT:-target/site-release}
LEPTOS_SITE_ROOT=$site scripts/build-site.sh release >/dev/null
gz() { gzip -9 -c "$1" | wc -c; }
wasm=$(gz "$site/pkg/signalbox.wasm")
js=$(gz "$site/pkg/signalbox.js")
css=$(gz "$site/pkg/signalbox.css")
echarts=$(gz "$site/echarts.min.js")
echo "bundle (gzip -9): wasm $wasm B + JS $js B = $((wasm + js)) B (budget 1 000 000 B); CSS $css B; echarts.min.js $echarts B, separate"

cargo build --release -q -p signalbox-server --bin signalbox
LEPTOS_SITE_ROOT=$site target/release/signalbox bench ui "$@"
