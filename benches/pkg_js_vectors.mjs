// pkg-js: dense vectors as JSON vs as f32 bytes beside the body (LarchOptions.vectorTransport),
// and results as number[] vs Float32Array (LarchOptions.vectors), in Node.
//
//   bash pkg-js/build.sh && node benches/pkg_js_vectors.mjs [records=50000] [queries=1000] [dim=384]
//
// Upserts: `records` random vectors in calls of 1000 (annMinRecords huge, so no graph builds
// run between calls), then the same records in one call (split, validated, committed by the
// facade). Queries: top-10 over one database (default settings, graphs built first), with and
// without includeValues, for each transport and result type.

import { Larch } from "../pkg-js/dist/node.js";

const [records = 50000, queries = 1000, dim = 384] = process.argv.slice(2).map(Number);
const spec = { serverless: { cloud: "aws", region: "us-east-1" } };

let seed = 42;
const rand = () => {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed / 2 ** 32 - 0.5;
};
const vector = () => Float32Array.from({ length: dim }, rand);
const data = Array.from({ length: records }, (_, i) => ({ id: `r${i}`, values: vector(), metadata: { i } }));
const asArrays = data.map((r) => ({ ...r, values: Array.from(r.values) }));
const probes = Array.from({ length: queries }, vector);

async function open(options) {
  const pc = new Larch(options);
  await pc.createIndex({ name: "bench", dimension: dim, metric: "cosine", spec });
  return pc;
}

const ms = (t) => Number(process.hrtime.bigint() - t) / 1e6;

async function upserts(transport, input, label) {
  const pc = await open({ vectorTransport: transport, annMinRecords: 1e9 });
  const ix = pc.index("bench");
  let t = process.hrtime.bigint();
  for (let i = 0; i < input.length; i += 1000) await ix.upsert({ records: input.slice(i, i + 1000) });
  const batched = ms(t);
  pc.close();
  const one = await open({ vectorTransport: transport, annMinRecords: 1e9 });
  t = process.hrtime.bigint();
  await one.index("bench").upsert({ records: input });
  const single = ms(t);
  one.close();
  const rate = (x) => Math.round(input.length / (x / 1000));
  console.log(
    `upsert ${transport.padEnd(5)} ${label.padEnd(12)} batches of 1000: ${batched.toFixed(0)} ms (${rate(batched)} rec/s); one call: ${single.toFixed(0)} ms (${rate(single)} rec/s)`,
  );
}

await upserts("json", asArrays, "number[]");
await upserts("bytes", asArrays, "number[]");
await upserts("bytes", data, "Float32Array");

const pc = await open({});
const ix = pc.index("bench");
await ix.upsert({ records: data });
const t = process.hrtime.bigint();
await pc.flushIndexing();
console.log(`index build (flushIndexing): ${ms(t).toFixed(0)} ms`);
for (const [transport, out] of [
  ["json", "array"],
  ["bytes", "array"],
  ["bytes", "float32array"],
]) {
  pc.bytesIn = transport === "bytes";
  pc.float32Out = out === "float32array";
  for (const includeValues of [false, true]) {
    for (let i = 0; i < 50; i++) await ix.query({ topK: 10, vector: probes[i], includeValues }); // warm-up
    const lat = [];
    for (const p of probes) {
      const t0 = process.hrtime.bigint();
      await ix.query({ topK: 10, vector: transport === "json" ? Array.from(p) : p, includeValues });
      lat.push(ms(t0));
    }
    lat.sort((a, b) => a - b);
    const mean = lat.reduce((a, b) => a + b, 0) / lat.length;
    const p = (q) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))].toFixed(3);
    console.log(
      `query ${transport.padEnd(5)} -> ${out.padEnd(12)} includeValues=${String(includeValues).padEnd(5)} mean ${mean.toFixed(3)} ms  p50 ${p(0.5)}  p99 ${p(0.99)}`,
    );
  }
}
pc.close();
