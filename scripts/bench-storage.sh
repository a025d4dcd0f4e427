#!/usr/bin/env bash
# Storage benchmarks (benches/storage.rs), natively and as wasm32+simd128 under Node: lazy
# namespaces (open / create / drop at 1k, 10k, 100k namespaces, live heap), offboarding a
# namespace of up to 1M records, cold open of 100k × 384 vectors, bytes stored per record; part 4
# (not in the default parts=123) is the cold open in int8 mode (graphs + codes).
# Prints markdown tables with the rows of both builds, then the notes.
#
#   scripts/bench-storage.sh [key=value ...]   # options for both sides:
#       parts=123 namespaces=100000 offboard=1000000 runs=5
#   WASM_OPTS="offboard=100000" scripts/bench-storage.sh   # extra options for the wasm side only
#
# Needs cargo, the wasm32-unknown-unknown target and node. The wasm build takes its flags
# (+simd128) from .cargo/config.toml; the .wasm is instantiated directly by
# benches/run_storage_wasm.mjs. A full run takes a few minutes (building 100k namespaces
# through the engine dominates).
set -euo pipefail
cd "$(dirname "$0")/.."

# Path of the bench executable from cargo's JSON messages.
executable() {
  node -e '
    let s = "";
    process.stdin.on("data", (d) => (s += d)).on("end", () => {
      for (const line of s.split("\n")) {
        if (!line.startsWith("{")) continue;
        const m = JSON.parse(line);
        if (m.reason === "compiler-artifact" && m.target.name === "storage" && m.executable)
          console.log(m.executable);
      }
    });'
}

native=$(cargo bench --bench storage --no-run --message-format=json-render-diagnostics | executable)
wasm=$(cargo bench --bench storage --no-run --message-format=json-render-diagnostics \
  --target wasm32-unknown-unknown | executable)

out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$native" "$@" >>"$out"
# shellcheck disable=SC2086
node benches/run_storage_wasm.mjs "$wasm" "$@" ${WASM_OPTS:-} >>"$out"

# Each table once: its header (first occurrence), then the rows of both builds in order.
awk '
  /^#/ { t = substr($1, 2); line = $0; sub(/^#[^ ]* /, "", line)
         if (!(t in cnt)) order[++n] = t
         if (++cnt[t] <= 2) hdr[t] = hdr[t] line "\n"
         next }
  /^@/ { t = substr($1, 2); line = $0; sub(/^@[^ ]* /, "", line); rows[t] = rows[t] line "\n"; next }
  /^!/ { notes = notes "- " substr($0, 3) "\n"; next }
  NF { notes = notes "- " $0 "\n" }
  END {
    for (i = 1; i <= n; i++) printf "\n%s%s", hdr[order[i]], rows[order[i]]
    if (notes != "") printf "\nNotes:\n%s", notes
  }' "$out"
