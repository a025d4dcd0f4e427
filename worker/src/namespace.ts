// The Namespace Durable Object: one per (index incarnation, namespace). Its SQLite storage holds
// that namespace's engine blobs only; its engine's database holds that index's configuration and
// that one namespace. Requests to one object run one at a time and each commits before it
// answers, so a namespace reads its own writes.

import { DurableObject } from "cloudflare:workers";
import {
  EngineHost,
  type EngineRequest,
  type EngineResponse,
  internal,
  jsonOf,
  SqlBlobs,
  wasmMemoryBytes,
} from "./engine";
import type { Env } from "./env";
import { canonicalNamespace, catalogStub } from "./names";

/** Which namespace of which index an object serves (from the catalog's `resolve`). */
export type Target = {
  index: string;
  incarnation: number;
  /** The create-index body (JSON text) that reproduces the index's configuration. */
  create: string;
  dimension: number | null;
  ns: string;
};

const MIB = 1024 * 1024;
/** Estimated resident bytes per record beyond its dense values (id, norm, slot maps). */
const RECORD_OVERHEAD = 64;
/** Estimated resident bytes per record of a sparse index. */
const SPARSE_RECORD_BYTES = 1024;

/** Bytes one record is assumed to keep resident. */
function recordBytes(dimension: number | null): number {
  return dimension === null ? SPARSE_RECORD_BYTES : dimension * 4 + RECORD_OVERHEAD;
}

export function namespaceBudget(env: Env): number {
  const mib = Number(env.LARCH_NAMESPACE_BUDGET_MIB ?? "24");
  return (Number.isFinite(mib) && mib > 0 ? mib : 24) * MIB;
}

/**
 * Engines resident in this isolate. Objects of one class can share an isolate (and so one wasm
 * memory of at most 128 MB): when the estimated total passes the isolate budget, the least
 * recently used other engines are freed; they reload from storage on their next request.
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

/** Node insertions per alarm-driven indexing step (each ~ef_construction distance computations). */
const INDEX_STEP_BUDGET = 200;

const WRITES = new Set([
  "POST /vectors/upsert",
  "POST /vectors/update",
  "POST /vectors/delete",
  "DELETE /vectors/delete",
]);

export class Namespace extends DurableObject<Env> {
  private host!: EngineHost;
  /** Record count last reported to the catalog (undefined: unknown since load). */
  private reported: number | null | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.init();
  }

  private init(): void {
    this.host = new EngineHost(new SqlBlobs(this.ctx.storage));
    this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)");
  }

  /** Frees the engine (called by the isolate's resident-set manager). */
  evict(): void {
    this.host.drop();
    resident.delete(this);
  }

  /** True once this object's database holds its index (it has served a write). */
  private initialized(): boolean {
    return this.ctx.storage.sql.exec("SELECT 1 FROM meta WHERE k = 'target'").toArray().length > 0;
  }

  /** Creates the index in this object's database on first use. */
  private ensureIndex(t: Target): void {
    const sql = this.ctx.storage.sql;
    const rows = sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'target'").toArray();
    const id = `${t.index}\n${t.incarnation}`;
    if (rows.length) {
      if (rows[0].v !== id)
        throw new Error(`namespace object of ${JSON.stringify(rows[0].v)} asked to serve ${JSON.stringify(id)}`);
      return;
    }
    const { response, writes } = this.host.run({
      ...internal("POST", "/indexes"),
      body: new TextEncoder().encode(t.create),
    });
    if (response.status !== 201) {
      this.host.drop();
      throw new Error(
        `cannot create index ${t.index} in its namespace object: ${new TextDecoder().decode(response.body)}`,
      );
    }
    this.host.commit(writes, () => sql.exec("INSERT INTO meta (k, v) VALUES ('target', ?)", id));
  }

  /** The namespace's record count in this object (`null`: it does not exist). */
  private count(t: Target): number | null {
    const ns = encodeURIComponent(canonicalNamespace(t.ns));
    const r = this.host.handle(internal("GET", `/index/${encodeURIComponent(t.index)}/namespaces/${ns}`));
    if (r.status !== 200) return null;
    const n = Number(jsonOf(r)?.record_count);
    return Number.isFinite(n) ? n : null;
  }

  /** One data-plane request of this namespace; `rest` is the path after `/index/{name}`. */
  async handle(t: Target, rest: string, req: EngineRequest, origin: string): Promise<EngineResponse> {
    const budget = namespaceBudget(this.env);
    const perRecord = recordBytes(t.dimension);
    const fresh = !this.initialized();
    this.ensureIndex(t);
    const path = `/index/${encodeURIComponent(t.index)}${rest}`;
    const { response, writes } = this.host.run({ ...req, path }, `${origin}/index/{name}`);
    const isWrite = WRITES.has(`${req.method.toUpperCase()} ${rest}`);
    const out = response;
    if (isWrite && response.status === 200) {
      const count = this.count(t);
      const maxRecords = Math.floor(budget / perRecord);
      if (count !== null && count > maxRecords && count > (this.reported ?? 0)) {
        // Over budget: discard the write (the engine reloads the committed state).
        this.host.drop();
        resident.delete(this);
        return limitExceeded(t, count, maxRecords, budget);
      }
      this.host.commit(writes);
      if (count !== this.reported) {
        await catalogStub(this.env).noteCount(t.index, t.incarnation, t.ns, count);
        this.reported = count;
      }
    } else {
      this.host.commit(writes);
    }
    if (fresh && !(isWrite && response.status === 200 && typeof this.reported === "number")) {
      // A read, a rejected write or a no-op delete of a namespace that does not exist: leave no
      // object behind.
      await this.drop();
      return out;
    }
    if (this.reported === undefined) this.reported = this.count(t);
    touch(this, (this.reported ?? 0) * perRecord, budget * 1.34);
    // Sealed segments (after a write, or loaded without their graph) get HNSW graphs built in
    // bounded steps, one per alarm, between requests. Until then they are searched exactly.
    const indexing = this.host.indexingPending();
    if (indexing && (await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now());
    const headers = {
      ...out.headers,
      "x-larch-wasm-memory-bytes": String(wasmMemoryBytes()),
      "x-larch-indexing": indexing ? "pending" : "idle",
    };
    return { ...out, headers };
  }

  /**
   * One bounded indexing step, committed in one transaction; re-armed while work remains. An
   * engine evicted meanwhile (memory budget) is not reloaded here: its next request reloads it
   * and schedules the build again.
   */
  async alarm(): Promise<void> {
    if (this.host.indexStep(INDEX_STEP_BUDGET)) await this.ctx.storage.setAlarm(Date.now());
  }

  /** Offboarding: drops this namespace's storage entirely. */
  async drop(): Promise<void> {
    this.evict();
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.reported = undefined;
    this.init();
  }
}

/**
 * Pinecone's data-plane quota error (HTTP 403, gRPC RESOURCE_EXHAUSTED), as the engine renders
 * `Error::LimitExceeded`. Rendered here until the engine enforces the budget itself (README).
 */
function limitExceeded(t: Target, count: number, maxRecords: number, budget: number): EngineResponse {
  const dims = t.dimension === null ? "sparse records" : `records of dimension ${t.dimension}`;
  const message =
    `Namespace '${t.ns}' of index '${t.index}' would hold ${count} ${dims}, above this deployment's limit of ` +
    `${maxRecords} per namespace (${budget / MIB} MiB of vectors per namespace object). ` +
    `Spread the records over more namespaces; nothing was written.`;
  return {
    status: 403,
    contentType: "application/json",
    body: new TextEncoder().encode(JSON.stringify({ code: 8, message, details: [] })),
    headers: {},
  };
}
