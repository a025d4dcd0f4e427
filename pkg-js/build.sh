#!/usr/bin/env bash
# Builds the npm package into pkg-js/dist/ (see HACKING.md):
#   1. cargo build --profile wasm-release --target wasm32-unknown-unknown -p larch-js, twice:
#      with the engine's default features (the full module) and with --no-default-features
#      (the search module: no integrated embedding, no readers of format versions 1-3; the
#      browser loads it first and the full one only when a request needs it, js/modules.ts)
#      (+simd128 from .cargo/config.toml; the profile in the root Cargo.toml: opt-level z, LTO)
#   2. wasm-bindgen --target web            → js/wasm/larch_js{,_bg.wasm}, larch_search{,_bg.wasm}
#   3. wasm-opt -Oz --converge (npm binaryen 132; Debian's 108 breaks wasm-bindgen output)
#   4. tsc                                  → dist/*.js + .d.ts; js/wasm/ copied to dist/wasm/
#   5. esbuild --minify of every dist/ .js, module by module (exports and imports unchanged;
#      the readable sources are js/*.ts and the .d.ts next to each module)
#   6. size report: gzipped (and brotli) wasm + JS a browser loads (the search module's; the full
#      module is reported apart)
#   The embedding model's module (pkg-js/embed, crate larch-embed, profile wasm-embed) is built
#   beside it into js/embed/ → dist/embed/ (in the background, in its own target directory
#   target/embed-wasm): a separate wasm loaded only by indexes with a model, so it is reported on
#   its own, outside the search payload.
#
#   pkg-js/build.sh [--skip-cargo]    (--skip-cargo: reuse the last cargo build)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

skip_cargo=0
for arg in "$@"; do
  case "$arg" in
    --skip-cargo) skip_cargo=1 ;;
    *) echo "build.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done

[ -x node_modules/.bin/wasm-opt ] && [ -x node_modules/.bin/tsc ] && [ -x node_modules/.bin/esbuild ] ||
  { echo "build.sh: run 'npm install' in pkg-js/ first (scripts/setup.sh does)" >&2; exit 1; }

target_dir=$(cd .. && cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')
out_dir="$target_dir/wasm32-unknown-unknown/wasm-release"
# The embedding module builds in its own target directory, in the background, beside the two
# engine modules: cargo holds one lock per target directory, and its long single-threaded LTO
# pass would otherwise leave the second core idle (CI time, scripts/test.sh).
embed_target="$target_dir/embed-wasm"
embed_raw="$embed_target/wasm32-unknown-unknown/wasm-embed/larch_embed.wasm"
opt_flags=(--enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext
  --enable-mutable-globals --enable-reference-types --enable-multivalue --strip-debug --strip-producers)

build_embed() {
  if [ "$skip_cargo" -eq 0 ]; then
    (cd .. && CARGO_TARGET_DIR="$embed_target" cargo build --profile wasm-embed \
      --target wasm32-unknown-unknown -p larch-embed --lib)
  fi
  rm -rf js/embed && mkdir -p js/embed
  wasm-bindgen --target web --out-dir js/embed --out-name larch_embed "$embed_raw"
  node_modules/.bin/wasm-opt -O3 "${opt_flags[@]}" js/embed/larch_embed_bg.wasm -o js/embed/larch_embed_bg.opt.wasm
  mv js/embed/larch_embed_bg.opt.wasm js/embed/larch_embed_bg.wasm
}
embed_log=$(mktemp)
build_embed >"$embed_log" 2>&1 &
embed_pid=$!

if [ "$skip_cargo" -eq 0 ]; then
  # Both builds write larch_js.wasm: keep each under its own name.
  (cd .. && cargo build --profile wasm-release --target wasm32-unknown-unknown -p larch-js)
  cp "$out_dir/larch_js.wasm" "$out_dir/larch_js.full.wasm"
  (cd .. && cargo build --profile wasm-release --target wasm32-unknown-unknown -p larch-js --no-default-features)
  cp "$out_dir/larch_js.wasm" "$out_dir/larch_search.wasm"
fi

# module NAME INPUT: wasm-bindgen, then wasm-opt -Oz (the two modules run side by side).
module() {
  local name=$1 input=$2
  wasm-bindgen --target web --out-dir js/wasm --out-name "$name" "$input"
  # wasm-bindgen declares `[Symbol.dispose]()` on every class, which only compiles with lib
  # esnext.disposable: drop it from the .d.ts so a project on lib ES2022 type-checks the package
  # without skipLibCheck (test/types.test.mjs). The method itself stays in the JS.
  sed -i '/\[Symbol\.dispose\]()/d' "js/wasm/$name.d.ts"
  node_modules/.bin/wasm-opt --low-memory-unused -Oz --converge "${opt_flags[@]}" \
    "js/wasm/${name}_bg.wasm" -o "js/wasm/${name}_bg.opt.wasm"
  mv "js/wasm/${name}_bg.opt.wasm" "js/wasm/${name}_bg.wasm"
}
rm -rf js/wasm && mkdir -p js/wasm
module larch_js "$out_dir/larch_js.full.wasm" &
full_pid=$!
module larch_search "$out_dir/larch_search.wasm"
wait "$full_pid" || { echo "build.sh: the full module failed" >&2; exit 1; }
if ! wait "$embed_pid"; then
  cat "$embed_log" >&2
  echo "build.sh: the embedding module failed" >&2
  exit 1
fi
cat "$embed_log"
rm -f "$embed_log"

rm -rf dist
node_modules/.bin/tsc -p tsconfig.json
mkdir -p dist/wasm
cp js/wasm/larch_js.js js/wasm/larch_js.d.ts js/wasm/larch_js_bg.wasm js/wasm/larch_js_bg.wasm.d.ts dist/wasm/
cp js/wasm/larch_search.js js/wasm/larch_search.d.ts js/wasm/larch_search_bg.wasm js/wasm/larch_search_bg.wasm.d.ts dist/wasm/
mkdir -p dist/embed
cp js/embed/larch_embed.js js/embed/larch_embed.d.ts js/embed/larch_embed_bg.wasm dist/embed/
for f in dist/*.js dist/wasm/*.js dist/embed/*.js; do
  node_modules/.bin/esbuild "$f" --minify --format=esm --log-level=warning --outfile="$f.min"
  mv "$f.min" "$f"
done

# What a browser loads: the search module's wasm and glue, and the facade modules browser.js
# imports (not the full module, fetched only by a request that needs it).
gz() { gzip -9 -c "$1" | wc -c; }
br() { node -e 'const z = require("zlib"); const q = { [z.constants.BROTLI_PARAM_QUALITY]: 11 };
  process.stdout.write(String(z.brotliCompressSync(require("fs").readFileSync(process.argv[1]), { params: q }).length))' "$1"; }
total_raw=0 total_gz=0 total_br=0
report=()
for f in dist/wasm/larch_search_bg.wasm dist/wasm/larch_search.js $(ls dist/*.js | grep -v -E '/(node|workerd|directory_store|worker|engine_worker|node_embedder)\.js$'); do
  r=$(wc -c <"$f") g=$(gz "$f") b=$(br "$f")
  total_raw=$((total_raw + r)) total_gz=$((total_gz + g)) total_br=$((total_br + b))
  report+=("$(printf '%-32s %9d B  %8d B gzip  %8d B brotli' "${f#dist/}" "$r" "$g" "$b")")
done
echo "build.sh: browser payload"
printf '  %s\n' "${report[@]}"
printf '  %-32s %9d B  %8d B gzip  %8d B brotli (%d KB gzip; target <= 250 KB)\n' total "$total_raw" "$total_gz" "$total_br" $((total_gz / 1024))
echo "$total_gz" >dist/.gzip-size
for f in dist/wasm/larch_js_bg.wasm dist/wasm/larch_js.js; do
  printf '  %-32s %9d B  %8d B gzip  %8d B brotli (the full module: loaded on demand)\n' \
    "${f#dist/}" "$(wc -c <"$f")" "$(gz "$f")" "$(br "$f")"
done
printf '  %-32s %9d B  %8d B gzip (loaded only by indexes with a model; weights apart)\n' \
  "embed/larch_embed_bg.wasm" "$(wc -c <dist/embed/larch_embed_bg.wasm)" "$(gz dist/embed/larch_embed_bg.wasm)"
if [ "$total_gz" -gt $((250 * 1024)) ]; then
  echo "build.sh: WARNING: the browser payload is over the 250 KB gzip target (issue 17)"
fi
