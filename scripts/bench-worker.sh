#!/usr/bin/env bash
# Worker benchmark through local `wrangler dev` (numbers for BENCHMARKS.md, not a timed test):
# upsert throughput into one namespace object, warm query p50/p99 (topK 10) right after the load
# and again once background index builds are done, and cold start of the namespace object
# (restart wrangler over the same state, first query).
#
#   scripts/bench-worker.sh [N] [DIM] [BUDGET_MIB]      defaults: 15000 384 24
#
# Concurrency benchmark (worker/bench/bench.mjs `concurrent`): N × DIM records with metadata in
# one namespace, then CLIENTS concurrent clients run 45% queries, 45% filtered queries and 10%
# upserts of 10 records for SECONDS; ops/s, p50/p99 overall and per kind, errors, and the
# resident memory (VmRSS) of the workerd processes sampled every second:
#
#   scripts/bench-worker.sh --concurrent [N] [DIM] [CLIENTS] [SECONDS] [BUDGET_MIB]
#                                                       defaults: 10000 64 32 45 24
#   env: LARCH_BENCH_ROUNDS=R   run the mix R times on the same server (rounds 2.. reuse the data)
#        LARCH_BENCH_OUT=DIR    where the per-second memory series go (default target/bench-worker)
#        LARCH_BENCH_SNAPSHOT=1 force a full GC (heap snapshot via the inspector) after each round
#        LARCH_BENCH_DIRECT=1   bypass wrangler's dev proxy: requests go to the Worker's workerd
#        LARCH_BENCH_UPSERT_NEW=K  new ids per 10-record upsert (default 2; 0 = overwrite only)
#        LARCH_BENCH_MIX, LARCH_BENCH_IDLE, LARCH_BENCH_SETTLE: see worker/bench/bench.mjs
#
# 15000 × 384 is about the largest namespace the default 24 MiB budget admits (15728 records).
# Larger N needs a larger BUDGET_MIB; locally workerd does not enforce the 128 MB isolate
# limit, so such runs show memory use, not what Cloudflare would allow.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mode=default
if [ "${1:-}" = --scale ]; then
  # One large namespace of real vectors (worker/bench/scale.mjs): the first N of ../shared/bench's
  # wordnet-minilm384 (set up by ../shared/bench/setup.sh), exact ground truth computed by the
  # client; load + indexing, warm and filtered queries with recall@10, fetch of 100 ids, rows
  # touched, wasm memory, then three restarts with the first query each.
  #   scripts/bench-worker.sh --scale [N] [BUDGET_MIB] [QUERIES]     defaults: 100000 80 100
  n=${2:-100000} budget=${3:-80} queries=${4:-100}
  data=${LARCH_BENCH_DATA:-${LARCH_BENCH_HOME:-$HOME/.cache/larch-bench}/data/wordnet-minilm384}
  [ -f "$data/base.fvecs" ] || { echo "bench-worker: $data/base.fvecs missing (run ../shared/bench/setup.sh)" >&2; exit 1; }
  [ -f pkg-js/dist/wasm/larch_js_bg.wasm ] || bash pkg-js/build.sh
  source worker/scripts/wrangler-dev.sh
  port=${LARCH_BENCH_PORT:-8798}
  work=$(mktemp -d /tmp/larch-worker-bench.XXXXXX)
  trap 'larch_dev_stop; rm -rf "$work"' EXIT
  export LARCH_URL="http://127.0.0.1:$port" LARCH_API_KEY=larch-local-key
  args=(--var "LARCH_NAMESPACE_BUDGET_MIB:$budget")
  echo "bench-worker --scale: N=$n of $data, budget ${budget} MiB, wrangler dev on :$port;" \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
  larch_dev_start "$port" "$work/state" "$work/dev.log" "${args[@]}"
  node worker/bench/scale.mjs load "$data" "$n"
  node worker/bench/scale.mjs warm "$data" "$n" "$queries"
  larch_dev_stop
  for i in 1 2 3; do
    larch_dev_start "$port" "$work/state" "$work/dev.log" "${args[@]}"
    node worker/bench/scale.mjs cold "$data" "$n"
    larch_dev_stop
  done
  exit 0
fi
if [ "${1:-}" = --concurrent ]; then
  mode=concurrent
  shift
  n=${1:-10000} dim=${2:-64} clients=${3:-32} seconds=${4:-45} budget=${5:-24}
else
  n=${1:-15000} dim=${2:-384} budget=${3:-24}
fi
batch=$(( (1500000 / (dim * 9)) ))            # keeps a batch's JSON well under 2 MB
[ "$batch" -le 1000 ] || batch=1000
[ -f pkg-js/dist/wasm/larch_js_bg.wasm ] || bash pkg-js/build.sh
source worker/scripts/wrangler-dev.sh
port=${LARCH_BENCH_PORT:-8798}
work=$(mktemp -d /tmp/larch-worker-bench.XXXXXX)
trap 'larch_dev_stop; rm -rf "$work"' EXIT
export LARCH_URL="http://127.0.0.1:$port" LARCH_API_KEY=larch-local-key
args=(--var "LARCH_NAMESPACE_BUDGET_MIB:$budget")
if [ "$mode" = concurrent ]; then
  out=${LARCH_BENCH_OUT:-target/bench-worker}
  mkdir -p "$out"
  stamp=$(date +%Y%m%d-%H%M%S)
  rounds=${LARCH_BENCH_ROUNDS:-1}
  echo "bench-worker --concurrent: N=$n dim=$dim clients=$clients seconds=$seconds rounds=$rounds" \
    "budget=${budget} MiB, wrangler dev on :$port; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  larch_dev_start "$port" "$work/state" "$work/dev.log" "${args[@]}"
  export LARCH_BENCH_PGID=$larch_dev_pgid
  LARCH_BENCH_PROXY_PID=$(ss -ltnpH "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true)
  export LARCH_BENCH_PROXY_PID
  # The Worker isolate's V8 inspector (wrangler starts its workerd with --inspector-addr): the
  # /json target list of a workerd listening port names it "core:user:<worker>". Optional.
  if [ -z "${LARCH_BENCH_INSPECTOR:-}" ] && command -v ss >/dev/null; then
    for p in $(pgrep -g "$larch_dev_pgid" workerd || true); do
      for lp in $(ss -ltnpH 2>/dev/null | grep "pid=$p," | awk '{print $4}' | sed 's/.*://'); do
        u=$(curl -s -m 2 "http://127.0.0.1:$lp/json" 2>/dev/null |
          node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const t=JSON.parse(s).find(t=>/^core:user:/.test(t.id));if(t)console.log(t.webSocketDebuggerUrl)}catch{}})' || true)
        [ -n "$u" ] && export LARCH_BENCH_INSPECTOR=$u && break 2
      done
    done
  fi
  # LARCH_BENCH_DIRECT=1: send the requests to the Worker's own workerd socket instead of
  # wrangler's dev proxy on $port (a second workerd process that exists only under wrangler dev).
  if [ "${LARCH_BENCH_DIRECT:-0}" = 1 ]; then
    for p in $(pgrep -g "$larch_dev_pgid" workerd || true); do
      for lp in $(ss -ltnpH 2>/dev/null | grep "pid=$p," | awk '{print $4}' | sed 's/.*://'); do
        [ "$lp" = "$port" ] && continue
        if curl -s -m 2 -H "Api-Key: $LARCH_API_KEY" "http://127.0.0.1:$lp/indexes" | grep -q '"indexes"'; then
          export LARCH_URL="http://127.0.0.1:$lp"
          break 2
        fi
      done
    done
    [ "$LARCH_URL" != "http://127.0.0.1:$port" ] || { echo "bench-worker: LARCH_BENCH_DIRECT: Worker socket not found" >&2; exit 1; }
  fi
  node_flags=()
  node -e 'process.exit(typeof WebSocket === "function" ? 0 : 1)' || node_flags=(--experimental-websocket)
  echo "bench-worker: requests to $LARCH_URL; sampling processes of group $larch_dev_pgid;" \
    "inspector ${LARCH_BENCH_INSPECTOR:-not found}"
  for r in $(seq 1 "$rounds"); do
    series="$out/concurrent-$stamp-round$r.jsonl"
    LARCH_BENCH_SERIES="$series" LARCH_BENCH_RELOAD=$([ "$r" -eq 1 ] && echo 1 || echo 0) \
      node "${node_flags[@]}" worker/bench/bench.mjs concurrent "$n" "$dim" "$clients" "$seconds"
    echo "bench-worker: round $r memory series in $series; load average $(cut -d' ' -f1-3 /proc/loadavg)"
  done
  # Server-side failures are logged by the Worker; show how many (the client counts non-2xx).
  echo "bench-worker: dev log lines with 'error': $(grep -ci error "$work/dev.log" || true)"
  grep -i error "$work/dev.log" | sort | uniq -c | sort -rn | head -n 5 || true
  cp "$work/dev.log" "$out/concurrent-$stamp-dev.log"
  exit 0
fi
echo "bench-worker: N=$n dim=$dim batch=$batch budget=${budget} MiB, wrangler dev on :$port"
larch_dev_start "$port" "$work/state" "$work/dev.log" "${args[@]}"
node worker/bench/bench.mjs load "$n" "$dim" "$batch"
node worker/bench/bench.mjs warm "$dim" 300
# Background index builds (alarms) run right after a load and delay the queries meanwhile; the
# same 300 queries again once the server reports them done (no wait if it does not say).
node worker/bench/bench.mjs settle "$dim" 300
node worker/bench/bench.mjs warm "$dim" 300 warm-settled
larch_dev_stop
for i in 1 2 3; do
  larch_dev_start "$port" "$work/state" "$work/dev.log" "${args[@]}"
  node worker/bench/bench.mjs cold "$dim"
  larch_dev_stop
done
