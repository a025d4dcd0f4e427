// Entry point for browsers and bundlers (Vite, webpack, a plain <script type="module">):
//   import { init, Larch } from "larchdb";
//   await init();                      // fetches larch_js_bg.wasm next to this module
//   const pc = new Larch();            // IndexedDB database "larch"; or { storage: "memory" }
// Calls made before init() resolves wait for it (init() runs on first use).

import type { Host } from "./host.js";
import { indexedDbStorage } from "./idb.js";
import { LarchCore, type LarchOptions, type Runtime, type StorageOption, setRuntime } from "./larch.js";
import initWasm, { Engine } from "./wasm/larch_js.js";

let loading: Promise<void> | null = null;

/**
 * Loads the WebAssembly module: from `input` (a URL, a Response, bytes or a compiled
 * `WebAssembly.Module`) or by default from `larch_js_bg.wasm` beside this file.
 */
export function init(input?: RequestInfo | URL | Response | BufferSource | WebAssembly.Module): Promise<void> {
  if (!loading) {
    loading = initWasm(input === undefined ? undefined : { module_or_path: input }).then(() => undefined);
    loading.catch(() => (loading = null));
  }
  return loading;
}

const RUNTIME: Runtime = {
  ready: init,
  storage(option: StorageOption | undefined, larch: LarchCore, options: LarchOptions) {
    const hasIdb = typeof indexedDB !== "undefined";
    const chosen = option ?? (hasIdb ? { indexedDB: "larch" } : "memory");
    if (chosen === "memory") return { persistent: false };
    if (typeof chosen === "object" && "indexedDB" in chosen) {
      const s = indexedDbStorage(chosen.indexedDB, init, (g) => (larch.host as Host).remoteCommit(g), options.persist);
      larch.persisted = s.persisted;
      return s;
    }
    if (typeof chosen === "object" && "directory" in chosen) {
      throw new Error("larch: { directory } storage needs Node; in browsers use { indexedDB: name }");
    }
    return { persistent: true, store: chosen };
  },
};
setRuntime(RUNTIME);

/** The Larch client: @pinecone-database/pinecone's `Pinecone` surface, running locally. */
export class Larch extends LarchCore {
  constructor(options?: LarchOptions) {
    super(options, RUNTIME);
  }
}

/** The same client under the SDK's name: `import { Pinecone } from "larchdb"` ports SDK code by its import. */
export const Pinecone = Larch;
export type Pinecone = Larch;

/** True when the loaded wasm uses SIMD128 (after init). */
export const simd = (): boolean => Engine.simd();

export * from "./errors.js";
/** The SDK's `Errors` namespace: `Errors.PineconeNotFoundError` & co. */
export * as Errors from "./errors.js";
export type { BlobStore, IndexingProgress, WriteBatch } from "./host.js";
export type { LarchOptions, StorageOption } from "./larch.js";
export { Documents, Index, Indexes, type IndexOptions } from "./larch.js";
export { MemoryBlobStore } from "./memory_store.js";
export type * from "./types.js";
/** The raw REST engine and the engine's memory store, for hosts with their own storage. */
export { Engine, IdbStore, MemoryStore } from "./wasm/larch_js.js";
