#!/usr/bin/env bash
# Per-write cost of Node's directory store (pkg-js/bench/directory_store.mjs): upserts of
# 100 × 384-dim records into a directory already holding 10k and 100k records, for the
# one-file-per-blob store ("files"), the one-snapshot store it replaced ("snapshot") and no
# disk at all ("memory", the engine's share).
# Prints a markdown table. Needs pkg-js/dist (pkg-js/build.sh). A run takes a few minutes
# (filling 100k records in memory dominates).
#
#   scripts/bench-node-store.sh [RECORDS...]      # default: 10000 100000
#   UPSERTS=20 scripts/bench-node-store.sh        # upserts timed per row
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000)
echo "| store | records | database | p50 ms | p90 ms | max ms | written per upsert (write(2)) | written per upsert (block layer) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for n in "${sizes[@]}"; do
  for store in memory snapshot files; do
    node pkg-js/bench/directory_store.mjs "$store" "$n" "${UPSERTS:-20}"
  done
done
