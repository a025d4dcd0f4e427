// Embeddings per second of the larch-embed wasm module in Node, one thread, for 32- and
// 128-token texts (scripts/bench-embed.sh builds the module and runs this):
//
//   node pkg-js/embed/bench/embed.mjs MODULE_DIR MODEL_DIR
//
// MODULE_DIR holds wasm-bindgen's `--target nodejs` output; MODEL_DIR the weights and vocab.txt.
import { readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

const [moduleDir, modelDir] = process.argv.slice(2).map((p) => resolve(p));
const require = createRequire(import.meta.url);
const t0 = performance.now();
const { Embedder } = require(join(moduleDir, "larch_embed.js"));
const compiled = performance.now() - t0;
const vocab = readFileSync(join(modelDir, "vocab.txt"), "utf8");
const words = "the quick brown fox jumps over a lazy dog while my cat watches from the window".split(" ");
const text = (tokens) =>
  Array.from({ length: tokens - 2 }, (_, i) => words[i % words.length]).join(" ");

for (const file of ["model.int8.safetensors", "model.f16.safetensors"]) {
  const bytes = readFileSync(join(modelDir, file));
  const start = performance.now();
  const model = new Embedder(bytes, vocab);
  const load = performance.now() - start;
  console.log(
    `${file}: ${statSync(join(modelDir, file)).size} bytes, module compile ${compiled.toFixed(0)} ms, load ${load.toFixed(0)} ms, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
  );
  for (const tokens of [32, 128]) {
    const t = text(tokens);
    const counts = model.tokenCounts([t]);
    if (counts[0] !== tokens) throw new Error(`expected ${tokens} tokens, got ${counts[0]}`);
    for (const batch of [16, 1]) {
      const texts = Array.from({ length: batch }, () => t);
      const first = performance.now();
      model.embed(texts);
      const firstMs = performance.now() - first;
      const rounds = Math.max(2, Math.floor(32 / batch));
      const s = performance.now();
      for (let i = 0; i < rounds; i++) model.embed(texts);
      const perS = (rounds * batch) / ((performance.now() - s) / 1000);
      console.log(
        `  ${String(tokens).padStart(3)} tokens, batch ${String(batch).padStart(2)}: ${perS.toFixed(1).padStart(7)} embeddings/s (first call ${firstMs.toFixed(0)} ms)`,
      );
    }
  }
  model.free();
}
