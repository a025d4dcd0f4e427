// Runs the wasm32 build of benches/ann.rs under Node on a dataset directory and prints its
// markdown rows.
//
//   node benches/run_ann_wasm.mjs path/to/ann-<hash>.wasm DATASET_DIR [key=value ...]
//
// Same pattern as run_wasm.mjs (no wasm-bindgen): the module imports `env.now`
// (`performance.now()`) and `env.print` (one line of UTF-8), and exports `memory`,
// `file_buffer(len) -> ptr` and `run()`. Each dataset file is handed over as two buffers, its
// name then its bytes; the options string comes last.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

const [wasmPath, dir, ...opts] = process.argv.slice(2);
if (!wasmPath || !dir) {
  console.error("usage: node benches/run_ann_wasm.mjs <ann.wasm> DATASET_DIR [key=value ...]");
  process.exit(2);
}
const module = await WebAssembly.compile(readFileSync(wasmPath));
let instance;
const decoder = new TextDecoder();
const env = {
  now: () => performance.now(),
  print: (ptr, len) => console.log(decoder.decode(new Uint8Array(instance.exports.memory.buffer, ptr, len))),
};
const missing = WebAssembly.Module.imports(module).filter((i) => i.module !== "env" || !(i.name in env));
if (missing.length > 0) {
  console.error("unexpected imports:", missing);
  process.exit(1);
}
instance = await WebAssembly.instantiate(module, { env });
const give = (bytes) => {
  const ptr = instance.exports.file_buffer(bytes.length);
  new Uint8Array(instance.exports.memory.buffer, ptr, bytes.length).set(bytes);
};
// The metadata (`*_meta.jsonl`) only for `path=namespace` with filters, where it is upserted.
const namespace = opts.includes("path=namespace") && !opts.includes("filters=0");
const wanted = namespace
  ? /^(base|query)(\.fvecs|_attrs\.ivecs|_tags\.ivecs|_meta\.jsonl)$|^gt_(cos|l2)(__\w+)?\.ivecs$|^info\.json$/
  : /^(base|query)(\.fvecs|_attrs\.ivecs|_tags\.ivecs)$|^gt_(cos|l2)(__\w+)?\.ivecs$|^info\.json$/;
for (const name of readdirSync(dir)
  .filter((f) => wanted.test(f))
  .sort()) {
  give(new TextEncoder().encode(name));
  give(readFileSync(path.join(dir, name)));
}
give(new TextEncoder().encode(`${opts.join(" ")} label=wasm32+simd128_(node_${process.version})`));
instance.exports.run();
