// Benchmark client for scripts/bench-worker.sh (numbers, not a timed test). Phases:
//   load  N DIM BATCH    create index "bench" (DIM, cosine) and upsert N random records into
//                        namespace "big" in batches: upsert throughput
//   warm  DIM QUERIES    warm query latency (topK 10) on "big": p50 / p99 / mean
//   cold  DIM            first query after a restart (namespace object + engine load), then a 2nd
// Prints one JSON object per phase. Latency is wall time at the client (fetch over loopback).

const [phase, ...args] = process.argv.slice(2);
const URL = process.env.LARCH_URL ?? "http://127.0.0.1:8798";
const KEY = process.env.LARCH_API_KEY ?? "larch-local-key";
const H = { "Api-Key": KEY, "Content-Type": "application/json" };

let seed = 42;
const rnd = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
const vector = (dim) => Array.from({ length: dim }, () => Math.round(rnd() * 1e4) / 1e4);

async function post(path, body) {
  const t = performance.now();
  const r = await fetch(`${URL}${path}`, { method: "POST", headers: H, body: JSON.stringify(body) });
  const text = await r.text();
  const ms = performance.now() - t;
  if (r.status >= 300) throw new Error(`${path}: ${r.status} ${text.slice(0, 300)}`);
  return { ms, json: JSON.parse(text || "{}"), headers: r.headers };
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const r2 = (x) => Math.round(x * 100) / 100;

if (phase === "load") {
  const [n, dim, batch] = args.map(Number);
  await fetch(`${URL}/indexes/bench`, { method: "DELETE", headers: H });
  const c = await fetch(`${URL}/indexes`, { method: "POST", headers: H, body: JSON.stringify({ name: "bench", dimension: dim, metric: "cosine", spec: { serverless: { cloud: "aws", region: "us-east-1" } } }) });
  if (c.status !== 201) throw new Error(`create: ${c.status} ${await c.text()}`);
  const t0 = performance.now();
  const lat = [];
  let bytes = 0;
  let last;
  for (let i = 0; i < n; i += batch) {
    const vectors = Array.from({ length: Math.min(batch, n - i) }, (_, j) => ({ id: `r${i + j}`, values: vector(dim), metadata: { g: (i + j) % 10 } }));
    const body = { vectors, namespace: "big" };
    bytes += JSON.stringify(body).length;
    last = await post("/index/bench/vectors/upsert", body);
    lat.push(last.ms);
  }
  const s = (performance.now() - t0) / 1000;
  const stats = (await post("/index/bench/describe_index_stats", {})).json;
  console.log(JSON.stringify({
    phase, records: n, dim, batch, seconds: r2(s), recordsPerSecond: Math.round(n / s), mbPerSecond: r2(bytes / 1e6 / s),
    batchP50ms: r2(pct(lat, 50)), batchP99ms: r2(pct(lat, 99)), stored: stats.namespaces?.big?.vectorCount,
    wasmMemoryMiB: r2(Number(last.headers.get("x-larch-wasm-memory-bytes")) / 2 ** 20),
  }));
} else if (phase === "warm") {
  const [dim, queries] = args.map(Number);
  for (let i = 0; i < 20; i++) await post("/index/bench/query", { vector: vector(dim), topK: 10, namespace: "big" });
  const lat = [];
  let last;
  for (let i = 0; i < queries; i++) {
    last = await post("/index/bench/query", { vector: vector(dim), topK: 10, namespace: "big" });
    lat.push(last.ms);
  }
  const f = [];
  for (let i = 0; i < Math.min(50, queries); i++) {
    f.push((await post("/index/bench/query", { vector: vector(dim), topK: 10, namespace: "big", filter: { g: { $eq: 3 } } })).ms);
  }
  console.log(JSON.stringify({
    phase, queries, p50ms: r2(pct(lat, 50)), p99ms: r2(pct(lat, 99)), meanMs: r2(lat.reduce((a, b) => a + b, 0) / lat.length),
    filteredP50ms: r2(pct(f, 50)), filteredP99ms: r2(pct(f, 99)),
    wasmMemoryMiB: r2(Number(last.headers.get("x-larch-wasm-memory-bytes")) / 2 ** 20),
  }));
} else if (phase === "cold") {
  const [dim] = args.map(Number);
  const first = await post("/index/bench/query", { vector: vector(dim), topK: 10, namespace: "big" });
  const second = await post("/index/bench/query", { vector: vector(dim), topK: 10, namespace: "big" });
  console.log(JSON.stringify({ phase, firstMs: r2(first.ms), secondMs: r2(second.ms), wasmMemoryMiB: r2(Number(first.headers.get("x-larch-wasm-memory-bytes")) / 2 ** 20) }));
} else {
  console.error("usage: bench.mjs load N DIM BATCH | warm DIM QUERIES | cold DIM");
  process.exit(2);
}
