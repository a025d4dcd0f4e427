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
// requests (never concurrently with one), checks the generation like a request, runs engine
// steps of `STEP_NODES` insertions for at most `TURN_MS` (bounded by time as well as by work),
// commits its batches through the same path, and re-schedules itself while work remains. The
// queue is first come, first served, so under load a turn comes after the requests queued
// before it and before those sent after it: the build advances between requests however busy
// the host is. Its timer is `unref()`ed in Node, so it never keeps the process alive; a build cut
// short is simply restarted when the segment is next loaded (it is searched exactly meanwhile).

import { type EngineModule, type EngineModules, type ModuleNeed, ModuleNeeded, modules } from "./modules.js";
import type { Engine } from "./wasm/larch_js.js";

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
  /** With `SideVectors.sideValues`: the dense values left out of the JSON, one slot per id. */
  valueIds?: string[];
  values?: Float32Array;
  valueLengths?: Uint32Array;
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
  /** Dense vectors beside the body (`Engine.handleVectors`), for hosts in the engine's process. */
  vectors?: SideVectors;
};

/**
 * Dense vectors carried beside a request's JSON body instead of in it: every slot's values
 * concatenated, one length per slot (`ABSENT_SLOT` when it has none). See `Engine.handleVectors`.
 */
export type SideVectors = {
  floats?: Float32Array;
  lengths?: Uint32Array;
  /** Check the upsert and answer as the engine would, but apply nothing. */
  validateOnly?: boolean;
  /** Return query matches' and fetched records' values beside the JSON (`EngineResponse.values`). */
  sideValues?: boolean;
};

/** The length of a side slot without values. */
export const ABSENT_SLOT = 0xffffffff;

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
  for (const [i, key] of needs.entries()) engine.provide(key, blobs[i]);
  return needs;
}

/**
 * The host loop, the same for every host: runs `req` through `engine`, handing over the blobs
 * it names, until it answers. The caller then applies `engine.takeWrites()` (each batch in one
 * atomic step) before acknowledging. The engine ends the loop itself when retrying cannot make
 * progress, so there is no round limit here.
 */
/**
 * Embeds texts with a model the engine names (`all-minilm-l6-v2`): one vector per text
 * (concatenated), the tokens each used and the tokens each has untruncated. The engine never
 * runs a model; the host loads the `larch-embed` module and answers with it (`embedder.ts`).
 */
export type TextEmbedder = (
  model: string,
  inputType: string,
  texts: string[],
) => Promise<{ values: Float32Array; tokens: Uint32Array; untruncated: Uint32Array }>;

type EmbedNeed = { embed: { model: string; inputType: string; texts: string[] } };

export async function runRequest(
  engine: Engine,
  req: EngineRequest,
  get: GetBlobs | null,
  embed: TextEmbedder | null = null,
): Promise<EngineResponse> {
  for (;;) {
    const v = req.vectors;
    const r = (
      v
        ? engine.handleVectors(
            req.method,
            req.path,
            req.query,
            req.body,
            req.apiVersion ?? undefined,
            req.namespaces,
            v.floats,
            v.lengths,
            v.validateOnly ?? false,
            v.sideValues ?? false,
          )
        : engine.handle(req.method, req.path, req.query, req.body, req.apiVersion ?? undefined, req.namespaces)
    ) as EngineResponse | { needs: string[] } | EmbedNeed | ModuleNeed;
    if ("module" in r) throw new ModuleNeeded(r.module);
    if ("embed" in r) {
      const { model, inputType, texts } = r.embed;
      if (!embed) throw new Error(`the engine needs texts embedded with ${model} but this host runs no model`);
      const e = await embed(model, inputType, texts);
      engine.provideEmbeddings(model, inputType, texts, e.values, e.tokens, e.untruncated);
      continue;
    }
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
  /** Called after each background indexing step commits. */
  onIndexingProgress?: (progress: IndexingProgress) => void;
  /** Runs embedding models for integrated indexes, `/embed` (see `TextEmbedder`). */
  embedder?: TextEmbedder;
  /** The engine's wasm modules (modules.ts); by default the entry point's. */
  modules?: EngineModules;
};

/**
 * Background indexing: HNSW graph nodes inserted so far of all the segments being indexed,
 * and whether work is pending (graph builds, int8 codes, consolidation). When `pending`
 * turns false the last report has `built === total`.
 */
export type IndexingProgress = { pending: boolean; built: number; total: number };

export const API_VERSION = "2026-04";

/**
 * One background indexing turn runs engine steps of `STEP_NODES` graph insertions while less
 * than `TURN_MS` have passed since it began (the engine has no clock; the host bounds the time):
 * a turn holds the queue, and in a browser the page, for at most about `TURN_MS` plus one small
 * step. 8 insertions take ~0.3 ms at 64 dimensions and ~4 ms at 384 on a 100k-node graph (wasm);
 * the one larger unit is a sample of a finished graph's calibration (`calibrate.rs`: one exact
 * scan of the segment plus a few beams, ~10 ms at 100k × 384).
 */
export const TURN_MS = 8;
export const STEP_NODES = 8;
/** Requests after which a pending indexing turn is queued without waiting for its timer. */
export const TURN_EVERY = 8;

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
  /** Nodes of the graph builds last reported (the final report's total). */
  private indexTotal = 0;
  /** The last progress reported, so a step that changed nothing reports nothing. */
  private lastReport = "";
  /** Requests finished since the last indexing turn began. */
  private sinceTurn = 0;
  /** The full module, once a request needed it (or at once for an engine without a store). */
  private full: EngineModule | null = null;

  constructor(private readonly options: HostOptions) {}

  /**
   * Sends one request; requests of one host run one at a time, in call order. `body` is JSON
   * to serialise, or the serialised bytes; `vectors` travel beside it.
   */
  send(method: string, path: string, query = "", body?: unknown, vectors?: SideVectors): Promise<EngineResponse> {
    const bytes =
      body instanceof Uint8Array
        ? body
        : body === undefined
          ? new Uint8Array(0)
          : new TextEncoder().encode(JSON.stringify(body));
    return this.enqueue(() => this.run(method, path, query, bytes, vectors));
  }

  /** The bounds of one upsert request to `path`: records and body bytes (after the wasm loads). */
  async upsertLimits(path: string): Promise<{ records: number; bytes: number }> {
    if (this.options.ready) await this.options.ready();
    const { Engine } = await this.engineModule();
    return { records: Engine.maxUpsertRecords(), bytes: Engine.maxBodyBytes("POST", path) };
  }

  /**
   * The module new engines are made of (after `ready`): the entry point's first one, or the
   * full one once a request needed it. An engine without a store starts on the full one, as
   * the state it holds could not be handed over.
   */
  private async engineModule(): Promise<EngineModule> {
    if (this.full) return this.full;
    const mods = this.options.modules ?? modules();
    if (mods.full && !this.options.engine.persistent) this.full = await mods.full();
    return this.full ?? mods.first();
  }

  /** True when this host runs the full module (a test and diagnostics probe). */
  get fullModule(): boolean {
    return this.full !== null || !(this.options.modules ?? modules()).full;
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
      this.sinceTurn = 0;
      const start = performance.now();
      let more = engine.indexStep(STEP_NODES);
      while (more && performance.now() - start < TURN_MS) more = engine.indexStep(STEP_NODES);
      await this.commit(engine, store);
      this.reportProgress();
      // A merge waiting for rows goes on once they are provided: continue while it names
      // rows other than those just provided (the same ones again: the store lacks them, and
      // retrying cannot help).
      const after = engine.indexNeeds();
      return more || (after.length > 0 && after.join() !== needs.join());
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

  /** Background indexing progress of the loaded namespaces (a pure probe of the engine). */
  /** Reports progress to `onIndexingProgress` when it changed since the last report. */
  private reportProgress(): void {
    if (!this.options.onIndexingProgress) return;
    const progress = this.indexingProgress();
    const key = JSON.stringify(progress);
    if (key === this.lastReport) return;
    this.lastReport = key;
    this.options.onIndexingProgress(progress);
  }

  indexingProgress(): IndexingProgress {
    const engine = this.engine;
    const [built, total] = engine ? engine.indexingProgress() : [0, 0];
    const pending = engine?.indexingPending() ?? false;
    if (total > 0) this.indexTotal = total;
    if (pending) return { pending, built, total };
    const done = this.indexTotal;
    this.indexTotal = 0;
    return { pending, built: done, total: done };
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

  private async run(
    method: string,
    path: string,
    query: string,
    body: Uint8Array,
    vectors?: SideVectors,
  ): Promise<EngineResponse> {
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
      let mod = await this.engineModule();
      if (!this.engine) this.engine = new mod.Engine(this.options.engine);
      let engine = this.engine;
      const get = store ? (keys: string[]) => store.get(keys) : null;
      const req: EngineRequest = { method, path, query, body, apiVersion: API_VERSION, vectors };
      let r: EngineResponse;
      try {
        r = await runRequest(engine, req, get, this.options.embedder ?? null);
      } catch (e) {
        const full = (this.options.modules ?? modules()).full;
        if (!(e instanceof ModuleNeeded) || !full || this.full) throw e;
        // The search module leaves out what this request needs, and changed nothing: run it,
        // and everything after it, on the full module. Every earlier request is committed, so
        // the new engine reloads the same state from the store (pending background builds
        // restart there).
        mod = this.full = await full();
        engine.free();
        engine = this.engine = new mod.Engine(this.options.engine);
        r = await runRequest(engine, req, get, this.options.embedder ?? null);
      }
      await this.commit(engine, store);
      // Segments sealed or loaded without a graph: build them in the background. A timer
      // alone is not enough: requests that keep arriving through promise continuations (no
      // I/O in between: an in-memory store, a busy page) run before any timer fires, so every
      // `TURN_EVERY` requests the turn is queued directly, behind the requests already queued.
      if (this.engine === engine && engine.indexingPending()) {
        if (++this.sinceTurn >= TURN_EVERY) this.startIndexStep();
        else this.scheduleIndexing();
      }
      return r;
    } finally {
      this.busy = false;
    }
  }
}
