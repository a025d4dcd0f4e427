// The facade in Node: the multitenant flow of @pinecone-database/pinecone code, errors with
// codes, the wire format the SDK sends, and persistence to a directory.

import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  BasePineconeError,
  Errors,
  Larch,
  MemoryBlobStore,
  Pinecone,
  PineconeBadRequestError,
  PineconeConflictError,
  PineconeNotFoundError,
  simd,
} from "../dist/node.js";

const spec = { serverless: { cloud: "aws", region: "us-east-1" } };

async function multitenant(pc) {
  await pc.createIndex({ name: "docs", dimension: 3, metric: "cosine", spec });
  const index = pc.index("docs");
  const acme = index.namespace("acme");
  const globex = index.namespace("globex");
  await acme.upsert({
    records: [
      { id: "a1", values: [1, 0, 0], metadata: { kind: "invoice", year: 2024 } },
      { id: "a2", values: [0.9, 0.1, 0], metadata: { kind: "memo", year: 2023 } },
      { id: "a3", values: [0, 1, 0], metadata: { kind: "invoice", year: 2022 } },
    ],
  });
  await globex.upsert({
    records: [
      { id: "g1", values: [1, 0, 0], metadata: { kind: "invoice" } },
      { id: "g2", values: [0, 0, 1], metadata: { kind: "memo" } },
    ],
  });
  return { index, acme, globex };
}

test("the wasm uses SIMD128", () => {
  assert.equal(simd(), true);
});

test("multitenant flow: queries never cross namespaces", async () => {
  const pc = new Larch();
  const { index, acme, globex } = await multitenant(pc);

  const qa = await acme.query({ topK: 10, vector: [1, 0, 0], includeMetadata: true });
  assert.equal(qa.namespace, "acme");
  assert.deepEqual(
    qa.matches.map((m) => m.id),
    ["a1", "a2", "a3"],
  );
  assert.equal(qa.matches[0].metadata.kind, "invoice");
  assert.deepEqual(qa.matches[0].values ?? [], []); // Pinecone sends [] without includeValues
  const qg = await globex.query({ topK: 10, vector: [1, 0, 0] });
  assert.deepEqual(qg.matches.map((m) => m.id).sort(), ["g1", "g2"]);

  const filtered = await acme.query({
    topK: 5,
    vector: [1, 0, 0],
    filter: { kind: { $eq: "invoice" }, year: { $gte: 2023 } },
    includeValues: true,
  });
  assert.deepEqual(
    filtered.matches.map((m) => m.id),
    ["a1"],
  );
  assert.deepEqual(filtered.matches[0].values, [1, 0, 0]);
  const byId = await acme.query({ topK: 2, id: "a3" });
  assert.equal(byId.matches[0].id, "a3");
  // The namespace option overrides the target, as in the SDK.
  const viaOption = await index.query({ topK: 1, vector: [0, 0, 1], namespace: "globex" });
  assert.equal(viaOption.matches[0].id, "g2");

  const f = await acme.fetch({ ids: ["a1", "g1"] });
  assert.equal(f.namespace, "acme");
  assert.deepEqual(Object.keys(f.records), ["a1"]);
  assert.deepEqual(f.records.a1.values, [1, 0, 0]);

  await acme.update({ id: "a2", metadata: { kind: "invoice" } });
  await acme.update({ id: "a3", values: [0, 0.5, 0.5] });
  const f2 = await acme.fetch({ ids: ["a2", "a3"] });
  assert.equal(f2.records.a2.metadata.kind, "invoice");
  assert.equal(f2.records.a2.metadata.year, 2023);
  assert.deepEqual(f2.records.a3.values, [0, 0.5, 0.5]);

  const stats = await index.describeIndexStats();
  assert.deepEqual(stats.namespaces, { acme: { recordCount: 3 }, globex: { recordCount: 2 } });
  assert.equal(stats.dimension, 3);
  assert.equal(stats.totalRecordCount, 5);

  const ns = await index.listNamespaces();
  assert.deepEqual(
    ns.namespaces.map((n) => [n.name, n.recordCount]),
    [
      // SDK 9 types NamespaceDescription.recordCount as a string (Pinecone's int64).
      ["acme", "3"],
      ["globex", "2"],
    ],
  );
  const d = await index.describeNamespace("globex");
  assert.equal(d.name, "globex");
  assert.equal(d.recordCount, "2");

  await acme.deleteOne({ id: "a1" });
  await acme.deleteMany({ filter: { kind: { $eq: "invoice" } } });
  assert.deepEqual(Object.keys((await acme.fetch({ ids: ["a1", "a2", "a3"] })).records), []);
  await globex.deleteMany({ ids: ["g1"] });
  assert.deepEqual(Object.keys((await globex.fetch({ ids: ["g1", "g2"] })).records), ["g2"]);
  await globex.deleteAll();
  const after = await index.describeIndexStats();
  assert.equal(after.totalRecordCount, 0);

  await index.deleteNamespace("acme");
  await assert.rejects(
    index.describeNamespace("acme"),
    (e) => e instanceof PineconeNotFoundError && e.code === "NOT_FOUND",
  );
  pc.close();
});

test("listPaginated walks every id in order", async () => {
  const pc = new Larch();
  await pc.createIndex({ name: "p", dimension: 2, spec });
  const ns = pc.index({ name: "p" }).namespace("t");
  const records = Array.from({ length: 25 }, (_, i) => ({ id: `doc-${String(i).padStart(2, "0")}`, values: [i, 1] }));
  await ns.upsert({ records: [...records, { id: "other", values: [1, 1] }] });
  const seen = [];
  let token;
  let pages = 0;
  do {
    const page = await ns.listPaginated({ prefix: "doc-", limit: 10, paginationToken: token });
    assert.equal(page.namespace, "t");
    seen.push(...page.vectors.map((v) => v.id));
    token = page.pagination?.next;
    pages++;
  } while (token);
  assert.equal(pages, 3);
  assert.deepEqual(
    seen,
    records.map((r) => r.id),
  );
});

test("control plane: describe, list, configure, delete; SDK result shapes", async () => {
  const pc = new Larch({ hostTemplate: "http://localhost/{name}" });
  const created = await pc.createIndex({ name: "ctl", dimension: 4, spec, tags: { team: "a" } });
  assert.equal(created.name, "ctl");
  const d = await pc.describeIndex("ctl");
  assert.equal(d.metric, "cosine");
  assert.equal(d.dimension, 4);
  assert.equal(d.host, "http://localhost/ctl");
  assert.equal(d.vectorType, "dense");
  assert.equal(d.deletionProtection, "disabled");
  assert.deepEqual(d.status, { ready: true, state: "Ready" });
  assert.equal(d.spec.serverless.cloud, "aws");
  assert.deepEqual(d.tags, { team: "a" });
  const list = await pc.listIndexes();
  assert.deepEqual(
    list.indexes.map((i) => i.name),
    ["ctl"],
  );
  const c = await pc.configureIndex({ name: "ctl", deletionProtection: "enabled", tags: { env: "dev" } });
  assert.equal(c.deletionProtection, "enabled");
  assert.equal(c.tags.env, "dev");
  await assert.rejects(
    pc.deleteIndex("ctl"),
    (e) => e instanceof BasePineconeError && e.status === 403 && e.code === "FORBIDDEN",
  );
  await pc.configureIndex({ name: "ctl", deletionProtection: "disabled" });
  await pc.deleteIndex("ctl");
  assert.deepEqual((await pc.listIndexes()).indexes, []);
  // waitUntilReady resolves with the description; suppressConflicts swallows 409.
  const ready = await pc.createIndex({ name: "w", dimension: 2, spec, waitUntilReady: true });
  assert.equal(ready.status.ready, true);
  assert.equal(await pc.createIndex({ name: "w", dimension: 2, spec, suppressConflicts: true }), undefined);
  const sparse = await pc.createIndex({ name: "s", vectorType: "sparse", spec });
  assert.equal(sparse.metric, "dotproduct");
});

test("errors are Pinecone error classes with codes", async () => {
  const pc = new Larch();
  await assert.rejects(pc.describeIndex("nope"), (e) => {
    assert.ok(e instanceof PineconeNotFoundError);
    assert.ok(e instanceof Error);
    assert.equal(e.name, "PineconeNotFoundError");
    assert.equal(e.code, "NOT_FOUND");
    assert.equal(e.status, 404);
    assert.match(e.message, /nope/);
    return true;
  });
  await pc.createIndex({ name: "e", dimension: 3, spec });
  await assert.rejects(
    pc.createIndex({ name: "e", dimension: 3, spec }),
    (e) => e instanceof PineconeConflictError && e.code === "ALREADY_EXISTS",
  );
  const ix = pc.index("e");
  await assert.rejects(ix.upsert({ records: [{ id: "x", values: [1, 2] }] }), (e) => {
    assert.ok(e instanceof PineconeBadRequestError);
    assert.equal(e.code, "INVALID_ARGUMENT");
    assert.match(e.message, /dimension/);
    return true;
  });
  await assert.rejects(
    ix.query({ topK: 1, vector: [1, 0, 0], filter: { a: { $bogus: 1 } } }),
    (e) => e instanceof PineconeBadRequestError && e.code === "INVALID_ARGUMENT",
  );
  await assert.rejects(
    pc.index("ghost").query({ topK: 1, vector: [1, 0, 0] }),
    (e) => e instanceof PineconeNotFoundError && e.code === "NOT_FOUND",
  );
});

/** Records the requests `pc` sends: [method, path, query, JSON body text, side floats]. */
function recordRequests(pc) {
  const sent = [];
  const send = pc.host.send.bind(pc.host);
  pc.host.send = (method, path, query, body, vectors) => {
    const text =
      body === undefined
        ? undefined
        : body instanceof Uint8Array
          ? new TextDecoder().decode(body)
          : JSON.stringify(body);
    const side = vectors ? [Array.from(vectors.floats), Array.from(vectors.lengths)] : undefined;
    sent.push(side ? [method, path, query, text, side] : [method, path, query, text]);
    return send(method, path, query, body, vectors);
  };
  return sent;
}

test("requests are the SDK's wire format", async () => {
  // The JSON transport sends exactly the REST bodies @pinecone-database/pinecone sends.
  const pc = new Larch({ vectorTransport: "json" });
  const sent = recordRequests(pc);
  await pc.createIndex({ name: "test-index", dimension: 8, metric: "cosine", spec });
  const ns = pc.index("test-index").namespace("ns1");
  const v = Array(8).fill(0.1);
  await ns.upsert({
    records: [
      { id: "a", values: v, metadata: { genre: "x" } },
      { id: "b", values: v, metadata: { genre: "y", year: 2020 } },
    ],
  });
  await ns.query({
    topK: 3,
    filter: { genre: { $eq: "x" }, year: { $gte: 2019 } },
    includeValues: false,
    includeMetadata: true,
    vector: v,
  });
  await ns.query({ topK: 2, id: "a" });
  await ns.fetch({ ids: ["a", "b"] });
  await ns.listPaginated({ prefix: "a", limit: 10 });
  await ns.update({ id: "a", metadata: { genre: "z" } });
  await ns.deleteOne({ id: "a" });
  await ns.deleteMany({ filter: { genre: "x" } });
  await ns.deleteAll();
  await ns.describeIndexStats();
  const b = "/index/test-index";
  const vs = JSON.stringify(v);
  assert.deepEqual(sent, [
    [
      "POST",
      "/indexes",
      "",
      '{"name":"test-index","dimension":8,"metric":"cosine","spec":{"serverless":{"cloud":"aws","region":"us-east-1"}}}',
    ],
    [
      "POST",
      `${b}/vectors/upsert`,
      "",
      `{"vectors":[{"id":"a","values":${vs},"metadata":{"genre":"x"}},{"id":"b","values":${vs},"metadata":{"genre":"y","year":2020}}],"namespace":"ns1"}`,
    ],
    [
      "POST",
      `${b}/query`,
      "",
      `{"namespace":"ns1","topK":3,"filter":{"genre":{"$eq":"x"},"year":{"$gte":2019}},"includeValues":false,"includeMetadata":true,"vector":${vs}}`,
    ],
    ["POST", `${b}/query`, "", '{"namespace":"ns1","topK":2,"id":"a"}'],
    ["GET", `${b}/vectors/fetch`, "ids=a&ids=b&namespace=ns1", undefined],
    ["GET", `${b}/vectors/list`, "prefix=a&limit=10&namespace=ns1", undefined],
    ["POST", `${b}/vectors/update`, "", '{"id":"a","setMetadata":{"genre":"z"},"namespace":"ns1"}'],
    ["POST", `${b}/vectors/delete`, "", '{"ids":["a"],"namespace":"ns1"}'],
    ["POST", `${b}/vectors/delete`, "", '{"namespace":"ns1","filter":{"genre":"x"}}'],
    ["POST", `${b}/vectors/delete`, "", '{"deleteAll":true,"namespace":"ns1"}'],
    ["POST", `${b}/describe_index_stats`, "", "{}"],
  ]);
});

test("concurrent calls are serialised and all land", async () => {
  const pc = new Larch({ storage: new MemoryBlobStore(), sealRecords: 16 });
  await pc.createIndex({ name: "c", dimension: 2, spec });
  const ix = pc.index("c");
  await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      ix.namespace(`t${i % 4}`).upsert({ records: [{ id: `r${i}`, values: [i, 1] }] }),
    ),
  );
  const stats = await ix.describeIndexStats();
  assert.equal(stats.totalRecordCount, 40);
  assert.deepEqual(
    Object.values(stats.namespaces).map((n) => n.recordCount),
    [10, 10, 10, 10],
  );
});

test("a BlobStore snapshot reopens with every namespace, loaded lazily", async () => {
  const store = new MemoryBlobStore();
  const pc = new Larch({ storage: store, sealRecords: 8 });
  await multitenant(pc);
  pc.close();
  assert.ok(store.size > 0);
  const loads = [];
  const reopened = new MemoryBlobStore(store.snapshot());
  const get = reopened.get.bind(reopened);
  reopened.get = (keys) => {
    loads.push(...keys);
    return get(keys);
  };
  const pc2 = new Larch({ storage: reopened });
  const q = await pc2
    .index("docs")
    .namespace("globex")
    .query({ topK: 1, vector: [0, 0, 1] });
  assert.equal(q.matches[0].id, "g2");
  assert.ok(loads.includes("root"));
  const before = loads.length;
  const qa = await pc2
    .index("docs")
    .namespace("acme")
    .query({ topK: 1, vector: [1, 0, 0] });
  assert.equal(qa.matches[0].id, "a1");
  assert.ok(loads.length > before, "acme was loaded only when first used");
});

test("directory storage persists across instances, atomically", async () => {
  const dir = await mkdtemp(join(tmpdir(), "larch-dir-"));
  try {
    const pc = new Larch({ storage: { directory: dir } });
    await multitenant(pc);
    await pc
      .index("docs")
      .namespace("acme")
      .update({ id: "a1", metadata: { kind: "paid" } });
    pc.close();
    assert.deepEqual((await readdir(dir)).sort(), ["blobs", "larch.journal"]);
    const pc2 = new Larch({ storage: { directory: dir } });
    const stats = await pc2.index("docs").describeIndexStats();
    assert.deepEqual(stats.namespaces, { acme: { recordCount: 3 }, globex: { recordCount: 2 } });
    const f = await pc2
      .index("docs")
      .namespace("acme")
      .fetch({ ids: ["a1"] });
    assert.equal(f.records.a1.metadata.kind, "paid");
    assert.equal((await pc2.describeIndex("docs")).dimension, 3);
    pc2.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("IndexedDB storage is refused in Node with a clear error", () => {
  assert.throws(() => new Larch({ storage: { indexedDB: "x" } }), /IndexedDB is not available in Node/);
});

/** A MemoryBlobStore that remembers every key ever put. */
function trackingStore() {
  const store = new MemoryBlobStore();
  const apply = store.apply.bind(store);
  store.putKeys = new Set();
  store.apply = (batches) => {
    for (const b of batches) for (const [k] of b.puts) store.putKeys.add(k);
    return apply(batches);
  };
  return store;
}

/** `n` deterministic pseudo-random 4-d records. */
function records4(n, from = 0) {
  let s = 12345 + from;
  const r = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648) * 2 - 1;
  };
  return Array.from({ length: n }, (_, i) => ({ id: `v${from + i}`, values: [r(), r(), r(), r()] }));
}

test("sealed segments get HNSW graphs in the background; queries keep their results", async () => {
  const store = trackingStore();
  const pc = new Larch({ storage: store, sealRecords: 500, annMinRecords: 200 });
  await pc.createIndex({ name: "ann", dimension: 4, metric: "euclidean", spec });
  const ns = pc.index("ann").namespace("n");
  const all = [];
  for (let b = 0; b < 4; b++) {
    const recs = records4(250, b * 250);
    all.push(...recs);
    await ns.upsert({ records: recs });
  }
  const graphKeys = () => [...store.putKeys].filter((k) => k.includes("/g/"));
  const probes = [all[3].values, all[517].values, [0.1, -0.2, 0.3, 0.05]];
  const before = [];
  for (const vector of probes) before.push((await ns.query({ topK: 5, vector })).matches.map((m) => m.id));
  assert.equal(before[0][0], "v3");

  await pc.flushIndexing();
  assert.ok(graphKeys().length > 0, `a graph blob was committed: ${[...store.putKeys].join(" ")}`);
  for (const [i, vector] of probes.entries()) {
    assert.deepEqual(
      (await ns.query({ topK: 5, vector })).matches.map((m) => m.id),
      before[i],
    );
  }
  const stats = await pc.index("ann").describeIndexStats();
  assert.equal(stats.totalRecordCount, 1000);
  // int8 is on by default: codes are stored, then the rows, paged out of memory.
  assert.ok(
    [...store.putKeys].some((k) => k.includes("/q/")),
    "int8 codes are stored",
  );
  assert.ok(
    [...store.putKeys].some((k) => k.includes("/r/")),
    "rows are stored for paging",
  );

  // The graphs persist: a reopened store serves the same results.
  pc.close();
  const pc2 = new Larch({ storage: new MemoryBlobStore(store.snapshot()), annMinRecords: 200 });
  const ns2 = pc2.index("ann").namespace("n");
  for (const [i, vector] of probes.entries()) {
    assert.deepEqual(
      (await ns2.query({ topK: 5, vector })).matches.map((m) => m.id),
      before[i],
    );
  }
  pc2.close();
});

test("the int8 option stores codes with the graphs and queries keep their results", async () => {
  const store = trackingStore();
  const pc = new Larch({ storage: store, sealRecords: 500, annMinRecords: 200, int8: true });
  await pc.createIndex({ name: "q8", dimension: 4, metric: "cosine", spec });
  const ns = pc.index("q8").namespace("n");
  const all = records4(1000);
  await ns.upsert({ records: all });
  const probes = [all[3].values, all[517].values, [0.1, -0.2, 0.3, 0.05]];
  const before = [];
  for (const vector of probes) before.push((await ns.query({ topK: 5, vector, includeValues: false })).matches);
  await pc.flushIndexing();
  const codeKeys = [...store.putKeys].filter((k) => k.includes("/q/"));
  assert.ok(codeKeys.length > 0, `int8 codes were committed: ${[...store.putKeys].join(" ")}`);
  for (const [i, vector] of probes.entries()) {
    // Rescored in f32: the same ids and scores as the exact scan before the graphs.
    assert.deepEqual((await ns.query({ topK: 5, vector })).matches, before[i]);
  }
  pc.close();
  // Reopened with int8 off: the codes are not needed, results unchanged.
  const pc2 = new Larch({ storage: new MemoryBlobStore(store.snapshot()), annMinRecords: 200 });
  for (const [i, vector] of probes.entries()) {
    assert.deepEqual((await pc2.index("q8").namespace("n").query({ topK: 5, vector })).matches, before[i]);
  }
  pc2.close();
});

test("background indexing runs by itself between requests", async () => {
  const store = trackingStore();
  const pc = new Larch({ storage: store, sealRecords: 300, annMinRecords: 200 });
  await pc.createIndex({ name: "bg", dimension: 4, spec });
  await pc
    .index("bg")
    .namespace("n")
    .upsert({ records: records4(300) });
  for (let i = 0; i < 200 && ![...store.putKeys].some((k) => k.includes("/g/")); i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(
    [...store.putKeys].some((k) => k.includes("/g/")),
    "the timer-driven steps committed a graph",
  );
  await pc.flushIndexing();
  pc.close();
});

test("the bytes transport sends the same bodies without the dense vectors, which go beside them", async () => {
  const pc = new Larch();
  const sent = recordRequests(pc);
  await pc.createIndex({ name: "t", dimension: 2, metric: "dotproduct", spec });
  const ns = pc.index("t").namespace("n");
  await ns
    .upsert({
      records: [
        { id: "a", values: new Float32Array([0.5, 1]), metadata: { g: "x" } },
        { id: "b", values: [0.25, -1], sparseValues: { indices: Uint32Array.of(3), values: Float32Array.of(0.5) } },
        { id: "c", values: [1, "x"] }, // not numbers: travels as JSON, the engine answers as over REST
      ],
    })
    .catch(() => undefined);
  await ns.query({ topK: 1, vector: Float64Array.of(1, 2) });
  await ns.update({ id: "a", values: [2, 3] });
  const b = "/index/t";
  assert.deepEqual(sent.slice(1), [
    [
      "POST",
      `${b}/vectors/upsert`,
      "",
      '{"vectors":[{"id":"a","metadata":{"g":"x"}},{"id":"b","sparseValues":{"indices":[3],"values":[0.5]}},{"id":"c","values":[1,"x"]}],"namespace":"n"}',
      [
        [0.5, 1, 0.25, -1],
        [2, 2, 0xffffffff],
      ],
    ],
    ["POST", `${b}/query`, "", '{"namespace":"n","topK":1}', [[1, 2], [2]]],
    ["POST", `${b}/vectors/update`, "", '{"id":"a","namespace":"n"}', [[2, 3], [2]]],
  ]);
});

const f32 = (xs) => Array.from(Float32Array.from(xs));

test("Float32Array values round-trip in and out", async () => {
  const pc = new Larch({ vectors: "float32array" });
  await pc.createIndex({ name: "f", dimension: 3, metric: "dotproduct", spec });
  const ix = pc.index("f");
  await ix.upsert({
    records: [
      { id: "a", values: new Float32Array([0.1, 0.2, 0.3]) },
      { id: "b", values: Float64Array.of(0.3, 0.2, 0.1), metadata: { k: 1 } },
      { id: "c", values: [1, 0, 0], sparseValues: { indices: Uint32Array.of(1, 7), values: Float32Array.of(0.5, 2) } },
      { id: "d", values: { length: 3, 0: 0, 1: 1, 2: 0 } },
    ],
  });
  const q = await ix.query({ topK: 4, vector: Float32Array.of(1, 0, 0), includeValues: true });
  assert.deepEqual(
    q.matches.map((m) => m.id),
    ["c", "b", "a", "d"],
  );
  for (const m of q.matches) assert.ok(m.values instanceof Float32Array, m.id);
  assert.deepEqual(Array.from(q.matches[2].values), f32([0.1, 0.2, 0.3]));
  assert.deepEqual(q.matches[0].sparseValues, { indices: [1, 7], values: [0.5, 2] });
  const f = await ix.fetch({ ids: ["a", "b", "d"] });
  assert.ok(f.records.a.values instanceof Float32Array);
  assert.deepEqual(Array.from(f.records.b.values), f32([0.3, 0.2, 0.1]));
  assert.deepEqual(Array.from(f.records.d.values), [0, 1, 0]);
  await ix.update({ id: "a", values: Float32Array.of(0, 0, 1) });
  assert.deepEqual(Array.from((await ix.fetch(["a"])).records.a.values), [0, 0, 1]);
  // Without includeValues, values are empty (as Pinecone sends []).
  const bare = await ix.query({ topK: 1, vector: [0, 0, 1] });
  assert.equal(bare.matches[0].values.length, 0);
  // The default stays number[] (SDK parity), whatever the input was.
  const plain = new Larch();
  await plain.createIndex({ name: "f", dimension: 3, spec });
  await plain.index("f").upsert({ records: [{ id: "a", values: Float32Array.of(0.5, 0.25, 1) }] });
  const pf = await plain.index("f").fetch(["a"]);
  assert.ok(Array.isArray(pf.records.a.values));
  assert.deepEqual(pf.records.a.values, [0.5, 0.25, 1]);
});

/** Runs `ops(index)` on a fresh client per transport; returns both outcomes (results or errors). */
async function onBothTransports(dimension, ops, options = {}) {
  const out = [];
  for (const vectorTransport of ["json", "bytes"]) {
    const pc = new Larch({ vectorTransport, ...options });
    await pc.createIndex({ name: "x", dimension, metric: "cosine", spec });
    const ix = pc.index("x").namespace("n");
    const results = [];
    for (const op of ops) {
      try {
        results.push({ ok: await op(ix) });
      } catch (e) {
        results.push({ error: e.name, status: e.status, code: e.code, message: e.message });
      }
    }
    out.push(results);
  }
  return out;
}

test("the bytes and JSON transports give the same answers", async () => {
  const records = Array.from({ length: 300 }, (_, i) => ({
    id: `r${i}`,
    values: [Math.sin(i), Math.cos(i), i / 300, 0.1],
    metadata: { i, even: i % 2 === 0 },
  }));
  const ops = [
    (ix) => ix.upsert({ records }),
    (ix) => ix.query({ topK: 10, vector: [0.3, 0.1, 0.7, 0.2], includeValues: true, includeMetadata: true }),
    (ix) => ix.query({ topK: 5, vector: [1, 0, 0, 0], filter: { even: true }, includeValues: true }),
    (ix) => ix.query({ topK: 3, id: "r7", includeValues: true }),
    (ix) => ix.update({ id: "r1", values: [0, 0, 0, 1] }),
    (ix) => ix.fetch(["r0", "r1", "r299", "nope"]),
    (ix) => ix.describeIndexStats(),
  ];
  const [json, bytes] = await onBothTransports(4, ops, { sealRecords: 100, annMinRecords: 50 });
  assert.deepEqual(bytes, json);
  assert.equal(json[1].ok.matches.length, 10);
  assert.deepEqual(json[5].ok.records.r1.values, [0, 0, 0, 1]);
  // Float32Array results: the bytes transport takes them from beside the JSON.
  const [j32, b32] = await onBothTransports(4, ops, { sealRecords: 100, annMinRecords: 50, vectors: "float32array" });
  assert.deepEqual(b32, j32);
  assert.ok(b32[1].ok.matches[0].values instanceof Float32Array);
  assert.deepEqual(Array.from(b32[5].ok.records.r0.values), f32(records[0].values));
  assert.deepEqual(
    j32[1].ok.matches.map((m) => Array.from(m.values)),
    json[1].ok.matches.map((m) => f32(m.values)),
  );
});

test("bad input fails with the same Pinecone error on both transports", async () => {
  const big = "x".repeat(41 * 1024);
  const ops = [
    (ix) => ix.upsert({ records: [{ id: "a", values: [1, 0] }] }),
    (ix) => ix.upsert({ records: [{ id: "a", values: Float32Array.of(1, 0, 0, 0) }] }),
    (ix) => ix.upsert({ records: [{ id: "a", values: [0, 0, 0] }] }),
    (ix) => ix.upsert({ records: [{ id: "", values: [1, 0, 0] }] }),
    (ix) => ix.upsert({ records: [{ id: "a" }] }),
    (ix) => ix.upsert({ records: [] }),
    (ix) => ix.upsert({ records: [{ id: "a", values: [1, 0, 0], metadata: { big } }] }),
    (ix) => ix.upsert({ records: [{ id: "a", values: [1, Number.NaN, 0] }] }),
    (ix) => ix.upsert({ records: [{ id: "a", values: [1, 1e39, 0] }] }),
    (ix) => ix.upsert({ records: [{ id: "a", values: [1, "2", 0] }] }),
    (ix) => ix.upsert({ records: [{ id: "a", values: "1,2,3" }] }),
    (ix) => ix.upsert({ records: [{ id: "a", values: [1, 0, 0], sparseValues: { indices: [1], values: [1] } }] }),
    (ix) => ix.query({ topK: 3, vector: [1, 0] }),
    (ix) => ix.query({ vector: Float32Array.of(1, 0, 0) }),
    (ix) => ix.query({ topK: 3, vector: [1, 0, 0], id: "a" }),
    (ix) => ix.query({ topK: 3, vector: [1, Number.POSITIVE_INFINITY, 0] }),
    (ix) => ix.query({ topK: 3, vector: [1, 0, 0], filter: { $bad: 1 } }),
    (ix) => ix.update({ id: "a", values: Float32Array.of(1, 0) }),
    (ix) => ix.update({ values: [1, 0, 0] }),
    (ix) => ix.update({ filter: { a: 1 }, values: [1, 0, 0], metadata: { a: 2 } }),
  ];
  const [json, bytes] = await onBothTransports(3, ops);
  assert.deepEqual(bytes, json);
  for (const [i, r] of json.entries()) assert.equal(r.status, 400, `op ${i}: ${JSON.stringify(r)}`);
  // JSON cannot carry a Float32Array's NaN (it prints null): both refuse it as a bad request,
  // in their own words.
  const nan = [(ix) => ix.upsert({ records: [{ id: "a", values: Float32Array.of(1, Number.NaN, 0) }] })];
  const [jn, bn] = await onBothTransports(3, nan);
  assert.deepEqual([jn[0].error, jn[0].status, jn[0].code], [bn[0].error, bn[0].status, bn[0].code]);
  assert.equal(bn[0].status, 400);
  assert.match(bn[0].message, /values of 'a': value NaN is not a finite 32-bit float/);
});

test("a 20,000-record upsert in one call commits in chunks, reporting progress in order", async () => {
  const pc = new Larch({ vectors: "float32array" });
  await pc.createIndex({ name: "big", dimension: 8, spec });
  const ix = pc.index("big");
  const total = 20000;
  const records = Array.from({ length: total }, (_, i) => ({
    id: `r${i}`,
    values: Float32Array.from({ length: 8 }, (_, k) => (k === i % 8 ? 1 : 0.01 * k)),
  }));
  const progress = [];
  await ix.upsert({
    records,
    onProgress: async (p) => progress.push({ ...p, stored: (await ix.describeIndexStats()).totalRecordCount }),
  });
  assert.deepEqual(
    progress.map((p) => [p.upserted, p.total]),
    Array.from({ length: 20 }, (_, i) => [(i + 1) * 1000, total]),
  );
  assert.equal((await ix.describeIndexStats()).totalRecordCount, total);
  const f = await ix.fetch(["r0", "r12345", "r19999"]);
  assert.deepEqual(Object.keys(f.records).sort(), ["r0", "r12345", "r19999"]);
  assert.deepEqual(Array.from(f.records.r12345.values), Array.from(records[12345].values));
  // Each chunk is committed before it is reported (the callback's promise is awaited).
  assert.deepEqual(
    progress.map((p) => p.stored),
    progress.map((p) => p.upserted),
  );
});

test("large upserts are also split by body size, and one bad record anywhere writes nothing", async () => {
  for (const vectorTransport of ["bytes", "json"]) {
    const pc = new Larch({ vectorTransport });
    await pc.createIndex({ name: "m", dimension: 4, spec });
    const ix = pc.index("m");
    const note = "n".repeat(30 * 1024);
    const records = Array.from({ length: 300 }, (_, i) => ({ id: `r${i}`, values: [1, i, 0, 0], metadata: { note } }));
    const progress = [];
    await ix.upsert({ records, onProgress: (p) => progress.push(p.upserted) });
    assert.ok(progress.length >= 5, `${vectorTransport}: ${progress}`);
    assert.deepEqual(
      [...progress].sort((a, b) => a - b),
      progress,
    );
    assert.equal(progress.at(-1), 300);
    assert.equal((await ix.describeIndexStats()).totalRecordCount, 300);

    const more = Array.from({ length: 5000 }, (_, i) => ({ id: `x${i}`, values: Float32Array.of(1, 0, i, 0) }));
    more[4321] = { id: "x4321", values: [1, 0, 0] };
    let called = 0;
    await assert.rejects(
      ix.upsert({ records: more, onProgress: () => called++ }),
      (e) => e instanceof PineconeBadRequestError && /dimension 3 does not match/.test(e.message),
    );
    assert.equal(called, 0);
    assert.equal((await ix.describeIndexStats()).totalRecordCount, 300, vectorTransport);
  }
});

test("index build progress is reported after every background step, ending at built === total", async () => {
  const reports = [];
  const pc = new Larch({
    storage: new MemoryBlobStore(),
    sealRecords: 3000,
    annMinRecords: 200,
    onIndexingProgress: (p) => reports.push(p),
  });
  await pc.createIndex({ name: "ip", dimension: 4, spec });
  assert.deepEqual(pc.indexingStatus(), { pending: false, built: 0, total: 0 });
  await pc.index("ip").upsert({ records: records4(3000) });
  const status = pc.indexingStatus();
  assert.deepEqual([status.pending, status.built, status.total], [true, 0, 3000]);
  await pc.flushIndexing();
  assert.ok(reports.length >= 2, JSON.stringify(reports));
  const last = reports.at(-1);
  assert.deepEqual(last, { pending: false, built: 3000, total: 3000 });
  for (const [i, r] of reports.slice(0, -1).entries()) {
    assert.equal(r.pending, true);
    assert.equal(r.total, 3000);
    assert.ok(r.built > (reports[i - 1]?.built ?? 0) && r.built <= 3000, JSON.stringify(reports));
  }
  assert.deepEqual(pc.indexingStatus(), { pending: false, built: 0, total: 0 });
});

test("background indexing advances while 32 clients keep the host busy", async () => {
  const store = trackingStore();
  const pc = new Larch({ storage: store, sealRecords: 2000, annMinRecords: 200 });
  await pc.createIndex({ name: "busy", dimension: 16, spec });
  const ns = pc.index("busy").namespace("n");
  const vec = (s) => Array.from({ length: 16 }, (_, i) => Math.sin(s * 7.31 + i * 0.37));
  for (let b = 0; b < 2000; b += 1000) {
    await ns.upsert({ records: Array.from({ length: 1000 }, (_, i) => ({ id: `v${b + i}`, values: vec(b + i) })) });
  }
  // Each client sends its next query as soon as the last one answers, so requests are always
  // queued; the build must still get turns between them and commit the graph.
  const built = () => [...store.putKeys].some((k) => k.includes("/g/"));
  let queries = 0;
  const client = async (c) => {
    for (let i = 0; i < 200 && !built(); i++) {
      await ns.query({ topK: 10, vector: vec(c * 1000 + i) });
      queries++;
    }
  };
  await Promise.all(Array.from({ length: 32 }, (_, c) => client(c)));
  assert.ok(built(), `no graph committed after ${queries} concurrent queries`);
  await pc.flushIndexing();
  pc.close();
});

test("a merge of paged segments runs to the end in the background, row group by row group", async () => {
  const pc = new Larch({ storage: new MemoryBlobStore(), sealRecords: 500, annMinRecords: 200 });
  await pc.createIndex({ name: "pm", dimension: 4, metric: "euclidean", spec });
  const ns = pc.index("pm").namespace("n");
  await ns.upsert({ records: records4(1000) });
  await pc.flushIndexing(); // graphs, codes, then rows: both segments page out
  // Most of the first segment dies, so the next seal rewrites it: a merge that reads paged rows.
  await ns.deleteMany(Array.from({ length: 300 }, (_, i) => `v${i}`));
  await ns.upsert({ records: records4(500, 1000) });
  assert.equal(pc.indexingStatus().pending, true);
  await pc.flushIndexing();
  assert.equal(pc.indexingStatus().pending, false, "the merge finished");
  const stats = await pc.index("pm").describeIndexStats();
  assert.equal(stats.totalRecordCount, 1200);
  const f = await ns.fetch(["v0", "v300", "v1499"]);
  assert.deepEqual(Object.keys(f.records).sort(), ["v1499", "v300"]);
  const q = await ns.query({ topK: 1, vector: f.records.v300.values });
  assert.equal(q.matches[0].id, "v300");
  pc.close();
});

test("pc.index(name, host) routes to the index the host names; a host of another index is an error", async () => {
  const pc = new Pinecone();
  await pc.createIndex({ name: "hosted", dimension: 2, spec });
  await pc.createIndex({ name: "other", dimension: 2, spec });
  const { host } = await pc.describeIndex("hosted");
  assert.equal(host, "http://127.0.0.1:8787/index/hosted");
  // SDK 8/9: the second argument is the host URL, never a namespace.
  await pc.index("hosted", host).upsert({ records: [{ id: "h1", values: [1, 0] }] });
  await pc
    .Index("hosted", `${host}/`)
    .namespace("n")
    .upsert({ records: [{ id: "h2", values: [0, 1] }] });
  // SDK 9's options object: a host alone names the index; namespace in the options.
  await pc.index({ host, namespace: "n" }).upsert({ records: [{ id: "h3", values: [1, 1] }] });
  await pc.index({ host: "127.0.0.1:8787/index/hosted" }).upsert({ records: [{ id: "h4", values: [1, 0] }] });
  const stats = await pc.index("hosted").describeIndexStats();
  assert.deepEqual(stats.namespaces, { __default__: { recordCount: 2 }, n: { recordCount: 2 } });
  assert.deepEqual((await pc.index("other").describeIndexStats()).namespaces, {});
  // A Pinecone host copied from the console names its index too.
  const fetched = await pc
    .index({ host: "https://hosted-abc1234.svc.aped-4627-b74a.pinecone.io" })
    .fetch({ ids: ["h1"] });
  assert.deepEqual(Object.keys(fetched.records), ["h1"]);
  assert.throws(
    () => pc.index("other", host),
    (e) => e instanceof Errors.PineconeArgumentError && /index "hosted", not of index "other"/.test(e.message),
  );
  assert.throws(() => pc.index({ host: "https://example.com/nothing/here" }), Errors.PineconeArgumentError);
  assert.throws(() => pc.index({}), Errors.PineconeArgumentError);
  // A name with an unrelated host (e.g. a left-over environment variable) uses the name.
  const kept = await pc.index("other", "https://example.com").fetch({ ids: ["h1"] });
  assert.deepEqual(kept.records, {});
});

test("SDK 9 surfaces: pc.indexes, IndexModel deployment/schema, Errors, fetchByMetadata, documents", async () => {
  const pc = new Pinecone();
  const created = await pc.indexes.create({
    name: "nine",
    schema: { fields: { _values: { type: "dense_vector", dimension: 2, metric: "dotproduct" } } },
    deployment: { deploymentType: "managed", cloud: "aws", region: "us-east-1" },
  });
  assert.equal(created.metric, "dotproduct");
  assert.equal(created.dimension, 2);
  const d = await pc.indexes.describe("nine");
  assert.deepEqual(d.deployment, { deploymentType: "managed", cloud: "aws", region: "us-east-1" });
  assert.deepEqual(d.schema.fields._values, { type: "dense_vector", dimension: 2, metric: "dotproduct" });
  assert.equal(d.readCapacity.mode, "OnDemand");
  assert.deepEqual(
    (await pc.indexes.list()).indexes.map((i) => i.name),
    ["nine"],
  );
  assert.equal((await pc.indexes.configure("nine", { tags: { a: "b" } })).tags.a, "b");
  assert.equal(await pc.indexes.create({ name: "nine", dimension: 2, spec, suppressConflicts: true }), undefined);
  await assert.rejects(pc.indexes.describe("ghost"), Errors.PineconeNotFoundError);
  await assert.rejects(pc.indexes.create({ name: "nine", dimension: 2, spec }), Errors.PineconeConflictError);

  const ix = pc.index({ name: "nine", namespace: "t" });
  await ix.upsert({
    records: [
      { id: "a", values: [1, 0], metadata: { k: "x" } },
      { id: "b", values: [0, 1], metadata: { k: "y" } },
      { id: "c", values: [1, 1], metadata: { k: "x" } },
    ],
  });
  const page = await ix.fetchByMetadata({ filter: { k: "x" }, limit: 1 });
  assert.deepEqual(Object.keys(page.records), ["a"]);
  assert.equal(page.namespace, "t");
  assert.equal(typeof page.pagination.next, "string");
  const rest = await ix.fetchByMetadata({ filter: { k: "x" }, paginationToken: page.pagination.next });
  assert.deepEqual(Object.keys(rest.records), ["c"]);
  assert.deepEqual(rest.records.c.values, [1, 1]);
  const desc = await ix.describeNamespace("t");
  assert.equal(desc.recordCount, "3");

  // The documents API (full-text search indexes) is not implemented: 501, as a typed error.
  await assert.rejects(ix.documents.upsert({ documents: [{ _id: "d1", text: "hi" }] }), (e) => {
    assert.ok(e instanceof Errors.PineconeNotImplementedError, e);
    assert.equal(e.status, 501);
    assert.match(e.message, /documents API/);
    return true;
  });
  await assert.rejects(
    ix.searchDocuments({ scoreBy: [{ type: "text", query: "hi" }], topK: 1 }),
    Errors.PineconeNotImplementedError,
  );
  await pc.indexes.delete("nine");
  assert.deepEqual((await pc.listIndexes()).indexes, []);
  // Every error class of SDK 9's Errors namespace is there.
  for (const name of [
    "PineconeConfigurationError",
    "PineconeUnableToResolveHostError",
    "PineconeFailedPreconditionError",
    "PineconePaymentRequiredError",
    "PineconeTimeoutError",
    "PineconeConnectionError",
    "PineconeRequestError",
    "PineconeBatchUpsertError",
    "PineconeIndexPropertyError",
    "BasePineconeError",
    "PineconeArgumentError",
  ]) {
    assert.equal(typeof Errors[name], "function", name);
  }
});
