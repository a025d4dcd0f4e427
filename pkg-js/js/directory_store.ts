// Node: a BlobStore in a directory. The whole store is one snapshot file (the engine's
// MemoryStore format), replaced atomically on every commit: write `larch.snapshot.tmp`, fsync,
// rename over `larch.snapshot`, fsync the directory. A crash leaves the old or the new file.
// One process at a time per directory.

import { mkdir, open, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import type { BlobStore, WriteBatch } from "./host.js";
import { MemoryBlobStore } from "./memory_store.js";

const FILE = "larch.snapshot";

export class DirectoryStore implements BlobStore {
  private constructor(
    private readonly dir: string,
    private mem: MemoryBlobStore,
  ) {}

  static async open(dir: string): Promise<DirectoryStore> {
    await mkdir(dir, { recursive: true });
    let bytes: Uint8Array | undefined;
    try {
      bytes = await readFile(join(dir, FILE));
    } catch (e) {
      if ((e as { code?: string }).code !== "ENOENT") throw e;
    }
    return new DirectoryStore(dir, new MemoryBlobStore(bytes));
  }

  get(keys: string[]): Promise<Array<Uint8Array | undefined>> {
    return this.mem.get(keys);
  }

  async apply(batches: WriteBatch[]): Promise<void> {
    const before = this.mem.snapshot();
    await this.mem.apply(batches);
    try {
      const tmp = join(this.dir, `${FILE}.tmp`);
      const f = await open(tmp, "w");
      try {
        await f.writeFile(this.mem.snapshot());
        await f.sync();
      } finally {
        await f.close();
      }
      await rename(tmp, join(this.dir, FILE));
      const d = await open(this.dir, "r");
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    } catch (e) {
      // Not committed: put memory back to what the file holds.
      this.mem.inner.free();
      this.mem = new MemoryBlobStore(before);
      throw Object.assign(new Error(`larch: cannot write ${join(this.dir, FILE)}: ${(e as Error).message}`), {
        name: "LarchStorageError",
        code: (e as { code?: string }).code === "ENOSPC" ? "QUOTA_EXCEEDED" : "STORAGE_ERROR",
        cause: e,
      });
    }
  }

  close(): void {
    this.mem.close();
  }
}
