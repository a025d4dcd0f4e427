#!/usr/bin/env bash
# Worker benchmark through local `wrangler dev` (numbers for BENCHMARKS.md, not a timed test):
# upsert throughput into one namespace object, warm query p50/p99 (topK 10, exact), and cold
# start of the namespace object (restart wrangler over the same state, first query).
#
#   scripts/bench-worker.sh [N] [DIM] [BUDGET_MIB]      defaults: 15000 384 24
#
# 15000 × 384 is about the largest namespace the default 24 MiB budget admits (15728 records).
# Larger N needs a larger BUDGET_MIB; locally workerd does not enforce the 128 MB isolate
# limit, so such runs show memory use, not what Cloudflare would allow.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
n=${1:-15000} dim=${2:-384} budget=${3:-24}
batch=$(( (1500000 / (dim * 9)) ))            # keeps a batch's JSON well under 2 MB
[ "$batch" -le 1000 ] || batch=1000
[ -f pkg-js/dist/wasm/larch_js_bg.wasm ] || bash pkg-js/build.sh
source worker/scripts/wrangler-dev.sh
port=${LARCH_BENCH_PORT:-8798}
work=$(mktemp -d /tmp/larch-worker-bench.XXXXXX)
trap 'larch_dev_stop; rm -rf "$work"' EXIT
export LARCH_URL="http://127.0.0.1:$port" LARCH_API_KEY=larch-local-key
args=(--var "LARCH_NAMESPACE_BUDGET_MIB:$budget")
echo "bench-worker: N=$n dim=$dim batch=$batch budget=${budget} MiB, wrangler dev on :$port"
larch_dev_start "$port" "$work/state" "$work/dev.log" "${args[@]}"
node worker/bench/bench.mjs load "$n" "$dim" "$batch"
node worker/bench/bench.mjs warm "$dim" 300
larch_dev_stop
for i in 1 2 3; do
  larch_dev_start "$port" "$work/state" "$work/dev.log" "${args[@]}"
  node worker/bench/bench.mjs cold "$dim"
  larch_dev_stop
done
