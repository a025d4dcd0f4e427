// The engine host loop over one Durable Object's SQLite storage.
//
// The engine (pkg-js's `Engine`, i.e. the Rust crate's `Api`) names the blobs it needs; we read
// them from the object's `blobs` table and hand them over, then retry. Its write batches are
// applied in ONE `transactionSync` (docs/format.md §5) together with any bookkeeping rows the
// caller adds, before the response leaves the object. DO SQLite is synchronous, so a whole
// request runs without yielding: nothing interleaves with it.

// The raw REST engine of pkg-js (wasm-bindgen `--target web` output). pkg-js's workerd entry
// wraps it in the SDK-shaped facade but does not export `Engine` itself (yet): see README
// "Needs from pkg-js". These paths are the files that entry imports, so a bundle that also
// imports "larch" still has one wasm instance; `initSync` is a no-op once instantiated.
import { Engine, initSync } from "../node_modules/larch/dist/wasm/larch_js.js";
// @ts-expect-error wrangler imports a .wasm as a WebAssembly.Module; the .d.ts beside it types instance exports
import wasmModule from "../node_modules/larch/dist/wasm/larch_js_bg.wasm";

initSync({ module: wasmModule });

/** A transport-neutral request, as the engine takes it. */
export type EngineRequest = {
  method: string;
  /** Path without the query string, e.g. `/index/docs/vectors/upsert`. */
  path: string;
  /** Raw query string without `?`. */
  query: string;
  body: Uint8Array;
  /** The `X-Pinecone-Api-Version` header, if sent. */
  apiVersion: string | null;
};

/** The engine's response. */
export type EngineResponse = {
  status: number;
  contentType: string;
  body: Uint8Array;
  headers: Record<string, string>;
};

type WriteBatch = { puts: Array<[string, Uint8Array]>; deletes: string[]; deletePrefixes: string[] };

const MAX_LOAD_ROUNDS = 32;
const EMPTY = new Uint8Array(0);

/** Bytes of the wasm linear memory (shared by every engine of this isolate). */
export function wasmMemoryBytes(): number {
  const exports = initSync(undefined as never) as unknown as { memory?: WebAssembly.Memory };
  return exports.memory?.buffer.byteLength ?? 0;
}

/** True when the engine's wasm uses SIMD128. */
export const simdEnabled = (): boolean => Engine.simd();

/** Blob storage: one SQLite table in the Durable Object. */
export class SqlBlobs {
  constructor(private readonly storage: DurableObjectStorage) {
    storage.sql.exec("CREATE TABLE IF NOT EXISTS blobs (key TEXT PRIMARY KEY, value BLOB NOT NULL)");
  }

  get(key: string): Uint8Array | undefined {
    const rows = this.storage.sql.exec<{ value: ArrayBuffer }>("SELECT value FROM blobs WHERE key = ?", key).toArray();
    return rows.length ? new Uint8Array(rows[0].value) : undefined;
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

  /** Total stored bytes (for reports). */
  bytes(): number {
    const r = this.storage.sql.exec<{ n: number }>("SELECT coalesce(sum(length(value)), 0) AS n FROM blobs").one();
    return r.n;
  }
}

/** One persistent engine over one object's blobs; rebuilt from storage whenever dropped. */
export class EngineHost {
  private engine: Engine | null = null;
  private template = "";

  constructor(
    readonly blobs: SqlBlobs,
    private readonly options: Record<string, unknown> = {},
  ) {}

  /** True while an engine (and what it loaded) is resident. */
  get loaded(): boolean {
    return this.engine !== null;
  }

  /** Frees the engine; the next request reloads it lazily from storage. */
  drop(): void {
    this.engine?.free();
    this.engine = null;
  }

  private get(hostTemplate?: string): Engine {
    if (this.engine && hostTemplate !== undefined && this.template !== hostTemplate) this.drop();
    hostTemplate ??= this.template || "http://127.0.0.1:8787/index/{name}";
    if (!this.engine) {
      this.engine = new Engine({ ...this.options, persistent: true, hostTemplate });
      this.template = hostTemplate;
      // Load the root first: the engine's describe/configure-index routes ask for `root` on a
      // cold database but never load it once provided (engine bug, see README); list does.
      this.loop(this.engine, internal("GET", "/indexes"));
    }
    return this.engine;
  }

  /**
   * Runs one request to completion without committing: returns the response and the write
   * batches it produced. The caller commits them with `commit` (or calls `drop` to discard
   * them: the engine then reloads the committed state). Without `hostTemplate` the engine
   * keeps the one it has (for requests whose answer names no host).
   */
  run(req: EngineRequest, hostTemplate?: string): { response: EngineResponse; writes: WriteBatch[] } {
    const engine = this.get(hostTemplate);
    const response = this.loop(engine, req);
    return { response, writes: engine.takeWrites() as WriteBatch[] };
  }

  private loop(engine: Engine, req: EngineRequest): EngineResponse {
    for (let round = 0; round < MAX_LOAD_ROUNDS; round++) {
      const r = engine.handle(req.method, req.path, req.query, req.body ?? EMPTY, req.apiVersion) as
        | EngineResponse
        | { needs: string[] };
      if ("needs" in r) {
        for (const key of r.needs) engine.provide(key, this.blobs.get(key));
        continue;
      }
      return r;
    }
    this.drop();
    throw new Error(`engine still needs blobs after ${MAX_LOAD_ROUNDS} rounds`);
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

  /**
   * True when the resident engine has graph builds pending (`indexStep(0)` does no work; it
   * only reports). False when no engine is resident: the next request reloads it, and loading
   * a segment without its graph makes the build pending again.
   */
  indexingPending(): boolean {
    return this.engine?.indexStep(0) ?? false;
  }

  /**
   * One bounded background indexing step (docs/format.md "index_step"): at most `budget` node
   * insertions, its write batches committed in one transaction like a request's. Returns true
   * while more work is pending. Does nothing without a resident engine.
   */
  indexStep(budget: number): boolean {
    const engine = this.engine;
    if (!engine) return false;
    const more = engine.indexStep(budget);
    this.commit(engine.takeWrites() as WriteBatch[]);
    return more;
  }

  /** `run` + `commit`. */
  handle(req: EngineRequest, hostTemplate?: string): EngineResponse {
    const { response, writes } = this.run(req, hostTemplate);
    this.commit(writes);
    return response;
  }
}

/** A JSON GET/POST through the engine, for the Worker's own bookkeeping requests. */
export function internal(method: string, path: string, body?: unknown, apiVersion = "2025-10"): EngineRequest {
  return {
    method,
    path,
    query: "",
    body: body === undefined ? EMPTY : new TextEncoder().encode(JSON.stringify(body)),
    apiVersion,
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
