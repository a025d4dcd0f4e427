// Node: a BlobStore in a directory, one file per blob, with an atomic commit per `apply` and a
// lock file that lets several processes share the directory.
//
// Layout (format 2):
//   blobs/<key>           one file per blob; the key with "/" as "." and every byte outside
//                         [A-Za-z0-9_-] as %XX (so "n/00000001/…/m" is "n.00000001.….m")
//   blobs/<key>~<gen>     a staged put of commit <gen> (renamed over blobs/<key> once committed)
//   larch.journal         the last commit: its generation and the keys it puts and deletes
//   larch.lock            held while one request runs: {"pid","host","token"}
//
// Commit of `apply(batches)` (generation g+1), under the lock:
//   1. the batches are reduced to one final operation per key (put bytes or delete; a prefix
//      delete becomes deletes of the keys it covers, from the in-memory key list), so a key put
//      twice is written once and a put then deleted is not written at all;
//   2. each put is written to blobs/<key>~<g+1> and fsynced;
//   3. the journal (g+1, the keys, a SHA-256 checksum) goes to larch.journal.tmp, is fsynced and
//      renamed over larch.journal, and the directory is fsynced: THE COMMIT POINT;
//   4. each staged put is renamed over blobs/<key>, each delete unlinked, blobs/ fsynced.
// Recovery (on open, and whenever the journal's generation is not the one this process last
// saw — another process committed): the journal is replayed (rename a staged file if it is
// still there, unlink a deleted key; every operation is on its own key, so replaying a journal
// that was applied, wholly or in part, is harmless), then every other staged file is removed:
// it belongs to a commit that never reached step 3. A crash before step 3 leaves the previous
// generation, after it the new one; nothing else is possible. The bytes written per commit are
// the blobs it puts plus a journal of its keys, whatever the size of the database; `get` reads
// only the files it is asked for (no blob is kept in memory, only the list of keys).
//
// Several processes: every request (read or write) runs under larch.lock, created atomically
// with link(2) (it fails when the file exists). Under the lock the host asks `generation()`;
// when another process committed since, this process replays the journal, rereads the key list
// and the host drops its engine, which reloads from the files (host.ts). So two processes both
// work, one request at a time, and neither writes from a stale root. A lock whose process is
// gone (same host name, `kill(pid, 0)` fails) is stale and broken; a live holder is waited for,
// up to `lockTimeoutMs` (default 60 s), then the request fails with code STORAGE_LOCKED. Local
// file systems only (the pid check and link(2) semantics are not NFS-safe).
//
// Why files and not an embedded database: the package has no runtime dependency and must not
// get one for Node alone. node:sqlite needs Node 22.5. better-sqlite3 (12.11.1) found no
// prebuilt binary without GitHub and fell back to compiling SQLite with node-gyp (a C++
// toolchain on every user's machine). lmdb (3.5.6) installs from the npm registry alone, but
// brings 22 MB of node_modules (15 MB of native code for linux-x64) and its own lock and
// mmap rules for a store whose blobs are few, immutable and ≤ 2 MB (segments are chunked),
// which is what a plain file per blob is good at. BENCHMARKS.md ("Node directory store") has
// this store beside the one-snapshot store it replaced: at 100k records an upsert of 100
// records writes 0.16 MB instead of 162 MB, and its latency no longer grows with the database.
//
// Format 1 (one `larch.snapshot` file, the engine's MemoryStore bytes, rewritten whole on every
// commit) is migrated on first open: its blobs are committed as generation 1 through the same
// path, then the snapshot is deleted. A crash in between leaves either format 1 untouched (no
// journal yet: migrate again) or a journal (the migration committed: the snapshot is deleted).

import { createHash, randomBytes } from "node:crypto";
import { type FSWatcher, unlinkSync, watch } from "node:fs";
import { type FileHandle, link, mkdir, open, readdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import type { BlobStore, WriteBatch } from "./host.js";
import { MemoryStore } from "./wasm/larch_js.js";

const SNAPSHOT = "larch.snapshot";
const JOURNAL = "larch.journal";
const LOCK = "larch.lock";
const WAIT = "larch.wait.";
const BLOBS = "blobs";
const MAGIC = [0x4c, 0x41, 0x52, 0x43, 0x48, 0x4a, 0x00, 0x02]; // "LARCHJ" 0 2
const PUT = 1;
const DELETE = 2;
/** File operations in flight at once (libuv runs 4 at a time; more only queue). */
const PARALLEL = 8;

export type DirectoryStoreOptions = {
  /** How long a request waits for another process's lock before failing (default 60 s). */
  lockTimeoutMs?: number;
};

export type Op = { key: string; put?: Uint8Array };

/** Errors of this store: `code` is STORAGE_ERROR, QUOTA_EXCEEDED, STORAGE_LOCKED or DATA_LOSS. */
function storageError(message: string, code: string, cause?: unknown): Error {
  return Object.assign(new Error(`larch: ${message}`), {
    name: code === "DATA_LOSS" ? "LarchDataLossError" : "LarchStorageError",
    code,
    cause,
  });
}

function ioError(what: string, e: unknown): Error {
  const errno = (e as { code?: string }).code;
  if ((e as { name?: string }).name?.startsWith("Larch")) return e as Error;
  return storageError(`${what}: ${(e as Error).message}`, errno === "ENOSPC" ? "QUOTA_EXCEEDED" : "STORAGE_ERROR", e);
}

const isCode = (e: unknown, code: string) => (e as { code?: string }).code === code;

/** A blob key as a file name: "/" → ".", bytes outside [A-Za-z0-9_-] → %XX. */
export function fileName(key: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(key)) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9_-]/.test(c)) out += c;
    else if (c === "/") out += ".";
    else out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function keyOf(name: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < name.length; i++) {
    const c = name[i];
    if (c === ".") bytes.push(0x2f);
    else if (c === "%") {
      bytes.push(Number.parseInt(name.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(c.charCodeAt(0));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** Runs `fn` over `items`, at most PARALLEL at once. */
async function each<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
}

async function writeSynced(path: string, bytes: Uint8Array): Promise<void> {
  const f = await open(path, "w");
  try {
    await f.writeFile(bytes);
    await f.sync();
  } finally {
    await f.close();
  }
}

async function syncDir(path: string): Promise<void> {
  let d: FileHandle | undefined;
  try {
    d = await open(path, "r");
    await d.sync();
  } catch (e) {
    // Windows cannot open or fsync a directory; its renames are durable when they return.
    if (process.platform !== "win32") throw e;
  } finally {
    await d?.close();
  }
}

/** The journal bytes of a commit (exported for the crash tests, not from the package). */
export function encodeJournal(generation: number, ops: Op[]): Uint8Array {
  const keys = ops.map((o) => new TextEncoder().encode(o.key));
  const size = 8 + 8 + 4 + keys.reduce((n, k) => n + 5 + k.length, 0);
  const out = new Uint8Array(size + 32);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setBigUint64(8, BigInt(generation), true);
  view.setUint32(16, ops.length, true);
  let at = 20;
  for (const [i, k] of keys.entries()) {
    out[at] = ops[i].put ? PUT : DELETE;
    view.setUint32(at + 1, k.length, true);
    out.set(k, at + 5);
    at += 5 + k.length;
  }
  out.set(createHash("sha256").update(out.subarray(0, size)).digest(), size);
  return out;
}

type Journal = { generation: number; ops: Array<{ key: string; put: boolean }> };

function decodeJournal(bytes: Uint8Array, path: string): Journal {
  const bad = () => storageError(`${path} is damaged (checksum or layout); the directory needs a restore`, "DATA_LOSS");
  if (bytes.length < 52 || MAGIC.some((b, i) => bytes[i] !== b)) throw bad();
  const size = bytes.length - 32;
  const sum = createHash("sha256").update(bytes.subarray(0, size)).digest();
  if (!sum.equals(bytes.subarray(size))) throw bad();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const generation = Number(view.getBigUint64(8, true));
  const count = view.getUint32(16, true);
  const ops: Journal["ops"] = [];
  let at = 20;
  for (let i = 0; i < count; i++) {
    if (at + 5 > size) throw bad();
    const kind = bytes[at];
    const len = view.getUint32(at + 1, true);
    if ((kind !== PUT && kind !== DELETE) || at + 5 + len > size) throw bad();
    ops.push({ key: new TextDecoder().decode(bytes.subarray(at + 5, at + 5 + len)), put: kind === PUT });
    at += 5 + len;
  }
  if (at !== size) throw bad();
  return { generation, ops };
}

/** Lock and wait files of this process (removed at exit if a request is cut short). */
const exitFiles = new Set<string>();
/** Tokens of this process's live locks and waits: any other with its pid is a dead namesake's. */
const ownTokens = new Set<string>();
/** How long a process lets earlier waiters go first before it competes with them. */
const DEFER_MS = 2000;
let exitHook = false;

function removeAtExit(path: string): void {
  exitFiles.add(path);
  if (exitHook) return;
  exitHook = true;
  process.once("exit", () => {
    for (const p of exitFiles) {
      try {
        unlinkSync(p);
      } catch {}
    }
  });
}

/** Whether the holder of (pid, token) on this host still runs. */
function alive(pid: number, token: string): boolean {
  if (pid === process.pid) return ownTokens.has(token);
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return !isCode(e, "ESRCH");
  }
}

/**
 * The cross-process lock: larch.lock, made with link(2) from a file already holding
 * {"pid","host","token"}, so it never exists half-written. Waiting is fair: a waiter leaves
 * larch.wait.<ms>.<pid>.<token>, and whoever comes later (the process that just released
 * included) lets every earlier live waiter go first; without it the releasing process, which
 * asks again within microseconds, would keep the lock until it had nothing left to write.
 * Waiters sleep until the directory changes (fs.watch) or a short backoff expires. Deferring is
 * bounded (DEFER_MS), so a wait file whose pid was reused cannot block anyone for long.
 */
class FileLock {
  private readonly host = hostname();
  private readonly dir: string;
  /** The token of the lock this store holds. */
  private token = "";
  private readonly path: string;

  constructor(
    dir: string,
    private readonly timeoutMs: number,
  ) {
    this.dir = dir;
    this.path = join(dir, LOCK);
  }

  async acquire(): Promise<void> {
    const token = randomBytes(12).toString("hex");
    const tmp = `${this.path}.${token}`;
    await writeFile(tmp, JSON.stringify({ pid: process.pid, host: this.host, token })); // no fsync: a lock does not outlive its process
    const deadline = Date.now() + this.timeoutMs;
    const deferUntil = Date.now() + DEFER_MS;
    ownTokens.add(token);
    let acquired = false;
    let wait: string | null = null;
    let watcher: FSWatcher | null = null;
    let wake: () => void = () => undefined;
    let delay = 1;
    try {
      for (;;) {
        if (Date.now() > deferUntil || !(await this.waitersBefore(wait))) {
          try {
            await link(tmp, this.path);
            removeAtExit(this.path);
            this.token = token;
            acquired = true;
            return;
          } catch (e) {
            if (!isCode(e, "EEXIST")) throw e;
          }
          const holder = await this.holder();
          if (holder && holder.host === this.host && !alive(holder.pid, holder.token)) {
            await this.breakStale(holder.token);
            continue;
          }
        }
        if (Date.now() > deadline) {
          const holder = await this.holder();
          throw storageError(
            `${this.path} is held by process ${holder?.pid ?? "?"} on ${holder?.host ?? "?"} for more than ${this.timeoutMs} ms`,
            "STORAGE_LOCKED",
          );
        }
        if (!wait) {
          wait = `${WAIT}${String(Date.now()).padStart(15, "0")}.${process.pid}.${token}`;
          await writeFile(join(this.dir, wait), "");
          removeAtExit(join(this.dir, wait));
          try {
            watcher = watch(this.dir, () => wake());
            watcher.on("error", () => undefined);
          } catch {
            watcher = null; // no change notifications here: poll
          }
        }
        await new Promise<void>((r) => {
          const timer = setTimeout(r, delay * (0.5 + Math.random()));
          wake = () => {
            clearTimeout(timer);
            r();
          };
        });
        delay = Math.min(delay * 2, 16);
      }
    } finally {
      if (!acquired) ownTokens.delete(token);
      watcher?.close();
      await unlink(tmp).catch(() => undefined);
      if (wait) {
        exitFiles.delete(join(this.dir, wait));
        await unlink(join(this.dir, wait)).catch(() => undefined);
      }
    }
  }

  async release(): Promise<void> {
    ownTokens.delete(this.token);
    exitFiles.delete(this.path);
    await unlink(this.path).catch(() => undefined);
  }

  /** Whether a live process waits ahead of `mine` (of anyone, when this one does not wait yet). */
  private async waitersBefore(mine: string | null): Promise<boolean> {
    let ahead = false;
    for (const name of await readdir(this.dir)) {
      if (!name.startsWith(WAIT) || name === mine || (mine !== null && name > mine)) continue;
      const [, , , pid, token] = name.split(".");
      if (alive(Number(pid), token)) ahead = true;
      else await unlink(join(this.dir, name)).catch(() => undefined);
    }
    return ahead;
  }

  private async holder(): Promise<{ pid: number; host: string; token: string } | null> {
    try {
      return JSON.parse(await readFile(this.path, "utf8"));
    } catch {
      return null; // just released: try again
    }
  }

  /** Removes a dead process's lock, unless someone took the lock since it was read. */
  private async breakStale(token: string): Promise<void> {
    const aside = `${this.path}.stale.${randomBytes(6).toString("hex")}`;
    try {
      await rename(this.path, aside);
    } catch {
      return; // someone else broke it first
    }
    try {
      const moved = JSON.parse(await readFile(aside, "utf8"));
      // A live process took the lock between our read and the rename: give it back.
      if (moved.token !== token) await link(aside, this.path).catch(() => undefined);
    } finally {
      await unlink(aside).catch(() => undefined);
    }
  }
}

export class DirectoryStore implements BlobStore {
  private readonly blobs: string;
  private readonly lockFile: FileLock;
  /** Keys of the committed blobs (their bytes stay on disk). */
  private keys = new Set<string>();
  /** The generation this process last read or committed (-1: read it again). */
  private gen = -1;
  /** Nesting depth of `locked` sections (the host's lock wraps get/apply/generation). */
  private depth = 0;
  private closed = false;

  private constructor(
    private readonly dir: string,
    options: DirectoryStoreOptions,
  ) {
    this.blobs = join(dir, BLOBS);
    this.lockFile = new FileLock(dir, options.lockTimeoutMs ?? 60_000);
  }

  /** Opens (creating, recovering or migrating) the store in `dir`. */
  static async open(dir: string, options: DirectoryStoreOptions = {}): Promise<DirectoryStore> {
    try {
      await mkdir(join(dir, BLOBS), { recursive: true });
    } catch (e) {
      throw ioError(`cannot create ${dir}`, e);
    }
    const store = new DirectoryStore(dir, options);
    await store.locked(() => store.refresh());
    return store;
  }

  /** Runs `fn` holding the directory's lock (re-entrant within this store). */
  async locked<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw storageError(`the store in ${this.dir} is closed`, "STORAGE_ERROR");
    if (this.depth > 0) return fn();
    try {
      await this.lockFile.acquire();
    } catch (e) {
      throw ioError(`cannot lock ${this.dir}`, e);
    }
    this.depth++;
    try {
      return await fn();
    } finally {
      this.depth--;
      await this.lockFile.release();
    }
  }

  /** The generation of the last commit, by any process; catches up when it moved. */
  generation(): Promise<number> {
    return this.locked(async () => {
      if ((await this.journalGeneration()) !== this.gen) await this.refresh();
      return this.gen;
    });
  }

  get(keys: string[]): Promise<Array<Uint8Array | undefined>> {
    return this.locked(async () => {
      const out: Array<Uint8Array | undefined> = new Array(keys.length).fill(undefined);
      await each([...keys.keys()], async (i) => {
        if (!this.keys.has(keys[i])) return;
        try {
          out[i] = await readFile(join(this.blobs, fileName(keys[i])));
        } catch (e) {
          if (!isCode(e, "ENOENT")) throw ioError(`cannot read ${keys[i]}`, e);
        }
      });
      return out;
    });
  }

  apply(batches: WriteBatch[]): Promise<number> {
    return this.locked(async () => {
      // A write must start from the latest commit (callers without the host check it here).
      if ((await this.journalGeneration()) !== this.gen) {
        throw storageError(`another process committed to ${this.dir}; reload and retry`, "STORAGE_ERROR");
      }
      return this.commit(this.reduce(batches));
    });
  }

  close(): void {
    this.closed = true;
  }

  /** One operation per key: the batches' final effect on the committed keys. */
  private reduce(batches: WriteBatch[]): Op[] {
    const final = new Map<string, Uint8Array | null>();
    for (const b of batches) {
      for (const [k, v] of b.puts) final.set(k, v);
      for (const k of b.deletes) final.set(k, null);
      for (const p of b.deletePrefixes) {
        for (const k of this.keys) if (k.startsWith(p)) final.set(k, null);
        for (const k of final.keys()) if (k.startsWith(p)) final.set(k, null);
      }
    }
    const ops: Op[] = [];
    for (const [key, v] of final) {
      if (v) ops.push({ key, put: v });
      else if (this.keys.has(key)) ops.push({ key });
    }
    return ops;
  }

  private async commit(ops: Op[]): Promise<number> {
    const next = this.gen + 1;
    const staged = (key: string) => join(this.blobs, `${fileName(key)}~${next}`);
    const puts = ops.filter((o) => o.put);
    try {
      await each(puts, (o) => writeSynced(staged(o.key), o.put as Uint8Array));
      const tmp = join(this.dir, `${JOURNAL}.tmp`);
      await writeSynced(tmp, encodeJournal(next, ops));
      await syncDir(this.blobs);
      await rename(tmp, join(this.dir, JOURNAL));
      await syncDir(this.dir);
    } catch (e) {
      // Not committed: the staged files are garbage (recovery would remove them too).
      await each(puts, (o) => unlink(staged(o.key)).catch(() => undefined));
      throw ioError(`cannot commit to ${this.dir}`, e);
    }
    // Committed. Should applying fail, the journal is replayed by the next refresh.
    this.gen = -1;
    try {
      await this.replay({ generation: next, ops: ops.map((o) => ({ key: o.key, put: !!o.put })) });
    } catch (e) {
      throw ioError(`committed to ${this.dir} but could not apply it (retried on next use)`, e);
    }
    for (const o of ops) {
      if (o.put) this.keys.add(o.key);
      else this.keys.delete(o.key);
    }
    this.gen = next;
    return next;
  }

  /** Applies a committed journal; harmless when it was applied before, wholly or in part. */
  private async replay(journal: Journal): Promise<void> {
    await each(journal.ops, async (o) => {
      const file = join(this.blobs, fileName(o.key));
      try {
        if (o.put) await rename(`${file}~${journal.generation}`, file);
        else await unlink(file);
      } catch (e) {
        if (!isCode(e, "ENOENT")) throw e; // already applied
      }
    });
    await syncDir(this.blobs);
  }

  /** The journal's generation (0 for a directory without commits), from its header. */
  private async journalGeneration(): Promise<number> {
    let f: FileHandle;
    try {
      f = await open(join(this.dir, JOURNAL), "r");
    } catch (e) {
      if (isCode(e, "ENOENT")) return 0;
      throw ioError(`cannot read ${JOURNAL}`, e);
    }
    try {
      const head = new Uint8Array(16);
      const { bytesRead } = await f.read(head, 0, 16, 0);
      if (bytesRead < 16) return -2; // damaged: refresh reports it
      return Number(new DataView(head.buffer).getBigUint64(8, true));
    } finally {
      await f.close();
    }
  }

  /** Recovery: replay the journal, drop uncommitted staged files, reread the keys; migrate format 1. */
  private async refresh(): Promise<void> {
    try {
      let journal: Journal | null = null;
      try {
        const path = join(this.dir, JOURNAL);
        journal = decodeJournal(await readFile(path), path);
      } catch (e) {
        if (!isCode(e, "ENOENT")) throw e;
      }
      if (journal) await this.replay(journal);
      const keys = new Set<string>();
      const garbage: string[] = [];
      for (const name of await readdir(this.blobs)) {
        if (name.includes("~")) garbage.push(name);
        else keys.add(keyOf(name));
      }
      await each(garbage, (name) => unlink(join(this.blobs, name)).catch(() => undefined));
      await unlink(join(this.dir, `${JOURNAL}.tmp`)).catch(() => undefined);
      this.keys = keys;
      this.gen = journal?.generation ?? 0;
      await this.migrate(journal !== null);
    } catch (e) {
      this.gen = -1;
      throw ioError(`cannot open ${this.dir}`, e);
    }
  }

  /** Format 1 → 2: commits the snapshot's blobs (unless a journal shows it was done), then deletes it. */
  private async migrate(committed: boolean): Promise<void> {
    const path = join(this.dir, SNAPSHOT);
    await unlink(`${path}.tmp`).catch(() => undefined); // format 1's own interrupted commit
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (e) {
      if (isCode(e, "ENOENT")) return;
      throw e;
    }
    if (!committed) {
      const old = MemoryStore.fromBytes(bytes);
      try {
        const keys = old.keys();
        const blobs = old.get(keys) as Uint8Array[];
        await this.commit(keys.map((key, i) => ({ key, put: blobs[i] })));
      } finally {
        old.free();
      }
    }
    await unlink(path);
    await syncDir(this.dir);
  }
}
