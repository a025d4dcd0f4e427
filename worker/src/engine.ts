// One engine over one Durable Object's SQLite storage. The request loop is pkg-js's
// `runRequest` (the same loop as every Larch host): the engine names the blobs it needs, we read
// them from the object's `blobs` table, and its write batches are applied in ONE
// `transactionSync` (docs/format.md §5), together with any bookkeeping rows the caller adds,
// before the response leaves the object. SQLite reads are synchronous, so a request never
// yields to another one between its reads.

import { Engine, type EngineRequest, type EngineResponse, runRequest, type WriteBatch } from "larchdb";

export type { EngineRequest, EngineResponse };

/** Durable Object SQLite binds at most 100 parameters per statement. */
const MAX_BOUND_PARAMETERS = 100;

/** Blob storage: one SQLite table in the Durable Object. */
export class SqlBlobs {
  constructor(private readonly storage: DurableObjectStorage) {
    storage.sql.exec("CREATE TABLE IF NOT EXISTS blobs (key TEXT PRIMARY KEY, value BLOB NOT NULL)");
  }

  /**
   * The blobs of `keys` (`undefined` where none is stored), in as few queries as Durable Object
   * SQLite allows: one `IN (...)` per `MAX_BOUND_PARAMETERS` keys. A query's row groups or a
   * cold load's segments are one batch. In `wrangler dev` this saved little (a fetch of 100
   * ids 35.0 → 33.0 ms; BENCHMARKS.md, issue 11 "Session 7").
   */
  get(keys: string[]): Array<Uint8Array | undefined> {
    const found = new Map<string, Uint8Array>();
    for (let i = 0; i < keys.length; i += MAX_BOUND_PARAMETERS) {
      const chunk = keys.slice(i, i + MAX_BOUND_PARAMETERS);
      const rows = this.storage.sql.exec<{ key: string; value: ArrayBuffer }>(
        `SELECT key, value FROM blobs WHERE key IN (${chunk.map(() => "?").join(",")})`,
        ...chunk,
      );
      for (const row of rows) found.set(row.key, new Uint8Array(row.value));
    }
    return keys.map((key) => found.get(key));
  }

  /** Applies the batches (puts, then deletes, then prefix deletes, each in order) and `also`, atomically. */
  apply(batches: WriteBatch[], also?: () => void): void {
    const sql = this.storage.sql;
    this.storage.transactionSync(() => {
      for (const b of batches) {
        for (const [k, v] of b.puts) sql.exec("INSERT OR REPLACE INTO blobs (key, value) VALUES (?, ?)", k, v);
        for (const k of b.deletes) sql.exec("DELETE FROM blobs WHERE key = ?", k);
        for (const p of b.deletePrefixes) sql.exec("DELETE FROM blobs WHERE substr(key, 1, ?) = ?", p.length, p);
      }
      also?.();
    });
  }
}

/** One persistent engine over one object's blobs; rebuilt from storage whenever dropped. */
export class EngineHost {
  private engine: Engine | null = null;
  /** The index-host template the engine renders (`{origin}/index/{name}`; control plane only). */
  private template: string | undefined;

  constructor(
    readonly blobs: SqlBlobs,
    private readonly options: Record<string, unknown> = {},
  ) {}

  /** Frees the engine; the next request reloads it lazily from storage. */
  drop(): void {
    this.engine?.free();
    this.engine = null;
  }

  private get(hostTemplate?: string): Engine {
    // Only the catalog renders hosts; it holds configurations only, so a rebuild is cheap.
    if (this.engine && hostTemplate !== undefined && hostTemplate !== this.template) this.drop();
    if (hostTemplate !== undefined) this.template = hostTemplate;
    this.engine ??= new Engine({ ...this.options, persistent: true, hostTemplate: this.template });
    return this.engine;
  }

  /**
   * Runs one request to completion without committing: returns the response and the write
   * batches it produced. The caller commits them with `commit`.
   */
  async run(req: EngineRequest, hostTemplate?: string): Promise<{ response: EngineResponse; writes: WriteBatch[] }> {
    const engine = this.get(hostTemplate);
    const response = await runRequest(engine, req, (keys) => this.blobs.get(keys));
    return { response, writes: engine.takeWrites() as WriteBatch[] };
  }

  /** Commits write batches (plus `also`) in one transaction; on failure the engine is dropped. */
  commit(writes: WriteBatch[], also?: () => void): void {
    if (writes.length === 0 && !also) return;
    try {
      this.blobs.apply(writes, also);
    } catch (e) {
      this.drop(); // the engine moved ahead of storage: rebuild it from what is committed
      throw e;
    }
  }

  /** `run` + `commit`. */
  async handle(req: EngineRequest, hostTemplate?: string): Promise<EngineResponse> {
    const { response, writes } = await this.run(req, hostTemplate);
    this.commit(writes);
    return response;
  }

  /** True when the resident engine has background indexing to do (a pure probe). */
  indexingPending(): boolean {
    return this.engine?.indexingPending() ?? false;
  }

  /** Bytes the resident engine keeps in memory (0 when none is resident). */
  residentBytes(): number {
    return this.engine?.residentBytes() ?? 0;
  }

  /** Row groups touched by rescoring since the resident engine loaded (0 when none is resident). */
  rowsTouched(): number {
    return this.engine?.rowsTouched()[1] ?? 0;
  }

  /**
   * One bounded background indexing step, its write batches committed in one transaction like
   * a request's. True while more work is pending. `budget` is in graph nodes (the engine's
   * default, 256, when omitted). Does nothing without a resident engine (the next request
   * reloads it and the build is pending again).
   */
  indexStep(budget?: number): boolean {
    const engine = this.engine;
    if (!engine) return false;
    // Merges of paged segments wait for their rows: read them synchronously.
    const needs = engine.indexNeeds();
    if (needs.length > 0) {
      const blobs = this.blobs.get(needs);
      for (const [i, key] of needs.entries()) engine.provide(key, blobs[i]);
    }
    const more = engine.indexStep(budget);
    this.commit(engine.takeWrites() as WriteBatch[]);
    // A merge waiting for rows goes on at the next step once they are provided (the same rows
    // asked for again: storage lacks them, and retrying cannot help).
    const after = engine.indexNeeds();
    return more || (after.length > 0 && after.join() !== needs.join());
  }
}

const EMPTY = new Uint8Array(0);

/** A JSON request through the engine, for the Worker's own bookkeeping. */
export function internal(method: string, path: string, body?: unknown): EngineRequest {
  return {
    method,
    path,
    query: "",
    body: body === undefined ? EMPTY : new TextEncoder().encode(JSON.stringify(body)),
    apiVersion: "2025-10",
  };
}

/** The engine's own JSON response body (shapes pinned by the engine's API tests), or null. */
// biome-ignore lint/suspicious/noExplicitAny: the engine's responses, read field by field by callers.
export function jsonOf(r: EngineResponse): any {
  if (!r.body.length) return null;
  try {
    return JSON.parse(new TextDecoder().decode(r.body));
  } catch {
    return null;
  }
}
