#!/usr/bin/env bash
# The demo with a working Generate Fix and no accounts: the fake Anthropic API and the fake
# GitHub (holding the demo services' source files) on loopback, and Signalbox pointed at them.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -p signalbox-fakes --bin signalbox-fake
key=sk-ant-fake-0000000000000000
token=ghp_fake000000000000000000000000000000
./target/debug/signalbox-fake anthropic --port 4010 --key "$key" &
anthropic=$!
./target/debug/signalbox-fake github --port 4020 --token "$token" --repository acme/shop &
github=$!
trap 'kill "$anthropic" "$github" 2>/dev/null || true' EXIT
ANTHROPIC_API_KEY=$key ANTHROPIC_BASE_URL=http://127.0.0.1:4010 \
GITHUB_TOKEN=$token GITHUB_API_URL=http://127.0.0.1:4020 GITHUB_REPOSITORY=acme/shop \
AUTO_FIX_ENABLED=true AUTO_FIX_MAX_PER_HOUR=50 AUTO_FIX_MAX_PER_DAY=200 \
  ./target/debug/signalbox serve --demo
