// Node's default embedder: the package's `larch-embed` wasm module (all-MiniLM-L6-v2 on
// candle), loaded on the first request that needs text embedded — never for indexes without a
// model — with the weights from the model directory (`LarchOptions.model`).

import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { Embedder, initSync } from "./embed/larch_embed.js";
import type { TextEmbedder } from "./host.js";

const MODEL = "all-minilm-l6-v2";

let loaded: Embedder | null = null;

function load(directory: string, weights: string): Embedder {
  if (loaded) return loaded;
  initSync({ module: readFileSync(new URL("./embed/larch_embed_bg.wasm", import.meta.url)) });
  loaded = new Embedder(readFileSync(join(directory, weights)), readFileSync(join(directory, "vocab.txt"), "utf8"));
  return loaded;
}

/** The default model directory: `$LARCH_MODEL_HOME/all-minilm-l6-v2` or the user's cache. */
export function defaultModelDirectory(): string {
  return join(process.env.LARCH_MODEL_HOME ?? join(homedir(), ".cache", "larch-models"), MODEL);
}

export function nodeEmbedder(options: { directory?: string; weights?: string } = {}): TextEmbedder {
  const directory = options.directory ?? defaultModelDirectory();
  const weights = options.weights ?? "model.int8.safetensors";
  return async (model, _inputType, texts) => {
    if (model !== MODEL) throw new Error(`larch: no local model ${model}`);
    const e = load(directory, weights);
    return { values: e.embed(texts), tokens: e.tokenCounts(texts), untruncated: e.untruncatedCounts(texts) };
  };
}
