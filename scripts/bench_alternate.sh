#!/usr/bin/env bash
# Alternates several ember-bench binaries run by run on the given workloads and thread counts,
# printing one line per run: binary, threads, workload, median and min (ms or GFLOP/s).
# Usage: scripts/bench_alternate.sh "A B ..." "workload ..." "1 2" ROUNDS
# where each A is a path to an ember-bench binary (build one per commit with
# `cargo build --release -p ember-bench` and copy target/release/ember-bench away).
set -euo pipefail
bins=$1 workloads=$2 threads=$3 rounds=${4:-3}
echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
  for t in $threads; do
    for w in $workloads; do
      for b in $bins; do
        line=$(RAYON_NUM_THREADS=$t "$b" --only "$w" 2>/dev/null | grep "\"name\": \"$w\"" | grep -o '"median": [0-9.]*, "min": [0-9.]*' || true)
        echo "$(basename "$b") t=$t $w $line"
      done
    done
  done
done
echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"
