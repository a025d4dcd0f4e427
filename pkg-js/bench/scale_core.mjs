// The scale workload, shared by the Node benchmark (bench/scale.mjs), the headless-Chromium
// benchmark page (bench/scale.html) and the browser reload test (test/browser.test.mjs): one
// namespace of `n` × `dim` deterministic pseudo-random vectors upserted through the facade in
// batches, background indexing flushed, then a reload (a new `Larch` over the same storage in
// Node; a page reload in the browser) and one query.
//
// Everything runs inside the runtime measured (no Node APIs here), so the same code runs in
// the page.

/** Vector `i` (xorshift, components in [-0.5, 0.5), rounded to 3 decimals to keep JSON small). */
export function vector(i, dim) {
  let x = (i + 1) * 2654435761;
  x = x >>> 0 || 1;
  const v = new Array(dim);
  for (let d = 0; d < dim; d++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    v[d] = Math.round((x / 4294967296 - 0.5) * 1000) / 1000;
  }
  return v;
}

/** The WebAssembly.Memory size in bytes (the wasm-bindgen module's exports, already loaded). */
export async function wasmBytes(wasmModuleUrl) {
  const m = await import(wasmModuleUrl);
  const exports = await m.default();
  return exports.memory.buffer.byteLength;
}

/** The engine's `residentBytes()` (the host's engine; loaded by the first request). */
export function residentBytes(pc) {
  return pc.host.engine?.residentBytes() ?? 0;
}

/**
 * Upserts `n` records in batches of `batch` and flushes indexing. Returns timings (ms) and the
 * ingest rate; `progress(done, ms)` is called after each 10% of the records.
 */
export async function build(pc, { n, dim, batch = 500, progress = () => {} }) {
  await pc.createIndex({
    name: "scale",
    dimension: dim,
    metric: "cosine",
    spec: { serverless: { cloud: "aws", region: "us-east-1" } },
    suppressConflicts: true,
  });
  const ns = pc.index("scale").namespace("big");
  const t0 = performance.now();
  let next = n / 10;
  for (let start = 0; start < n; start += batch) {
    const records = [];
    for (let i = start; i < Math.min(n, start + batch); i++) {
      records.push({ id: `r${i}`, values: vector(i, dim), metadata: { g: `g${i % 10}`, i } });
    }
    await ns.upsert({ records });
    if (start + batch >= next) {
      progress(start + batch, performance.now() - t0);
      next += n / 10;
    }
  }
  const ingestMs = performance.now() - t0;
  const t1 = performance.now();
  await pc.flushIndexing();
  const indexMs = performance.now() - t1;
  return { ingestMs, indexMs, rate: n / (ingestMs / 1000) };
}

/** The query every run asks: the stored vector of record 12345 % n, top 10, with metadata. */
export async function ask(pc, { n, dim }) {
  const i = 12345 % n;
  const r = await pc
    .index("scale")
    .namespace("big")
    .query({ vector: vector(i, dim), topK: 10, includeMetadata: true });
  return r.matches.map((m) => [m.id, m.score, m.metadata?.i]);
}

/** A filtered query (10% of the records pass). */
export async function askFiltered(pc, { n, dim }) {
  const i = 777 % n;
  const r = await pc
    .index("scale")
    .namespace("big")
    .query({ vector: vector(i, dim), topK: 10, filter: { g: "g7" } });
  return r.matches.map((m) => [m.id, m.score]);
}
