#!/usr/bin/env bash
# Approximate-search benchmark on one dataset directory, every engine in one run, one markdown
# report on stdout (progress on stderr).
#
#   scripts/bench-ann.sh DATASET_DIR [N_BASE] [key=value ...]
#
# DATASET_DIR is in the format of ../shared/bench/README.md (../shared/bench/setup.sh makes
# them under ~/.cache/larch-bench/data). With N_BASE, the first N_BASE base rows are written
# with exact ground truth to DATASET_DIR-N_BASE (once) and everything runs on that subset.
# key=value options go to benches/ann.rs (metric=cos|l2, m=16, efc=100, ef=16,32,64,128,256,
# queries=N, filters=0|1, int8=0|1, filter_ef=64, baseline=0|1, path=index|namespace, seal=50000;
# path=namespace measures Larch through Namespace upserts, sealed segments and Namespace::query).
#
# Runs, one after the other (never in parallel, so they do not compete for the CPU):
#   1. Larch natively + instant-distance 0.6.1 (RAYON_NUM_THREADS=1): cargo bench --bench ann
#   2. Larch in wasm32+simd128 under Node: benches/run_ann_wasm.mjs
#   3. hnswlib (PyPI), native, 1 thread: ../shared/bench/native_anchor.py
#   4. hnswlib-wasm (npm), in Node: ../shared/bench/bench_js.mjs (needs setup.sh --with-js)
# SKIP=native,wasm,hnswlib,js skips steps.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
shared=../shared/bench
home=${LARCH_BENCH_HOME:-$HOME/.cache/larch-bench}
skip=",${SKIP:-},"

ds=${1:?usage: scripts/bench-ann.sh DATASET_DIR [N_BASE] [key=value ...]}
shift
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
  n_base=$1
  shift
  sub="${ds%/}-$n_base"
  if [ ! -f "$sub/gt_cos.ivecs" ]; then
    echo "bench-ann: writing the $n_base-row subset to $sub" >&2
    cargo bench -q --bench ann -- subset "$ds" "$n_base" "$sub" >&2
  fi
  ds=$sub
fi
metric=cos
for a in "$@"; do [[ $a == metric=* ]] && metric=${a#metric=}; done
efs=16,32,64,128,256
for a in "$@"; do [[ $a == ef=* ]] && efs=${a#ef=}; done

echo "# ANN benchmark: $(basename "$ds") ($metric), $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Machine: $(nproc) cores, load average at start $(cut -d' ' -f1-3 /proc/loadavg); $(rustc --version); node $(node --version)"
echo

if [[ $skip != *,native,* ]]; then
  echo "bench-ann: [1/4] Larch native + instant-distance" >&2
  echo "## Larch (native) and instant-distance"
  echo
  RAYON_NUM_THREADS=1 cargo bench -q --bench ann -- "$ds" "$@"
  echo
fi

if [[ $skip != *,wasm,* ]]; then
  echo "bench-ann: [2/4] Larch wasm32 in node" >&2
  wasm=$(cargo bench -q --bench ann --target wasm32-unknown-unknown --no-run --message-format=json |
    sed -n 's/.*"executable":"\([^"]*ann-[^"]*\.wasm\)".*/\1/p' | tail -1)
  echo "## Larch (wasm32+simd128 in Node)"
  echo
  node benches/run_ann_wasm.mjs "$wasm" "$ds" "$@" baseline=0
  echo
fi

if [[ $skip != *,hnswlib,* ]]; then
  echo "bench-ann: [3/4] hnswlib native (1 thread)" >&2
  json=$(mktemp)
  "$home/venv/bin/python" "$shared/native_anchor.py" "$ds" "$metric" 1 --lib hnswlib --ef "$efs" --json "$json" >&2
  echo "## hnswlib (native, M 16, efC 200, build and queries on 1 thread)"
  echo
  "$home/venv/bin/python" - "$json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print("| engine | where | mode | ef | recall@10 | QPS | build s | build vec/s |")
print("|---|---|---|---|---|---|---|---|")
for r in d["results"]:
    print(f"| {r['lib']} | native, 1 thread | f32 | {r['ef']} | {r['recall@10']:.4f} | {r['qps_1thread']} | {r['build_s']:.1f} | {d['n'] / r['build_s']:.0f} |")
PY
  rm -f "$json"
  echo
fi

if [[ $skip != *,js,* ]]; then
  echo "bench-ann: [4/4] hnswlib-wasm in node" >&2
  echo "## JS/wasm peers in Node (bench_js.mjs, cosine, all base rows, 1,000 queries)"
  echo
  echo '```'
  node "$shared/bench_js.mjs" "$ds" 0 1000 "${JS_ENGINES:-hnswlib-wasm}" 2>/dev/null | grep -v -i 'idbfs\|syncfs' || true
  echo '```'
fi
