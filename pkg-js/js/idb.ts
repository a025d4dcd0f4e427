// IndexedDB storage for browsers: the Rust IdbStore (one transaction per commit, generation
// counter), one writer at a time through the Web Locks API, and a BroadcastChannel that tells
// other tabs about each commit. See host.ts for the generation rule.

import type { BlobStore, HostOptions, LockFn, WriteBatch } from "./host.js";
import { requestPersistence } from "./persist.js";
import { IdbStore } from "./wasm/larch_search.js";

class IdbBlobStore implements BlobStore {
  constructor(private readonly idb: IdbStore) {}
  get(keys: string[]): Promise<Array<Uint8Array | undefined>> {
    return this.idb.get(keys);
  }
  apply(batches: WriteBatch[]): Promise<number> {
    return this.idb.apply(batches);
  }
  generation(): Promise<number> {
    return this.idb.generation();
  }
  close(): void {
    this.idb.close();
  }
}

type Nav = {
  locks?: { request: (name: string, opts: { mode: "exclusive" }, fn: () => Promise<unknown>) => Promise<unknown> };
  storage?: { persist?: () => Promise<boolean>; persisted?: () => Promise<boolean> };
};

/** Host options for `{ indexedDB: name }`. `onRemote` receives other tabs' commits. */
export function indexedDbStorage(
  name: string,
  ready: (() => Promise<void>) | undefined,
  onRemote: (generation: number) => void,
  persist = true,
): Partial<HostOptions> & { persistent: true; persisted: Promise<boolean> } {
  const nav = (globalThis as { navigator?: Nav }).navigator;
  const lockName = `larch:${name}`;
  const locks = nav?.locks;
  const lock: LockFn | undefined = locks
    ? <T>(fn: () => Promise<T>) => locks.request(lockName, { mode: "exclusive" }, fn) as Promise<T>
    : undefined;
  const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(lockName) : null;
  if (channel) {
    channel.onmessage = (e: MessageEvent) => {
      if (e.data && typeof e.data.generation === "number") onRemote(e.data.generation);
    };
  }
  const persisted = requestPersistence(persist);
  const store = (async () => {
    if (ready) await ready();
    const s = new IdbBlobStore(await IdbStore.open(name));
    const close = s.close.bind(s);
    s.close = () => {
      channel?.close();
      close();
    };
    return s;
  })();
  return {
    persistent: true,
    store,
    ownsStore: true,
    lock,
    announce: (generation) => channel?.postMessage({ generation }),
    persisted,
  };
}
