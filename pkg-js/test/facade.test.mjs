// The facade in Node: the multitenant flow of @pinecone-database/pinecone code, errors with
// codes, the wire format the SDK sends, and persistence to a directory.

import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  BasePineconeError,
  Larch,
  MemoryBlobStore,
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
      ["acme", 3],
      ["globex", 2],
    ],
  );
  const d = await index.describeNamespace("globex");
  assert.equal(d.name, "globex");
  assert.equal(d.recordCount, 2);

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

test("requests are the SDK's wire format", async () => {
  const pc = new Larch();
  const sent = [];
  const send = pc.host.send.bind(pc.host);
  pc.host.send = (method, path, query, body) => {
    sent.push([method, path, query, body === undefined ? undefined : JSON.stringify(body)]);
    return send(method, path, query, body);
  };
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
    assert.deepEqual(await readdir(dir), ["larch.snapshot"]);
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
  assert.ok(![...store.putKeys].some((k) => k.includes("/q/")), "no int8 codes unless asked for");

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
