// navigator.storage.persist(), shared by the IndexedDB storage (idb.ts) and the worker entry's
// page side (worker.ts; workers have no persist()). No wasm here: the worker entry's page code
// must not pull in the engine's glue.

type StorageManagerLike = { persist?: () => Promise<boolean>; persisted?: () => Promise<boolean> };

/**
 * Whether the origin's storage is persistent: asks `navigator.storage.persist()` unless `ask` is
 * false (then only reports `persisted()`). False where the API is missing (workers lack persist).
 */
export async function requestPersistence(ask: boolean): Promise<boolean> {
  const nav = (globalThis as { navigator?: { storage?: StorageManagerLike } }).navigator;
  try {
    if (nav?.storage?.persisted && (await nav.storage.persisted())) return true;
    if (!ask || !nav?.storage?.persist) return false;
    return await nav.storage.persist();
  } catch {
    return false;
  }
}
