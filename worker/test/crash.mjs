// The kill -9 test's client (worker/test/crash.sh drives it):
//   node test/crash.mjs write ROUND LOG   writes until the runtime is killed; appends every
//                                         acknowledged write to LOG
//   node test/crash.mjs check LOG         after a restart over the same state: every
//                                         acknowledged record is there, and the counts of
//                                         stats, namespace listing and describe agree with the
//                                         records each namespace holds
// Writes: upserts of 50 records to namespace "keep" (never deleted), and in between a namespace
// "t{round}-{i}" filled and then deleted, so a kill can land in an upsert, a delete or a create.

import assert from "node:assert/strict";
import { appendFileSync, existsSync, readFileSync } from "node:fs";

const URL = process.env.LARCH_URL ?? "http://127.0.0.1:8787";
const KEY = process.env.LARCH_API_KEY ?? "larch-local-key";
const INDEX = "r-crash";

async function call(method, path, body) {
  const r = await fetch(`${URL}${path}`, {
    method,
    headers: { "Api-Key": KEY, "Content-Type": "application/json", "X-Pinecone-Api-Version": "2025-10" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null, text };
}

const vec = (seed) => [Math.sin(seed) + 1.5, Math.cos(seed) + 1.5];

async function write(round, log) {
  const c = await call("POST", "/indexes", {
    name: INDEX,
    dimension: 2,
    metric: "euclidean",
    spec: { serverless: { cloud: "aws", region: "us-east-1" } },
  });
  assert.ok(c.status === 201 || c.status === 409, c.text);
  for (let i = 0; ; i++) {
    const ids = Array.from({ length: 50 }, (_, j) => `k${round}-${i}-${j}`);
    const u = await call("POST", `/index/${INDEX}/vectors/upsert`, {
      namespace: "keep",
      vectors: ids.map((id, j) => ({ id, values: vec(i * 50 + j) })),
    });
    if (u.status === 200) appendFileSync(log, `${JSON.stringify({ ns: "keep", ids })}\n`);
    const t = `t${round}-${i}`;
    appendFileSync(log, `${JSON.stringify({ trying: t })}\n`);
    const f = await call("POST", `/index/${INDEX}/vectors/upsert`, {
      namespace: t,
      vectors: Array.from({ length: 20 }, (_, j) => ({ id: `x${j}`, values: vec(j) })),
    });
    if (f.status === 200) {
      const d = await call("DELETE", `/index/${INDEX}/namespaces/${t}`);
      if (d.status === 200) appendFileSync(log, `${JSON.stringify({ deleted: t })}\n`);
    }
  }
}

async function held(ns) {
  const ids = [];
  let token = "";
  for (;;) {
    const q = `namespace=${encodeURIComponent(ns)}&limit=100${token ? `&paginationToken=${token}` : ""}`;
    const l = await call("GET", `/index/${INDEX}/vectors/list?${q}`);
    assert.equal(l.status, 200, l.text);
    ids.push(...l.json.vectors.map((v) => v.id));
    token = l.json.pagination?.next ?? "";
    if (!token) return ids;
  }
}

async function check(log) {
  const acked = existsSync(log)
    ? readFileSync(log, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];
  const stats = (await call("POST", `/index/${INDEX}/describe_index_stats`, {})).json;
  const listing = (await call("GET", `/index/${INDEX}/namespaces?limit=100`)).json.namespaces;
  const keep = new Set(await held("keep"));
  for (const a of acked.filter((a) => a.ns === "keep"))
    for (const id of a.ids) assert.ok(keep.has(id), `acknowledged ${id} lost`);
  const names = new Set([...Object.keys(stats.namespaces), ...listing.map((n) => n.name), "keep"]);
  for (const a of acked) if (a.deleted || a.trying) names.add(a.deleted ?? a.trying);
  let total = 0;
  for (const ns of names) {
    const n = (await held(ns)).length;
    total += n;
    const described = await call("GET", `/index/${INDEX}/namespaces/${encodeURIComponent(ns)}`);
    const listed = listing.find((x) => x.name === ns);
    if (n === 0) {
      assert.equal(stats.namespaces[ns], undefined, `${ns} holds nothing but is in stats`);
      assert.equal(listed, undefined, `${ns} holds nothing but is listed`);
      assert.equal(described.status, 404, `${ns} holds nothing but is described: ${described.text}`);
    } else {
      assert.equal(stats.namespaces[ns]?.vectorCount, n, `stats of ${ns}`);
      assert.equal(Number(listed?.record_count), n, `listing of ${ns}`);
      assert.equal(Number(described.json.record_count), n, `describe of ${ns}`);
    }
  }
  assert.equal(stats.totalVectorCount, total);
  for (const a of acked.filter((a) => a.deleted))
    assert.equal((await held(a.deleted)).length, 0, `${a.deleted} came back`);
  console.log(
    `crash check: ${keep.size} records in keep, ${names.size} namespaces consistent, ${total} records in all`,
  );
}

const [mode, ...args] = process.argv.slice(2);
if (mode === "write") await write(args[0], args[1]);
else if (mode === "check") await check(args[0]);
else throw new Error("usage: crash.mjs write ROUND LOG | check LOG");
