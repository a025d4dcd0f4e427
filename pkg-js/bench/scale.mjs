// The scale benchmark in Node (numbers go to BENCHMARKS.md; not a test):
//
//   node pkg-js/bench/scale.mjs build  N DIM DIR [int8=0|1] [batch=500]   build DIR, report
//   node pkg-js/bench/scale.mjs reload N DIM DIR [int8=0|1]               fresh process: reopen, first answer
//
// `build` upserts N × DIM records into one namespace of a { directory } store (batches of
// `batch`; 2 MB per upsert caps it near 700 at 384 dimensions with 3-decimal JSON), flushes
// background indexing and prints one JSON line: ingest rate, indexing time, wasm memory,
// residentBytes and the f32 bytes. `reload` (run it in a new process, so the wasm memory is
// the reload's own) opens the directory, times the first query and prints the same figures.
import { ask, askFiltered, build, residentBytes } from "./scale_core.mjs";

const [mode, nArg, dimArg, dir, ...rest] = process.argv.slice(2);
const opt = Object.fromEntries(rest.map((a) => a.split("=")));
const n = Number(nArg);
const dim = Number(dimArg);
const int8 = opt.int8 !== "0";
const batch = Number(opt.batch ?? 500);
if (!["build", "reload"].includes(mode) || !n || !dim || !dir) {
  console.error("usage: node pkg-js/bench/scale.mjs build|reload N DIM DIR [int8=0|1] [batch=500]");
  process.exit(2);
}
const t0 = performance.now();
const { Larch } = await import("../dist/node.js");
const wasmUrl = new URL("../dist/wasm/larch_js.js", import.meta.url).href;
const { wasmBytes } = await import("./scale_core.mjs");
const importMs = performance.now() - t0;
const pc = new Larch({ storage: { directory: dir }, int8 });
const f32 = n * dim * 4;
const mb = (b) => Math.round(b / 1e5) / 10;
const report = async (extra) => {
  const wasm = await wasmBytes(wasmUrl);
  const resident = residentBytes(pc);
  console.log(
    JSON.stringify({
      mode,
      n,
      dim,
      int8,
      ...extra,
      wasmMB: mb(wasm),
      residentMB: mb(resident),
      f32MB: mb(f32),
      wasmOverF32: Math.round((wasm / f32) * 1000) / 1000,
      residentOverF32: Math.round((resident / f32) * 1000) / 1000,
      rssMB: mb(process.memoryUsage().rss),
    }),
  );
};
if (mode === "build") {
  const r = await build(pc, {
    n,
    dim,
    batch,
    progress: (done, ms) => console.error(`  ${done} records, ${Math.round(done / (ms / 1000))} rec/s`),
  });
  const top = await ask(pc, { n, dim });
  await report({
    ingestRate: Math.round(r.rate),
    ingestS: Math.round(r.ingestMs / 100) / 10,
    indexS: Math.round(r.indexMs / 100) / 10,
    top: top[0],
  });
} else {
  const t = performance.now();
  const top = await ask(pc, { n, dim });
  const firstMs = performance.now() - t;
  const t2 = performance.now();
  await ask(pc, { n, dim });
  const againMs = performance.now() - t2;
  const t3 = performance.now();
  await askFiltered(pc, { n, dim });
  const filteredMs = performance.now() - t3;
  await report({
    importMs: Math.round(importMs),
    firstAnswerMs: Math.round(firstMs),
    againMs: Math.round(againMs * 10) / 10,
    firstFilteredMs: Math.round(filteredMs * 10) / 10,
    top: top[0],
  });
}
await pc.close?.();
