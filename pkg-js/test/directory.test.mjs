// The Node directory store (js/directory_store.ts): one file per blob, an atomic commit per
// apply, recovery of every crash point, the lock that lets processes share a directory, the
// migration of format 1 (one larch.snapshot file), and kill -9 of writers.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { encodeJournal, fileName } from "../dist/directory_store.js";
import { DirectoryStore, Larch, MemoryBlobStore } from "../dist/node.js";

const spec = { serverless: { cloud: "aws", region: "us-east-1" } };
const enc = (s) => new TextEncoder().encode(s);
const text = (b) => (b === undefined ? undefined : new TextDecoder().decode(b));
const batch = (puts = [], deletes = [], deletePrefixes = []) => ({
  puts: puts.map(([k, v]) => [k, enc(v)]),
  deletes,
  deletePrefixes,
});

async function tempDir(t) {
  const dir = await mkdtemp(join(tmpdir(), "larch-dirstore-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test("apply commits puts, deletes and prefix deletes; a reopened store reads them back", async (t) => {
  const dir = await tempDir(t);
  const s = await DirectoryStore.open(dir);
  assert.equal(await s.generation(), 0);
  assert.equal(
    await s.apply([
      batch([
        ["root", "r1"],
        ["n/1/m", "m1"],
        ["n/1/s/0", "s0"],
        ["n/2/m", "x"],
      ]),
    ]),
    1,
  );
  const g = await s.apply([
    batch(
      [
        ["n/1/s/1", "s1"],
        ["root", "r2"],
      ],
      ["n/2/m"],
    ),
    batch([["n/1/s/0", "s0b"]], [], ["n/1/s/"]),
    batch([["n/1/s/2", "s2"]]),
  ]);
  assert.equal(g, 2);
  s.close();
  const r = await DirectoryStore.open(dir);
  assert.equal(await r.generation(), 2);
  const got = await r.get(["root", "n/1/m", "n/1/s/0", "n/1/s/1", "n/1/s/2", "n/2/m", "absent"]);
  assert.deepEqual(got.map(text), ["r2", "m1", undefined, undefined, "s2", undefined, undefined]);
  assert.deepEqual((await readdir(join(dir, "blobs"))).sort(), ["n.1.m", "n.1.s.2", "root"]);
  r.close();
});

test("file names round-trip any key and never contain the staging mark", () => {
  assert.equal(fileName("n/0000000a/00000001/v/00000002/0000"), "n.0000000a.00000001.v.00000002.0000");
  assert.equal(fileName("a.b~c/é"), "a%2Eb%7Ec.%C3%A9");
});

test("a staged put whose journal was never written is discarded at open", async (t) => {
  const dir = await tempDir(t);
  const s = await DirectoryStore.open(dir);
  await s.apply([batch([["root", "r1"]])]);
  s.close();
  // A crash between writing the staged files and renaming the journal (step 2 of a commit).
  await writeFile(join(dir, "blobs", "root~2"), "r2");
  await writeFile(join(dir, "blobs", "new~2"), "n");
  await writeFile(join(dir, "larch.journal.tmp"), "torn");
  const r = await DirectoryStore.open(dir);
  assert.equal(await r.generation(), 1);
  assert.deepEqual((await r.get(["root", "new"])).map(text), ["r1", undefined]);
  assert.deepEqual((await readdir(dir)).sort(), ["blobs", "larch.journal"]);
  assert.deepEqual(await readdir(join(dir, "blobs")), ["root"]);
  r.close();
});

test("a committed journal is replayed at open, whether none, part or all of it was applied", async (t) => {
  for (const applied of [0, 1, 3]) {
    const dir = await tempDir(t);
    const s = await DirectoryStore.open(dir);
    await s.apply([
      batch([
        ["root", "r1"],
        ["gone", "g"],
        ["keep", "k"],
      ]),
    ]);
    s.close();
    // Generation 2 committed (journal renamed), then a crash after `applied` of its operations.
    const ops = [{ key: "root", put: enc("r2") }, { key: "gone" }, { key: "fresh", put: enc("f") }];
    for (const o of ops) if (o.put) await writeFile(join(dir, "blobs", `${fileName(o.key)}~2`), o.put);
    await writeFile(join(dir, "larch.journal"), encodeJournal(2, ops));
    const done = ops.slice(0, applied);
    for (const o of done) {
      const file = join(dir, "blobs", fileName(o.key));
      if (o.put) await cp(`${file}~2`, file).then(() => rm(`${file}~2`));
      else await rm(file);
    }
    const r = await DirectoryStore.open(dir);
    assert.equal(await r.generation(), 2, `applied ${applied}`);
    assert.deepEqual((await r.get(["root", "gone", "keep", "fresh"])).map(text), ["r2", undefined, "k", "f"]);
    assert.deepEqual((await readdir(join(dir, "blobs"))).sort(), ["fresh", "keep", "root"]);
    r.close();
  }
});

test("a damaged journal fails the open with DATA_LOSS", async (t) => {
  const dir = await tempDir(t);
  const s = await DirectoryStore.open(dir);
  await s.apply([batch([["root", "r1"]])]);
  s.close();
  const journal = await readFile(join(dir, "larch.journal"));
  journal[journal.length - 40] ^= 1;
  await writeFile(join(dir, "larch.journal"), journal);
  await assert.rejects(DirectoryStore.open(dir), { code: "DATA_LOSS", name: "LarchDataLossError" });
});

test("the lock is released after each request; a live holder is waited for, then STORAGE_LOCKED", async (t) => {
  const dir = await tempDir(t);
  const pc = new Larch({ storage: { directory: dir } });
  await pc.createIndex({ name: "docs", dimension: 2, spec });
  await pc.index("docs").upsert({ records: [{ id: "a", values: [1, 0] }] });
  assert.ok(!(await readdir(dir)).includes("larch.lock"));
  pc.close();
  // Another live process holds the lock.
  const other = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"]);
  t.after(() => other.kill("SIGKILL"));
  const lock = join(dir, "larch.lock");
  await writeFile(lock, JSON.stringify({ pid: other.pid, host: hostname(), token: "t" }));
  await assert.rejects(DirectoryStore.open(dir, { lockTimeoutMs: 150 }), { code: "STORAGE_LOCKED" });
  assert.ok((await readdir(dir)).includes("larch.lock"), "a live holder's lock is left alone");
  await rm(lock);
  const s = await DirectoryStore.open(dir, { lockTimeoutMs: 150 });
  assert.ok((await s.generation()) > 0);
  s.close();
});

test("a lock left by a dead process, or by a former process with this pid, is broken", async (t) => {
  const dir = await tempDir(t);
  const child = spawn(process.execPath, ["-e", ""]);
  await new Promise((r) => child.on("exit", r));
  await writeFile(join(dir, "larch.lock"), JSON.stringify({ pid: child.pid, host: hostname(), token: "dead" }));
  const s = await DirectoryStore.open(dir, { lockTimeoutMs: 5000 });
  assert.equal(await s.apply([batch([["root", "r"]])]), 1);
  assert.ok(!(await readdir(dir)).includes("larch.lock"));
  // A lock and a wait file with this process's pid but no token of its own: a dead namesake's.
  await writeFile(join(dir, "larch.lock"), JSON.stringify({ pid: process.pid, host: hostname(), token: "old" }));
  await writeFile(join(dir, `larch.wait.000000000000001.${process.pid}.old`), "");
  assert.equal(await s.apply([batch([["root", "r2"]])]), 2);
  assert.deepEqual((await readdir(dir)).sort(), ["blobs", "larch.journal"]);
  s.close();
});

test("two instances on one directory take turns and see each other's writes", async (t) => {
  const dir = await tempDir(t);
  const a = new Larch({ storage: { directory: dir } });
  const b = new Larch({ storage: { directory: dir } });
  await a.createIndex({ name: "docs", dimension: 2, spec });
  const writes = [];
  for (let i = 0; i < 20; i++) {
    writes.push(a.index("docs").upsert({ records: [{ id: `a${i}`, values: [1, i] }] }));
    writes.push(b.index("docs").upsert({ records: [{ id: `b${i}`, values: [i, 1] }] }));
  }
  await Promise.all(writes);
  const stats = await b.index("docs").describeIndexStats();
  assert.equal(stats.totalRecordCount, 40);
  const f = await a.index("docs").fetch({ ids: ["a19", "b19"] });
  assert.deepEqual(Object.keys(f.records).sort(), ["a19", "b19"]);
  a.close();
  b.close();
});

const fixture = fileURLToPath(new URL("./fixtures/directory-v1", import.meta.url));

test("a directory of format 1 (larch.snapshot, written by the old store) is migrated on first open", async (t) => {
  const dir = await tempDir(t);
  await cp(fixture, dir, { recursive: true });
  assert.deepEqual(await readdir(dir), ["larch.snapshot"]);
  const pc = new Larch({ storage: { directory: dir } });
  const stats = await pc.index("docs").describeIndexStats();
  assert.deepEqual(stats.namespaces, { acme: { recordCount: 3 }, globex: { recordCount: 2 } });
  const f = await pc
    .index("docs")
    .namespace("acme")
    .fetch({ ids: ["a1"] });
  assert.equal(f.records.a1.metadata.kind, "paid");
  assert.deepEqual((await readdir(dir)).sort(), ["blobs", "larch.journal"]);
  await pc
    .index("docs")
    .namespace("acme")
    .upsert({ records: [{ id: "a4", values: [0, 0, 1] }] });
  pc.close();
  const pc2 = new Larch({ storage: { directory: dir } });
  const s2 = await pc2.index("docs").describeIndexStats();
  assert.deepEqual(s2.namespaces, { acme: { recordCount: 4 }, globex: { recordCount: 2 } });
  pc2.close();
});

test("a migration cut short after its commit is not redone over newer writes", async (t) => {
  const dir = await tempDir(t);
  await cp(fixture, dir, { recursive: true });
  const snapshot = await readFile(join(dir, "larch.snapshot"));
  const pc = new Larch({ storage: { directory: dir } });
  await pc
    .index("docs")
    .namespace("acme")
    .deleteMany({ ids: ["a1", "a2"] });
  pc.close();
  // The snapshot reappears as if the crash came between the journal and its deletion.
  await writeFile(join(dir, "larch.snapshot"), snapshot);
  const pc2 = new Larch({ storage: { directory: dir } });
  const stats = await pc2.index("docs").describeIndexStats();
  assert.equal(stats.namespaces.acme.recordCount, 1);
  assert.ok(!(await readdir(dir)).includes("larch.snapshot"));
  pc2.close();
});

test("a commit writes what it puts, not the database", async (t) => {
  const dir = await tempDir(t);
  const pc = new Larch({ storage: { directory: dir }, sealRecords: 1000 });
  await pc.createIndex({ name: "docs", dimension: 64, spec });
  const ns = pc.index("docs").namespace("n");
  const vec = (i) => Array.from({ length: 64 }, (_, j) => Math.sin(i * 64 + j));
  for (let b = 0; b < 10; b++) {
    await ns.upsert({ records: Array.from({ length: 500 }, (_, i) => ({ id: `v${b * 500 + i}`, values: vec(i) })) });
  }
  const sizes = async () => {
    const out = new Map();
    for (const name of await readdir(join(dir, "blobs"))) {
      const st = await stat(join(dir, "blobs", name));
      out.set(name, `${st.size}:${st.mtimeMs}:${st.ino}`);
    }
    return out;
  };
  const before = await sizes();
  const total = [...before.values()].reduce((n, v) => n + Number(v.split(":")[0]), 0);
  await ns.upsert({ records: [{ id: "one", values: vec(1) }] });
  const after = await sizes();
  let written = 0;
  for (const [name, v] of after) if (before.get(name) !== v) written += Number(v.split(":")[0]);
  assert.ok(total > 1_000_000, `the database holds ${total} B`);
  assert.ok(written < 20_000, `one record's upsert rewrote ${written} B of ${total} B`);
  pc.close();
});

test("a BlobStore snapshot (MemoryBlobStore) and a directory hold the same blobs", async (t) => {
  const dir = await tempDir(t);
  const mem = new MemoryBlobStore();
  const disk = await DirectoryStore.open(dir);
  const b = [
    batch([
      ["root", "r"],
      ["c/0/b", "x"],
    ]),
    batch([["n/0/m", "m"]], [], ["c/"]),
  ];
  await mem.apply(b);
  await disk.apply(b);
  const keys = ["root", "c/0/b", "n/0/m"];
  assert.deepEqual((await disk.get(keys)).map(text), (await mem.get(keys)).map(text));
  disk.close();
  mem.close();
});

// --- kill -9 ---------------------------------------------------------------------------------

const writer = fileURLToPath(new URL("./directory_writer.mjs", import.meta.url));

/** Starts a writer; `acked()` is the count of records it acknowledged, `exit` its end. */
function startWriter(dir, prefix, count, size) {
  const child = spawn(process.execPath, [writer, dir, prefix, String(count), String(size)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  const acks = [];
  let firstAck;
  const first = new Promise((r) => (firstAck = r));
  child.stdout.on("data", (d) => {
    out += d;
    const lines = out.split("\n");
    out = lines.pop();
    for (const line of lines) {
      const [word, n, t] = line.split(" ");
      if (word === "ack") {
        acks.push({ n: Number(n), t: Number(t) });
        firstAck();
      }
    }
  });
  child.stderr.on("data", (d) => (err += d));
  const exit = new Promise((r) => child.on("exit", (code, signal) => r({ code, signal })));
  exit.then(() => firstAck());
  return { child, acks, first, exit, stderr: () => err, acked: () => acks.at(-1)?.n ?? 0 };
}

/** Every id PREFIX-0 … PREFIX-(n-1) is stored (fetch in pages of 1000 ids). */
async function assertAllPresent(ns, prefix, n) {
  for (let from = 0; from < n; from += 1000) {
    const ids = Array.from({ length: Math.min(1000, n - from) }, (_, i) => `${prefix}-${from + i}`);
    const f = await ns.fetch({ ids });
    const missing = ids.filter((id) => !f.records[id]);
    assert.deepEqual(missing, [], `${missing.length} acknowledged records of ${prefix} lost`);
  }
}

test("kill -9 of a writer at many points loses no acknowledged record", { timeout: 300_000 }, async (t) => {
  const dir = await tempDir(t);
  const rounds = [];
  for (let round = 0; round < 12; round++) {
    const w = startWriter(dir, `r${round}`, 100_000, 25);
    await w.first;
    assert.ok(w.acks.length > 0, `round ${round}: the writer started: ${w.stderr()}`);
    const delay = Math.floor(Math.random() * 400);
    await new Promise((r) => setTimeout(r, delay));
    w.child.kill("SIGKILL");
    const { signal } = await w.exit;
    assert.equal(signal, "SIGKILL", `round ${round} ended by itself: ${w.stderr()}`);
    rounds.push({ prefix: `r${round}`, acked: w.acked(), delay });
  }
  const pc = new Larch({ storage: { directory: dir } });
  const ns = pc.index("crash").namespace("n");
  for (const r of rounds) await assertAllPresent(ns, r.prefix, r.acked);
  const stats = await pc.index("crash").describeIndexStats();
  const acked = rounds.reduce((n, r) => n + r.acked, 0);
  // At most one unacknowledged batch per round may have committed as well.
  assert.ok(stats.totalRecordCount >= acked && stats.totalRecordCount <= acked + 25 * rounds.length);
  pc.close();
  const names = await readdir(join(dir, "blobs"));
  assert.deepEqual(
    names.filter((n) => n.includes("~")),
    [],
    "no staged file is left after an open",
  );
  t.diagnostic(`rounds (prefix, acknowledged, delay ms): ${JSON.stringify(rounds)}`);
});

test("two processes writing one directory at once: 4,000 of 4,000 acknowledged records", {
  timeout: 300_000,
}, async (t) => {
  const dir = await tempDir(t);
  const a = startWriter(dir, "a", 2000, 50);
  const b = startWriter(dir, "b", 2000, 50);
  const [ea, eb] = await Promise.all([a.exit, b.exit]);
  assert.equal(ea.code, 0, a.stderr());
  assert.equal(eb.code, 0, b.stderr());
  assert.equal(a.acked() + b.acked(), 4000);
  // Both worked at the same time (their acknowledgements interleave), not one after the other.
  const overlap = Math.min(a.acks.at(-1).t, b.acks.at(-1).t) - Math.max(a.acks[0].t, b.acks[0].t);
  assert.ok(overlap > 0, `the writers' acknowledgements overlap in time (${overlap} ms)`);
  const pc = new Larch({ storage: { directory: dir } });
  const ns = pc.index("crash").namespace("n");
  await assertAllPresent(ns, "a", 2000);
  await assertAllPresent(ns, "b", 2000);
  assert.equal((await pc.index("crash").describeIndexStats()).totalRecordCount, 4000);
  pc.close();
});
