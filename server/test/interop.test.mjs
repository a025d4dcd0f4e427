// One directory, two hosts: a directory written by the npm package in Node (`{ directory }`
// store) opens in `larch serve`, and what the server writes opens in Node again; while the
// server runs, Node cannot take the directory's lock.
//
//   LARCH_BIN=target/debug/larch node --test server/test/interop.test.mjs   (needs pkg-js/dist)

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { Larch } from "../../pkg-js/dist/node.js";

const BIN = process.env.LARCH_BIN ?? "target/debug/larch";
const KEY = "interop-key";
const spec = { serverless: { cloud: "aws", region: "us-east-1" } };
const headers = { "Api-Key": KEY, "Content-Type": "application/json", "X-Pinecone-Api-Version": "2025-10" };

/** Starts `larch serve` over `dir`; resolves with its URL and a stop function. */
function serve(dir) {
  const proc = spawn(BIN, ["serve", "--data", dir, "--port", "0", "--api-key", KEY], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout });
    lines.once("line", (line) => {
      const m = line.match(/on (http:\/\/127\.0\.0\.1:\d+) /);
      if (!m) return reject(new Error(`larch serve did not start: ${line}`));
      const stop = () =>
        new Promise((done) => {
          proc.once("exit", (code) => done(code));
          proc.kill("SIGTERM");
        });
      resolve({ url: m[1], stop });
    });
    proc.once("error", reject);
  });
}

const post = (url, path, body) => fetch(`${url}${path}`, { method: "POST", headers, body: JSON.stringify(body) });

test("a directory moves between pkg-js in Node and larch serve, both ways", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "larch-interop-"));
  t.after(() => rm(dir, { recursive: true, force: true }));

  // 1. Node writes.
  let pc = new Larch({ storage: { directory: dir } });
  await pc.createIndex({ name: "shared", dimension: 4, metric: "euclidean", spec });
  await pc
    .index("shared")
    .namespace("n")
    .upsert({
      records: [
        { id: "node-1", values: [1, 0, 0, 0], metadata: { by: "node" } },
        { id: "node-2", values: [0, 1, 0, 0], metadata: { by: "node" } },
      ],
    });
  pc.close();

  // 2. The server reads Node's records, writes its own, and keeps Node out meanwhile.
  const server = await serve(dir);
  let r = await fetch(`${server.url}/index/shared/vectors/fetch?namespace=n&ids=node-1&ids=node-2`, { headers });
  assert.equal(r.status, 200);
  const fetched = await r.json();
  assert.deepEqual(Object.keys(fetched.vectors).sort(), ["node-1", "node-2"]);
  assert.deepEqual(fetched.vectors["node-2"].metadata, { by: "node" });
  r = await post(server.url, "/index/shared/vectors/upsert", {
    namespace: "n",
    vectors: [{ id: "server-1", values: [0, 0, 1, 0], metadata: { by: "server" } }],
  });
  assert.equal(r.status, 200);
  r = await post(server.url, "/index/shared/vectors/upsert", { namespace: "m", vectors: [{ id: "m-1", values: [0, 0, 0, 1] }] });
  assert.equal(r.status, 200);
  r = await post(server.url, "/index/shared/query", { namespace: "n", vector: [0, 0, 0.9, 0], topK: 1 });
  assert.equal((await r.json()).matches[0].id, "server-1");

  const blocked = new Larch({ storage: { directory: dir, lockTimeoutMs: 300 } });
  await assert.rejects(blocked.index("shared").describeIndexStats(), (e) => e.code === "STORAGE_LOCKED");
  blocked.close();
  assert.equal(await server.stop(), 0);

  // 3. Node reads everything back.
  pc = new Larch({ storage: { directory: dir } });
  const ix = pc.index("shared");
  const stats = await ix.describeIndexStats();
  assert.equal(stats.totalRecordCount, 4);
  assert.equal(stats.namespaces.n.recordCount, 3);
  assert.equal(stats.namespaces.m.recordCount, 1);
  const back = await ix.namespace("n").fetch(["node-1", "server-1"]);
  assert.deepEqual(back.records["server-1"].metadata, { by: "server" });
  assert.deepEqual(back.records["server-1"].values, [0, 0, 1, 0]);
  // And Node's next write opens in the server again.
  await ix.namespace("m").upsert({ records: [{ id: "m-2", values: [1, 1, 0, 0] }] });
  pc.close();
  const again = await serve(dir);
  r = await fetch(`${again.url}/index/shared/vectors/fetch?namespace=m&ids=m-1&ids=m-2`, { headers });
  assert.deepEqual(Object.keys((await r.json()).vectors).sort(), ["m-1", "m-2"]);
  assert.equal(await again.stop(), 0);
});
