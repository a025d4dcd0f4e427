#!/usr/bin/env bash
# Runs every gate, in order, stopping at the first failure. This is what CI runs (.ci/run).
#
#   scripts/test.sh             every stage
#   scripts/test.sh fmt clippy-native ...   only the named stages (setup always runs)
#
# Installs what is missing first (scripts/setup.sh), then one stage per gate, each with a header
# and its elapsed seconds. Ends with a plain `N passed, N failed` line summed over every libtest
# "test result:" line (native and wasm). The full output is also in target/test-logs/test.log.
#
# Adding a gate is one line at the bottom: `stage "name" command args...`
# (the command may be a shell function; it runs under `set -euo pipefail`).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

only=("$@")
# One log per run (runs in the same tree at once must not sum each other's results);
# target/test-logs/test.log points at the newest, the 10 newest are kept.
log_dir=target/test-logs
mkdir -p "$log_dir"
log=$(mktemp "$log_dir/test.$(date +%Y%m%d-%H%M%S).XXXX.log")
ln -sfn "$(basename "$log")" "$log_dir/test.log"
ls -1t "$log_dir"/test.*.log 2>/dev/null | tail -n +11 | xargs -r rm -f --

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
run_start=$(now)
timings=()
known=()

summary() {
  # Sum "test result: ok. 12 passed; 0 failed; ..." (and "FAILED." ones) over the whole log.
  awk '
    /^test result: / {
      for (i = 1; i <= NF; i++) {
        if ($(i + 1) ~ /^passed;?$/) passed += $i
        if ($(i + 1) ~ /^failed;?$/) failed += $i
      }
    }
    END { printf "%d passed, %d failed\n", passed, failed }
  ' "$log"
}

finish() {
  local rc=$1 failed_stage=${2:-} name
  if [ "$rc" -eq 0 ]; then
    for name in "${only[@]}"; do
      [[ " ${known[*]} " == *" $name "* ]] || { echo "unknown stage '$name' (stages: ${known[*]})" >&2; rc=2; }
    done
  fi
  echo
  echo "==> stage timings"
  printf '    %s\n' "${timings[@]}"
  echo "    total: $(since "$run_start") s"
  if [ -n "$failed_stage" ]; then
    echo "==> FAILED at stage: $failed_stage (full log: $log)"
  fi
  summary
  exit "$rc"
}

# stage NAME COMMAND [ARGS...]: run one gate with a header; stop everything if it fails.
stage() {
  local name=$1 start rc
  shift
  known+=("$name")
  if [ ${#only[@]} -gt 0 ] && [ "$name" != setup ] && [[ " ${only[*]} " != *" $name "* ]]; then
    return 0
  fi
  start=$(now)
  printf '\n==> [%s] %s\n' "$name" "$*" | tee -a "$log"
  set +e
  (set -euo pipefail && "$@") 2>&1 | tee -a "$log"
  rc=${PIPESTATUS[0]}
  set -e
  timings+=("$(printf '%-24s %6s s  %s' "$name" "$(since "$start")" "$([ "$rc" -eq 0 ] && echo ok || echo "FAILED (exit $rc)")")")
  echo "==> [$name] $([ "$rc" -eq 0 ] && echo ok || echo "FAILED (exit $rc)") in $(since "$start") s" | tee -a "$log"
  [ "$rc" -eq 0 ] || finish "$rc" "$name"
}

# The engine crate must stay host-agnostic: no JS bindings or async runtime among its normal
# (non-dev, non-build) dependencies, for the native host and for wasm32 (ARCHITECTURE.md, inv. 1).
engine_deps_clean() {
  local forbidden='^(wasm-bindgen|wasm-bindgen-futures|js-sys|web-sys|gloo(-.*)?|tokio|async-std|smol|async-executor|futures-executor|actix-rt)$'
  local host bad=0 target deps hits
  host=$(rustc -vV | sed -n 's/^host: //p')
  for target in "$host" wasm32-unknown-unknown; do
    deps=$(cargo tree -p larch -e normal --all-features --target "$target" --prefix none --format '{p}') ||
      return 1
    hits=$(awk '{ print $1 }' <<<"$deps" | sort -u | grep -E "$forbidden" || true)
    if [ -n "$hits" ]; then
      echo "ERROR: the engine crate 'larch' depends on $(echo $hits) for $target."
      echo "       Bindings and async code belong in pkg-js/ or worker/, not in src/."
      echo "       Inspect with: cargo tree -p larch -e normal --target $target -i <crate>"
      bad=1
    else
      echo "larch ($target): no wasm-bindgen/js-sys/web-sys/async runtime in normal dependencies"
    fi
  done
  return "$bad"
}

# pkg-js (the npm package): node's test runner prints TAP; repeat its counts as a libtest-style
# "test result:" line so the closing summary counts the JS tests too.
node_tests() {
  local out rc
  out=$(mktemp)
  set +e
  node --test --test-reporter=tap "$@" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  set -e
  awk '/^# pass / { p = $3 } /^# fail / { f = $3 }
    END { printf "test result: %s. %d passed; %d failed; (node --test)\n", (f ? "FAILED" : "ok"), p, f }' "$out"
  rm -f "$out"
  return "$rc"
}

# wasm-pack must pick npm binaryen's wasm-opt, not Debian's 108 (it breaks wasm-bindgen output).
pkg_js_wasm_pack() {
  PATH="$PWD/pkg-js/node_modules/.bin:$PATH" wasm-pack test --headless --chrome --release pkg-js
}

# Browser wasm tests (run_in_browser & co.) need Debian's chromium: install it whenever they exist.
setup_args=()
if grep -rqsE --include='*.rs' --exclude-dir=target --exclude-dir=node_modules \
  'run_in_(browser|dedicated_worker|shared_worker|service_worker)' .; then
  setup_args+=(--browser)
fi

stage setup bash scripts/setup.sh "${setup_args[@]}"
stage fmt cargo fmt --all --check -- --color=never
stage clippy-native cargo clippy --workspace --all-targets -- -D warnings
# The server (server/, a native host: tokio, sockets, files) is not built for wasm32.
# Also the npm package's search module: larch-js without the engine's default features.
clippy_wasm32() {
  cargo clippy --workspace --exclude larch-server --lib --tests --target wasm32-unknown-unknown -- -D warnings &&
    cargo clippy -p larch-js --lib --target wasm32-unknown-unknown --no-default-features -- -D warnings
}
stage clippy-wasm32 clippy_wasm32
# JS/TS lint and format (Biome, installed by setup.sh into .tools/; biome.json at the root lists
# the files). `.tools/biome/node_modules/.bin/biome check --write` applies its formatting and
# safe fixes.
stage js-lint .tools/biome/node_modules/.bin/biome ci --colors=off
stage engine-deps engine_deps_clean
# Native tests in the debug profile: measured on 2 cores (Nov 2026), a cold debug build + run took
# ~62 s CPU + 10 s, a cold --release one ~138 s CPU + 0.7 s. Switch to --release once the debug
# run of the tests (mostly proptests) costs more than ~1 min over the release run.
stage test-native cargo test --workspace
stage test-wasm32-node cargo test -p larch --target wasm32-unknown-unknown --release
stage pkg-js-build bash pkg-js/build.sh
stage pkg-js-wasm-node cargo test -p larch-js --target wasm32-unknown-unknown --release --test engine
stage pkg-js-wasm-chromium cargo test -p larch-js --target wasm32-unknown-unknown --release --test idb_store
stage pkg-js-wasm-pack pkg_js_wasm_pack
stage pkg-js-facade node_tests pkg-js/test/facade.test.mjs pkg-js/test/directory.test.mjs pkg-js/test/types.test.mjs pkg-js/test/embed.test.mjs pkg-js/test/modules.test.mjs
stage pkg-js-browser node_tests pkg-js/test/browser.test.mjs pkg-js/test/worker.test.mjs
stage pkg-js-smoke node_tests pkg-js/test/smoke.test.mjs
# worker/ (the Cloudflare Worker): types, the deployable bundle (size against Cloudflare's limits),
# and end-to-end tests under local `wrangler dev` driven by the official Python and TS SDKs.
stage worker-typecheck bash -c 'cd worker && node_modules/.bin/tsc --noEmit -p tsconfig.json'
stage worker-bundle bash worker/scripts/bundle.sh
stage worker-e2e bash worker/test/run.sh
# server/ (`larch serve`): REST and gRPC end to end with the official Python SDK, kill -9,
# concurrency, and a directory shared with pkg-js in Node.
stage server-e2e bash server/test/run.sh

finish 0
