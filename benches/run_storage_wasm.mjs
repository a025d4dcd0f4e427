// Runs the wasm32 build of benches/storage.rs under Node and prints its output lines
// (`#T` table headers, `@T` table rows, `!` notes; scripts/bench-storage.sh merges them).
//
//   node benches/run_storage_wasm.mjs path/to/storage-<hash>.wasm [parts=123]
//        [namespaces=100000] [offboard=1000000] [runs=5]
//
// Same pattern as run_wasm.mjs (no wasm-bindgen): the module imports `env.now`
// (`performance.now()`) and `env.print` (one line of UTF-8) and exports `memory` and
// `run_bench(parts, namespaces, offboard, runs)`.
import { readFile } from "node:fs/promises";

const [path, ...args] = process.argv.slice(2);
if (!path) {
  console.error("usage: node benches/run_storage_wasm.mjs <storage.wasm> [key=value ...]");
  process.exit(2);
}
const opts = { parts: 123, namespaces: 100000, offboard: 1000000, runs: 5 };
for (const a of args) {
  const [k, v] = a.split("=");
  if (!(k in opts) || !/^\d+$/.test(v ?? "")) {
    console.error(`bad option ${a} (parts, namespaces, offboard, runs)`);
    process.exit(2);
  }
  opts[k] = Number(v);
}
const module = await WebAssembly.compile(await readFile(path));
let instance;
const decoder = new TextDecoder();
const env = {
  now: () => performance.now(),
  print: (ptr, len) =>
    console.log(
      decoder
        .decode(new Uint8Array(instance.exports.memory.buffer, ptr, len))
        .replace("wasm32+simd128 (node)", `wasm32+simd128 (node ${process.version})`),
    ),
};
const missing = WebAssembly.Module.imports(module).filter((i) => i.module !== "env" || !(i.name in env));
if (missing.length > 0) {
  console.error("unexpected imports:", missing);
  process.exit(1);
}
instance = await WebAssembly.instantiate(module, { env });
instance.exports.run_bench(opts.parts, opts.namespaces, opts.offboard, opts.runs);
