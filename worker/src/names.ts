// Names of Durable Objects. Transport only: which object serves a request.

import type { Env } from "./env";

/** `""` and `"__default__"` name the same namespace (Pinecone 2025-04+); one object serves both. */
export function canonicalNamespace(ns: string): string {
  return ns === "" ? "__default__" : ns;
}

/** The one catalog object of the deployment. */
export function catalogStub(env: Env) {
  return env.CATALOG.get(env.CATALOG.idFromName("catalog"));
}

/** The object of one (index incarnation, namespace). */
export function namespaceStub(env: Env, index: string, incarnation: number, ns: string) {
  return env.NAMESPACE.get(env.NAMESPACE.idFromName(`${index}\n${incarnation}\n${canonicalNamespace(ns)}`));
}
