#!/usr/bin/env bash
# Exact top-10 cosine scan (benches/exact_scan.rs), natively and as wasm32+simd128 under Node.
# Prints one markdown table: median and min ms per query over 31 queries, GB/s of vectors read.
#
#   scripts/bench-exact.sh [REPEATS]    # run both sides REPEATS times (default 1), one row each
#
# Needs cargo, the wasm32-unknown-unknown target and node. The wasm build takes its flags
# (+simd128) from .cargo/config.toml; the .wasm is instantiated directly by benches/run_wasm.mjs.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats="${1:-1}"

# Path of the bench executable from cargo's JSON messages.
executable() {
  node -e '
    let s = "";
    process.stdin.on("data", (d) => (s += d)).on("end", () => {
      for (const line of s.split("\n")) {
        if (!line.startsWith("{")) continue;
        const m = JSON.parse(line);
        if (m.reason === "compiler-artifact" && m.target.name === "exact_scan" && m.executable)
          console.log(m.executable);
      }
    });'
}

native=$(cargo bench --bench exact_scan --no-run --message-format=json-render-diagnostics | executable)
wasm=$(cargo bench --bench exact_scan --no-run --message-format=json-render-diagnostics \
  --target wasm32-unknown-unknown | executable)

echo
echo "| build | vectors × dim | median ms/query | min ms | GB/s (at median) | target ms | runs | top-10 checksum |"
echo "|---|---|---|---|---|---|---|---|"
for _ in $(seq "$repeats"); do
  "$native"
  node benches/run_wasm.mjs "$wasm"
done
