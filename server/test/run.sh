#!/usr/bin/env bash
# `larch serve` end-to-end tests. Builds the server (debug), starts it over a fresh directory
# (REST and gRPC on one port), then runs against it:
#   worker/test/test_python_sdk.py  the Worker's own REST suite (official Python SDK): the server
#                                   answers the same REST as the Worker, index hosts aside
#                                   (LARCH_INDEX_HOSTS=ports: each index on a port of its own)
#   server/test/test_grpc.py        the official Python SDK's gRPC client (PineconeGRPC): every
#                                   RPC, filters, bad input with Pinecone's status codes
# and then, each starting its own servers:
#   server/test/test_durability.py  kill -9 and SIGTERM during writes, the directory lock,
#                                   concurrent REST and gRPC clients
#   server/test/interop.test.mjs    one directory shared with pkg-js's Node directory store
# Each suite ends with a libtest-style `test result:` line (summed by scripts/test.sh) and a
# `NAME: N passed, N failed` line. The server is always stopped, even on failure.
#
#   server/test/run.sh     (needs server/.venv and pkg-js/dist: scripts/setup.sh, pkg-js/build.sh)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

cargo build -p larch-server || exit 1
[ -f pkg-js/dist/node.js ] || bash pkg-js/build.sh || exit 1
export LARCH_BIN="$PWD/target/debug/larch"
py=server/.venv/bin/python

work=$(mktemp -d /tmp/larch-serve-test.XXXXXX)
server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    server_pid=""
  fi
}
trap 'stop_server; rm -rf "$work"' EXIT

export LARCH_API_KEY=larch-local-key PINECONE_GRPC_SCHEME=http
"$LARCH_BIN" serve --data "$work/data" --port 0 --api-key "$LARCH_API_KEY" >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  grep -q ' on http://' "$work/serve.log" && break
  sleep 0.1
done
url=$(sed -n 's/.* on \(http:\/\/127\.0\.0\.1:[0-9]*\) .*/\1/p' "$work/serve.log" | head -1)
[ -n "$url" ] || { echo "larch serve did not start:"; cat "$work/serve.log"; exit 1; }
export LARCH_URL="$url"
echo "larch serve at $LARCH_URL"

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

# The proto contract test compares our proto with Pinecone's published file, which lives in the
# workplace's shared reference beside the repository (grpc.rs). Where that reference is present
# the comparison is required (it cannot pass for want of the file); a user's clone has no
# ../shared, and the test then says it did not compare.
if [ -f ../shared/reference/proto/db_data_2025-10.proto ] || [ -n "${LARCH_PINECONE_PROTO:-}" ]; then
  export LARCH_REQUIRE_PINECONE_PROTO=1
fi
cargo test -p larch-server -- the_proto_matches || total_failed=$((total_failed + 1))
LARCH_INDEX_HOSTS=ports suite server-rest-python-sdk pytest "$py" -m pytest -q -p no:cacheprovider worker/test/test_python_sdk.py
suite server-grpc-python-sdk pytest "$py" -m pytest -q -p no:cacheprovider server/test/test_grpc.py
stop_server
suite server-durability pytest "$py" -m pytest -q -p no:cacheprovider server/test/test_durability.py
suite server-interop node node --test --test-reporter=tap server/test/interop.test.mjs

if [ "$total_failed" -ne 0 ]; then
  echo "larch serve log (last 40 lines):"
  tail -n 40 "$work/serve.log"
  exit 1
fi
