// Names of Durable Objects. Transport only: which object serves a request.

import type { Env } from "./env";

/** The one catalog object of the deployment (control plane, namespace registry). */
export function catalogStub(env: Env) {
  return env.CATALOG.get(env.CATALOG.idFromName("catalog"));
}

/** The object of one (index incarnation, namespace); `ns` is canonical (`__default__`, never `""`). */
export function namespaceStub(env: Env, index: string, incarnation: number, ns: string) {
  return env.NAMESPACE.get(env.NAMESPACE.idFromName(`${index}\n${incarnation}\n${ns}`));
}
