// The engine's two wasm modules, built from the same crate (build.sh):
//
// - `wasm/larch_js_bg.wasm`, the full build: every feature.
// - `wasm/larch_search_bg.wasm`, the search module a browser loads first: the same engine
//   without integrated embedding (the records API, `/embed`, `/models`, indexes for a model) and
//   without readers of namespaces written in format versions 1–3. It answers a request that
//   needs them with `{module: feature}`, having changed nothing.
//
// The facade never imports a glue module itself: each entry point hands over the classes of the
// module it loaded (`setModules`), and, where that is the search module, how to load the full
// one. The host then runs the request that asked, and everything after it, on an engine of the
// full module over the same store (host.ts); an engine without a store (in memory) holds state
// only it knows, so it starts on the full module.

import type { Engine, MemoryStore } from "./wasm/larch_js.js";

/** The classes of one loaded module (the two modules' glue exports the same API). */
export type EngineModule = { Engine: typeof Engine; MemoryStore: typeof MemoryStore };

/** The modules an entry point offers. */
export type EngineModules = {
  /** The module requests run on first (loaded by the runtime's `ready`). */
  first: () => EngineModule;
  /** Loads the full module when `first` is the search module; absent when it is full. */
  full?: () => Promise<EngineModule>;
};

/** What a search-module engine answers when a request needs the full module. */
export type ModuleNeed = { module: string };

let current: EngineModules | null = null;

/** Called once by the entry point. */
export function setModules(m: EngineModules): void {
  current = m;
}

/** The entry point's modules. */
export function modules(): EngineModules {
  if (!current) throw new Error("larch: no runtime entry point loaded (import 'larchdb')");
  return current;
}

/**
 * Thrown by `runRequest` when the engine answers `{module}`: the request needs the full module
 * (the feature named); nothing changed.
 */
export class ModuleNeeded extends Error {
  constructor(readonly feature: string) {
    super(`the request needs the engine's full module (feature ${feature}), which this host does not load`);
    this.name = "ModuleNeeded";
  }
}
