#!/usr/bin/env bash
# The main job: installs what is missing (scripts/setup.sh), then builds and runs the quickstart
# example (create an index, upsert into two namespaces, query each) in release mode.
# Extra arguments are passed to the example.
#
#   scripts/run.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

bash scripts/setup.sh
echo "run: cargo run --release --example quickstart"
exec cargo run --release --example quickstart -- "$@"
