#!/usr/bin/env bash
# Worker end-to-end tests: starts `wrangler dev` (local, fresh state, budget 4 MiB per namespace
# object so the limit test is quick), then runs, against it:
#   routes.test.mjs       raw HTTP: auth, routing, budget, catalog, concurrency   (node --test)
#   test_python_sdk.py    official Python SDK `pinecone` 10.x, multitenant scenario (pytest)
#   test_python_sdk_shards.py  the same SDK on an index of 3 shards vs an on-demand twin; pause
#   ts-sdk.test.mjs       official TS SDK @pinecone-database/pinecone 8.2          (node --test)
# then restarts wrangler over the same state (default budget from here on) and runs
# persist.test.mjs and scale.test.mjs (32k × 384 in one namespace object: paged rows), restarts
# again and runs scale.test.mjs's cold half, then crash.sh (kill -9 of
# the runtime at random points, five times, over one state: no acknowledged write lost, counts
# agree with the records). wrangler is always
# stopped (process group), even on failure. Each suite ends with a libtest-style
# `test result:` line (summed by scripts/test.sh) and a `NAME: N passed, N failed` line.
#
#   worker/test/run.sh            (needs pkg-js/dist and worker/.venv: scripts/setup.sh)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/wrangler-dev.sh

port=${LARCH_TEST_PORT:-8799}
work=$(mktemp -d /tmp/larch-worker-test.XXXXXX)
trap 'larch_dev_stop; rm -rf "$work"' EXIT
export LARCH_URL="http://127.0.0.1:$port" LARCH_API_KEY=larch-local-key LARCH_NAMESPACE_BUDGET_MIB=4
dev_args=(--var "LARCH_NAMESPACE_BUDGET_MIB:$LARCH_NAMESPACE_BUDGET_MIB")

total_failed=0
# suite NAME KIND CMD...: runs one suite, prints its counts (KIND: node | pytest).
suite() {
  local name=$1 kind=$2 out="$work/$1.out" rc passed failed
  shift 2
  echo "--- $name: $*"
  "$@" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  if [ "$kind" = node ]; then
    passed=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$out" | tail -1)
    failed=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$out" | tail -1)
  else
    passed=$(grep -oE '[0-9]+ passed' "$out" | tail -1 | grep -oE '[0-9]+' || true)
    failed=$(grep -oE '[0-9]+ (failed|error)' "$out" | tail -1 | grep -oE '[0-9]+' || true)
  fi
  passed=${passed:-0} failed=${failed:-0}
  if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi # crashed before counting
  total_failed=$((total_failed + failed))
  echo "test result: $([ "$failed" -eq 0 ] && echo ok || echo FAILED). $passed passed; $failed failed; 0 ignored; 0 measured; 0 filtered out"
  echo "$name: $passed passed, $failed failed"
}

larch_dev_start "$port" "$work/state" "$work/dev.log" "${dev_args[@]}" || exit 1
suite worker-routes node node --test --test-reporter=tap test/routes.test.mjs
suite worker-python-sdk pytest .venv/bin/python -m pytest -q -p no:cacheprovider test/test_python_sdk.py
suite worker-python-sdk-shards pytest .venv/bin/python -m pytest -q -p no:cacheprovider test/test_python_sdk_shards.py
suite worker-ts-sdk node node --test --test-reporter=tap test/ts-sdk.test.mjs
larch_dev_stop
# From here on the Worker's default namespace budget (scale.test.mjs needs it).
larch_dev_start "$port" "$work/state" "$work/dev2.log" || exit 1
suite worker-persist node node --test --test-reporter=tap test/persist.test.mjs
suite worker-scale node env LARCH_SCALE_PHASE=load node --test --test-reporter=tap test/scale.test.mjs
larch_dev_stop
larch_dev_start "$port" "$work/state" "$work/dev3.log" || exit 1
suite worker-scale-restart node env LARCH_SCALE_PHASE=restart node --test --test-reporter=tap test/scale.test.mjs
larch_dev_stop
suite worker-crash counts bash test/crash.sh 5

if [ "$total_failed" -ne 0 ]; then
  echo "wrangler log (last 60 lines):"
  tail -n 60 "$work/dev.log"
  exit 1
fi
