#!/usr/bin/env bash
# Grouping quality and speed on Loghub-2k, side by side with Drain3 (defaults) in the same run.
# Usage: scripts/bench-loghub.sh [DIR]   (default: ../shared/data/loghub)
# Data: Loghub-2k (Zhu et al., ICSE-SEIP 2019; Jiang et al., ISSTA 2024), corrected labels
# (Khan et al., ICSE 2022); licence and citation in DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-../shared/data/loghub}
scorer=${LOGHUB_SCORER:-../shared/tools/loghub_score.py}
out=target/bench
mkdir -p "$out"

cargo build --release -q -p signalbox-server --bin signalbox
echo "== Signalbox templates (grouping key, codes as values; release, one core)"
target/release/signalbox bench loghub "$dir" --out "$out/signalbox-pred" | grep -v '^predictions'
python3 "$scorer" --all "$dir" "$out/signalbox-pred"
echo "== Signalbox fingerprints (what the server stores: whole pipeline, grouping key with codes kept: 502 != 503)"
python3 "$scorer" --all "$dir" "$out/signalbox-pred/fingerprints"

if [ ! -x "$out/venv/bin/python" ]; then
  python3 -m venv "$out/venv"
  "$out/venv/bin/pip" install -q drain3==0.9.11
fi
echo "== Drain3 0.9.11, default configuration (Python, one core)"
"$out/venv/bin/python" scripts/drain3_baseline.py "$dir" "$out/drain3-pred"
python3 "$scorer" --all "$dir" "$out/drain3-pred"
