// Names of Durable Objects. Transport only: which object serves a request.

import type { Env } from "./env";

/** The one catalog object of the deployment (control plane, namespace registry). */
export function catalogStub(env: Env) {
  return env.CATALOG.get(env.CATALOG.idFromName("catalog"));
}

/**
 * The key of shard `shard` of namespace `ns` (canonical: `__default__`, never `""`): `ns` itself
 * for shard 0 (so an index of one shard keeps the object names of a namespace before shards
 * existed), `ns§N` for shard N ≥ 1 (namespaces are ASCII, so `§` never occurs in one).
 */
export function shardKey(ns: string, shard: number): string {
  return shard === 0 ? ns : `${ns}\u00a7${shard}`;
}

/** The object name of one shard of one (index incarnation, namespace). */
export function objectName(index: string, incarnation: number, ns: string, shard = 0): string {
  return `${index}\n${incarnation}\n${shardKey(ns, shard)}`;
}

/** The namespace and shard an object name (`objectName`) stands for. */
export function parseObjectName(name: string): { index: string; ns: string; shard: number } {
  const a = name.indexOf("\n");
  const b = name.indexOf("\n", a + 1);
  const key = name.slice(b + 1);
  const m = /^(.*)\u00a7(\d+)$/s.exec(key);
  return { index: name.slice(0, a), ns: m ? m[1] : key, shard: m ? Number(m[2]) : 0 };
}

/** The object of shard `shard` (0 unless the index has several) of one (index incarnation, namespace). */
export function namespaceStub(env: Env, index: string, incarnation: number, ns: string, shard = 0) {
  return env.NAMESPACE.get(env.NAMESPACE.idFromName(objectName(index, incarnation, ns, shard)));
}
