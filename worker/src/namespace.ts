// The Namespace Durable Object: one per (index incarnation, namespace). Its SQLite storage holds
// that namespace's engine blobs only; its engine's database holds that index's configuration and
// that one namespace. It is the source of truth for the namespace: its record count (stats,
// listings) is read from its committed state, never copied elsewhere. Requests to one object run
// one at a time between awaits, and each commits before it answers, so a namespace reads its own
// writes.
//
// The catalog keeps a registry of the namespaces that may exist: a superset of those that do.
// A write to a namespace that may not exist yet registers it first (one catalog hop per object
// lifetime); listings ask each registered object for its committed count and prune the names of
// objects that hold nothing and have no write in flight.

import { DurableObject } from "cloudflare:workers";
import { wasmMemoryBytes } from "larchdb";
import { EngineHost, type EngineRequest, type EngineResponse, internal, jsonOf, SqlBlobs } from "./engine";
import type { Env } from "./env";
import { catalogStub, objectName, parseObjectName } from "./names";

/** Which index incarnation an object serves (from the catalog's `resolve`, cached per isolate). */
export type Target = {
  index: string;
  incarnation: number;
  /** The create-index request (body and API version) that made the index. */
  create: string;
  apiVersion: string;
  /** Shard objects per namespace (`read_capacity.dedicated.manual.shards`; 1 on demand). */
  shards: number;
  /** `replicas: 0`: every data-plane request is refused (never cached by the Worker). */
  paused: boolean;
  /**
   * The index's capacity epoch when resolved: the catalog raises it at every pause or resume
   * and tells every namespace object, which then answers `stale` to older targets.
   */
  epoch: number;
};

/** The answer of an object whose index incarnation no longer exists: resolve again. */
export type Stale = { stale: true };

/**
 * A namespace's committed record count (`null`: it does not exist), its size in bytes (the
 * engine's resident bytes; 0 unless asked for), and whether a write is in flight.
 */
export type Count = { count: number | null; sizeBytes: number; busy: boolean };

const MIB = 1024 * 1024;

/**
 * Background indexing under load. An alarm runs one step of the engine's budget, but alarms
 * queue behind a busy object's requests, so a build could stay pending for as long as clients
 * keep it busy. A request that finds work pending therefore also runs a small step itself once
 * `INLINE_STEP_EVERY` requests have passed since the last step: the build advances by about
 * `INLINE_STEP_NODES / INLINE_STEP_EVERY` nodes per request however busy the object is, and
 * each such request pays for one small step (64 insertions: ~5 ms at 64 dimensions in wasm,
 * ~20 ms at 384 on a 100k-node graph).
 */
const INLINE_STEP_EVERY = 8;
const INLINE_STEP_NODES = 64;

/**
 * Default namespace budget (resident bytes as the engine counts them): 100k × 384 with small
 * metadata is 66 MiB resident once its segments are indexed and paged (README "Limits").
 */
const DEFAULT_BUDGET_MIB = 80;

export function namespaceBudget(env: Env): number {
  const mib = Number(env.LARCH_NAMESPACE_BUDGET_MIB ?? String(DEFAULT_BUDGET_MIB));
  return (Number.isFinite(mib) && mib > 0 ? mib : DEFAULT_BUDGET_MIB) * MIB;
}

/**
 * The namespace engine's memory settings, sized for an isolate of 128 MB (README "Limits"):
 * the namespace budget, the row groups of paged segments kept between requests, and the
 * largest consolidation (it copies its inputs' rows into memory, so its peak is about twice
 * this on top of what the namespace holds).
 */
export function engineOptions(env: Env): Record<string, unknown> {
  return {
    maxNamespaceBytes: namespaceBudget(env),
    // The Worker routes by read capacity and enforces a pause itself (engine.ts, index.ts).
    shardHost: true,
    rowCacheBytes: ROW_CACHE_BYTES,
    mergeBytes: MERGE_BYTES,
  };
}

/** Row groups of paged segments a namespace keeps between requests. */
const ROW_CACHE_BYTES = 4 * MIB;
/** Largest consolidation of sealed segments (4 bytes per dimension per live record). */
const MERGE_BYTES = 16 * MIB;

/**
 * Engines resident in this isolate. Objects of one class can share an isolate (and so one wasm
 * memory of at most 128 MB): when the engines' resident bytes together pass the isolate budget,
 * the least recently used other engines are freed; they reload from storage on their next use.
 */
const resident = new Map<Namespace, number>();

function touch(ns: Namespace, bytes: number, budget: number): void {
  resident.delete(ns);
  resident.set(ns, bytes); // Map order = least recently used first
  let total = 0;
  for (const b of resident.values()) total += b;
  for (const [other, b] of resident) {
    if (total <= budget) break;
    if (other === ns) continue;
    other.evict();
    total -= b;
  }
}

export class Namespace extends DurableObject<Env> {
  private host!: EngineHost;
  /** True once the catalog's registry names this namespace (since this object woke). */
  private registered = false;
  /** Writes between their start and their commit. */
  private writing = 0;
  /** What `meta.target` holds (`undefined`: not read since this object woke or dropped). */
  private target: string | null | undefined;
  /** Requests served since the last indexing step (alarm or inline). */
  private sinceStep = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.init();
  }

  private init(): void {
    this.target = undefined;
    this.host = new EngineHost(new SqlBlobs(this.ctx.storage), engineOptions(this.env));
    this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)");
  }

  /** Frees the engine (called by the isolate's resident-set manager). */
  evict(): void {
    this.host.drop();
    resident.delete(this);
  }

  /** This object's name (`names.ts` `objectName`) once its database holds its index, else null. */
  private served(): string | null {
    if (this.target === undefined) {
      const rows = this.ctx.storage.sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'target'").toArray();
      this.target = rows.length ? rows[0].v : null;
    }
    return this.target;
  }

  /** Creates the index in this object's database on first use. */
  private async ensureIndex(t: Target, ns: string, shard: number): Promise<void> {
    const id = objectName(t.index, t.incarnation, ns, shard);
    const served = this.served();
    if (served !== null) {
      if (served !== id)
        throw new Error(`namespace object of ${JSON.stringify(served)} asked to serve ${JSON.stringify(id)}`);
      return;
    }
    const { response, writes } = await this.host.run({
      ...internal("POST", "/indexes"),
      body: new TextEncoder().encode(t.create),
      apiVersion: t.apiVersion,
    });
    if (response.status !== 201) {
      this.host.drop();
      throw new Error(
        `cannot create index ${t.index} in its namespace object: ${new TextDecoder().decode(response.body)}`,
      );
    }
    this.host.commit(writes, () =>
      this.ctx.storage.sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('target', ?)", id),
    );
    this.target = id;
  }

  /** The committed record count of the namespace this object serves (`null`: none). */
  private async committedCount(): Promise<number | null> {
    return (await this.describe(false)).count;
  }

  /**
   * The committed record count (`null`: none) and, when `size`, the namespace's `size_bytes`
   * as the engine renders it (API 2026-07: its resident bytes; this loads the namespace).
   */
  private async describe(size: boolean): Promise<{ count: number | null; sizeBytes: number }> {
    const served = this.served();
    if (served === null) return { count: null, sizeBytes: 0 };
    const { index, ns } = parseObjectName(served);
    const path = `/index/${encodeURIComponent(index)}/namespaces/${encodeURIComponent(ns)}`;
    const r = await this.host.handle({ ...internal("GET", path), apiVersion: size ? "2026-07" : "2025-10" });
    if (r.status !== 200) return { count: null, sizeBytes: 0 };
    const body = jsonOf(r);
    const n = Number(body?.record_count);
    const bytes = Number(body?.size_bytes ?? 0);
    if (size) touch(this, this.host.residentBytes(), namespaceBudget(this.env) * 1.5);
    return { count: Number.isFinite(n) ? n : null, sizeBytes: Number.isFinite(bytes) ? bytes : 0 };
  }

  /**
   * For listings: the committed count (and, when `size`, the size in bytes); an object that
   * holds nothing and writes nothing may be pruned.
   */
  async count(size = false): Promise<Count> {
    const { count, sizeBytes } = await this.describe(size);
    const busy = this.writing > 0;
    if (count === null && !busy) this.registered = false; // the catalog may prune the name now
    return { count, sizeBytes, busy };
  }

  /** The capacity epoch this object was told of (`meta.epoch`; 0: none). */
  private epoch(): number {
    const rows = this.ctx.storage.sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'epoch'").toArray();
    return rows.length ? Number(rows[0].v) : 0;
  }

  /** The catalog's news of a pause or resume: targets resolved before `epoch` are stale. */
  async setEpoch(epoch: number): Promise<void> {
    if (this.served() === null || epoch <= this.epoch()) return; // no storage: fresh objects ask
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('epoch', ?)", String(epoch));
  }

  /** One data-plane request of shard `shard` of namespace `ns` (canonical) of the target index. */
  async handle(
    t: Target,
    ns: string,
    shard: number,
    write: boolean,
    req: EngineRequest,
  ): Promise<EngineResponse | Stale> {
    if (write) this.writing++;
    try {
      return await this.serve(t, ns, shard, write, req);
    } finally {
      if (write) this.writing--;
    }
  }

  private async serve(
    t: Target,
    ns: string,
    shard: number,
    write: boolean,
    req: EngineRequest,
  ): Promise<EngineResponse | Stale> {
    const catalog = catalogStub(this.env);
    const fresh = this.served() === null;
    // A fresh object checks that its index incarnation is alive (a stale isolate cache can
    // name a deleted index's) and the target's capacity epoch current; a warm one was
    // checked when it woke, a deleted index's objects are dropped before the delete is
    // acknowledged, and a pause or resume reaches every registered object before it is.
    if (fresh) {
      const epoch = await catalog.epochOf(t.index, t.incarnation);
      if (epoch === null || epoch > t.epoch) return { stale: true };
    } else if (t.epoch < this.epoch()) return { stale: true };
    if (write && !this.registered) {
      if (!(await catalog.register(t.index, t.incarnation, ns))) return { stale: true };
      this.registered = true;
    }
    await this.ensureIndex(t, ns, shard);
    const touchedBefore = this.host.rowsTouched();
    const { response, writes } = await this.host.run(req);
    this.host.commit(writes);
    const touched = this.host.rowsTouched() - touchedBefore;
    // A read of a namespace that does not exist, a rejected write, or a delete that dropped
    // the namespace: leave no storage behind (offboarding).
    const deletes = write && /\/(vectors\/delete|namespaces\/[^/]+)$/.test(req.path);
    if ((fresh || deletes) && (await this.committedCount()) === null) {
      await this.drop();
      return response;
    }
    const budget = namespaceBudget(this.env);
    touch(this, this.host.residentBytes(), budget * 1.5);
    // Sealed segments (after a write, or loaded without their graph) get HNSW graphs built in
    // bounded steps, one per alarm between requests, and a small one every few requests while
    // the object stays busy (`INLINE_STEP_EVERY`). Until then they are searched exactly.
    let indexing = this.host.indexingPending();
    if (indexing && ++this.sinceStep >= INLINE_STEP_EVERY) {
      this.sinceStep = 0;
      indexing = this.host.indexStep(INLINE_STEP_NODES);
    }
    if (indexing && (await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now());
    const headers = {
      ...response.headers,
      "x-larch-wasm-memory-bytes": String(wasmMemoryBytes()),
      "x-larch-indexing": indexing ? "pending" : "idle",
      // Debug: the namespace engine's resident bytes (below the f32 bytes once rows are paged
      // out) and the row groups this request's rescoring touched.
      "x-larch-resident-bytes": String(this.host.residentBytes()),
      "x-larch-rows-touched": String(Math.max(0, touched)),
    };
    return { ...response, headers };
  }

  /**
   * One bounded indexing step, committed in one transaction; re-armed while work remains. An
   * engine evicted meanwhile (memory budget) is not reloaded here: its next request reloads it
   * and schedules the build again.
   */
  async alarm(): Promise<void> {
    this.sinceStep = 0;
    if (this.host.indexStep()) await this.ctx.storage.setAlarm(Date.now());
  }

  /** Deletes all of this object's storage (namespace or index deleted). */
  async drop(): Promise<void> {
    this.host.drop();
    resident.delete(this);
    this.registered = false;
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.init();
  }
}
