// Child process of directory.test.mjs: upserts records into a directory store until done (or
// killed), printing `ack <records acknowledged so far: PREFIX-0 … PREFIX-(n-1)> <ms since epoch>` after each upsert the
// store acknowledged, and `done` at the end.
//   node directory_writer.mjs DIR PREFIX COUNT BATCH

import { Larch } from "../dist/node.js";

const [dir, prefix, count, batch] = process.argv.slice(2);
const n = Number(count);
const size = Number(batch);
const pc = new Larch({ storage: { directory: dir }, sealRecords: 300, annMinRecords: 200, maxLogEntries: 4 });
await pc.createIndex({
  name: "crash",
  dimension: 4,
  metric: "euclidean",
  spec: { serverless: { cloud: "aws", region: "us-east-1" } },
  suppressConflicts: true,
});
const ns = pc.index("crash").namespace("n");
for (let from = 0; from < n; from += size) {
  const records = [];
  for (let i = from; i < Math.min(n, from + size); i++) {
    const x = i / n;
    records.push({ id: `${prefix}-${i}`, values: [x, 1 - x, Math.sin(i), prefix.length], metadata: { i } });
  }
  await ns.upsert({ records });
  process.stdout.write(`ack ${from + records.length} ${Date.now()}\n`);
}
pc.close();
process.stdout.write("done\n");
