// One large namespace in one namespace object (scripts/bench-worker.sh --scale; numbers for
// BENCHMARKS.md, not a timed test). Data: the first N base vectors of ../shared/bench's
// wordnet-minilm384 (real sentence embeddings, cosine) with their `category` and `year`
// metadata, and its first Q queries; the exact ground truth over those N vectors is computed
// here (brute force, f64), so recall@10 is against exact results. Phases (each prints one JSON
// object):
//   load  DATA N         create index "scale" (384, cosine), upsert N records into namespace
//                        "big" (batches of 400), then wait until background indexing is idle;
//                        wasm memory (the header `x-larch-wasm-memory-bytes`) sampled per request
//   warm  DATA N Q       warm queries (topK 10): p50 / p99, recall@10; filtered queries
//                        (category $eq); row groups touched per query; fetch of 100 ids
//   cold  DATA N         first query after a restart, then a second one
//
// Environment: LARCH_URL, LARCH_API_KEY.

import { readFileSync } from "node:fs";

const [phase, dir, nArg, qArg] = process.argv.slice(2);
const URL = process.env.LARCH_URL ?? "http://127.0.0.1:8798";
const KEY = process.env.LARCH_API_KEY ?? "larch-local-key";
const H = { "Api-Key": KEY, "Content-Type": "application/json" };
const N = Number(nArg ?? 100000);
const NS = "big";
const IX = "scale";

/** The first `limit` vectors of an .fvecs file. */
function fvecs(path, limit) {
  const buf = readFileSync(path);
  const dim = buf.readInt32LE(0);
  const stride = 4 + 4 * dim;
  const n = Math.min(limit, buf.length / stride);
  const out = [];
  for (let i = 0; i < n; i++) {
    const v = new Float32Array(dim);
    for (let j = 0; j < dim; j++) v[j] = buf.readFloatLE(i * stride + 4 + 4 * j);
    out.push(v);
  }
  return out;
}

function meta(path, limit) {
  const lines = readFileSync(path, "utf8").split("\n");
  const out = [];
  for (let i = 0; i < limit && i < lines.length; i++) {
    const m = JSON.parse(lines[i]);
    out.push({ category: m.category, year: m.year });
  }
  return out;
}

async function call(method, path, body) {
  const t = performance.now();
  const r = await fetch(`${URL}${path}`, { method, headers: H, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  const ms = performance.now() - t;
  return { status: r.status, ms, json: text ? JSON.parse(text) : {}, headers: r.headers, text };
}
const post = (path, body) => call("POST", path, body);

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const r2 = (x) => Math.round(x * 100) / 100;
const MiB = (h, name) => (h.get(name) === null ? null : r2(Number(h.get(name)) / 2 ** 20));
const arr = (v) => Array.from(v, (x) => Math.round(x * 1e6) / 1e6);

function cosineTop(base, q, k, accept) {
  const qn = Math.hypot(...q);
  const best = [];
  for (let i = 0; i < base.length; i++) {
    if (accept && !accept(i)) continue;
    const v = base[i];
    let dot = 0;
    let vn = 0;
    for (let j = 0; j < v.length; j++) {
      dot += v[j] * q[j];
      vn += v[j] * v[j];
    }
    const s = dot / (qn * Math.sqrt(vn));
    if (best.length < k || s > best[best.length - 1][1]) {
      best.push([i, s]);
      best.sort((a, b) => b[1] - a[1]);
      if (best.length > k) best.pop();
    }
  }
  return best.map(([i]) => i);
}

async function load() {
  const base = fvecs(`${dir}/base.fvecs`, N);
  const md = meta(`${dir}/base_meta.jsonl`, N);
  let r = await post("/indexes", { name: IX, dimension: base[0].length, metric: "cosine", spec: { serverless: { cloud: "aws", region: "us-east-1" } } });
  if (r.status !== 201) throw new Error(`create: ${r.status} ${r.text}`);
  const host = `/index/${IX}`;
  const t0 = performance.now();
  let peak = 0;
  let refused = 0;
  for (let i = 0; i < base.length; ) {
    const vectors = [];
    for (let j = i; j < Math.min(i + 400, base.length); j++) vectors.push({ id: `v${j}`, values: arr(base[j]), metadata: md[j] });
    r = await post(`${host}/vectors/upsert`, { namespace: NS, vectors });
    peak = Math.max(peak, MiB(r.headers, "x-larch-wasm-memory-bytes") ?? 0);
    if (r.status === 403) {
      // Over the namespace budget while sealed segments wait for their graphs and codes (then
      // they page out): let background indexing catch up, then retry the same batch.
      refused++;
      await new Promise((res) => setTimeout(res, 1000));
      continue;
    }
    if (r.status !== 200) throw new Error(`upsert at ${i}: ${r.status} ${r.text}`);
    i += vectors.length;
  }
  const loadS = (performance.now() - t0) / 1000;
  const settle = await settleIndexing(host);
  peak = Math.max(peak, settle.peak);
  console.log(JSON.stringify({ phase: "load", n: N, seconds: r2(loadS), recPerS: Math.round(N / loadS), refusedBatches: refused, settleSeconds: settle.seconds, wasmPeakMiB: peak, residentMiB: settle.residentMiB }));
}

/** Polls with a cheap query until the namespace object reports no pending indexing. */
async function settleIndexing(host) {
  const t0 = performance.now();
  let peak = 0;
  let r;
  const q = Array.from({ length: 384 }, (_, i) => (i === 0 ? 1 : 0));
  for (;;) {
    r = await post(`${host}/query`, { namespace: NS, vector: q, topK: 1 });
    peak = Math.max(peak, MiB(r.headers, "x-larch-wasm-memory-bytes") ?? 0);
    if (r.headers.get("x-larch-indexing") !== "pending") break;
    if (performance.now() - t0 > 1800e3) throw new Error("indexing did not settle in 30 min");
    await new Promise((res) => setTimeout(res, 2000));
  }
  return { seconds: r2((performance.now() - t0) / 1000), peak, residentMiB: MiB(r.headers, "x-larch-resident-bytes") };
}

async function warm() {
  const Q = Number(qArg ?? 200);
  const base = fvecs(`${dir}/base.fvecs`, N);
  const md = meta(`${dir}/base_meta.jsonl`, N);
  const queries = fvecs(`${dir}/query.fvecs`, Q);
  const host = `/index/${IX}`;
  const t0 = performance.now();
  const truth = queries.map((q) => cosineTop(base, q, 10));
  const cats = queries.map((_, i) => md[(i * 7919) % N].category);
  const ftruth = queries.map((q, i) => cosineTop(base, q, 10, (j) => md[j].category === cats[i]));
  const gtS = (performance.now() - t0) / 1000;
  for (let i = 0; i < 20; i++) await post(`${host}/query`, { namespace: NS, vector: arr(queries[i]), topK: 10 });
  const run = async (filtered) => {
    const ms = [];
    const touched = [];
    let hits = 0;
    let mem = 0;
    for (let i = 0; i < Q; i++) {
      const body = { namespace: NS, vector: arr(queries[i]), topK: 10 };
      if (filtered) body.filter = { category: { $eq: cats[i] } };
      const r = await post(`${host}/query`, body);
      if (r.status !== 200) throw new Error(`query: ${r.status} ${r.text}`);
      ms.push(r.ms);
      touched.push(Number(r.headers.get("x-larch-rows-touched") ?? 0));
      mem = Math.max(mem, MiB(r.headers, "x-larch-wasm-memory-bytes") ?? 0);
      const want = new Set((filtered ? ftruth : truth)[i].map((j) => `v${j}`));
      hits += r.json.matches.filter((m) => want.has(m.id)).length;
    }
    const tot = (filtered ? ftruth : truth).reduce((s, t) => s + t.length, 0);
    return { p50: r2(pct(ms, 50)), p99: r2(pct(ms, 99)), recall10: r2((hits / tot) * 1000) / 1000, rowGroupsTouchedMean: r2(touched.reduce((a, b) => a + b, 0) / Q), rowGroupsTouchedP99: pct(touched, 99), wasmMiB: mem };
  };
  const plain = await run(false);
  const filtered = await run(true);
  const fetchMs = [];
  let exact = true;
  for (let round = 0; round < 20; round++) {
    const ids = Array.from({ length: 100 }, (_, i) => (round * 4999 + i * 997) % N);
    const qs = ids.map((i) => `ids=v${i}`).join("&");
    const r = await call("GET", `${host}/vectors/fetch?namespace=${NS}&${qs}`);
    if (r.status !== 200) throw new Error(`fetch: ${r.status} ${r.text}`);
    fetchMs.push(r.ms);
    for (const i of ids) {
      const got = r.json.vectors[`v${i}`]?.values;
      const want = arr(base[i]);
      if (!got || got.length !== want.length || got.some((x, j) => Math.abs(x - want[j]) > 1e-6)) exact = false;
    }
  }
  const r = await post(`${host}/query`, { namespace: NS, vector: arr(queries[0]), topK: 1 });
  console.log(JSON.stringify({ phase: "warm", n: N, queries: Q, groundTruthSeconds: r2(gtS), query: plain, filtered, fetch100: { p50: r2(pct(fetchMs, 50)), p99: r2(pct(fetchMs, 99)), exact }, wasmMiB: MiB(r.headers, "x-larch-wasm-memory-bytes"), residentMiB: MiB(r.headers, "x-larch-resident-bytes") }));
}

async function cold() {
  const queries = fvecs(`${dir}/query.fvecs`, 2);
  const host = `/index/${IX}`;
  const a = await post(`${host}/query`, { namespace: NS, vector: arr(queries[0]), topK: 10 });
  const b = await post(`${host}/query`, { namespace: NS, vector: arr(queries[1]), topK: 10 });
  if (a.status !== 200 || b.status !== 200) throw new Error(`cold: ${a.status} ${a.text}`);
  console.log(JSON.stringify({ phase: "cold", firstMs: r2(a.ms), secondMs: r2(b.ms), wasmMiB: MiB(b.headers, "x-larch-wasm-memory-bytes"), residentMiB: MiB(b.headers, "x-larch-resident-bytes") }));
}

await { load, warm, cold }[phase]();
