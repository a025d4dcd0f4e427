#!/usr/bin/env bash
# Benchmark of `larch serve` (BENCHMARKS.md, "larch serve"): builds the release server, then runs
# server/bench/bench_serve.py over a dataset of ../shared/bench (default wordnet-minilm384, all
# 116,033 vectors): upsert throughput over gRPC and REST, indexing wait, recall@10, query
# p50/p99/QPS with 1, 8, 32 clients over REST and gRPC, memory, cold start; the multi-namespace
# variant (8 namespaces of 10,000 loaded at once; client processes on one namespace or spread
# over the 8);
# then native hnswlib on one thread over the same dataset (../shared/bench/native_anchor.py, the
# workplace's peers: skipped where that reference or its venv is absent). The load average is
# printed before and after (other processes share the cores).
#
#   scripts/bench-serve.sh [DATASET_DIR] [--limit N] [--queries Q]
#
# The 1M × 384 run is the same script over a synthetic dataset made by the ANN bench's generator
# (uniform [-1, 1), exact ground truth; about 1.5 GB of vectors; not run in this session):
#   cargo bench --bench ann -- random $B/data/random384-1000000 1000000 384 1000384
#   scripts/bench-serve.sh $B/data/random384-1000000 --queries 500
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
B=${LARCH_BENCH_HOME:-$HOME/.cache/larch-bench}
data=${1:-$B/data/wordnet-minilm384}
[ $# -gt 0 ] && shift
cargo build --release -p larch-server
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
LARCH_BIN="$PWD/target/release/larch" server/.venv/bin/python server/bench/bench_serve.py "$data" "$@"
echo "load average after the server runs: $(cut -d' ' -f1-3 /proc/loadavg)"
anchor=../shared/bench/native_anchor.py
if [ -f "$anchor" ] && [ -x "$B/venv/bin/python" ] && [ -f "$data/gt_cos.ivecs" ]; then
  echo "--- native anchor: hnswlib, one thread per query, ef 64 (build on 2 threads)"
  "$B/venv/bin/python" "$anchor" "$data" cos 2 --ef 64 --lib hnswlib --json "$(mktemp /tmp/larch-anchor.XXXXXX.json)"
  echo "load average after the anchor: $(cut -d' ' -f1-3 /proc/loadavg)"
else
  echo "--- native anchor skipped ($anchor or $B/venv absent)"
fi
