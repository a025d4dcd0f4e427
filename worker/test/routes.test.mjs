// Route-level tests of the Worker over raw HTTP (what the SDK tests cannot see): auth on both
// planes, routing to Durable Objects, the per-namespace memory budget, index re-creation (a
// stale per-isolate index cache), counts from the namespace objects, hostile paths and bodies,
// concurrency, and legacy default-namespace naming.
// worker/test/run.sh starts `wrangler dev` with LARCH_NAMESPACE_BUDGET_MIB=4 for this file.

import assert from "node:assert/strict";
import { test } from "node:test";

const URL = process.env.LARCH_URL ?? "http://127.0.0.1:8787";
const KEY = process.env.LARCH_API_KEY ?? "larch-local-key";
const BUDGET_MIB = Number(process.env.LARCH_NAMESPACE_BUDGET_MIB ?? "4");

async function call(method, path, body, { key = KEY, version } = {}) {
  const headers = {};
  if (key !== null) headers["Api-Key"] = key;
  if (version) headers["X-Pinecone-Api-Version"] = version;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(`${URL}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: r.status, headers: r.headers, text, json };
}

const vec = (dim, seed) => Array.from({ length: dim }, (_, i) => Math.sin(seed * 7.31 + i * 0.37) + 0.01);
const spec = { serverless: { cloud: "aws", region: "us-east-1" } };

async function recreate(name, dimension, metric = "cosine") {
  await call("PATCH", `/indexes/${name}`, { deletion_protection: "disabled" });
  await call("DELETE", `/indexes/${name}`);
  const r = await call("POST", "/indexes", { name, dimension, metric, spec });
  assert.equal(r.status, 201, r.text);
  return r.json;
}

const stats = async (name, body = {}, version) =>
  (await call("POST", `/index/${name}/describe_index_stats`, body, { version })).json;

test("auth: missing key and wrong key get Pinecone's 401 on each plane", async () => {
  for (const key of [null, "", "larch-local-kez", `${KEY}x`]) {
    const c = await call("GET", "/indexes", undefined, { key });
    assert.deepEqual(
      [c.status, c.json],
      [401, { error: { code: "UNAUTHENTICATED", message: "Invalid API key." }, status: 401 }],
    );
    const d = await call("POST", "/index/anything/query", { topK: 1 }, { key });
    assert.deepEqual([d.status, d.headers.get("content-type"), d.text], [401, "text/plain", "Unauthorized"]);
  }
  assert.equal((await call("GET", "/indexes")).status, 200);
});

test("host is the request's own origin + /index/{name}", async () => {
  const m = await recreate("r-host", 4);
  assert.equal(m.host, `${URL}/index/r-host`);
  const viaLocalhost = await fetch(`${URL.replace("127.0.0.1", "localhost")}/indexes/r-host`, {
    headers: { "Api-Key": KEY },
  });
  assert.equal((await viaLocalhost.json()).host, `${URL.replace("127.0.0.1", "localhost")}/index/r-host`);
  assert.equal((await call("DELETE", "/indexes/r-host")).status, 202);
});

test("unknown routes and unsupported APIs answer in the data plane's shape", async () => {
  await recreate("r-misc", 4);
  const r = await call("GET", "/index/r-misc/nope");
  assert.equal(r.status, 404);
  assert.equal(r.json.code, 5);
  const b = await call("GET", "/index/r-misc/bulk/imports");
  assert.equal(b.status, 501);
  assert.equal(b.json.code, 12);
  const m = await call("POST", "/index/r-misc/query", "{not json");
  assert.equal(m.status, 400);
  assert.equal(m.json.code, 3);
});

test("a namespace object refuses growth beyond its memory budget, and nothing is written", async () => {
  const dim = 1024;
  await recreate("r-budget", dim);
  // The engine counts resident bytes (vectors, ids, metadata, graphs), so at most this many fit.
  const atMost = Math.floor((BUDGET_MIB * 1024 * 1024) / (dim * 4));
  const batch = (from, n) =>
    Array.from({ length: n }, (_, i) => ({
      id: `v${from + i}`,
      values: vec(dim, from + i),
      metadata: { n: from + i },
    }));
  let stored = 0;
  let over;
  for (;;) {
    const r = await call("POST", "/index/r-budget/vectors/upsert", { vectors: batch(stored, 50), namespace: "big" });
    if (r.status !== 200) {
      over = r;
      break;
    }
    stored += 50;
    assert.ok(stored <= atMost, `${stored} records of ${dim} dimensions fit in ${BUDGET_MIB} MiB`);
  }
  assert.ok(stored > 0, over.text);
  assert.equal(over.status, 403, over.text);
  assert.equal(over.json.code, 8);
  assert.match(over.json.message, /Namespace 'big' of index 'r-budget' would grow to \d+ bytes in memory/);
  assert.match(over.json.message, new RegExp(`limit of ${BUDGET_MIB * 1024 * 1024} bytes per namespace`));
  assert.deepEqual(over.json.details, []);
  // Nothing of the refused batch is stored, and the object still serves.
  assert.equal((await stats("r-budget")).namespaces.big.vectorCount, stored);
  const f = await call("GET", `/index/r-budget/vectors/fetch?ids=v${stored}&ids=v0&namespace=big`);
  assert.deepEqual(Object.keys(f.json.vectors), ["v0"]);
  // Overwrites that do not grow the namespace still work; other namespaces have their own budget.
  assert.equal(
    (await call("POST", "/index/r-budget/vectors/upsert", { vectors: batch(0, 10), namespace: "big" })).status,
    200,
  );
  assert.equal(
    (await call("POST", "/index/r-budget/vectors/upsert", { vectors: batch(0, 60), namespace: "other" })).status,
    200,
  );
  const q = await call("POST", "/index/r-budget/query", { vector: vec(dim, 3), topK: 1, namespace: "big" });
  assert.equal(q.json.matches[0].id, "v3");
  assert.equal((await call("DELETE", "/indexes/r-budget")).status, 202);
});

test("an index deleted and created again never sees the old index's records", async () => {
  await recreate("r-again", 4);
  await call("POST", "/index/r-again/vectors/upsert", {
    vectors: [{ id: "old", values: [1, 2, 3, 4] }],
    namespace: "t",
  });
  assert.equal((await call("DELETE", "/indexes/r-again")).status, 202);
  const d = await call("POST", "/index/r-again/query", { vector: [1, 2, 3, 4], topK: 1, namespace: "t" });
  assert.equal(d.status, 404);
  await recreate("r-again", 3, "euclidean");
  const q = await call("POST", "/index/r-again/query", { vector: [1, 2, 3], topK: 5, namespace: "t" });
  assert.deepEqual(q.json.matches, []);
  const s = await stats("r-again");
  assert.deepEqual([s.totalVectorCount, s.dimension, s.metric], [0, 3, "euclidean"]);
  await call("DELETE", "/indexes/r-again");
});

test("catalog: created namespaces, counts, stats, legacy default naming", async () => {
  await recreate("r-cat", 2);
  const c = await call("POST", "/index/r-cat/namespaces", { name: "empty" }, { version: "2025-10" });
  assert.equal(c.status, 200, c.text);
  assert.equal((await call("POST", "/index/r-cat/namespaces", { name: "empty" }, { version: "2025-10" })).status, 409);
  await call("POST", "/index/r-cat/vectors/upsert", {
    vectors: [
      { id: "a", values: [1, 0], metadata: { g: "x" } },
      { id: "b", values: [0, 1], metadata: { g: "y" } },
    ],
  });
  await call("POST", "/index/r-cat/vectors/upsert", {
    vectors: [{ id: "c", values: [1, 1], metadata: { g: "x" } }],
    namespace: "n2",
  });
  const list = await call("GET", "/index/r-cat/namespaces", undefined, { version: "2025-10" });
  const counts = Object.fromEntries(list.json.namespaces.map((n) => [n.name, Number(n.record_count)]));
  assert.deepEqual(counts, { __default__: 2, empty: 0, n2: 1 });
  assert.equal(list.json.total_count, 3);
  const page = await call("GET", "/index/r-cat/namespaces?limit=2", undefined, { version: "2025-10" });
  assert.equal(page.json.namespaces.length, 2);
  const rest = await call(
    "GET",
    `/index/r-cat/namespaces?limit=2&paginationToken=${page.json.pagination.next}`,
    undefined,
    { version: "2025-10" },
  );
  assert.equal(rest.json.namespaces.length, 1);
  const s = await stats("r-cat");
  assert.equal(s.totalVectorCount, 3);
  assert.equal(s.namespaces.__default__.vectorCount, 2);
  const legacy = await stats("r-cat", {}, "2025-01");
  assert.equal(legacy.namespaces[""].vectorCount, 2);
  // Serverless indexes do not filter stats (Pinecone's 400).
  const filtered = await call("POST", "/index/r-cat/describe_index_stats", { filter: { g: "x" } });
  assert.deepEqual(
    [filtered.status, filtered.json],
    [
      400,
      {
        code: 3,
        message: "Serverless and Starter indexes do not support describing index stats with metadata filtering.",
        details: [],
      },
    ],
  );
  const bad = await call("POST", "/index/r-cat/describe_index_stats", { filter: { g: { $nope: 1 } } });
  assert.equal(bad.status, 400);
  assert.equal((await call("GET", "/index/r-cat/namespaces/n2")).json.record_count, 1);
  assert.equal((await call("DELETE", "/index/r-cat/namespaces/missing")).status, 404);
  await call("DELETE", "/indexes/r-cat");
});

test("writes to one namespace are serialised; every acknowledged write is read back", async () => {
  await recreate("r-conc", 2);
  const n = 24;
  const rs = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      call("POST", "/index/r-conc/vectors/upsert", { vectors: [{ id: `id${i}`, values: [1, i + 1] }], namespace: "c" }),
    ),
  );
  assert.ok(rs.every((r) => r.status === 200));
  const lsns = rs.map((r) => Number(r.headers.get("x-pinecone-request-lsn"))).sort((a, b) => a - b);
  assert.equal(new Set(lsns).size, n, "each write has its own LSN");
  const l = await call("GET", "/index/r-conc/vectors/list?namespace=c&limit=100");
  assert.equal(l.json.vectors.length, n);
  assert.equal((await stats("r-conc")).namespaces.c.vectorCount, n);
  await call("DELETE", "/indexes/r-conc");
});

test("a sealed segment's graph is built by alarms between requests; results do not change", async () => {
  await recreate("r-ann", 4, "euclidean");
  let last;
  for (let b = 0; b < 10; b++) {
    const vectors = Array.from({ length: 1000 }, (_, i) => ({ id: `a${b * 1000 + i}`, values: vec(4, b * 1000 + i) }));
    last = await call("POST", "/index/r-ann/vectors/upsert", { vectors, namespace: "g" });
    assert.equal(last.status, 200, last.text);
  }
  assert.equal(last.headers.get("x-larch-indexing"), "pending", "sealing 10,000 records schedules a graph build");
  const probes = [vec(4, 3), vec(4, 7777), [0.1, -0.2, 0.3, 0.05]];
  const query = async (vector) => {
    const r = await call("POST", "/index/r-ann/query", { vector, topK: 5, namespace: "g" });
    assert.equal(r.status, 200, r.text);
    return r;
  };
  const before = [];
  for (const v of probes) before.push((await query(v)).json.matches.map((m) => m.id));
  assert.equal(before[0][0], "a3");
  let state = "pending";
  for (let i = 0; i < 300 && state !== "idle"; i++) {
    await new Promise((r) => setTimeout(r, 100));
    state = (await query(probes[0])).headers.get("x-larch-indexing");
  }
  assert.equal(state, "idle", "the alarms finished the build");
  for (const [i, v] of probes.entries())
    assert.deepEqual(
      (await query(v)).json.matches.map((m) => m.id),
      before[i],
    );
  await call("DELETE", "/indexes/r-ann");
});

test("graph builds finish while 32 clients keep the namespace busy", async () => {
  await recreate("r-busy", 16);
  for (let b = 0; b < 10; b++) {
    const vectors = Array.from({ length: 1000 }, (_, i) => ({ id: `b${b * 1000 + i}`, values: vec(16, b * 1000 + i) }));
    const r = await call("POST", "/index/r-busy/vectors/upsert", { vectors, namespace: "busy" });
    assert.equal(r.status, 200, r.text);
  }
  // Clients query without pause (each sends its next request when the last one answers) until
  // a response reports the build done, at most 300 queries each: far more requests than the
  // build needs when it advances under load, and none of them waits on a timer.
  let idle = false;
  let requests = 0;
  const client = async (c) => {
    for (let i = 0; i < 300 && !idle; i++) {
      const r = await call("POST", "/index/r-busy/query", {
        vector: vec(16, c * 1000 + i),
        topK: 10,
        namespace: "busy",
      });
      assert.equal(r.status, 200, r.text);
      requests++;
      if (r.headers.get("x-larch-indexing") === "idle") idle = true;
    }
  };
  await Promise.all(Array.from({ length: 32 }, (_, c) => client(c)));
  assert.ok(idle, `indexing still pending after ${requests} concurrent queries`);
  await call("DELETE", "/indexes/r-busy");
});

test("persistence: write an index the restart test reads back", async () => {
  await recreate("r-persist", 3);
  const r = await call("POST", "/index/r-persist/vectors/upsert", {
    vectors: Array.from({ length: 30 }, (_, i) => ({ id: `p${i}`, values: vec(3, i), metadata: { i } })),
    namespace: "keep",
  });
  assert.equal(r.status, 200);
});

test("hostile paths and bodies get Pinecone's 4xx, never a 500", async () => {
  await recreate("r-hostile", 2);
  for (const path of ["/index/%FF/query", "/index/%E0%A4%A/query", "/index/%/query"]) {
    const r = await call("POST", path, { topK: 1, vector: [1, 2] });
    assert.equal(r.status, 400, `${path}: ${r.text}`);
    assert.equal(r.json.code, 3, r.text);
    assert.match(r.json.message, /percent-encoding/);
  }
  const ns = await call("DELETE", "/index/r-hostile/namespaces/%FF");
  assert.deepEqual([ns.status, ns.json.code], [400, 3], ns.text);
  // A 40 MB body is refused on every route before it is read, in Pinecone's words.
  const huge = "x".repeat(40 * 1024 * 1024);
  for (const [method, path] of [
    ["POST", "/index/r-hostile/query"],
    ["POST", "/index/r-hostile/vectors/update"],
    ["POST", "/index/r-hostile/vectors/upsert"],
    ["POST", "/indexes"],
  ]) {
    const r = await call(method, path, huge);
    assert.ok(r.status === 400 || r.status === 413, `${method} ${path}: ${r.status} ${r.text.slice(0, 200)}`);
    assert.match(r.text, /exceeds the maximum supported size of 2097152 bytes/);
  }
  // Names no route could address again are refused where they enter.
  for (const name of [".", ".."]) {
    const r = await call("POST", "/index/r-hostile/vectors/upsert", {
      vectors: [{ id: "a", values: [1, 2] }],
      namespace: name,
    });
    assert.deepEqual([r.status, r.json.code], [400, 3], r.text);
  }
  // A repeated namespace parameter is refused, not read from one and labelled with the other.
  await call("POST", "/index/r-hostile/vectors/upsert", { vectors: [{ id: "s1", values: [1, 2] }], namespace: "t1" });
  const twice = await call("GET", "/index/r-hostile/vectors/fetch?ids=s1&namespace=t1&namespace=t2");
  assert.deepEqual([twice.status, twice.json.code], [400, 3], twice.text);
  assert.match(twice.json.message, /'namespace'/);
  assert.equal((await stats("r-hostile")).totalVectorCount, 1, "nothing was written by the refused requests");
  await call("DELETE", "/indexes/r-hostile");
});

test("a stale index resolution is never served: writes and reads after delete and re-create", async () => {
  await recreate("r-stale", 2);
  const up = (ns, id) =>
    call("POST", "/index/r-stale/vectors/upsert", { vectors: [{ id, values: [1, 2] }], namespace: ns });
  assert.equal((await up("t", "old")).status, 200);
  assert.equal(
    (await call("POST", "/index/r-stale/query", { vector: [1, 2], topK: 3, namespace: "t" })).json.matches.length,
    1,
  );
  // This isolate cached the first incarnation; both calls below go through that stale entry.
  assert.equal((await call("DELETE", "/indexes/r-stale")).status, 202);
  assert.equal((await call("POST", "/indexes", { name: "r-stale", dimension: 2, metric: "cosine", spec })).status, 201);
  assert.equal((await up("t", "new")).status, 200);
  const q = await call("POST", "/index/r-stale/query", { vector: [1, 2], topK: 3, namespace: "t" });
  assert.deepEqual(
    q.json.matches.map((m) => m.id),
    ["new"],
  );
  const other = await call("POST", "/index/r-stale/query", { vector: [1, 2], topK: 3, namespace: "never-written" });
  assert.deepEqual(other.json.matches, []);
  assert.equal((await stats("r-stale")).totalVectorCount, 1);
  await call("DELETE", "/indexes/r-stale");
});

test("counts never disagree with the records when upserts race DELETE /namespaces/{ns}", async () => {
  await recreate("r-race", 2);
  for (let round = 0; round < 24; round++) {
    const ns = `race${round}`;
    const vectors = Array.from({ length: 40 }, (_, i) => ({ id: `r${i}`, values: [1, i + 1] }));
    await call("POST", "/index/r-race/vectors/upsert", { vectors: vectors.slice(0, 10), namespace: ns });
    const [u, d] = await Promise.all([
      call("POST", "/index/r-race/vectors/upsert", { vectors, namespace: ns }),
      call("DELETE", `/index/r-race/namespaces/${ns}`),
    ]);
    assert.equal(u.status, 200, u.text);
    assert.equal(d.status, 200, d.text);
    const held = (await call("GET", `/index/r-race/vectors/list?namespace=${ns}&limit=100`)).json.vectors.length;
    const described = await call("GET", `/index/r-race/namespaces/${ns}`);
    const listed = (await call("GET", "/index/r-race/namespaces?limit=100")).json.namespaces.find((n) => n.name === ns);
    const s = (await stats("r-race")).namespaces[ns];
    if (held === 0) {
      assert.equal(described.status, 404, `round ${round}: described ${described.text} while holding nothing`);
      assert.equal(listed, undefined, `round ${round}: listed while holding nothing`);
      assert.equal(s, undefined, `round ${round}: in stats while holding nothing`);
    } else {
      assert.equal(Number(described.json.record_count), held, `round ${round}`);
      assert.equal(Number(listed.record_count), held, `round ${round}`);
      assert.equal(s.vectorCount, held, `round ${round}`);
    }
  }
  await call("DELETE", "/indexes/r-race");
});
