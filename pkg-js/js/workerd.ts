// Entry point for Cloudflare Workers (workerd): the bundler hands over the compiled module.
//   import { Larch } from "larchdb";          // resolves here through the "workerd" condition
//   const pc = new Larch();                 // in memory, or { storage: yourBlobStore }

import { LarchCore, type LarchOptions, type Runtime, type StorageOption, setRuntime } from "./larch.js";
import { setModules } from "./modules.js";
import { Engine, initSync, MemoryStore } from "./wasm/larch_js.js";
import wasm from "./wasm/larch_js_bg.wasm";

const instance = initSync({ module: wasm }) as unknown as { memory?: WebAssembly.Memory };

/** Bytes of the engine's wasm linear memory (shared by every engine of this isolate). */
export const wasmMemoryBytes = (): number => instance.memory?.buffer.byteLength ?? 0;

/** Nothing to do in Workers (the wasm loaded at import); kept so code runs unchanged. */
export function init(_input?: unknown): Promise<void> {
  return Promise.resolve();
}

setModules({ first: () => ({ Engine, MemoryStore }) });

const RUNTIME: Runtime = {
  storage(option: StorageOption | undefined) {
    const chosen = option ?? "memory";
    if (chosen === "memory") return { persistent: false };
    if (typeof chosen === "object" && ("directory" in chosen || "indexedDB" in chosen)) {
      throw new Error('larch: in Workers use "memory" or a BlobStore (e.g. over Durable Object storage)');
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

export * from "./errors.js";
/** The SDK's `Errors` namespace: `Errors.PineconeNotFoundError` & co. */
export * as Errors from "./errors.js";
export type { BlobStore, EngineRequest, EngineResponse, GetBlobs, IndexingProgress, WriteBatch } from "./host.js";
/** The host loop, for hosts with their own storage (the Worker over Durable Object SQLite). */
export { runRequest } from "./host.js";
export type { LarchOptions, StorageOption } from "./larch.js";
export { Documents, Index, Indexes, type IndexOptions } from "./larch.js";
export { MemoryBlobStore } from "./memory_store.js";
export type * from "./types.js";
/** The raw REST engine and the engine's memory store, for hosts with their own storage. */
export { Engine, MemoryStore } from "./wasm/larch_js.js";
