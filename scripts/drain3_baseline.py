#!/usr/bin/env python3
"""Drain3 (default configuration) on the Loghub-2k layout, for a side-by-side comparison.

Usage: drain3_baseline.py DIR PREDDIR
Reads DIR/<System>/<System>_2k.log_structured.csv (Content column), writes PREDDIR/<System>.csv
(LineId,ClusterId) and prints lines/s per system (template mining only, one core; the median
of fresh runs after a warm-up, as `signalbox bench loghub` measures).
"""
import csv
import os
import statistics
import sys
import time

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

SUFFIX = "_2k.log_structured.csv"
# Fresh runs per system; the median is reported.
RUNS = 11


def main(base, out):
    os.makedirs(out, exist_ok=True)
    total_lines, total_seconds = 0, 0.0
    print(f"{'system':<12} {'lines':>7} {'clusters':>9} {'lines/s':>12}")
    for system in sorted(os.listdir(base)):
        path = os.path.join(base, system, system + SUFFIX)
        if not os.path.exists(path):
            continue
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        contents = [r["Content"] for r in rows]

        def run():
            config = TemplateMinerConfig()  # defaults: no masking, sim_th 0.4, depth 4
            config.profiling_enabled = False
            miner = TemplateMiner(config=config)
            start = time.perf_counter()
            ids = [miner.add_log_message(c)["cluster_id"] for c in contents]
            return time.perf_counter() - start, ids, miner

        # As `signalbox bench loghub`: one warm-up, then the median of fresh runs.
        _, ids, miner = run()
        seconds = statistics.median(run()[0] for _ in range(RUNS))
        with open(os.path.join(out, system + ".csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["LineId", "ClusterId"])
            for r, c in zip(rows, ids):
                w.writerow([r["LineId"], c])
        total_lines += len(rows)
        total_seconds += seconds
        print(f"{system:<12} {len(rows):>7} {len(miner.drain.clusters):>9} {len(rows) / seconds:>12.0f}")
    print(f"{'all':<12} {total_lines:>7} {'':>9} {total_lines / total_seconds:>12.0f}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: drain3_baseline.py DIR PREDDIR")
    main(sys.argv[1], sys.argv[2])
