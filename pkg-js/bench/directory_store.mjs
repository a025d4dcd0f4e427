// Per-write cost of Node's directory store (scripts/bench-node-store.sh drives it):
//   node pkg-js/bench/directory_store.mjs STORE RECORDS [UPSERTS]
// STORE is "files" (js/directory_store.ts), "snapshot" (the store it replaced at 1e52661,
// inlined below: the whole database in memory, one snapshot file rewritten on every commit) or
// "memory" (MemoryBlobStore, no disk: the engine's own share of the time).
// The directory is filled with RECORDS random 384-dim records once, in memory, and written as
// a format-1 snapshot (which "files" migrates on open); then UPSERTS (default 20) upserts of
// 100 new records each are timed, and the bytes this process wrote (/proc/self/io: wchar, what
// write(2) was handed; write_bytes, what reached the block layer, fsync included) are
// divided by the number of upserts. No HNSW graphs are built (annMinRecords is out of reach),
// so only storage is measured. Prints one markdown row.

import { mkdtemp, open, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DirectoryStore, Larch, MemoryBlobStore } from "../dist/node.js";

const [store = "files", recordsArg = "10000", upsertsArg = "20"] = process.argv.slice(2);
const RECORDS = Number(recordsArg);
const UPSERTS = Number(upsertsArg);
const DIM = 384;
const ENGINE = { sealRecords: 10_000, annMinRecords: 1e9 };

let seed = 42;
const rand = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return (seed / 2147483648) * 2 - 1;
};
const records = (n, from) =>
  Array.from({ length: n }, (_, i) => ({
    id: `v${from + i}`,
    values: Array.from({ length: DIM }, () => Math.round(rand() * 1e4) / 1e4),
    metadata: { i: from + i },
  }));

/** The one-snapshot store of 1e52661 (pkg-js/js/directory_store.ts before this change). */
class SnapshotStore {
  constructor(dir, mem) {
    this.dir = dir;
    this.mem = mem;
  }
  static async open(dir) {
    return new SnapshotStore(dir, new MemoryBlobStore(await readFile(join(dir, "larch.snapshot"))));
  }
  get(keys) {
    return this.mem.get(keys);
  }
  async apply(batches) {
    await this.mem.apply(batches);
    const tmp = join(this.dir, "larch.snapshot.tmp");
    const f = await open(tmp, "w");
    await f.writeFile(this.mem.snapshot());
    await f.sync();
    await f.close();
    await rename(tmp, join(this.dir, "larch.snapshot"));
    const d = await open(this.dir, "r");
    await d.sync();
    await d.close();
  }
  close() {
    this.mem.close();
  }
}

async function io() {
  const s = await readFile("/proc/self/io", "utf8");
  const get = (k) => Number(new RegExp(`^${k}: (\\d+)`, "m").exec(s)[1]);
  return { wchar: get("wchar"), writeBytes: get("write_bytes") };
}

const dir = await mkdtemp(join(tmpdir(), "larch-bench-store-"));
try {
  // Fill in memory, write the snapshot once.
  const mem = new MemoryBlobStore();
  const fill = new Larch({ storage: mem, ...ENGINE });
  await fill.createIndex({
    name: "b",
    dimension: DIM,
    metric: "cosine",
    spec: { serverless: { cloud: "aws", region: "us-east-1" } },
  });
  for (let from = 0; from < RECORDS; from += 250) {
    await fill
      .index("b")
      .namespace("n")
      .upsert({ records: records(Math.min(250, RECORDS - from), from) });
  }
  fill.close();
  const snapshot = mem.snapshot();
  mem.close();
  await writeFile(join(dir, "larch.snapshot"), snapshot);

  const opened =
    store === "files"
      ? await DirectoryStore.open(dir)
      : store === "snapshot"
        ? await SnapshotStore.open(dir)
        : new MemoryBlobStore(snapshot);
  const pc = new Larch({ storage: opened, ...ENGINE });
  const ns = pc.index("b").namespace("n");
  await ns.fetch({ ids: ["v0"] }); // load the namespace before timing
  const batches = Array.from({ length: UPSERTS }, (_, i) => records(100, RECORDS + i * 100));
  const times = [];
  const before = await io();
  for (const r of batches) {
    const t0 = performance.now();
    await ns.upsert({ records: r });
    times.push(performance.now() - t0);
  }
  const after = await io();
  const stats = await pc.index("b").describeIndexStats();
  pc.close();
  opened.close();
  if (stats.totalRecordCount !== RECORDS + 100 * UPSERTS) throw new Error(`count ${stats.totalRecordCount}`);
  times.sort((a, b) => a - b);
  const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(1);
  const mb = (n) => (n / UPSERTS / 1e6).toFixed(2);
  console.log(
    `| ${store} | ${RECORDS.toLocaleString("en")} | ${(snapshot.length / 1e6).toFixed(1)} MB | ${q(0.5)} | ${q(0.9)} | ${times.at(-1).toFixed(1)} | ${mb(after.wchar - before.wchar)} MB | ${mb(after.writeBytes - before.writeBytes)} MB |`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
