import type { Catalog } from "./catalog";
import type { Namespace } from "./namespace";

export interface Env {
  CATALOG: DurableObjectNamespace<Catalog>;
  NAMESPACE: DurableObjectNamespace<Namespace>;
  /** The API key clients send as `Api-Key` (a secret; `.dev.vars` locally). */
  LARCH_API_KEY?: string;
  /** Largest namespace per object, MiB of resident bytes as the engine counts them. */
  LARCH_NAMESPACE_BUDGET_MIB?: string;
}
