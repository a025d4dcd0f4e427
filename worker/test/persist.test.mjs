// Run by worker/test/run.sh after `wrangler dev` restarted over the same state directory:
// what routes.test.mjs wrote is still there (Durable Object SQLite storage, cold objects).

import assert from "node:assert/strict";
import { test } from "node:test";

const URL = process.env.LARCH_URL ?? "http://127.0.0.1:8787";
const KEY = process.env.LARCH_API_KEY ?? "larch-local-key";
const h = { "Api-Key": KEY, "Content-Type": "application/json" };

test("records and catalog survive a restart", async () => {
  const s = await (
    await fetch(`${URL}/index/r-persist/describe_index_stats`, { method: "POST", headers: h, body: "{}" })
  ).json();
  assert.equal(s.namespaces.keep.vectorCount, 30);
  const v = Array.from({ length: 3 }, (_, i) => Math.sin(7 * 7.31 + i * 0.37) + 0.01);
  const q = await (
    await fetch(`${URL}/index/r-persist/query`, {
      method: "POST",
      headers: h,
      body: JSON.stringify({ vector: v, topK: 1, namespace: "keep", includeMetadata: true }),
    })
  ).json();
  assert.equal(q.matches[0].id, "p7");
  assert.deepEqual(q.matches[0].metadata, { i: 7 });
  assert.equal((await fetch(`${URL}/indexes/r-persist`, { method: "DELETE", headers: h })).status, 202);
});
