// Entry point for browsers and bundlers (Vite, webpack, a plain <script type="module">):
//   import { init, Larch } from "larchdb";
//   await init();                      // fetches larch_js_bg.wasm next to this module
//   const pc = new Larch();            // IndexedDB database "larch"; or { storage: "memory" }
// Calls made before init() resolves wait for it (init() runs on first use).
//
// The wasm loaded first is the search module (larch_search_bg.wasm, modules.ts): the engine
// without integrated embedding and without readers of old format versions. The first request
// that needs either loads the full module (larch_js_bg.wasm) and runs on it from then on.

import type { Host } from "./host.js";
import { indexedDbStorage } from "./idb.js";
import { LarchCore, type LarchOptions, type Runtime, type StorageOption, setRuntime } from "./larch.js";
import { type EngineModule, setModules } from "./modules.js";
import initWasm, { Engine, MemoryStore } from "./wasm/larch_search.js";

/** Where a wasm module comes from: a URL, a Response, bytes or a compiled `WebAssembly.Module`. */
export type WasmInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;

let loading: Promise<void> | null = null;
let fullInput: WasmInput | undefined;
let fullLoading: Promise<EngineModule> | null = null;

/**
 * Loads the WebAssembly search module: from `input` or by default from `larch_search_bg.wasm`
 * beside this file. `full` says where the full module comes from when a request needs it
 * (integrated embedding, old format versions; by default `larch_js_bg.wasm` beside this file).
 */
export function init(input?: WasmInput, full?: WasmInput): Promise<void> {
  if (full !== undefined) fullInput = full;
  if (!loading) {
    loading = initWasm(input === undefined ? undefined : { module_or_path: input }).then(() => undefined);
    loading.catch(() => (loading = null));
  }
  return loading;
}

/** Loads the full module, once, the first time a request needs it. */
function loadFull(): Promise<EngineModule> {
  if (!fullLoading) {
    fullLoading = import("./wasm/larch_js.js").then(async (m) => {
      await m.default(fullInput === undefined ? undefined : { module_or_path: fullInput });
      return { Engine: m.Engine, MemoryStore: m.MemoryStore };
    });
    fullLoading.catch(() => (fullLoading = null));
  }
  return fullLoading;
}

setModules({ first: () => ({ Engine, MemoryStore }), full: loadFull });

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

/**
 * True once this page loaded the full module (a request needed integrated embedding or an old
 * format version); the search module alone serves everything else.
 */
export const fullModuleLoaded = (): boolean => fullLoading !== null;

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
/**
 * The raw REST engine (of the search module: it answers `{module}` to requests that need the
 * full one) and the engine's stores, for hosts with their own storage.
 */
export { Engine, IdbStore, MemoryStore } from "./wasm/larch_search.js";
