// Engine time of a Worker namespace object's reads, without workerd, HTTP or SQLite (numbers for
// BENCHMARKS.md, not a test): the same wasm with the Worker's engine options over an in-memory
// blob map. The first run bulk-loads N records like worker/bench/memory.mjs (upserts, indexing
// steps until idle) and saves the blobs to target/bench-reads/replica-N.bin; later runs reuse
// them. Then, on a fresh engine over those blobs:
//   cold   first query (load from blobs) and the second one
//   warm   Q queries (topK 10): p50 / p99 of the engine call, of the blob reads it asked for,
//          rounds per query, recall@10 against exact ground truth (cached beside the replica)
//   fetch  100 ids (as scripts/bench-worker.sh --scale picks them), 20 rounds: row groups cold
//          (each round's groups read from the map), then each round again with its groups cached
//
//   node worker/bench/reads.mjs DATA N [Q=100]
//   env: LARCH_DIST=DIR   the pkg-js dist to load (default pkg-js/dist; a copy with a wasm that
//                         keeps its name section gives readable profiles)
//        LARCH_PROFILE=FILE  write a CPU profile (.cpuprofile) of the warm queries and fetches
//
// DATA: ../shared/bench's wordnet-minilm384 (base.fvecs, base_meta.jsonl, query.fvecs).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";

const root = new URL("../../", import.meta.url);
const dist = process.env.LARCH_DIST ? new URL(`file://${process.env.LARCH_DIST.replace(/\/?$/, "/")}`) : new URL("pkg-js/dist/", root);
const { Engine } = await import(new URL("node.js", dist).href);
const { runRequest } = await import(new URL("host.js", dist).href);

const [dir, nArg, qArg] = process.argv.slice(2);
if (!dir || !nArg) {
  console.error("usage: node worker/bench/reads.mjs DATA N [Q]");
  process.exit(2);
}
const N = Number(nArg);
const Q = Number(qArg ?? 100);
const MIB = 1 << 20;
const options = { persistent: true, maxNamespaceBytes: 80 * MIB, rowCacheBytes: 4 * MIB, mergeBytes: 16 * MIB, sealRecords: 10000 };
const out = new URL("target/bench-reads/", root);
mkdirSync(out, { recursive: true });
const replica = new URL(`replica-${N}.bin`, out);

const buf = readFileSync(`${dir}/base.fvecs`);
const dim = buf.readInt32LE(0);
const stride = 4 + 4 * dim;
const row = (j) => {
  const v = new Float32Array(dim);
  for (let d = 0; d < dim; d++) v[d] = buf.readFloatLE(j * stride + 4 + 4 * d);
  return v;
};
const round6 = (v) => Array.from(v, (x) => Math.round(x * 1e6) / 1e6);
const enc = new TextEncoder();
const dec = new TextDecoder();
const r2 = (x) => Math.round(x * 100) / 100;
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return r2(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]);
};

/** Bulk load as memory.mjs does; returns the blob map. */
async function build() {
  const engine = new Engine(options);
  const store = new Map();
  const apply = (batches) => {
    for (const b of batches) {
      for (const [k, v] of b.puts) store.set(k, v);
      for (const k of b.deletes) store.delete(k);
      for (const p of b.deletePrefixes) for (const k of [...store.keys()]) if (k.startsWith(p)) store.delete(k);
    }
  };
  const get = (keys) => keys.map((k) => store.get(k));
  const call = async (method, path, body) => {
    const r = await runRequest(engine, { method, path, query: "", body: enc.encode(JSON.stringify(body)), apiVersion: "2025-10" }, get);
    apply(engine.takeWrites());
    return r;
  };
  const step = (budget) => {
    const needs = engine.indexNeeds();
    if (needs.length) {
      const blobs = get(needs);
      needs.forEach((k, i) => engine.provide(k, blobs[i]));
    }
    const more = engine.indexStep(budget);
    apply(engine.takeWrites());
    const after = engine.indexNeeds();
    return more || (after.length > 0 && after.join() !== needs.join());
  };
  const meta = readFileSync(`${dir}/base_meta.jsonl`, "utf8").split("\n");
  await call("POST", "/indexes", { name: "scale", dimension: dim, metric: "cosine", spec: { serverless: { cloud: "aws", region: "us-east-1" } } });
  let since = 0;
  for (let i = 0; i < N; ) {
    const vectors = [];
    for (let j = i; j < Math.min(i + 400, N); j++) {
      const m = JSON.parse(meta[j]);
      vectors.push({ id: `v${j}`, values: round6(row(j)), metadata: { category: m.category, year: m.year } });
    }
    const r = await call("POST", "/index/scale/vectors/upsert", { namespace: "big", vectors });
    if (r.status === 403) {
      for (let k = 0; k < 50 && step(); k++);
      continue;
    }
    if (r.status !== 200) throw new Error(`upsert at ${i}: ${r.status} ${dec.decode(r.body)}`);
    i += vectors.length;
    if (engine.indexingPending() && ++since >= 8) {
      since = 0;
      step(64);
    }
    if (engine.indexingPending()) step();
  }
  for (let k = 0; k < 1e6 && step(); k++);
  engine.free();
  return store;
}

function save(store) {
  const parts = [];
  for (const [k, v] of store) {
    const kb = enc.encode(k);
    const h = Buffer.alloc(8);
    h.writeUInt32LE(kb.length, 0);
    h.writeUInt32LE(v.length, 4);
    parts.push(h, kb, v);
  }
  writeFileSync(replica, Buffer.concat(parts));
}

function restore() {
  const b = readFileSync(replica);
  const store = new Map();
  for (let o = 0; o < b.length; ) {
    const kl = b.readUInt32LE(o);
    const vl = b.readUInt32LE(o + 4);
    o += 8;
    const k = b.toString("utf8", o, o + kl);
    o += kl;
    store.set(k, new Uint8Array(b.buffer, b.byteOffset + o, vl).slice());
    o += vl;
  }
  return store;
}

let store;
if (existsSync(replica)) store = restore();
else {
  const t = performance.now();
  store = await build();
  save(store);
  console.error(`built the replica in ${r2((performance.now() - t) / 1000)} s`);
}

const queries = [];
{
  const qb = readFileSync(`${dir}/query.fvecs`);
  for (let i = 0; i < Q; i++) queries.push(Array.from({ length: dim }, (_, d) => qb.readFloatLE(i * stride + 4 + 4 * d)));
}
const truthFile = new URL(`truth-${N}-${Q}.json`, out);
let truth;
if (existsSync(truthFile)) truth = JSON.parse(readFileSync(truthFile, "utf8"));
else {
  const base = Array.from({ length: N }, (_, j) => row(j));
  truth = queries.map((q) => {
    const qn = Math.hypot(...q);
    const best = [];
    for (let i = 0; i < N; i++) {
      const v = base[i];
      let dot = 0;
      let vn = 0;
      for (let j = 0; j < dim; j++) {
        dot += v[j] * q[j];
        vn += v[j] * v[j];
      }
      const s = dot / (qn * Math.sqrt(vn));
      if (best.length < 10 || s > best[best.length - 1][1]) {
        best.push([i, s]);
        best.sort((a, b) => b[1] - a[1]);
        if (best.length > 10) best.pop();
      }
    }
    return best.map(([i]) => `v${i}`);
  });
  writeFileSync(truthFile, JSON.stringify(truth));
}

// The engine under test: a fresh one over the blobs, reads counted.
const engine = new Engine(options);
let getMs = 0;
let rounds = 0;
let blobs = 0;
const get = (keys) => {
  const t = performance.now();
  rounds++;
  blobs += keys.length;
  const r = keys.map((k) => store.get(k));
  getMs += performance.now() - t;
  return r;
};
async function timed(method, path, query, body) {
  getMs = 0;
  rounds = 0;
  blobs = 0;
  const t = performance.now();
  const r = await runRequest(engine, { method, path, query, body: body === undefined ? new Uint8Array(0) : enc.encode(JSON.stringify(body)), apiVersion: "2025-10" }, get);
  const ms = performance.now() - t;
  engine.takeWrites();
  if (r.status !== 200) throw new Error(`${path}: ${r.status} ${dec.decode(r.body)}`);
  return { r, ms, getMs, rounds, blobs };
}
const query = (q) => timed("POST", "/index/scale/query", "", { namespace: "big", vector: q, topK: 10 });

const a = await query(queries[0]);
const b = await query(queries[1]);
console.log(JSON.stringify({ phase: "cold", firstMs: r2(a.ms), firstBlobs: a.blobs, secondMs: r2(b.ms), wasmMiB: r2(engine.memoryBytes?.() ?? 0) }));

let session;
if (process.env.LARCH_PROFILE) {
  session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 100 });
  await session.post("Profiler.start");
}
for (let i = 0; i < 20; i++) await query(queries[i]);
const ms = [];
const engineMs = [];
const gets = [];
const roundsPer = [];
let hits = 0;
for (let i = 0; i < Q; i++) {
  const t = await query(queries[i]);
  ms.push(t.ms);
  engineMs.push(t.ms - t.getMs);
  gets.push(t.blobs);
  roundsPer.push(t.rounds);
  const want = new Set(truth[i]);
  const body = JSON.parse(dec.decode(t.r.body));
  hits += body.matches.filter((m) => want.has(m.id)).length;
}
const fetchCold = [];
const fetchWarm = [];
const fetchBlobs = [];
for (let round = 0; round < 20; round++) {
  const ids = Array.from({ length: 100 }, (_, i) => (round * 4999 + i * 997) % N);
  const qs = `namespace=big&${ids.map((i) => `ids=v${i}`).join("&")}`;
  const c = await timed("GET", "/index/scale/vectors/fetch", qs);
  fetchCold.push(c.ms - c.getMs);
  fetchBlobs.push(c.blobs);
  const w = await timed("GET", "/index/scale/vectors/fetch", qs);
  if (w.blobs !== 0) throw new Error(`a repeated fetch read ${w.blobs} blobs`);
  fetchWarm.push(w.ms);
  const got = JSON.parse(dec.decode(w.r.body)).vectors;
  for (const i of ids) {
    const want = round6(row(i));
    const v = got[`v${i}`]?.values;
    if (!v || v.some((x, j) => Math.abs(x - want[j]) > 1e-6)) throw new Error(`fetch of v${i} is not exact`);
  }
}
if (session) {
  const { profile } = await session.post("Profiler.stop");
  writeFileSync(process.env.LARCH_PROFILE, JSON.stringify(profile));
}
console.log(
  JSON.stringify({
    phase: "warm",
    n: N,
    queries: Q,
    query: { p50: pct(ms, 50), p99: pct(ms, 99), engineP50: pct(engineMs, 50), blobsMean: r2(gets.reduce((s, x) => s + x, 0) / Q), roundsMean: r2(roundsPer.reduce((s, x) => s + x, 0) / Q), recall10: hits / (10 * Q) },
    fetch100: { coldGroupsP50: pct(fetchCold, 50), blobsMean: r2(fetchBlobs.reduce((s, x) => s + x, 0) / 20), cachedP50: pct(fetchWarm, 50), cachedP99: pct(fetchWarm, 99) },
  }),
);
