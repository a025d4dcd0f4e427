#!/usr/bin/env bash
# kill -9 test of the Worker (issue 10): ROUNDS times, start `wrangler dev` over one state
# directory, write through it (test/crash.mjs write), kill the whole runtime with SIGKILL at a
# random point, restart it over the same state, and check that every acknowledged write is there
# and that stats, namespace listings and describe agree with the records (test/crash.mjs check).
#
#   worker/test/crash.sh [ROUNDS]      (default 5; run by worker/test/run.sh)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/wrangler-dev.sh
rounds=${1:-5}
port=${LARCH_CRASH_PORT:-8797}
work=$(mktemp -d /tmp/larch-worker-crash.XXXXXX)
trap 'kill "${writer:-0}" 2>/dev/null; larch_dev_stop; rm -rf "$work"' EXIT
export LARCH_URL="http://127.0.0.1:$port" LARCH_API_KEY=larch-local-key
passed=0 failed=0
for round in $(seq 1 "$rounds"); do
  larch_dev_start "$port" "$work/state" "$work/dev.log" || { failed=$((failed + 1)); break; }
  node test/crash.mjs write "$round" "$work/acked.log" >"$work/writer.log" 2>&1 &
  writer=$!
  # The kill lands at a random point of the write stream: 0.5 to 3 s after the writer started.
  delay=$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.2f", 0.5 + rand() * 2.5 }')
  sleep "$delay" # not synchronisation: the point of the kill is meant to be arbitrary
  kill -KILL -- "-$larch_dev_pgid" 2>/dev/null
  larch_dev_pgid=""
  wait "$writer" 2>/dev/null
  larch_dev_start "$port" "$work/state" "$work/dev.log" || { failed=$((failed + 1)); break; }
  if node test/crash.mjs check "$work/acked.log"; then
    passed=$((passed + 1))
    echo "crash round $round (killed after ${delay}s): ok"
  else
    failed=$((failed + 1))
    echo "crash round $round (killed after ${delay}s): FAILED"
  fi
  larch_dev_stop
done
echo "crash rounds: $passed passed; $failed failed"
[ "$failed" -eq 0 ]
