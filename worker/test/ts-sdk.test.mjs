// The official TypeScript SDK (@pinecone-database/pinecone 8.2) against a running Larch Worker.
// Environment: LARCH_URL and LARCH_API_KEY (worker/test/run.sh starts `wrangler dev`).
// Steps run in order and share one index (node:test runs top-level tests sequentially).

import assert from "node:assert/strict";
import { test } from "node:test";
import sdk from "@pinecone-database/pinecone";

const { Pinecone, Errors } = sdk;
const { PineconeAuthorizationError, PineconeBadRequestError, PineconeNotFoundError } = Errors;

const URL = process.env.LARCH_URL ?? "http://127.0.0.1:8787";
const KEY = process.env.LARCH_API_KEY ?? "larch-local-key";
const NAME = "ts-tenants";
const DIM = 8;

function vec(seed) {
  let x = (seed * 2654435761) % 2 ** 32;
  return Array.from({ length: DIM }, () => {
    x = (x * 1664525 + 1013904223) % 2 ** 32;
    return x / 2 ** 31 - 1;
  });
}
const records = (tenant, n, seed) =>
  Array.from({ length: n }, (_, j) => {
    const i = j + 1;
    return { id: `${tenant}#doc${i}`, values: vec(seed + i), metadata: { tenant, kind: i % 2 ? "odd" : "even", n: i } };
  });
const A = records("a", 25, 1000);
const B = records("b", 10, 2000);

const pc = new Pinecone({ apiKey: KEY, controllerHostUrl: URL, maxRetries: 0 });
let index; // resolved through describeIndex, as applications do
const ns = (n) => index.namespace(n);
const countOf = async (n) => (await index.describeIndexStats()).namespaces?.[n]?.recordCount ?? 0;
const close = (a, b) => a.length === b.length && a.every((x, i) => Math.abs(x - b[i]) < 1e-5);

/** Raw HTTP, for what the SDK hides (headers, exact bodies). */
async function raw(method, path, body, key = KEY, version) {
  const headers = { "Api-Key": key, "Content-Type": "application/json" };
  if (version) headers["X-Pinecone-Api-Version"] = version;
  const r = await fetch(`${URL}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, text, json };
}

async function rejects(promise, Cls, check) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, "expected an error");
  assert.ok(err instanceof Cls, `expected ${Cls.name}, got ${err?.name}: ${err?.message}`);
  if (check) check(err);
  return err;
}

test("setup: no leftover index", async () => {
  const list = await pc.listIndexes();
  if ((list.indexes ?? []).some((i) => i.name === NAME)) {
    await pc.configureIndex({ name: NAME, deletionProtection: "disabled" }).catch(() => {});
    await pc.deleteIndex(NAME);
  }
});

test("create a serverless index; host keeps the /index/{name} path", async () => {
  const model = await pc.createIndex({
    name: NAME,
    dimension: DIM,
    metric: "cosine",
    spec: { serverless: { cloud: "aws", region: "us-east-1" } },
  });
  const d = await pc.describeIndex(NAME);
  assert.equal(d.host, `${URL}/index/${NAME}`);
  assert.equal(d.dimension, DIM);
  assert.equal(d.status.ready, true);
  if (model) assert.equal(model.name, NAME);
  index = pc.index({ name: NAME });
  assert.ok((await pc.listIndexes()).indexes.some((i) => i.name === NAME));
});

test("upsert two tenants into two namespaces", async () => {
  await ns("tenant-a").upsert({ records: A });
  await ns("tenant-b").upsert({ records: B });
  assert.equal(await countOf("tenant-a"), 25);
  assert.equal(await countOf("tenant-b"), 10);
});

test("query never crosses tenants", async () => {
  for (const [n, recs, prefix] of [
    ["tenant-a", A, "a#"],
    ["tenant-b", B, "b#"],
  ]) {
    const r = await ns(n).query({ vector: recs[3].values, topK: 50, includeMetadata: true });
    assert.equal(r.matches[0].id, recs[3].id);
    assert.equal(r.matches.length, recs.length);
    assert.ok(r.matches.every((m) => m.id.startsWith(prefix) && m.metadata.tenant === prefix[0]));
  }
  const r = await ns("tenant-a").query({ vector: B[0].values, topK: 5 });
  assert.ok(r.matches.every((m) => m.id.startsWith("a#")));
  const f = await ns("tenant-a").query({
    vector: A[0].values,
    topK: 50,
    filter: { kind: { $eq: "even" } },
    includeMetadata: true,
  });
  assert.equal(f.matches.length, 12);
});

test("fetch", async () => {
  const r = await ns("tenant-a").fetch({ ids: ["a#doc1", "a#doc2", "b#doc1"] });
  assert.deepEqual(Object.keys(r.records).sort(), ["a#doc1", "a#doc2"]);
  assert.ok(close(r.records["a#doc1"].values, A[0].values));
  assert.deepEqual(r.records["a#doc2"].metadata, { tenant: "a", kind: "even", n: 2 });
});

test("update values and metadata", async () => {
  const v = vec(99);
  await ns("tenant-a").update({ id: "a#doc1", values: v, metadata: { kind: "updated", extra: true } });
  const r = await ns("tenant-a").fetch({ ids: ["a#doc1"] });
  assert.ok(close(r.records["a#doc1"].values, v));
  assert.deepEqual(r.records["a#doc1"].metadata, { tenant: "a", kind: "updated", n: 1, extra: true });
});

test("list by prefix with pagination", async () => {
  const ids = [];
  let token;
  let pages = 0;
  do {
    const r = await ns("tenant-a").listPaginated({ prefix: "a#doc1", limit: 3, paginationToken: token });
    assert.ok(r.vectors.length <= 3);
    ids.push(...r.vectors.map((v) => v.id));
    token = r.pagination?.next;
    pages++;
  } while (token);
  assert.equal(pages, 4);
  assert.deepEqual(ids.sort(), ["a#doc1", ...Array.from({ length: 10 }, (_, i) => `a#doc1${i}`)].sort());
});

test("delete by ids, by filter and all", async () => {
  await ns("tenant-a").deleteOne({ id: "a#doc2" });
  await ns("tenant-a").deleteMany({ ids: ["a#doc4"] });
  assert.equal(await countOf("tenant-a"), 23);
  await ns("tenant-a").deleteMany({ filter: { kind: { $eq: "odd" } } });
  assert.equal(await countOf("tenant-a"), 11);
  await ns("tenant-a").deleteAll();
  assert.equal(await countOf("tenant-a"), 0);
  assert.deepEqual((await ns("tenant-a").query({ vector: A[0].values, topK: 5 })).matches, []);
  assert.equal(await countOf("tenant-b"), 10);
});

test("delete a namespace", async () => {
  const list = await index.listNamespaces();
  assert.ok(list.namespaces.some((n) => n.name === "tenant-b"));
  const d = await index.describeNamespace("tenant-b");
  assert.equal(Number(d.recordCount), 10);
  await index.deleteNamespace("tenant-b");
  assert.ok(!(await index.listNamespaces()).namespaces?.some((n) => n.name === "tenant-b"));
  assert.deepEqual((await ns("tenant-b").query({ vector: B[0].values, topK: 5 })).matches, []);
  await rejects(index.describeNamespace("tenant-b"), PineconeNotFoundError);
});

test("describe stats", async () => {
  await ns("tenant-b").upsert({ records: B.slice(0, 4) });
  const s = await index.describeIndexStats();
  assert.equal(s.dimension, DIM);
  assert.equal(s.namespaces["tenant-b"].recordCount, 4);
  assert.equal(
    s.totalRecordCount,
    Object.values(s.namespaces).reduce((t, n) => t + n.recordCount, 0),
  );
  assert.deepEqual((await ns("tenant-b").fetch({ ids: ["b#doc5"] })).records, {});
});

test("default namespace: '' and '__default__' are one", async () => {
  await index.upsert({ records: [{ id: "d1", values: vec(7) }] }); // the SDK sends "__default__"
  const r = await raw("POST", `/index/${NAME}/query`, { vector: vec(7), topK: 1, namespace: "" });
  assert.equal(r.json.matches[0].id, "d1");
  const f = await raw("GET", `/index/${NAME}/vectors/fetch?ids=d1`);
  assert.ok(f.json.vectors.d1);
});

test("freshness headers", async () => {
  const w = await raw("POST", `/index/${NAME}/vectors/upsert`, {
    vectors: [{ id: "lsn", values: vec(5) }],
    namespace: "fresh",
  });
  const lsn = Number(w.headers.get("x-pinecone-request-lsn"));
  assert.ok(lsn > 0);
  const q = await raw("POST", `/index/${NAME}/query`, { vector: vec(5), topK: 1, namespace: "fresh" });
  assert.ok(Number(q.headers.get("x-pinecone-max-indexed-lsn")) >= lsn);
  assert.ok(q.headers.get("x-pinecone-lsn-committed") && q.headers.get("x-pinecone-lsn-reconciled"));
});

// ---- error cases: Pinecone's status and body, and nothing stored changes ----

test("error: wrong dimension", async () => {
  const before = await countOf("tenant-b");
  await rejects(
    ns("tenant-b").upsert({ records: [{ id: "bad", values: [0.1, 0.2, 0.3] }] }),
    PineconeBadRequestError,
    (e) => assert.match(e.message, /Vector dimension 3 does not match the dimension of the index 8/),
  );
  const r = await raw("POST", `/index/${NAME}/vectors/upsert`, {
    vectors: [{ id: "bad", values: [1, 2, 3] }],
    namespace: "tenant-b",
  });
  assert.equal(r.status, 400);
  assert.deepEqual(r.json, {
    code: 3,
    message: "Vector dimension 3 does not match the dimension of the index 8",
    details: [],
  });
  assert.equal(await countOf("tenant-b"), before);
  assert.deepEqual((await ns("tenant-b").fetch({ ids: ["bad"] })).records, {});
});

test("error: malformed filter", async () => {
  const before = await countOf("tenant-b");
  await rejects(
    ns("tenant-b").query({ vector: vec(1), topK: 3, filter: { kind: { $regex: "x" } } }),
    PineconeBadRequestError,
    (e) => assert.match(e.message, /Invalid filter/),
  );
  const r = await raw("POST", `/index/${NAME}/vectors/delete`, { filter: { $and: "nope" }, namespace: "tenant-b" });
  assert.equal(r.status, 400);
  assert.equal(r.json.code, 3);
  assert.match(r.json.message, /Invalid filter/);
  assert.equal(await countOf("tenant-b"), before);
});

test("error: wrong key", async () => {
  const bad = new Pinecone({ apiKey: "wrong-key", controllerHostUrl: URL, maxRetries: 0 });
  await rejects(bad.listIndexes(), PineconeAuthorizationError);
  await rejects(
    bad
      .index({ name: NAME, host: `${URL}/index/${NAME}` })
      .namespace("tenant-b")
      .upsert({ records: [{ id: "x", values: vec(1) }] }),
    PineconeAuthorizationError,
  );
  const c = await raw("GET", "/indexes", undefined, "wrong");
  assert.equal(c.status, 401);
  assert.deepEqual(c.json, { error: { code: "UNAUTHENTICATED", message: "Invalid API key." }, status: 401 });
  const d = await raw("POST", `/index/${NAME}/query`, { topK: 1, vector: vec(1) }, "wrong");
  assert.deepEqual([d.status, d.headers.get("content-type"), d.text], [401, "text/plain", "Unauthorized"]);
  const missing = await fetch(`${URL}/indexes`);
  assert.equal(missing.status, 401);
  assert.deepEqual((await ns("tenant-b").fetch({ ids: ["x"] })).records, {});
});

test("error: unknown index", async () => {
  await rejects(pc.describeIndex("no-such-index"), PineconeNotFoundError);
  const c = await raw("GET", "/indexes/no-such-index");
  assert.deepEqual(
    [c.status, c.json],
    [404, { error: { code: "NOT_FOUND", message: "Index no-such-index not found." }, status: 404 }],
  );
  await rejects(
    pc.index({ name: "x", host: `${URL}/index/no-such-index` }).query({ vector: vec(1), topK: 1 }),
    PineconeNotFoundError,
  );
  const d = await raw("POST", "/index/no-such-index/query", { vector: vec(1), topK: 1 });
  assert.deepEqual([d.status, d.json], [404, { code: 5, message: "Index no-such-index not found.", details: [] }]);
});

test("error: oversized body", async () => {
  const before = await countOf("tenant-b");
  const big = Array.from({ length: 800 }, (_, i) => ({
    id: `big${i}`,
    values: vec(i),
    metadata: { text: "x".repeat(3000) },
  }));
  await rejects(ns("tenant-b").upsert({ records: big }), PineconeBadRequestError, (e) =>
    assert.match(e.message, /exceeds the maximum supported size of 2097152 bytes/),
  );
  assert.equal(await countOf("tenant-b"), before);
});

test("API versions 2025-01 … 2026-07 are accepted", async () => {
  for (const v of ["2025-01", "2025-04", "2025-10", "2026-04", "2026-07"]) {
    const s = await raw("POST", `/index/${NAME}/describe_index_stats`, {}, KEY, v);
    assert.equal(s.status, 200, `${v}: ${s.text}`);
    const d = await raw("GET", `/indexes/${NAME}`, undefined, KEY, v);
    assert.equal(d.json.host, `${URL}/index/${NAME}`);
  }
  // The 2026-07 create body (schema + deployment), as Python 10.x sends it.
  const c = await raw(
    "POST",
    "/indexes",
    {
      schema: { fields: { _values: { type: "dense_vector", dimension: 4, metric: "euclidean" } } },
      name: "ts-v2607",
      deployment: { deployment_type: "managed", cloud: "aws", region: "us-east-1" },
    },
    KEY,
    "2026-07",
  );
  assert.equal(c.status, 201, c.text);
  assert.equal(c.json.dimension, 4);
  assert.equal((await raw("DELETE", "/indexes/ts-v2607")).status, 202);
});

// ---- end of the scenario ----

test("deletion protection on, then off; delete the index", async () => {
  await pc.configureIndex({ name: NAME, deletionProtection: "enabled" });
  await rejects(pc.deleteIndex(NAME), Error, (e) => assert.match(e.message, /Deletion protection is enabled/));
  assert.equal((await pc.describeIndex(NAME)).deletionProtection, "enabled");
  await pc.configureIndex({ name: NAME, deletionProtection: "disabled" });
  await pc.deleteIndex(NAME);
  await rejects(pc.describeIndex(NAME), PineconeNotFoundError);
  await rejects(ns("tenant-b").query({ vector: vec(1), topK: 1 }), PineconeNotFoundError);
});
