// Runs the wasm32 build of benches/exact_scan.rs under Node and prints markdown table rows.
//
//   node benches/run_wasm.mjs path/to/exact_scan-<hash>.wasm
//
// The module is instantiated directly (no wasm-bindgen): it imports `env.now` (the clock,
// `performance.now()`) and `env.report` (one call per case) and exports `run_bench`.
import { readFile } from "node:fs/promises";

const path = process.argv[2];
if (!path) {
  console.error("usage: node benches/run_wasm.mjs <exact_scan.wasm>");
  process.exit(2);
}
const module = await WebAssembly.compile(await readFile(path));
const label = `wasm32+simd128 (node ${process.version})`;
const env = {
  now: () => performance.now(),
  report: (n, dim, targetMs, runs, medianMs, minMs, checksum) => {
    const gbps = (n * dim * 4) / (medianMs * 1e6);
    const sum = (checksum >>> 0).toString(16).padStart(8, "0");
    console.log(
      `| ${label} | ${n} × ${dim} | ${medianMs.toFixed(3)} | ${minMs.toFixed(3)} | ` +
        `${gbps.toFixed(1)} | ≤ ${targetMs} | ${runs} | ${sum} |`,
    );
  },
};
const missing = WebAssembly.Module.imports(module).filter((i) => i.module !== "env" || !(i.name in env));
if (missing.length > 0) {
  console.error("unexpected imports:", missing);
  process.exit(1);
}
const instance = await WebAssembly.instantiate(module, { env });
instance.exports.run_bench();
