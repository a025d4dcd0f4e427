// Upsert, indexing and query speed of one wasm build through the raw engine (numbers go to
// BENCHMARKS.md "npm package: payload"; not a test):
//
//   node pkg-js/bench/engine_speed.mjs [GLUE.js [WASM]] [n=10000] [dim=128] [queries=1000]
//
// GLUE.js is a wasm-bindgen `--target web` glue module (default: dist/wasm/larch_js.js, the full
// module; dist/wasm/larch_search.js is the search module), WASM its wasm (default: GLUE's
// `_bg.wasm` beside it). In-memory engine: creates a dense cosine index, upserts `n` seeded random
// records in JSON batches of 200, runs background indexing to the end (HNSW graphs, int8 codes),
// then `queries` top-10 queries. Prints one JSON line with the time of each phase.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const args = process.argv.slice(2);
const opt = Object.fromEntries(args.filter((a) => a.includes("=")).map((a) => a.split("=")));
const files = args.filter((a) => !a.includes("="));
const glue = files[0] ? resolve(files[0]) : new URL("../dist/wasm/larch_js.js", import.meta.url).pathname;
const wasm = files[1] ? resolve(files[1]) : glue.replace(/\.js$/, "_bg.wasm");
const n = Number(opt.n ?? 10000);
const dim = Number(opt.dim ?? 128);
const queries = Number(opt.queries ?? 1000);

const m = await import(pathToFileURL(glue).href);
m.initSync({ module: readFileSync(wasm) });
const engine = new m.Engine({ sealRecords: 2000 });
const enc = new TextEncoder();
const call = (method, path, body) => {
  const r = engine.handle(method, path, "", enc.encode(JSON.stringify(body)), "2025-04", undefined);
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${new TextDecoder().decode(r.body)}`);
  return r;
};

let seed = 42;
const rand = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648 - 0.5;
};
const vec = () => Array.from({ length: dim }, () => Math.round(rand() * 1000) / 1000);

call("POST", "/indexes", {
  name: "b",
  dimension: dim,
  metric: "cosine",
  spec: { serverless: { cloud: "aws", region: "us-east-1" } },
});
let t = performance.now();
for (let i = 0; i < n; i += 200) {
  const vectors = [];
  for (let j = i; j < Math.min(n, i + 200); j++) vectors.push({ id: `r${j}`, values: vec(), metadata: { g: j % 7 } });
  call("POST", "/index/b/vectors/upsert", { vectors });
}
const upsertMs = performance.now() - t;
t = performance.now();
while (engine.indexStep(64));
const indexMs = performance.now() - t;
const qs = Array.from({ length: queries }, vec);
t = performance.now();
for (const vector of qs) call("POST", "/index/b/query", { vector, topK: 10 });
const queryMs = performance.now() - t;
t = performance.now();
for (const vector of qs.slice(0, queries / 4))
  call("POST", "/index/b/query", { vector, topK: 10, filter: { g: { $eq: 3 } } });
const filteredMs = performance.now() - t;
const r = (x) => Math.round(x);
console.log(
  JSON.stringify({
    wasm: wasm.split("/").slice(-2).join("/"),
    n,
    dim,
    upsertPerSec: r((n / upsertMs) * 1000),
    indexMs: r(indexMs),
    qps: r((queries / queryMs) * 1000),
    filteredQps: r((queries / 4 / filteredMs) * 1000),
  }),
);
