// How the facade moves dense vectors: as f32 bytes beside the JSON body (`SideVectors`, the
// default) or as JSON numbers (`vectorTransport: "json"`, the REST wire form). Only transport
// is decided here: every value the engine would refuse still reaches it, in the form whose
// answer is the REST one. A plain `number[]` travels as bytes only when every element is a
// number that converts to a finite f32 (anything else goes as JSON and gets the JSON answer);
// a `Float32Array` always travels as bytes (JSON cannot carry its NaN or infinities at all).

import { ABSENT_SLOT, type SideVectors } from "./host.js";

/** A dense vector as the facade takes it: `number[]`, `Float32Array`, any array of numbers. */
export type VectorValues = ArrayLike<number>;

/** True for a typed array of numbers (not BigInt64Array / BigUint64Array, not DataView). */
function numericView(v: unknown): v is ArrayLike<number> {
  return (
    ArrayBuffer.isView(v) && !(v instanceof DataView) && !(v instanceof BigInt64Array) && !(v instanceof BigUint64Array)
  );
}

/** True when `v` can travel as f32 bytes with the same answer as its JSON would get. */
export function sideable(v: unknown): v is ArrayLike<number> {
  if (v instanceof Float32Array) return true;
  if (!Array.isArray(v) && !numericView(v)) return false;
  const a = v as ArrayLike<unknown>;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    if (typeof x !== "number" || !Number.isFinite(Math.fround(x))) return false;
  }
  return true;
}

/** `v` as JSON would carry it: typed arrays and other array-likes become plain arrays. */
export function jsonValues(v: unknown): unknown {
  if (Array.isArray(v) || v === null || typeof v !== "object") return v;
  if (numericView(v)) return Array.from(v);
  const length = (v as { length?: unknown }).length;
  return typeof length === "number" && !ArrayBuffer.isView(v) ? Array.from(v as ArrayLike<unknown>) : v;
}

/** Sparse values as JSON carries them (typed `indices` / `values` become arrays). */
export function sparseJson(sv: unknown): unknown {
  if (!sv || typeof sv !== "object" || Array.isArray(sv)) return sv;
  const o = sv as { indices?: unknown; values?: unknown };
  return { ...o, indices: jsonValues(o.indices), values: jsonValues(o.values) };
}

/** One side slot per element of `slots` (`undefined`: none). */
export function packSlots(slots: Array<ArrayLike<number> | undefined>, validateOnly = false): SideVectors {
  let n = 0;
  for (const s of slots) if (s) n += s.length;
  const floats = new Float32Array(n);
  const lengths = new Uint32Array(slots.length);
  let at = 0;
  for (const [i, s] of slots.entries()) {
    if (!s) {
      lengths[i] = ABSENT_SLOT;
      continue;
    }
    floats.set(s, at);
    lengths[i] = s.length;
    at += s.length;
  }
  return { floats, lengths, validateOnly };
}

/** UTF-8 length of a string (what its JSON adds to a body). */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 2; // a surrogate pair: 4 bytes for 2 code units
      i++;
    } else n += 2;
  }
  return n;
}

/** One upsert request of a chunked upsert: records `[start, end)` and its body bytes. */
export type UpsertChunk = { start: number; end: number; body: Uint8Array };

/**
 * Splits an upsert's records (their JSON `pieces`) into requests of at most `maxRecords`
 * records and `maxBytes` bytes of body each (a record bigger than `maxBytes` goes alone, and
 * the engine answers it).
 */
export function chunkUpsert(pieces: string[], namespace: string, maxRecords: number, maxBytes: number): UpsertChunk[] {
  const head = '{"vectors":[';
  const tail = `],"namespace":${JSON.stringify(namespace)}}`;
  const fixed = head.length + utf8Length(tail);
  const chunks: UpsertChunk[] = [];
  const enc = new TextEncoder();
  let start = 0;
  let bytes = fixed;
  const flush = (end: number) => {
    // The body is encoded when first sent (a large upsert's bodies are not all built in one task).
    const from = start;
    let body: Uint8Array | undefined;
    chunks.push({
      start: from,
      end,
      get body() {
        body ??= enc.encode(head + pieces.slice(from, end).join(",") + tail);
        return body;
      },
    });
    start = end;
    bytes = fixed;
  };
  for (let i = 0; i < pieces.length; i++) {
    const size = utf8Length(pieces[i]);
    if (i > start && (i - start >= maxRecords || bytes + 1 + size > maxBytes)) flush(i);
    bytes += size + (i > start ? 1 : 0);
  }
  if (start < pieces.length || chunks.length === 0) flush(pieces.length);
  return chunks;
}

type YieldGlobals = {
  scheduler?: { yield?: () => Promise<void> };
  setImmediate?: (f: () => void) => unknown;
};

/**
 * Lets the event loop run (input, rendering, other messages) between slices of a long call:
 * `scheduler.yield()` where it exists, `setImmediate` in Node, else a MessageChannel message
 * (never a timer: background tabs throttle chained timers to one per second).
 */
export function yieldTask(): Promise<void> {
  const g = globalThis as YieldGlobals;
  if (g.scheduler?.yield) return g.scheduler.yield();
  const immediate = g.setImmediate;
  if (immediate) return new Promise((r) => immediate(r));
  return new Promise((r) => {
    const c = new MessageChannel();
    c.port1.onmessage = () => {
      c.port1.close();
      r();
    };
    c.port2.postMessage(0);
  });
}
