// The host loop: sends REST-shaped requests through the engine, fetches the blobs it asks for,
// and commits its write batches to the store before a call resolves.
//
// Cross-tab correctness (IndexedDB): every request runs under one exclusive Web Lock per
// database. Under the lock the host reads the store's generation counter; if it differs from the
// generation this engine was loaded at, another tab committed since, so the engine is dropped
// and rebuilt (it reloads lazily from the store) — a write never starts from a stale root or
// manifest. Each commit bumps the counter in the same IndexedDB transaction and is broadcast so
// other tabs drop their cached engine early.
//
// The loop itself is `runRequest` (exported for other hosts, e.g. the Worker over Durable Object
// storage): hosts differ only in how they read and write blobs. The engine owns its rules: it
// never asks twice for a blob it was given during a request (it answers with an internal error
// instead), sets the background step budget, and says when indexing is pending.
//
// Background indexing: sealed segments get HNSW graphs built in bounded steps
// (`engine.indexStep()`, docs/format.md "index_step"). After a request leaves pending
// builds (`engine.indexingPending()`), one `setTimeout(…, 0)` task is scheduled; it goes through the same queue and lock as
// requests (never concurrently with one), checks the generation like a request, runs one
// bounded step, commits its batches through the same path, and re-schedules itself while work
// remains. Its timer is `unref()`ed in Node, so it never keeps the process alive; a build cut
// short is simply restarted when the segment is next loaded (it is searched exactly meanwhile).

import { Engine } from "./wasm/larch_js.js";

/** One write batch of the engine: apply puts in order, then deletes, then prefix deletes. */
export type WriteBatch = {
  puts: Array<[string, Uint8Array]>;
  deletes: Array<string>;
  deletePrefixes: Array<string>;
};

/** Where the engine's blobs live. Implement it to put Larch on any key-value store. */
export interface BlobStore {
  /** The blobs under `keys`, in order (`undefined` for absent keys). */
  get(keys: string[]): Promise<Array<Uint8Array | undefined>>;
  /** Commits the batches, in order, atomically (all or nothing); may return a new generation. */
  // biome-ignore lint/suspicious/noConfusingVoidType: stores without a generation return Promise<void>.
  apply(batches: WriteBatch[]): Promise<number | void>;
  /** The store's commit counter, when other processes may write it too. */
  generation?(): Promise<number>;
  close?(): void;
}

/** Serialises critical sections across tabs/workers (the Web Locks API in browsers). */
export type LockFn = <T>(fn: () => Promise<T>) => Promise<T>;

export type EngineResponse = {
  status: number;
  contentType: string;
  body: Uint8Array;
  headers: Record<string, string>;
};

/** A transport-neutral request, as the engine takes it. */
export type EngineRequest = {
  method: string;
  /** Path without the query string, e.g. `/index/docs/vectors/upsert`. */
  path: string;
  /** Raw query string without `?`. */
  query: string;
  body: Uint8Array;
  /** The `X-Pinecone-Api-Version` header, if sent. */
  apiVersion?: string | null;
  /** The index's namespaces as the host knows them (stats and namespace listings). */
  namespaces?: Array<{ name: string; recordCount: number; sizeBytes?: number }>;
};

/** Reads blobs for the engine: synchronously (Durable Object SQLite) or not (IndexedDB). */
export type GetBlobs = (keys: string[]) => Array<Uint8Array | undefined> | Promise<Array<Uint8Array | undefined>>;

/**
 * Hands background work the blobs it waits for (`engine.indexNeeds()`: row groups of paged
 * segments that a merge copies) before an `indexStep()`. Returns the keys provided.
 */
export async function provideIndexNeeds(engine: Engine, get: GetBlobs | null): Promise<string[]> {
  const needs = engine.indexNeeds();
  if (needs.length === 0 || !get) return [];
  const blobs = await get(needs);
  needs.forEach((key, i) => {
    engine.provide(key, blobs[i]);
  });
  return needs;
}

/**
 * The host loop, the same for every host: runs `req` through `engine`, handing over the blobs
 * it names, until it answers. The caller then applies `engine.takeWrites()` (each batch in one
 * atomic step) before acknowledging. The engine ends the loop itself when retrying cannot make
 * progress, so there is no round limit here.
 */
export async function runRequest(engine: Engine, req: EngineRequest, get: GetBlobs | null): Promise<EngineResponse> {
  for (;;) {
    const r = engine.handle(req.method, req.path, req.query, req.body, req.apiVersion ?? undefined, req.namespaces) as
      | EngineResponse
      | { needs: string[] };
    if (!("needs" in r)) return r;
    if (!get) throw new Error(`the engine needs blobs but has no store: ${r.needs.join(", ")}`);
    const blobs = await get(r.needs);
    for (const [i, key] of r.needs.entries()) engine.provide(key, blobs[i] ?? undefined);
  }
}

export type HostOptions = {
  /** Options for `new Engine(...)`: persistent, hostTemplate, sealRecords, ... */
  engine: Record<string, unknown>;
  /** The store of a persistent engine (a promise while it opens). */
  store?: BlobStore | Promise<BlobStore>;
  /** Close the store with the host (stores Larch opened itself, not the caller's). */
  ownsStore?: boolean;
  lock?: LockFn;
  /** Called after a commit with the new generation (to tell other tabs). */
  announce?: (generation: number) => void;
  /** Keep at most this many namespaces per index in memory (persistent engines). */
  maxLoadedNamespaces?: number;
  /** Runs before the first request (the browser entry loads the wasm here). */
  ready?: () => Promise<void>;
};

export const API_VERSION = "2026-04";

export class Host {
  private engine: Engine | null = null;
  private loadedAt = -1;
  private queue: Promise<unknown> = Promise.resolve();
  private busy = false;
  private closed = false;
  private store: BlobStore | null = null;
  /** The pending background indexing timer (at most one). */
  private indexTimer: ReturnType<typeof setTimeout> | null = null;
  /** The indexing step queued or running, if any. */
  private indexTask: Promise<void> | null = null;

  constructor(private readonly options: HostOptions) {}

  /** Sends one request; requests of one host run one at a time, in call order. */
  send(method: string, path: string, query = "", body?: unknown): Promise<EngineResponse> {
    const bytes = body === undefined ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(body));
    return this.enqueue(() => this.run(method, path, query, bytes));
  }

  /** Runs `section` after everything queued before it, under the host's lock. */
  private enqueue<T>(section: () => Promise<T>): Promise<T> {
    const run = () => (this.options.lock ? this.options.lock(section) : section());
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /**
   * Runs background indexing to completion now (a test hook): resolves once no graph build of
   * the loaded namespaces is pending. Steps still go through the queue and lock.
   */
  async flushIndexing(): Promise<void> {
    for (;;) {
      if (this.indexTimer !== null) {
        clearTimeout(this.indexTimer);
        this.indexTimer = null;
        this.startIndexStep();
      }
      if (this.indexTask === null) return;
      await this.indexTask;
    }
  }

  /** Schedules one background indexing step, unless one is already pending. */
  private scheduleIndexing(): void {
    if (this.closed || this.indexTimer !== null || this.indexTask !== null) return;
    const timer = setTimeout(() => {
      this.indexTimer = null;
      this.startIndexStep();
    }, 0);
    (timer as { unref?: () => void }).unref?.();
    this.indexTimer = timer;
  }

  private startIndexStep(): void {
    if (this.closed || this.indexTask !== null) return;
    const task = this.enqueue(() => this.indexStep()).then(
      (more) => {
        this.indexTask = null;
        if (more) this.scheduleIndexing();
      },
      () => {
        // A failed commit dropped the engine; the next load restarts the build.
        this.indexTask = null;
      },
    );
    this.indexTask = task;
  }

  /** One bounded indexing step under the lock; true while more work is pending. */
  private async indexStep(): Promise<boolean> {
    if (this.closed || !this.engine) return false;
    this.busy = true;
    try {
      const store = await this.openedStore();
      if (store?.generation) {
        const generation = await store.generation();
        if (generation !== this.loadedAt) {
          // Another context committed: this engine is stale. Its successor reloads lazily and
          // gets the pending builds again when a request loads the namespace.
          this.drop();
          return false;
        }
      }
      const engine = this.engine;
      if (!engine) return false;
      const needs = await provideIndexNeeds(engine, store ? (keys) => store.get(keys) : null);
      const more = engine.indexStep();
      await this.commit(engine, store);
      // Rows just provided let a waiting merge run at the next step; the same rows asked for
      // again mean the store lacks them, and retrying cannot help.
      return more || (needs.length > 0 && engine.indexNeeds().join() !== needs.join());
    } finally {
      this.busy = false;
    }
  }

  /** Applies the engine's pending write batches to the store (the one commit path). */
  private async commit(engine: Engine, store: BlobStore | null): Promise<void> {
    const batches = engine.takeWrites() as WriteBatch[];
    if (batches.length === 0 || !store) return;
    try {
      const generation = await store.apply(batches);
      if (typeof generation === "number") {
        this.loadedAt = generation;
        this.options.announce?.(generation);
      }
    } catch (e) {
      // The engine moved ahead of the store: rebuild it from what is committed.
      this.drop();
      throw e;
    }
    if (this.options.maxLoadedNamespaces !== undefined) engine.evictIdle(this.options.maxLoadedNamespaces);
  }

  /** Another context committed `generation`: drop the cached engine unless it is current. */
  remoteCommit(generation: number): void {
    if (!this.busy && generation !== this.loadedAt) this.drop();
  }

  /** The opened store (after the first request). */
  async openedStore(): Promise<BlobStore | null> {
    if (!this.store && this.options.store) this.store = await this.options.store;
    return this.store;
  }

  close(): void {
    this.closed = true;
    if (this.indexTimer !== null) clearTimeout(this.indexTimer);
    this.indexTimer = null;
    this.drop();
    if (!this.options.ownsStore) return;
    if (this.store) this.store.close?.();
    else if (this.options.store)
      Promise.resolve(this.options.store).then(
        (s) => s.close?.(),
        () => undefined,
      );
  }

  private drop(): void {
    this.engine?.free();
    this.engine = null;
    this.loadedAt = -1;
  }

  private async run(method: string, path: string, query: string, body: Uint8Array): Promise<EngineResponse> {
    if (this.closed) throw new Error("this Larch instance is closed");
    this.busy = true;
    try {
      if (this.options.ready) await this.options.ready();
      const store = await this.openedStore();
      if (store?.generation) {
        const generation = await store.generation();
        if (generation !== this.loadedAt) {
          this.drop();
          this.loadedAt = generation;
        }
      }
      if (!this.engine) this.engine = new Engine(this.options.engine);
      const engine = this.engine;
      const get = store ? (keys: string[]) => store.get(keys) : null;
      const r = await runRequest(engine, { method, path, query, body, apiVersion: API_VERSION }, get);
      await this.commit(engine, store);
      // Segments sealed or loaded without a graph: build them in the background.
      if (this.engine === engine && engine.indexingPending()) this.scheduleIndexing();
      return r;
    } finally {
      this.busy = false;
    }
  }
}
