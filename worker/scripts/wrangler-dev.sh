#!/usr/bin/env bash
# Starts and stops `wrangler dev` for tests and benchmarks (toolchain notes §6): a process group
# of its own (setsid), readiness by polling the port, stop = signal the whole group.
#
#   source worker/scripts/wrangler-dev.sh
#   larch_dev_start PORT STATE_DIR LOG [WRANGLER_ARGS...]   # returns once the port answers (fails after 60 s)
#   larch_dev_stop                         # idempotent; also registered by the caller's trap
#
# No account, no network: CLOUDFLARE_API_TOKEN is unset and metrics are off.

larch_dev_pgid=""

larch_dev_start() {
  local port=$1 state=$2 log=$3 dir
  shift 3
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  mkdir -p "$state" "$(dirname "$log")"
  (
    cd "$dir" || exit 1
    unset CLOUDFLARE_API_TOKEN CLOUDFLARE_ACCOUNT_ID
    export WRANGLER_SEND_METRICS=false CI=true NO_COLOR=1
    exec setsid node node_modules/wrangler/bin/wrangler.js dev --ip 127.0.0.1 --port "$port" \
      --inspector-port 0 --persist-to "$state" --show-interactive-dev-session=false "$@" \
      >"$log" 2>&1 </dev/null
  ) &
  larch_dev_pgid=$! # setsid + exec: the subshell's pid becomes the new group's id
  local deadline=$((SECONDS + 60))
  until curl -s -o /dev/null "http://127.0.0.1:$port/"; do
    if ! kill -0 "$larch_dev_pgid" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
      echo "wrangler dev did not become ready on port $port; log:" >&2
      tail -n 40 "$log" >&2
      larch_dev_stop
      return 1
    fi
    sleep 0.1 # polling interval, not synchronisation: readiness is the port answering
  done
}

larch_dev_stop() {
  [ -n "$larch_dev_pgid" ] || return 0
  kill -INT -- "-$larch_dev_pgid" 2>/dev/null || true
  local i
  for i in $(seq 1 50); do
    kill -0 -- "-$larch_dev_pgid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$larch_dev_pgid" 2>/dev/null || true
  larch_dev_pgid=""
}
