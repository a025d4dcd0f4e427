// A BlobStore in memory, backed by the engine's own MemoryStore (and its snapshot format).

import type { BlobStore, WriteBatch } from "./host.js";
import { modules } from "./modules.js";
import type { MemoryStore } from "./wasm/larch_js.js";

export class MemoryBlobStore implements BlobStore {
  /** @internal */
  readonly inner: MemoryStore;

  constructor(snapshot?: Uint8Array) {
    const { MemoryStore } = modules().first();
    this.inner = snapshot ? MemoryStore.fromBytes(snapshot) : new MemoryStore();
  }

  async get(keys: string[]): Promise<Array<Uint8Array | undefined>> {
    return this.inner.get(keys) as Array<Uint8Array | undefined>;
  }

  async apply(batches: WriteBatch[]): Promise<void> {
    this.inner.apply(batches);
  }

  /** The whole store as one byte string (reload it with `new MemoryBlobStore(bytes)`). */
  snapshot(): Uint8Array {
    return this.inner.toBytes();
  }

  /** Number of blobs. */
  get size(): number {
    return this.inner.size;
  }

  close(): void {
    this.inner.free();
  }
}
