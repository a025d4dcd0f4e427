// The engine in a Web Worker: the other end of worker.ts (`larchdb/worker`). Runs in a
// dedicated Worker (one client) or a SharedWorker (every tab of the origin that connects). Each
// connection is one client (`new Larch()` in some tab), a MessagePort; clients opened with the
// same options share one engine and its host loop, so requests from several tabs queue in one
// place and a namespace loaded for one tab is already loaded for the next: no reload after
// another tab's write. The host loop, the store, its Web Lock and its generation check are the
// same as on the main thread (host.ts), so a tab using the package without the worker still
// sees and makes consistent commits.

import { Larch } from "./browser.js";
import type { IndexingProgress, SideVectors } from "./host.js";
import type { LarchOptions } from "./larch.js";

/** A request from a client (worker.ts `WorkerTransport`). */
export type ClientMessage =
  | { op: "open"; options: LarchOptions }
  | { op: "send"; id: number; method: string; path: string; query: string; body?: unknown; vectors?: SideVectors }
  | { op: "limits"; id: number; path: string }
  | { op: "flush"; id: number }
  | { op: "info"; id: number }
  | { op: "close" };

/** An answer to a client: a reply to request `id`, or an indexing progress report. */
export type WorkerMessage =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { name: string; message: string; code?: string } }
  | { op: "progress"; progress: IndexingProgress };

const isShared =
  typeof (globalThis as { onconnect?: unknown }).onconnect !== "undefined" && "SharedWorkerGlobalScope" in globalThis;

type Port = { postMessage(message: WorkerMessage, transfer?: Transferable[]): void };

/** One engine (a `Larch` in this worker) and the clients using it. */
type Shared = { larch: Larch; ports: Set<Port> };
const engines = new Map<string, Shared>();

function errorOf(e: unknown): { name: string; message: string; code?: string } {
  const x = e as { name?: unknown; message?: unknown; code?: unknown };
  return {
    name: typeof x?.name === "string" ? x.name : "Error",
    message: typeof x?.message === "string" ? x.message : String(e),
    code: typeof x?.code === "string" ? x.code : undefined,
  };
}

/** The buffers of a response, moved rather than copied. */
function transfers(value: unknown): Transferable[] {
  const v = value as { body?: Uint8Array; values?: Float32Array; valueLengths?: Uint32Array } | null;
  const out = new Set<ArrayBuffer>();
  for (const a of [v?.body, v?.values, v?.valueLengths])
    if (a && a.buffer instanceof ArrayBuffer && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength)
      out.add(a.buffer);
  return [...out];
}

function connect(port: Port & { onmessage: ((e: MessageEvent) => void) | null }): void {
  let shared: Shared | null = null;
  let key = "";
  const queue: ClientMessage[] = [];
  const reply = async (id: number, work: () => Promise<unknown>) => {
    try {
      const value = await work();
      port.postMessage({ id, ok: true, value }, transfers(value));
    } catch (e) {
      port.postMessage({ id, ok: false, error: errorOf(e) });
    }
  };
  const handle = (m: ClientMessage) => {
    if (m.op === "open") {
      key = JSON.stringify(m.options);
      shared = engines.get(key) ?? null;
      if (!shared) {
        const ports = new Set<Port>();
        const larch = new Larch({
          ...m.options,
          // The client asked for persistence (workers cannot); report progress to every client.
          persist: false,
          onIndexingProgress: (progress) => {
            for (const p of ports) p.postMessage({ op: "progress", progress });
          },
        });
        shared = { larch, ports };
        engines.set(key, shared);
      }
      shared.ports.add(port);
      return;
    }
    const s = shared;
    if (!s) return;
    const host = s.larch.host;
    switch (m.op) {
      case "send":
        void reply(m.id, () => host.send(m.method, m.path, m.query, m.body, m.vectors));
        break;
      case "limits":
        void reply(m.id, () => host.upsertLimits(m.path));
        break;
      case "flush":
        void reply(m.id, () => host.flushIndexing());
        break;
      case "info":
        void reply(m.id, async () => ({ shared: isShared, engines: engines.size, clients: s.ports.size }));
        break;
      case "close":
        s.ports.delete(port);
        if (s.ports.size === 0) {
          engines.delete(key);
          s.larch.close();
        }
        shared = null;
        break;
    }
  };
  port.onmessage = (e: MessageEvent) => {
    queue.push(e.data as ClientMessage);
    while (queue.length) handle(queue.shift() as ClientMessage);
  };
}

const scope = globalThis as unknown as {
  onconnect?: ((e: MessageEvent) => void) | null;
  postMessage?: (m: unknown, t?: Transferable[]) => void;
  onmessage?: ((e: MessageEvent) => void) | null;
};

if (isShared) {
  scope.onconnect = (e: MessageEvent) => {
    const port = e.ports[0];
    connect(port);
    port.start();
  };
} else {
  connect(scope as unknown as Port & { onmessage: ((e: MessageEvent) => void) | null });
}
