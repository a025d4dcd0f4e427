#!/usr/bin/env bash
# Builds the deployable bundle without an account (`wrangler deploy --dry-run --outdir`) and
# checks its size against Cloudflare's Worker size limits: 3 MB (Free) / 10 MB (Paid) after
# gzip, 64 MB before. Fails above the Free plan's 3 MB.
#
#   worker/scripts/bundle.sh [OUTDIR]     (default: target/worker-bundle)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-../target/worker-bundle}
[ -f ../pkg-js/dist/wasm/larch_js_bg.wasm ] || bash ../pkg-js/build.sh
rm -rf "$out"
unset CLOUDFLARE_API_TOKEN CLOUDFLARE_ACCOUNT_ID
WRANGLER_SEND_METRICS=false CI=true NO_COLOR=1 node node_modules/wrangler/bin/wrangler.js deploy --dry-run --outdir "$out" 2>&1 |
  grep -E "Total Upload|dry-run|ERROR|✘" || true
raw=0 gz=0
for f in "$out"/*.js "$out"/*.wasm; do
  r=$(wc -c <"$f") g=$(gzip -9 -c "$f" | wc -c)
  raw=$((raw + r)) gz=$((gz + g))
  printf '  %-60s %9d B  %8d B gzip\n' "$(basename "$f")" "$r" "$g"
done
printf '  %-60s %9d B  %8d B gzip (limits: 3 MB Free / 10 MB Paid gzip, 64 MB raw)\n' total "$raw" "$gz"
[ "$gz" -le 3000000 ] || { echo "bundle.sh: ERROR: bundle is over the Free plan's 3 MB (gzip)" >&2; exit 1; }
