// One namespace larger than the old 24 MiB budget (32,000 × 384, ~47 MiB of f32 values) in one
// namespace object, with the Worker's default budget. worker/test/run.sh runs it twice over the
// same state: LARCH_SCALE_PHASE=load (upsert, background indexing until idle, then reads and
// writes against a brute-force model), then, after restarting the runtime, LARCH_SCALE_PHASE=
// restart (the same reads, cold). Rows of indexed segments are paged out: the namespace
// object's resident bytes (debug header `x-larch-resident-bytes`) must stay well below the
// f32 bytes, and row groups are read back from SQLite on demand.

import assert from "node:assert/strict";
import { test } from "node:test";

const URL = process.env.LARCH_URL ?? "http://127.0.0.1:8787";
const KEY = process.env.LARCH_API_KEY ?? "larch-local-key";
const PHASE = process.env.LARCH_SCALE_PHASE ?? "load";
const N = Number(process.env.LARCH_SCALE_N ?? 32000);
const DIM = 384;
const IX = "scale-e2e";
const NS = "big";
const G = 7; // metadata g = String(i % G)

async function call(method, path, body, version) {
  const headers = { "Api-Key": KEY };
  if (version) headers["X-Pinecone-Api-Version"] = version;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(`${URL}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: r.status, headers: r.headers, text, json };
}

/** Record i's vector: seeded, 4 decimals (exact through JSON and f32 up to rounding). */
function vector(i) {
  let s = (i * 2654435761 + 12345) >>> 0;
  const v = new Array(DIM);
  for (let j = 0; j < DIM; j++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    v[j] = Math.round(((s / 2 ** 32) * 2 - 1) * 1e4) / 1e4;
  }
  return v;
}
const metadata = (i) => ({ g: String(i % G), n: i });

// The model after the load phase's writes: record UPDATED gets new values and metadata, and
// every record with g == "6" is deleted by filter.
const UPDATED = 12;
const updatedVector = () => vector(N + 1);
function model() {
  const recs = new Map();
  for (let i = 0; i < N; i++) {
    if (i % G === 6) continue;
    recs.set(`r${i}`, { values: vector(i), metadata: metadata(i) });
  }
  recs.set(`r${UPDATED}`, { values: updatedVector(), metadata: { ...metadata(UPDATED), tag: "updated" } });
  return recs;
}

function cosine(a, b) {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let j = 0; j < a.length; j++) {
    d += a[j] * b[j];
    na += a[j] * a[j];
    nb += b[j] * b[j];
  }
  return d / Math.sqrt(na * nb);
}
function bruteForce(recs, q, k, accept) {
  const all = [];
  for (const [id, r] of recs) if (accept(r.metadata)) all.push([id, cosine(q, r.values)]);
  all.sort((a, b) => b[1] - a[1]);
  return all.slice(0, k);
}
const close = (a, b, tol = 1e-6) =>
  a.length === b.length && a.every((x, j) => Math.abs(x - b[j]) <= tol * Math.max(1, Math.abs(b[j])));

const query = (body) => call("POST", `/index/${IX}/query`, { namespace: NS, ...body });

/** Filtered queries with metadata (and values) against brute force; returns recall@10. */
async function checkQueries(recs, label) {
  let hits = 0;
  let total = 0;
  for (let t = 0; t < 12; t++) {
    const q = vector(10_000_000 + t);
    const g = String(t % 6);
    const r = await query({
      vector: q,
      topK: 10,
      filter: { g: { $eq: g } },
      includeMetadata: true,
      includeValues: t % 3 === 0,
    });
    assert.equal(r.status, 200, `${label}: ${r.text}`);
    const want = bruteForce(recs, q, 10, (m) => m.g === g);
    assert.equal(r.json.matches.length, 10, label);
    for (const m of r.json.matches) {
      const rec = recs.get(m.id);
      assert.ok(rec, `${label}: ${m.id} is not a live record`);
      assert.deepEqual(m.metadata, rec.metadata, `${label}: metadata of ${m.id}`);
      assert.ok(Math.abs(m.score - cosine(q, rec.values)) < 1e-4, `${label}: score of ${m.id}`);
      if (t % 3 === 0) assert.ok(close(m.values, rec.values), `${label}: values of ${m.id}`);
    }
    const wantIds = new Set(want.map(([id]) => id));
    hits += r.json.matches.filter((m) => wantIds.has(m.id)).length;
    total += want.length;
  }
  const recall = hits / total;
  assert.ok(recall >= 0.9, `${label}: filtered recall@10 ${recall}`);
  return recall;
}

async function checkFetch(recs, label) {
  const ids = Array.from({ length: 100 }, (_, i) => `r${(i * 317 + 5) % N}`);
  const r = await call("GET", `/index/${IX}/vectors/fetch?namespace=${NS}&${ids.map((id) => `ids=${id}`).join("&")}`);
  assert.equal(r.status, 200, r.text);
  for (const id of ids) {
    const rec = recs.get(id);
    const got = r.json.vectors[id];
    if (!rec) {
      assert.equal(got, undefined, `${label}: deleted ${id} fetched`);
      continue;
    }
    assert.ok(got && close(got.values, rec.values), `${label}: fetched values of ${id}`);
    assert.deepEqual(got.metadata, rec.metadata, `${label}: fetched metadata of ${id}`);
  }
}

/** Resident bytes (debug header) well below the f32 bytes: indexed segments' rows are paged out. */
function assertPaged(headers, label) {
  const resident = Number(headers.get("x-larch-resident-bytes"));
  const f32 = N * DIM * 4;
  assert.ok(resident > 0 && resident < 0.6 * f32, `${label}: resident ${resident} bytes, f32 values ${f32} bytes`);
  return resident;
}

if (PHASE === "load") {
  test(`${N} × ${DIM} in one namespace object: load, page out, read and write`, { timeout: 300_000 }, async () => {
    await call("DELETE", `/indexes/${IX}`);
    let r = await call("POST", "/indexes", {
      name: IX,
      dimension: DIM,
      metric: "cosine",
      spec: { serverless: { cloud: "aws", region: "us-east-1" } },
    });
    assert.equal(r.status, 201, r.text);
    for (let i = 0; i < N; i += 400) {
      const vectors = [];
      for (let j = i; j < Math.min(N, i + 400); j++)
        vectors.push({ id: `r${j}`, values: vector(j), metadata: metadata(j) });
      r = await call("POST", `/index/${IX}/vectors/upsert`, { namespace: NS, vectors });
      assert.equal(r.status, 200, `upsert at ${i}: ${r.text}`);
    }
    // Background indexing (alarms) builds graphs and codes, then the segments page out.
    const deadline = Date.now() + 240_000;
    for (;;) {
      r = await query({ vector: vector(1), topK: 1 });
      assert.equal(r.status, 200, r.text);
      if (r.headers.get("x-larch-indexing") === "idle") break;
      assert.ok(Date.now() < deadline, "background indexing did not finish in 240 s");
      await new Promise((res) => setTimeout(res, 1000)); // polling interval, not synchronisation
    }
    assertPaged(r.headers, "after indexing");

    // Before any write: every record, exact fetch, filtered queries against brute force.
    const all = new Map();
    for (let i = 0; i < N; i++) all.set(`r${i}`, { values: vector(i), metadata: metadata(i) });
    await checkQueries(all, "loaded");
    await checkFetch(all, "loaded");

    // Writes on paged segments: update values and metadata, delete by filter.
    r = await call("POST", `/index/${IX}/vectors/update`, {
      namespace: NS,
      id: `r${UPDATED}`,
      values: updatedVector(),
      setMetadata: { tag: "updated" },
    });
    assert.equal(r.status, 200, r.text);
    r = await call("POST", `/index/${IX}/vectors/delete`, { namespace: NS, filter: { g: { $eq: "6" } } });
    assert.equal(r.status, 200, r.text);
    const recs = model();
    r = await call("GET", `/index/${IX}/namespaces/${NS}`);
    assert.equal(Number(r.json.record_count), recs.size, r.text);
    r = await query({ vector: updatedVector(), topK: 1, includeMetadata: true });
    assert.equal(r.json.matches[0].id, `r${UPDATED}`);
    assert.deepEqual(r.json.matches[0].metadata, recs.get(`r${UPDATED}`).metadata);
    await checkQueries(recs, "after writes");
    await checkFetch(recs, "after writes");

    // Fetch by metadata pages through the matching records with their values.
    r = await call("POST", `/index/${IX}/vectors/fetch_by_metadata`, {
      namespace: NS,
      filter: { n: { $lt: 40 } },
      limit: 100,
    });
    assert.equal(r.status, 200, r.text);
    const want = [...recs].filter(([, v]) => v.metadata.n < 40);
    assert.equal(Object.keys(r.json.vectors).length, want.length);
    for (const [id, v] of want) assert.ok(close(r.json.vectors[id].values, v.values), `fetch_by_metadata ${id}`);

    // size_bytes (API 2026-07) is the namespace's resident bytes; older versions have none.
    r = await call("GET", `/index/${IX}/namespaces/${NS}`, undefined, "2026-07");
    const size = Number(r.json.size_bytes);
    assert.equal(typeof r.json.size_bytes, "string", r.text);
    assert.ok(size > N * DIM && size < 0.6 * N * DIM * 4, `size_bytes ${size}`);
    r = await call("GET", `/index/${IX}/namespaces`, undefined, "2026-07");
    assert.ok(Number(r.json.namespaces.find((n) => n.name === NS).size_bytes) > N * DIM, r.text);
    r = await call("GET", `/index/${IX}/namespaces/${NS}`, undefined, "2026-04");
    assert.equal(r.json.size_bytes, undefined, r.text);
  });
} else {
  test(`${N} × ${DIM} after a restart: cold queries and fetches`, { timeout: 120_000 }, async () => {
    const recs = model();
    const r = await query({ vector: vector(3), topK: 3 });
    assert.equal(r.status, 200, r.text);
    assertPaged(r.headers, "cold");
    await checkQueries(recs, "after restart");
    await checkFetch(recs, "after restart");
    assert.equal((await call("DELETE", `/indexes/${IX}`)).status, 202);
  });
}
