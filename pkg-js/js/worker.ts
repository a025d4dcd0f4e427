// Entry point for browsers that keeps the engine off the main thread:
//   import { Larch } from "larchdb/worker";     // same API as "larchdb"
//   const pc = new Larch();                     // IndexedDB "larch", one engine in a SharedWorker
//   const pc = new Larch({ worker: "dedicated" }); // this client's own Worker
// Every call is posted to the engine worker (engine_worker.ts) and answered from there; only
// building requests and reading answers runs on the page. With IndexedDB storage the default is
// one SharedWorker for every tab of the origin (where the browser has SharedWorker; else a
// dedicated Worker per client, which still shares the database through Web Locks as the main
// entry does). Storage: "memory" or { indexedDB: name } (a custom BlobStore cannot cross to a
// worker: use "larchdb" for those).

import type { ClientMessage, WorkerMessage } from "./engine_worker.js";
import type { EngineResponse, IndexingProgress, SideVectors } from "./host.js";
import { LarchCore, type LarchOptions, type Runtime, setRuntime, type Transport } from "./larch.js";
import { requestPersistence } from "./persist.js";

type Endpoint = {
  postMessage(message: ClientMessage, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent) => void) | null;
  onmessageerror?: ((e: MessageEvent) => void) | null;
};

function startWorker(shared: boolean): {
  endpoint: Endpoint;
  stop: () => void;
  onError: (f: (e: string) => void) => void;
} {
  if (shared) {
    // The literal `new SharedWorker(new URL(..., import.meta.url))` is what bundlers (Vite,
    // webpack 5) recognise to emit the worker script with its own imports.
    const w = new SharedWorker(new URL("./engine_worker.js", import.meta.url), { type: "module", name: "larchdb" });
    w.port.start();
    return {
      endpoint: w.port as unknown as Endpoint,
      stop: () => w.port.close(),
      onError: (f) => {
        w.onerror = (e) => f(String((e as ErrorEvent).message ?? "SharedWorker failed to start"));
      },
    };
  }
  const w = new Worker(new URL("./engine_worker.js", import.meta.url), { type: "module" });
  return {
    endpoint: w as unknown as Endpoint,
    stop: () => w.terminate(),
    onError: (f) => {
      w.onerror = (e) => f(String(e.message ?? "Worker failed to start"));
    },
  };
}

/** The client's end: requests posted to the engine worker, answers matched by id. */
class WorkerTransport implements Transport {
  private readonly endpoint: Endpoint;
  private readonly stop: () => void;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private next = 1;
  private progress: IndexingProgress = { pending: false, built: 0, total: 0 };
  private failed: string | null = null;
  private closed = false;

  constructor(options: LarchOptions, onProgress?: (p: IndexingProgress) => void) {
    const storage = options.storage ?? "default";
    if (storage !== "memory" && storage !== "default" && !(typeof storage === "object" && "indexedDB" in storage)) {
      throw new Error(
        'larchdb/worker: storage must be "memory" or { indexedDB: name } (use "larchdb" for a BlobStore)',
      );
    }
    if (typeof Worker !== "function") {
      throw new Error('larchdb/worker needs Web Workers (a browser); in Node and Workers import "larchdb"');
    }
    const idb = storage !== "memory";
    const shared =
      (options.worker ?? (idb ? "shared" : "dedicated")) === "shared" && typeof SharedWorker === "function";
    const w = startWorker(shared);
    this.endpoint = w.endpoint;
    this.stop = w.stop;
    w.onError((message) => this.fail(`larchdb/worker: the engine worker failed: ${message}`));
    this.endpoint.onmessage = (e: MessageEvent) => {
      const m = e.data as WorkerMessage;
      if ("op" in m) {
        this.progress = m.progress;
        onProgress?.(m.progress);
        return;
      }
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(Object.assign(new Error(m.error.message), { name: m.error.name, code: m.error.code }));
    };
    // Functions stay on this side (progress comes back as messages); `persist` is the page's
    // business (and must not split tabs over two engines).
    const { onIndexingProgress: _p, persist: _q, ...plain } = options;
    this.endpoint.postMessage({ op: "open", options: plain });
  }

  private fail(message: string): void {
    this.failed = message;
    for (const p of this.pending.values()) p.reject(new Error(message));
    this.pending.clear();
  }

  private call<T>(message: { op: string; [field: string]: unknown }): Promise<T> {
    if (this.closed) return Promise.reject(new Error("this Larch instance is closed"));
    if (this.failed) return Promise.reject(new Error(this.failed));
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.endpoint.postMessage({ ...message, id } as unknown as ClientMessage);
    });
  }

  send(method: string, path: string, query = "", body?: unknown, vectors?: SideVectors): Promise<EngineResponse> {
    return this.call({ op: "send", method, path, query, body, vectors });
  }

  upsertLimits(path: string): Promise<{ records: number; bytes: number }> {
    return this.call({ op: "limits", path });
  }

  flushIndexing(): Promise<void> {
    return this.call({ op: "flush" });
  }

  indexingProgress(): IndexingProgress {
    return this.progress;
  }

  info(): Promise<EngineInfo> {
    return this.call({ op: "info" });
  }

  close(): void {
    if (this.closed) return;
    this.endpoint.postMessage({ op: "close" });
    this.closed = true;
    this.fail("this Larch instance is closed");
    this.stop();
  }
}

const RUNTIME: Runtime = {
  storage() {
    throw new Error("larchdb/worker: the engine runs in the worker");
  },
  connect(options: LarchOptions, larch: LarchCore): Transport {
    if ((options.storage ?? "default") !== "memory") larch.persisted = requestPersistence(options.persist ?? true);
    return new WorkerTransport(options, options.onIndexingProgress);
  },
};
setRuntime(RUNTIME);

/** Where a client's engine runs: a SharedWorker or a dedicated one, and who else uses it. */
export type EngineInfo = {
  /** A SharedWorker (false: this client's own dedicated Worker). */
  shared: boolean;
  /** Engines that worker runs (one per distinct set of options). */
  engines: number;
  /** Clients (in any tab) using this client's engine, this one included. */
  clients: number;
};

/** The Larch client with its engine in a Web Worker: the same API as `larchdb`'s `Larch`. */
export class Larch extends LarchCore {
  constructor(options?: LarchOptions) {
    super(options, RUNTIME);
  }

  /** Where this client's engine runs (see `EngineInfo`). */
  engineInfo(): Promise<EngineInfo> {
    return (this.host as WorkerTransport).info();
  }
}

/** The same client under the SDK's name. */
export const Pinecone = Larch;
export type Pinecone = Larch;

/** Nothing to load on the page (the worker loads the wasm); kept so code runs unchanged. */
export function init(_input?: unknown): Promise<void> {
  return Promise.resolve();
}

export * from "./errors.js";
/** The SDK's `Errors` namespace: `Errors.PineconeNotFoundError` & co. */
export * as Errors from "./errors.js";
export type { IndexingProgress } from "./host.js";
export type { LarchOptions, StorageOption } from "./larch.js";
export { Documents, Index, Indexes, type IndexOptions } from "./larch.js";
export type * from "./types.js";
