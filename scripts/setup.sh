#!/usr/bin/env bash
# Installs what building, running and testing Signalbox needs and a fresh machine lacks.
# Idempotent: every step checks first. Usage: scripts/setup.sh [--test]
#   (no flag)  Rust wasm target + wasm-bindgen CLI: enough to build and run.
#   --test     also PostgreSQL, Chromium, promtool and python3 (Debian packages) and the browser-test
#              npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

command -v cargo >/dev/null || { echo "setup: cargo not found: install Rust from https://rustup.rs" >&2; exit 1; }

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# The wasm-bindgen CLI must be exactly the version of the wasm-bindgen crate in Cargo.lock.
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$want" ]; then
  say "installing wasm-bindgen-cli $want (found: ${have:-none}; takes a few minutes)"
  # Not --locked: its lock file pins a webpki-roots release the registry no longer has.
  cargo install wasm-bindgen-cli --version "$want"
fi

if [ "${1:-}" = "--test" ]; then
  missing=()
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v promtool >/dev/null || missing+=(prometheus)
  command -v node >/dev/null || missing+=(nodejs npm)
  # The Loghub grouping test scores with ../shared/tools/loghub_score.py.
  command -v python3 >/dev/null || missing+=(python3)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  if [ ! -d end2end/node_modules/playwright-core ]; then
    say "installing the browser-test packages (npm ci)"
    (cd end2end && npm ci --no-audit --no-fund)
  fi
fi
