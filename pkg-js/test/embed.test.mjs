// Integrated embedding through the facade in Node, with the real all-MiniLM-L6-v2 module
// (dist/embed/) and weights from the model cache (scripts/fetch-model.sh): the TS SDK's
// createIndexForModel, upsertRecords, searchRecords (text, id, filter, fields) and
// inference.embed, and the errors for an unknown model and a missing field.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { gunzipSync } from "node:zlib";
import { Larch, PineconeBadRequestError, PineconeNotFoundError } from "../dist/node.js";

const records = [
  { _id: "apple", chunk_text: "Apples are sweet fruits that grow on trees in orchards.", kind: "food" },
  { _id: "market", chunk_text: "Share prices dropped after the central bank raised interest rates.", kind: "finance" },
  { id: "goal", chunk_text: "The striker scored twice in the second half of the football match.", kind: "sport" },
  { _id: "rain", chunk_text: "Heavy rain and strong winds are expected across the region tomorrow.", kind: "weather" },
];

async function docs() {
  const pc = new Larch();
  const model = await pc.createIndexForModel({
    name: "docs",
    cloud: "aws",
    region: "us-east-1",
    embed: { model: "all-minilm-l6-v2", fieldMap: { text: "chunk_text" } },
    waitUntilReady: true,
  });
  assert.equal(model.dimension, 384);
  const ns = pc.index("docs").namespace("example");
  await ns.upsertRecords(records);
  return { pc, ns };
}

test("searchRecords by text finds the closest record with the real model", async () => {
  const { pc, ns } = await docs();
  const r = await ns.searchRecords({ query: { topK: 2, inputs: { text: "Which team won the soccer game?" } } });
  assert.equal(r.result.hits[0]._id, "goal");
  assert.equal(r.result.hits[0].fields.kind, "sport");
  assert.ok(r.result.hits[0]._score > r.result.hits[1]._score);
  assert.ok(r.usage.embedTotalTokens > 2);
  const f = await ns.searchRecords({
    query: { topK: 3, inputs: { text: "fruit" }, filter: { kind: { $eq: "finance" } } },
    fields: ["kind"],
  });
  assert.deepEqual(
    f.result.hits.map((h) => [h._id, h.fields]),
    [["market", { kind: "finance" }]],
  );
  const byId = await ns.searchRecords({ query: { topK: 1, id: "rain" } });
  assert.equal(byId.result.hits[0]._id, "rain");
  pc.close();
});

test("inference.embed returns unit vectors of 384 in both SDK call shapes", async () => {
  const pc = new Larch();
  const a = await pc.inference.embed("all-minilm-l6-v2", ["hello world"], { inputType: "query" });
  const b = await pc.inference.embed({ model: "all-minilm-l6-v2", inputs: ["hello world"] });
  assert.equal(a.data[0].values.length, 384);
  const norm = Math.hypot(...a.data[0].values);
  assert.ok(Math.abs(norm - 1) < 1e-4, `norm ${norm}`);
  assert.deepEqual(a.data[0].values, b.data[0].values);
  assert.equal(a.usage.totalTokens, 4);
  pc.close();
});

test("an unknown model and a missing field are Pinecone's errors and store nothing", async () => {
  const { pc, ns } = await docs();
  await assert.rejects(
    pc.createIndexForModel({
      name: "e5",
      cloud: "aws",
      region: "us-east-1",
      embed: { model: "multilingual-e5-large", fieldMap: { text: "t" } },
    }),
    (e) => e instanceof PineconeNotFoundError && /Available models: all-minilm-l6-v2/.test(e.message),
  );
  await assert.rejects(
    ns.upsertRecords([{ _id: "x", body: "no chunk_text here" }]),
    (e) => e instanceof PineconeBadRequestError && /chunk_text/.test(e.message),
  );
  const stats = await pc.index("docs").describeIndexStats();
  assert.equal(stats.totalRecordCount, 4);
  assert.deepEqual(
    (await pc.listIndexes()).indexes.map((i) => i.name),
    ["docs"],
  );
  pc.close();
});

test("the wasm module matches sentence-transformers on the oracle texts (int8 weights)", async () => {
  // The first 64 of tests/fixtures/embed (the native oracle test checks all 1,000).
  const dir = new URL("../../tests/fixtures/embed/", import.meta.url);
  const lines = gunzipSync(readFileSync(new URL("texts.jsonl.gz", dir)))
    .toString("utf8")
    .trim()
    .split("\n");
  const texts = lines.slice(0, 64).map((l) => JSON.parse(l).text);
  const raw = readFileSync(new URL("minilm.i8", dir));
  const pc = new Larch();
  const got = await pc.inference.embed("all-minilm-l6-v2", texts);
  let worst = 1;
  for (const [i, d] of got.data.entries()) {
    const off = i * (4 + 384);
    const scale = raw.readFloatLE(off);
    let dot = 0;
    let nr = 0;
    for (let j = 0; j < 384; j++) {
      const r = raw.readInt8(off + 4 + j) * scale;
      dot += r * d.values[j];
      nr += r * r;
    }
    worst = Math.min(worst, dot / Math.sqrt(nr));
  }
  assert.ok(worst >= 0.99, `worst cosine ${worst}`);
  pc.close();
});
