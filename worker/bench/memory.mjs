// Where a Worker namespace object's wasm memory goes while it bulk-loads (numbers for
// BENCHMARKS.md, not a test). A Node run of the engine with the Worker's options
// (worker/src/namespace.ts) over an in-memory blob map, driven like the namespace object drives
// it: each upsert runs through `runRequest` and commits, then one default indexing step (the
// alarm), and every 8 requests one inline step of 64 nodes. Each time the wasm memory grows
// it prints what ran and `Engine.memoryReport()` before and after, then the peak and the final
// report. Much faster than `scripts/bench-worker.sh --scale` (no workerd, no HTTP, no SQLite),
// and the same wasm; it does not see the isolate's JS heap.
//
//   node worker/bench/memory.mjs DATA N [budgetMiB=80] [sealRecords=10000] [mergeMiB=16] [rowCacheMiB=4]
//
// DATA: ../shared/bench's wordnet-minilm384 (base.fvecs + base_meta.jsonl). Build pkg-js first
// (`bash pkg-js/build.sh`).
import { readFileSync } from "node:fs";

const dist = new URL("../../pkg-js/dist/", import.meta.url);
const { Engine } = await import(new URL("node.js", dist).href);
const { runRequest } = await import(new URL("host.js", dist).href);
const { initSync } = await import(new URL("wasm/larch_js.js", dist).href);
const wasm = initSync({ module: readFileSync(new URL("wasm/larch_js_bg.wasm", dist)) });

const [dir, nArg, budgetArg, sealArg, mergeArg, cacheArg] = process.argv.slice(2);
if (!dir || !nArg) {
  console.error("usage: node worker/bench/memory.mjs DATA N [budgetMiB] [sealRecords] [mergeMiB] [rowCacheMiB]");
  process.exit(2);
}
const N = Number(nArg);
const MIB = 1 << 20;
const engine = new Engine({
  persistent: true,
  maxNamespaceBytes: Number(budgetArg ?? 80) * MIB,
  rowCacheBytes: Number(cacheArg ?? 4) * MIB,
  mergeBytes: Number(mergeArg ?? 16) * MIB,
  sealRecords: Number(sealArg ?? 10000),
});
const wasmMiB = () => wasm.memory.buffer.byteLength / MIB;
const store = new Map();
const get = (keys) => keys.map((k) => store.get(k));
const mib = (b) => (b / MIB).toFixed(1);
const written = (batches) => batches.reduce((s, b) => s + b.puts.reduce((t, [, v]) => t + v.length, 0), 0);
function apply(batches) {
  for (const b of batches) {
    for (const [k, v] of b.puts) store.set(k, v);
    for (const k of b.deletes) store.delete(k);
    for (const p of b.deletePrefixes) for (const k of [...store.keys()]) if (k.startsWith(p)) store.delete(k);
  }
}
const parts = (o) =>
  Object.entries(o)
    .filter(([, v]) => v >= MIB)
    .map(([k, v]) => `${k}=${mib(v)}`)
    .join(" ");
let high = 0;
function watch(what, before, writes) {
  const now = wasmMiB();
  if (now > high + 1) console.log(`grow ${high.toFixed(0)} → ${now.toFixed(0)} MiB during ${what} (writes ${mib(written(writes))} MiB); before: ${parts(before)} | after: ${parts(engine.memoryReport())}`);
  high = Math.max(high, now);
}
const enc = new TextEncoder();
async function call(method, path, body) {
  const before = engine.memoryReport();
  const r = await runRequest(engine, { method, path, query: "", body: enc.encode(JSON.stringify(body)), apiVersion: "2025-10" }, get);
  const writes = engine.takeWrites();
  watch(path, before, writes);
  apply(writes);
  return r;
}
function step(budget) {
  const needs = engine.indexNeeds();
  if (needs.length) {
    const blobs = get(needs);
    needs.forEach((k, i) => engine.provide(k, blobs[i]));
  }
  const before = engine.memoryReport();
  const more = engine.indexStep(budget);
  const writes = engine.takeWrites();
  watch(`indexStep(${budget ?? ""})`, before, writes);
  apply(writes);
  const after = engine.indexNeeds();
  return more || (after.length > 0 && after.join() !== needs.join());
}

const buf = readFileSync(`${dir}/base.fvecs`);
const dim = buf.readInt32LE(0);
const stride = 4 + 4 * dim;
const meta = readFileSync(`${dir}/base_meta.jsonl`, "utf8").split("\n");
await call("POST", "/indexes", { name: "scale", dimension: dim, metric: "cosine", spec: { serverless: { cloud: "aws", region: "us-east-1" } } });
let since = 0;
let refused = 0;
let peakResident = 0;
const t0 = performance.now();
for (let i = 0; i < N; ) {
  const vectors = [];
  for (let j = i; j < Math.min(i + 400, N); j++) {
    const values = [];
    for (let d = 0; d < dim; d++) values.push(Math.round(buf.readFloatLE(j * stride + 4 + 4 * d) * 1e6) / 1e6);
    const m = JSON.parse(meta[j]);
    vectors.push({ id: `v${j}`, values, metadata: { category: m.category, year: m.year } });
  }
  const r = await call("POST", "/index/scale/vectors/upsert", { namespace: "big", vectors });
  if (r.status === 403) {
    // Over the budget: let indexing catch up (the bench client waits and retries).
    refused++;
    for (let k = 0; k < 50 && step(); k++);
    if (refused > 400) throw new Error(`refused 400 times at ${i}: ${JSON.stringify(engine.memoryReport())}`);
    continue;
  }
  if (r.status !== 200) throw new Error(`upsert at ${i}: ${r.status} ${new TextDecoder().decode(r.body)}`);
  i += vectors.length;
  if (engine.indexingPending() && ++since >= 8) {
    since = 0;
    step(64);
  }
  if (engine.indexingPending()) step();
  peakResident = Math.max(peakResident, engine.residentBytes());
}
const loadS = (performance.now() - t0) / 1000;
for (let k = 0; k < 1e6 && step(); k++);
console.log(
  JSON.stringify({
    n: N,
    loadSeconds: Math.round(loadS),
    refused,
    wasmPeakMiB: wasmMiB(),
    residentPeakMiB: +mib(peakResident),
    residentMiB: +mib(engine.residentBytes()),
    report: Object.fromEntries(Object.entries(engine.memoryReport()).map(([k, v]) => [k, +mib(v)])),
  }),
);
