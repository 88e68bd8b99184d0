#!/usr/bin/env bash
# Builds the browser half of the UI into target/site: the hydration bundle (wasm + JS),
# the stylesheet and the static files. Usage: scripts/build-site.sh [debug|release]
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${1:-debug}
site=${LEPTOS_SITE_ROOT:-target/site}
case "$profile" in
  debug)   cargo build -p frontend --lib --target wasm32-unknown-unknown
           wasm=target/wasm32-unknown-unknown/debug/frontend.wasm
           bindgen_flags=() ;;
  release) cargo build -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release
           wasm=target/wasm32-unknown-unknown/wasm-release/frontend.wasm
           # Function names are half the release bundle; panics still print their message.
           bindgen_flags=(--remove-name-section --remove-producers-section) ;;
  *) echo "build-site.sh: unknown profile '$profile' (expected debug or release)" >&2; exit 2 ;;
esac

rm -rf "$site/pkg"
mkdir -p "$site/pkg"
wasm-bindgen --target web --no-typescript "${bindgen_flags[@]}" --out-dir "$site/pkg" --out-name signalbox "$wasm"
# Leptos loads /pkg/<output name>.wasm when LEPTOS_OUTPUT_NAME was set at compile time.
mv "$site/pkg/signalbox_bg.wasm" "$site/pkg/signalbox.wasm"
cp -R public/. "$site/"
cp style/main.css "$site/pkg/signalbox.css"
echo "site built in $site ($(du -sh "$site/pkg/signalbox.wasm" | cut -f1) wasm, $profile)"
