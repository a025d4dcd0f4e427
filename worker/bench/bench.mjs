// Benchmark client for scripts/bench-worker.sh (numbers, not a timed test). Phases:
//   load  N DIM BATCH    create index "bench" (DIM, cosine) and upsert N random records into
//                        namespace "big" in batches: upsert throughput
//   warm  DIM QUERIES [LABEL]  warm query latency (topK 10) on "big": p50 / p99 / mean
//   settle DIM [MAX_S]   wait until `x-larch-indexing` is no longer "pending" (background builds)
//   cold  DIM            first query after a restart (namespace object + engine load), then a 2nd
//   concurrent N DIM CLIENTS SECONDS
//                        load N records with metadata into namespace "mix" of index "conc", then
//                        CLIENTS concurrent clients run a query / filtered query / upsert mix for
//                        SECONDS; ops/s, p50/p99 overall and per kind, errors; samples the
//                        server's resident memory every second (see concurrent() below)
// Prints one JSON object per phase. Latency is wall time at the client (fetch over loopback).

import { appendFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";

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
/** The debug header `x-larch-wasm-memory-bytes` in MiB, or null when the server does not send it. */
const wasmMiB = (h) =>
  h.get("x-larch-wasm-memory-bytes") === null ? null : r2(Number(h.get("x-larch-wasm-memory-bytes")) / 2 ** 20);

// ---------------------------------------------------------------------------------------------
// concurrent N DIM CLIENTS SECONDS
//
// Uses only the public Pinecone REST routes (/indexes, /index/{name}/query, .../vectors/upsert,
// .../describe_index_stats) and, when present, the debug headers `x-larch-wasm-memory-bytes` and
// `x-larch-indexing` (both optional). Environment:
//   LARCH_BENCH_MIX      kinds and weights, default "query=45,filtered=45,upsert=10"
//   LARCH_BENCH_PGID     process group of `wrangler dev` (scripts/bench-worker.sh sets it): its
//                        processes are sampled from /proc every second; else LARCH_BENCH_PIDS
//                        (comma-separated), else every process whose command line has "workerd"
//   LARCH_BENCH_PROXY_PID  PID of wrangler's dev proxy (a workerd), labelled "workerd-proxy"
//   LARCH_BENCH_SERIES   JSONL file for the per-second memory series (default: none)
//   LARCH_BENCH_IDLE     seconds to keep sampling after the run, with no requests (default 10)
//   LARCH_BENCH_RELOAD   "0": reuse index "conc" as it is (a second run on the same server)
//   LARCH_BENCH_SETTLE   max seconds to wait after loading for `x-larch-indexing: idle` (default 120)
//   LARCH_BENCH_INSPECTOR  ws:// URL of the Worker isolate's V8 inspector (scripts/bench-worker.sh
//                        finds it): its JS heap (Runtime.getHeapUsage) joins each sample; needs
//                        a global WebSocket (Node 22, or Node 20 with --experimental-websocket)
//   LARCH_BENCH_SNAPSHOT "1": after the idle time, take a heap snapshot through the inspector
//                        (V8 runs a full GC first) and sample the heap and RSS again
// Metadata: genre (one of 5 strings), year (1970–2024), rating (0–5, one decimal), draft (bool).
// Filtered queries alternate {"genre":{"$eq":g}} and {"year":{"$gte":y,"$lt":y+10}}. An upsert
// writes 10 records: 8 overwrite random loaded ids, 2 add new ids (so the namespace grows;
// LARCH_BENCH_UPSERT_NEW=K adds K instead, 0 = overwrite only). A second run on the same server
// (LARCH_BENCH_RELOAD=0) writes the same new ids again, i.e. overwrites them.
// Every non-2xx status and every network error or timeout (30 s) counts as an error, per kind.

const GENRES = ["drama", "comedy", "scifi", "horror", "documentary"];

/** PIDs to sample: the dev server's process group, or a list, or anything named workerd. */
function serverPids() {
  const pgid = process.env.LARCH_BENCH_PGID;
  const out = [];
  if (!pgid && process.env.LARCH_BENCH_PIDS) {
    for (const p of process.env.LARCH_BENCH_PIDS.split(",")) out.push({ pid: Number(p), comm: comm(p) });
    return out;
  }
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (pgid) {
        const stat = readFileSync(`/proc/${d}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // state ppid pgrp ...
        if (fields[2] === pgid) out.push({ pid: Number(d), comm: comm(d) });
      } else if (readFileSync(`/proc/${d}/cmdline`, "utf8").includes("workerd")) {
        out.push({ pid: Number(d), comm: comm(d) });
      }
    } catch {} // exited meanwhile
  }
  return out;
}

function comm(pid) {
  try {
    const c = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    // wrangler dev runs two workerd processes: its dev proxy (listening on the dev port) and the
    // Worker itself; scripts/bench-worker.sh names the proxy's PID.
    return String(pid) === process.env.LARCH_BENCH_PROXY_PID ? `${c}-proxy` : c;
  } catch {
    return "?";
  }
}

/** VmRSS / RssAnon / RssFile / RssShmem of one process, in KiB (null once it has exited). */
function rss(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? 0);
    return { rss: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile"), shmem: kb("RssShmem"), hwm: kb("VmHWM") };
  } catch {
    return null;
  }
}

const MiB = (kib) => r2(kib / 1024);

/** A minimal Chrome DevTools Protocol client (null when no URL or no WebSocket). */
async function inspector(url) {
  if (!url || typeof WebSocket !== "function") return null;
  const ws = new WebSocket(url);
  let id = 0;
  const pending = new Map();
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.id && pending.has(m.id)) {
      pending.get(m.id)(m);
      pending.delete(m.id);
    }
  };
  try {
    await new Promise((res, rej) => {
      ws.onopen = res;
      ws.onerror = rej;
    });
  } catch {
    return null;
  }
  const call = (method, params = {}, ms = 10000) =>
    new Promise((res) => {
      const i = ++id;
      const timer = setTimeout(() => pending.delete(i) && res({ timeout: method }), ms);
      pending.set(i, (m) => {
        clearTimeout(timer);
        res(m);
      });
      // workerd's inspector never answers a message with an empty `params` object
      ws.send(JSON.stringify(Object.keys(params).length ? { id: i, method, params } : { id: i, method }));
    });
  return { call, close: () => ws.close() };
}

async function concurrent(n, dim = 64, clients = 32, seconds = 30) {
  if (!(n > 0 && dim > 0 && clients > 0 && seconds > 0)) {
    console.error("usage: bench.mjs concurrent N DIM CLIENTS SECONDS");
    process.exit(2);
  }
  const mix = (process.env.LARCH_BENCH_MIX ?? "query=45,filtered=45,upsert=10").split(",").map((kv) => {
    const [kind, w] = kv.split("=");
    if (!["query", "filtered", "upsert"].includes(kind)) throw new Error(`LARCH_BENCH_MIX: unknown kind ${kind}`);
    return { kind, w: Number(w) };
  });
  const wsum = mix.reduce((a, m) => a + m.w, 0);
  const idle = Number(process.env.LARCH_BENCH_IDLE ?? 10);
  const seriesFile = process.env.LARCH_BENCH_SERIES;
  if (seriesFile) writeFileSync(seriesFile, "");
  const index = "conc";
  const ns = "mix";
  const base = `${URL}/index/${index}`;

  // Ready = the control plane answers 200 (the port may answer while wrangler still reloads the
  // Worker: 503 "Your worker restarted mid-request"). The isolate exists from then on: an
  // inspector session opened before it never answers.
  for (let i = 0; ; i++) {
    const r = await fetch(`${URL}/indexes`, { headers: H }).catch((e) => ({ status: String(e) }));
    if (r.status === 200) break;
    if (i >= 120) throw new Error(`server not ready: GET /indexes → ${r.status}`);
    await new Promise((res) => setTimeout(res, 500));
  }

  // --- memory sampler (every second, all phases) -----------------------------------------
  const t0 = performance.now();
  // workerd answers only its newest inspector session, and wrangler opens its own (for console
  // output) after startup: a session that stops answering is replaced (at most 5 times).
  const inspectorUrl = process.env.LARCH_BENCH_INSPECTOR;
  let cdp = await inspector(inspectorUrl);
  let reconnects = 0;
  let reading = false;
  let finished = false;
  let heap = null; // latest JS heap of the Worker isolate: { usedMiB, totalMiB }
  const readHeap = async () => {
    if (reading) return;
    reading = true;
    const r = await cdp.call("Runtime.getHeapUsage", {}, 3000);
    const h = r.result;
    if (h) heap = { usedMiB: r2(h.usedSize / 2 ** 20), totalMiB: r2(h.totalSize / 2 ** 20) };
    else if (r.timeout && reconnects < 5 && !finished) {
      reconnects++;
      cdp.close();
      cdp = (await inspector(inspectorUrl)) ?? cdp;
    }
    reading = false;
  };
  if (cdp) await readHeap();
  let procs = serverPids();
  let phaseName = "load";
  let wasmBytes = null; // last x-larch-wasm-memory-bytes seen (null: never sent)
  let done = 0; // requests completed in the mixed run
  const samples = [];
  const sample = () => {
    const per = {};
    const sum = { rss: 0, anon: 0, file: 0, shmem: 0 };
    const workerd = { rss: 0, anon: 0, file: 0, shmem: 0 };
    for (const p of procs) {
      const m = rss(p.pid);
      if (!m) continue;
      per[`${p.comm}:${p.pid}`] = m.rss;
      for (const k of Object.keys(sum)) {
        sum[k] += m[k];
        if (p.comm.includes("workerd")) workerd[k] += m[k];
      }
    }
    const s = {
      t: r2((performance.now() - t0) / 1000),
      phase: phaseName,
      requests: done,
      workerd,
      all: sum,
      per,
      wasmBytes,
      heap,
    };
    if (cdp) readHeap(); // answered between requests; the next sample carries it
    samples.push(s);
    if (seriesFile) appendFileSync(seriesFile, `${JSON.stringify(s)}\n`);
  };
  sample();
  const timer = setInterval(() => {
    if (samples.length % 10 === 0) procs = serverPids(); // processes may come and go
    sample();
  }, 1000);

  const noteHeaders = (h) => {
    const w = h.get("x-larch-wasm-memory-bytes");
    if (w !== null) wasmBytes = Number(w);
  };

  // --- load --------------------------------------------------------------------------------
  const meta = (i) => ({
    genre: GENRES[i % 5],
    year: 1970 + ((i * 7919) % 55),
    rating: Math.round((i * 31) % 51) / 10,
    draft: i % 7 === 0,
  });
  const batch = Math.min(1000, Math.floor(1500000 / (dim * 9)));
  let loadS = null;
  let settleS = null;
  if (process.env.LARCH_BENCH_RELOAD !== "0") {
    await fetch(`${URL}/indexes/${index}`, { method: "DELETE", headers: H });
    const c = await fetch(`${URL}/indexes`, {
      method: "POST",
      headers: H,
      body: JSON.stringify({
        name: index,
        dimension: dim,
        metric: "cosine",
        spec: { serverless: { cloud: "aws", region: "us-east-1" } },
      }),
    });
    if (c.status !== 201) throw new Error(`create: ${c.status} ${await c.text()}`);
    const tl = performance.now();
    for (let i = 0; i < n; i += batch) {
      const vectors = Array.from({ length: Math.min(batch, n - i) }, (_, j) => ({
        id: `c${i + j}`,
        values: vector(dim),
        metadata: meta(i + j),
      }));
      noteHeaders((await post(`/index/${index}/vectors/upsert`, { vectors, namespace: ns })).headers);
    }
    loadS = r2((performance.now() - tl) / 1000);
  }
  // Wait for background index builds (if the server says so) so the run starts in a steady state.
  phaseName = "settle";
  {
    const ts = performance.now();
    const limit = Number(process.env.LARCH_BENCH_SETTLE ?? 120) * 1000;
    for (;;) {
      const r = await post(`/index/${index}/query`, { vector: vector(dim), topK: 10, namespace: ns });
      noteHeaders(r.headers);
      if (r.headers.get("x-larch-indexing") !== "pending" || performance.now() - ts > limit) break;
      await new Promise((res) => setTimeout(res, 500));
    }
    settleS = r2((performance.now() - ts) / 1000);
  }
  for (let i = 0; i < 20; i++) {
    await post(`/index/${index}/query`, { vector: vector(dim), topK: 10, namespace: ns });
    await post(`/index/${index}/query`, {
      vector: vector(dim),
      topK: 10,
      namespace: ns,
      filter: { genre: { $eq: GENRES[i % 5] } },
    });
  }
  const stats0 = (await post(`/index/${index}/describe_index_stats`, {})).json;

  // --- the mixed run -----------------------------------------------------------------------
  const kinds = Object.fromEntries(mix.map((m) => [m.kind, { lat: [], errors: 0, statuses: {} }]));
  const errorSamples = [];
  let added = 0;
  const fresh = Math.max(0, Math.min(10, Number(process.env.LARCH_BENCH_UPSERT_NEW ?? 2))); // new ids per upsert
  const one = async (kind, r) => {
    let body;
    let path = "/query";
    if (kind === "query") {
      body = { vector: vector(dim), topK: 10, namespace: ns };
    } else if (kind === "filtered") {
      const filter =
        r() < 0.5
          ? { genre: { $eq: GENRES[Math.floor(r() * 5)] } }
          : (() => {
              const y = 1970 + Math.floor(r() * 45);
              return { year: { $gte: y, $lt: y + 10 } };
            })();
      body = { vector: vector(dim), topK: 10, namespace: ns, filter, includeMetadata: true };
    } else {
      path = "/vectors/upsert";
      const vectors = [];
      const ids = new Set();
      while (ids.size < Math.min(10 - fresh, n)) ids.add(Math.floor(r() * n)); // distinct: one id per request
      for (const i of ids) vectors.push({ id: `c${i}`, values: vector(dim), metadata: meta(i) });
      for (let j = 0; j < fresh; j++) {
        const i = n + added++;
        vectors.push({ id: `c${i}`, values: vector(dim), metadata: meta(i) });
      }
      body = { vectors, namespace: ns };
    }
    const k = kinds[kind];
    const t = performance.now();
    let status;
    try {
      const res = await fetch(`${base}${path}`, {
        method: "POST",
        headers: H,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30000),
      });
      const text = await res.text();
      status = res.status;
      noteHeaders(res.headers);
      if (status < 200 || status >= 300) {
        if (errorSamples.length < 10) errorSamples.push({ kind, status, body: text.slice(0, 300) });
      }
    } catch (e) {
      status = e?.name === "TimeoutError" ? "timeout" : `network:${e?.cause?.code ?? e?.message ?? e}`;
      if (errorSamples.length < 10) errorSamples.push({ kind, status, body: String(e?.cause ?? e).slice(0, 300) });
    }
    const ms = performance.now() - t;
    k.statuses[status] = (k.statuses[status] ?? 0) + 1;
    if (typeof status !== "number" || status < 200 || status >= 300) k.errors++;
    k.lat.push(ms);
    done++;
  };

  phaseName = "run";
  const runStart = performance.now();
  const deadline = runStart + seconds * 1000;
  const runStartSample = samples.length;
  sample();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      let s = (c + 1) * 2654435761;
      const r = () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
      while (performance.now() < deadline) {
        let x = r() * wsum;
        const m = mix.find((m) => (x -= m.w) < 0) ?? mix[mix.length - 1];
        await one(m.kind, r);
      }
    }),
  );
  const runS = (performance.now() - runStart) / 1000;
  sample();
  const runEndSample = samples.length;
  phaseName = "idle";
  await new Promise((res) => setTimeout(res, idle * 1000));
  clearInterval(timer);
  sample();
  const idleEnd = samples.length - 1;
  let afterGc = null;
  if (cdp && process.env.LARCH_BENCH_SNAPSHOT === "1") {
    // A heap snapshot starts with a full GC: what survives it is live JS heap.
    await cdp.call("HeapProfiler.enable");
    const t = performance.now();
    const r = await cdp.call("HeapProfiler.takeHeapSnapshot", { reportProgress: false }, 300000);
    await readHeap();
    await new Promise((res) => setTimeout(res, 1000));
    phaseName = "after-gc";
    sample();
    const s = samples[samples.length - 1];
    afterGc = {
      snapshot: r.timeout ? "timeout" : `${Math.round(performance.now() - t)} ms`,
      heap,
      rssMiB: MiB(s.workerd.rss || s.all.rss),
      perProcessMiB: Object.fromEntries(
        Object.entries(s.per)
          .filter(([k]) => k.includes("workerd"))
          .map(([k, v]) => [k, MiB(v)]),
      ),
    };
  }
  finished = true;
  cdp?.close();
  const stats1 = (await post(`/index/${index}/describe_index_stats`, {})).json;

  // --- report --------------------------------------------------------------------------------
  const all = Object.values(kinds).flatMap((k) => k.lat);
  const summary = (lat) => ({
    count: lat.length,
    opsPerSecond: Math.round(lat.length / runS),
    p50ms: r2(pct(lat, 50)),
    p99ms: r2(pct(lat, 99)),
    meanMs: r2(lat.reduce((a, b) => a + b, 0) / Math.max(1, lat.length)),
    maxMs: r2(Math.max(...lat)),
  });
  const run = samples.slice(runStartSample, runEndSample);
  const w = (s) => s.workerd.rss || s.all.rss; // workerd if found, else the whole group
  const at = (f) => run[Math.min(run.length - 1, Math.floor(f * (run.length - 1)))];
  const first = at(0);
  const mid = at(0.5);
  const last = at(1);
  const after = samples[idleEnd]; // end of the idle time (before a forced GC)
  const peak = samples.reduce((a, s) => (w(s) > w(a) ? s : a), samples[0]);
  const dReq = last.requests - mid.requests;
  const mem = {
    processes: procs.map((p) => `${p.comm}:${p.pid}`),
    measured: first.workerd.rss ? "workerd processes" : "all processes sampled",
    perProcessMiB: Object.fromEntries(
      Object.keys(last.per).map((k) => [
        k,
        {
          runStart: MiB(first.per[k] ?? 0),
          runMiddle: MiB(mid.per[k] ?? 0),
          runEnd: MiB(last.per[k]),
          afterIdle: MiB(after.per[k] ?? 0),
        },
      ]),
    ),
    rssMiB: {
      beforeLoad: MiB(w(samples[0])),
      runStart: MiB(w(first)),
      runMiddle: MiB(w(mid)),
      runEnd: MiB(w(last)),
      afterIdle: MiB(w(after)),
      max: MiB(w(peak)),
      maxAtS: peak.t,
    },
    growthMiB: { firstHalf: MiB(w(mid) - w(first)), secondHalf: MiB(w(last) - w(mid)), idle: MiB(w(after) - w(last)) },
    secondHalfKiBPer1kRequests: dReq > 0 ? r2(((w(last) - w(mid)) / dReq) * 1000) : null,
    anonMiB: { runStart: MiB(first.workerd.anon || first.all.anon), runEnd: MiB(last.workerd.anon || last.all.anon) },
    fileMiB: { runStart: MiB(first.workerd.file || first.all.file), runEnd: MiB(last.workerd.file || last.all.file) },
    wasmMemoryMiB:
      wasmBytes === null
        ? "header absent"
        : { runStart: r2((first.wasmBytes ?? 0) / 2 ** 20), runEnd: r2(wasmBytes / 2 ** 20) },
    jsHeapMiB: cdp
      ? {
          runStart: first.heap,
          runMiddle: mid.heap,
          runEnd: last.heap,
          afterIdle: after.heap,
          maxUsed: Math.max(...samples.map((x) => x.heap?.usedMiB ?? 0)),
        }
      : "no inspector",
    afterFullGc: afterGc,
    inspectorReconnects: cdp ? reconnects : null,
    series: seriesFile ?? null,
  };
  const errors = Object.values(kinds).reduce((a, k) => a + k.errors, 0);
  console.log(
    JSON.stringify({
      phase: "concurrent",
      records: n,
      dim,
      clients,
      seconds: r2(runS),
      mix: Object.fromEntries(mix.map((m) => [m.kind, `${r2((100 * m.w) / wsum)}%`])),
      loadSeconds: loadS,
      settleSeconds: settleS,
      vectorCountBefore: stats0.namespaces?.[ns]?.vectorCount,
      vectorCountAfter: stats1.namespaces?.[ns]?.vectorCount,
      overall: { ...summary(all), errors },
      perKind: Object.fromEntries(
        Object.entries(kinds).map(([kind, k]) => [kind, { ...summary(k.lat), errors: k.errors, statuses: k.statuses }]),
      ),
      errorSamples,
      memory: mem,
    }),
  );
}

if (phase === "load") {
  const [n, dim, batch] = args.map(Number);
  await fetch(`${URL}/indexes/bench`, { method: "DELETE", headers: H });
  const c = await fetch(`${URL}/indexes`, {
    method: "POST",
    headers: H,
    body: JSON.stringify({
      name: "bench",
      dimension: dim,
      metric: "cosine",
      spec: { serverless: { cloud: "aws", region: "us-east-1" } },
    }),
  });
  if (c.status !== 201) throw new Error(`create: ${c.status} ${await c.text()}`);
  const t0 = performance.now();
  const lat = [];
  let bytes = 0;
  let last;
  for (let i = 0; i < n; i += batch) {
    const vectors = Array.from({ length: Math.min(batch, n - i) }, (_, j) => ({
      id: `r${i + j}`,
      values: vector(dim),
      metadata: { g: (i + j) % 10 },
    }));
    const body = { vectors, namespace: "big" };
    bytes += JSON.stringify(body).length;
    last = await post("/index/bench/vectors/upsert", body);
    lat.push(last.ms);
  }
  const s = (performance.now() - t0) / 1000;
  const stats = (await post("/index/bench/describe_index_stats", {})).json;
  console.log(
    JSON.stringify({
      phase,
      records: n,
      dim,
      batch,
      seconds: r2(s),
      recordsPerSecond: Math.round(n / s),
      mbPerSecond: r2(bytes / 1e6 / s),
      batchP50ms: r2(pct(lat, 50)),
      batchP99ms: r2(pct(lat, 99)),
      stored: stats.namespaces?.big?.vectorCount,
      wasmMemoryMiB: wasmMiB(last.headers),
    }),
  );
} else if (phase === "warm") {
  const [dim, queries] = args.map(Number);
  const label = args[2] ?? "warm";
  for (let i = 0; i < 20; i++) await post("/index/bench/query", { vector: vector(dim), topK: 10, namespace: "big" });
  const lat = [];
  let last;
  let indexingFirst;
  for (let i = 0; i < queries; i++) {
    last = await post("/index/bench/query", { vector: vector(dim), topK: 10, namespace: "big" });
    if (i === 0) indexingFirst = last.headers.get("x-larch-indexing");
    lat.push(last.ms);
  }
  const f = [];
  for (let i = 0; i < Math.min(50, queries); i++) {
    f.push(
      (await post("/index/bench/query", { vector: vector(dim), topK: 10, namespace: "big", filter: { g: { $eq: 3 } } }))
        .ms,
    );
  }
  console.log(
    JSON.stringify({
      phase: label,
      queries,
      p50ms: r2(pct(lat, 50)),
      p99ms: r2(pct(lat, 99)),
      meanMs: r2(lat.reduce((a, b) => a + b, 0) / lat.length),
      over100ms: lat.filter((ms) => ms > 100).length,
      filteredP50ms: r2(pct(f, 50)),
      filteredP99ms: r2(pct(f, 99)),
      // x-larch-indexing of the first and last timed query (null: header absent)
      indexing: [indexingFirst, last.headers.get("x-larch-indexing")],
      wasmMemoryMiB: wasmMiB(last.headers),
    }),
  );
} else if (phase === "settle") {
  // Waits (querying every 0.5 s) until the server reports no pending background index builds
  // (`x-larch-indexing` not "pending"; an absent header counts as settled), at most MAX_S.
  const [dim, maxS = 300] = args.map(Number);
  const t = performance.now();
  let state;
  for (;;) {
    state = (await post("/index/bench/query", { vector: vector(dim), topK: 10, namespace: "big" })).headers.get(
      "x-larch-indexing",
    );
    if (state !== "pending" || performance.now() - t > maxS * 1000) break;
    await new Promise((res) => setTimeout(res, 500));
  }
  console.log(
    JSON.stringify({ phase, seconds: r2((performance.now() - t) / 1000), indexing: state ?? "header absent" }),
  );
} else if (phase === "cold") {
  const [dim] = args.map(Number);
  const first = await post("/index/bench/query", { vector: vector(dim), topK: 10, namespace: "big" });
  const second = await post("/index/bench/query", { vector: vector(dim), topK: 10, namespace: "big" });
  console.log(
    JSON.stringify({
      phase,
      firstMs: r2(first.ms),
      secondMs: r2(second.ms),
      wasmMemoryMiB: wasmMiB(first.headers),
    }),
  );
} else if (phase === "concurrent") {
  await concurrent(...args.map(Number));
  process.exit(0); // keep-alive sockets and an inspector session may still be open
} else {
  console.error(
    "usage: bench.mjs load N DIM BATCH | warm DIM QUERIES [LABEL] | settle DIM [MAX_S] | cold DIM | concurrent N DIM CLIENTS SECONDS",
  );
  process.exit(2);
}
