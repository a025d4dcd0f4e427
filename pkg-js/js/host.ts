// The host loop: sends REST-shaped requests through the engine, fetches the blobs it asks for,
// and commits its write batches to the store before a call resolves.
//
// Cross-tab correctness (IndexedDB): every request runs under one exclusive Web Lock per
// database. Under the lock the host reads the store's generation counter; if it differs from the
// generation this engine was loaded at, another tab committed since, so the engine is dropped
// and rebuilt (it reloads lazily from the store) — a write never starts from a stale root or
// manifest. Each commit bumps the counter in the same IndexedDB transaction and is broadcast so
// other tabs drop their cached engine early.

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
const MAX_LOAD_ROUNDS = 64;

export class Host {
  private engine: Engine | null = null;
  private loadedAt = -1;
  private queue: Promise<unknown> = Promise.resolve();
  private busy = false;
  private closed = false;
  private store: BlobStore | null = null;

  constructor(private readonly options: HostOptions) {}

  /** Sends one request; requests of one host run one at a time, in call order. */
  send(method: string, path: string, query = "", body?: unknown): Promise<EngineResponse> {
    const bytes = body === undefined ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(body));
    const run = () => {
      const section = () => this.run(method, path, query, bytes);
      return this.options.lock ? this.options.lock(section) : section();
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
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
    this.drop();
    if (!this.options.ownsStore) return;
    if (this.store) this.store.close?.();
    else if (this.options.store) Promise.resolve(this.options.store).then((s) => s.close?.(), () => undefined);
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
      for (let round = 0; round < MAX_LOAD_ROUNDS; round++) {
        const r = engine.handle(method, path, query, body, API_VERSION) as EngineResponse | { needs: string[] };
        if ("needs" in r) {
          if (!store) throw new Error(`the engine needs blobs but has no store: ${r.needs.join(", ")}`);
          const blobs = await store.get(r.needs);
          r.needs.forEach((key, i) => engine.provide(key, blobs[i] ?? undefined));
          continue;
        }
        const batches = engine.takeWrites() as WriteBatch[];
        if (batches.length > 0 && store) {
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
        return r;
      }
      throw new Error(`blobs still missing after ${MAX_LOAD_ROUNDS} rounds of loading`);
    } finally {
      this.busy = false;
    }
  }
}
