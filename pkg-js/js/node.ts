// Entry point for Node (≥ 20): the wasm is loaded synchronously at import.
//   import { Larch } from "larchdb";
//   const pc = new Larch();                                  // in memory
//   const pc = new Larch({ storage: { directory: "./db" } }); // persisted to a directory (shareable)

import { readFileSync } from "node:fs";
import { DirectoryStore } from "./directory_store.js";
import type { LockFn } from "./host.js";
import { LarchCore, type LarchOptions, type Runtime, type StorageOption, setRuntime } from "./larch.js";
import { setModules } from "./modules.js";
import { nodeEmbedder } from "./node_embedder.js";
import { Engine, initSync, MemoryStore } from "./wasm/larch_js.js";

initSync({ module: readFileSync(new URL("./wasm/larch_js_bg.wasm", import.meta.url)) });

/** Nothing to do in Node (the wasm loaded at import); kept so code runs unchanged everywhere. */
export function init(_input?: unknown): Promise<void> {
  return Promise.resolve();
}

setModules({ first: () => ({ Engine, MemoryStore }) });

const RUNTIME: Runtime = {
  embedder: (options: LarchOptions) => nodeEmbedder(options.model),
  storage(option: StorageOption | undefined) {
    const chosen = option ?? "memory";
    if (chosen === "memory") return { persistent: false };
    if (typeof chosen === "object" && "directory" in chosen) {
      const store = DirectoryStore.open(chosen.directory, chosen);
      store.catch(() => undefined); // reported by the first request
      // Each request holds the directory's lock, so processes sharing it take turns (see
      // directory_store.ts) and the host's generation check reloads after another's commit.
      const lock: LockFn = (fn) => store.then((s) => s.locked(fn));
      return { persistent: true, store, ownsStore: true, lock };
    }
    if (typeof chosen === "object" && "indexedDB" in chosen) {
      throw new Error('larch: IndexedDB is not available in Node; use { directory: path } or "memory"');
    }
    if (chosen instanceof DirectoryStore) {
      return { persistent: true, store: chosen, lock: (fn) => chosen.locked(fn) };
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

/** True when the loaded wasm uses SIMD128. */
export const simd = (): boolean => Engine.simd();

export { DirectoryStore, type DirectoryStoreOptions } from "./directory_store.js";
export * from "./errors.js";
/** The SDK's `Errors` namespace: `Errors.PineconeNotFoundError` & co. */
export * as Errors from "./errors.js";
export type { BlobStore, IndexingProgress, TextEmbedder, WriteBatch } from "./host.js";
export type { LarchOptions, StorageOption } from "./larch.js";
export { type CreateIndexForModelOptions, Documents, Index, Indexes, type IndexOptions, Inference } from "./larch.js";
export { MemoryBlobStore } from "./memory_store.js";
export { defaultModelDirectory, nodeEmbedder } from "./node_embedder.js";
export type * from "./types.js";
/** The raw REST engine and the engine's memory store, for hosts with their own storage. */
export { Engine, MemoryStore } from "./wasm/larch_js.js";
