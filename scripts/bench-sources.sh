#!/usr/bin/env bash
# Sources load and latency report: the release binary against the fake Railway server on
# loopback (events/s through the GraphQL API and the JSON push endpoint, detection latency
# through the stream and through polling, resident memory idle and under load), and `mixed`:
# sustained ingest through every endpoint while API, UI and /health readers run (p50/p95).
# Bounded: every section stops by itself; all traffic stays on 127.0.0.1.
# Usage: scripts/bench-sources.sh [--events N] [--samples N] [--seconds N] [--only idle|railway|push|latency|mixed]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p signalbox-server --bin signalbox --example loadtest
target/release/examples/loadtest --bin target/release/signalbox "$@"
