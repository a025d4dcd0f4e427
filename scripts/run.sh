#!/usr/bin/env bash
# The main job: installs what is missing (scripts/setup.sh), builds everything (the engine to
# wasm + the npm package: pkg-js/build.sh; the Worker is bundled by wrangler), then serves
# Pinecone's HTTP API with `wrangler dev` on http://127.0.0.1:8787 — local, no Cloudflare
# account, state persisted in worker/.wrangler/state. Point the official SDKs at it:
#
#   Python:  Pinecone(api_key="larch-local-key", host="http://127.0.0.1:8787")
#   TS:      new Pinecone({ apiKey: "larch-local-key", controllerHostUrl: "http://127.0.0.1:8787" })
#
# The API key is LARCH_API_KEY from worker/.dev.vars (default "larch-local-key").
# Extra arguments go to `wrangler dev` (e.g. --port 8788). Stop with Ctrl-C.
#
#   scripts/run.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

bash scripts/setup.sh
echo "run: bash pkg-js/build.sh"
bash pkg-js/build.sh
cd worker
unset CLOUDFLARE_API_TOKEN CLOUDFLARE_ACCOUNT_ID
export WRANGLER_SEND_METRICS=false
interactive=()
[ -t 0 ] && [ -t 1 ] || interactive=(--show-interactive-dev-session=false)
echo "run: wrangler dev on http://127.0.0.1:8787 (Api-Key: see worker/.dev.vars, default larch-local-key)"
exec node node_modules/wrangler/bin/wrangler.js dev --ip 127.0.0.1 --port 8787 \
  --persist-to .wrangler/state "${interactive[@]}" "$@"
