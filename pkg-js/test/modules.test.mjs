// The host's switch from the search module to the full one (js/modules.ts, host.ts), in Node:
// both modules' glue loaded side by side, as the browser entry does on demand.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { Host } from "../dist/host.js";
import { MemoryBlobStore } from "../dist/node.js";
import * as full from "../dist/wasm/larch_js.js";
import * as search from "../dist/wasm/larch_search.js";

search.initSync({ module: readFileSync(new URL("../dist/wasm/larch_search_bg.wasm", import.meta.url)) });
const classes = (m) => ({ Engine: m.Engine, MemoryStore: m.MemoryStore });

/** Modules as the browser entry offers them, counting loads of the full one. */
function modules() {
  const m = { loads: 0 };
  m.modules = {
    first: () => classes(search),
    full: async () => {
      m.loads++;
      return classes(full);
    },
  };
  return m;
}

const spec = { serverless: { cloud: "aws", region: "us-east-1" } };
const json = (r) => JSON.parse(new TextDecoder().decode(r.body));
const embedder = async (_model, _inputType, texts) => ({
  values: new Float32Array(texts.length * 384).fill(1 / Math.sqrt(384)),
  tokens: new Uint32Array(texts.length).fill(2),
  untruncated: new Uint32Array(texts.length).fill(2),
});

test("the modules report which build they are", () => {
  assert.equal(search.Engine.full(), false);
  assert.equal(full.Engine.full(), true);
});

test("a search-module engine answers {module} to integrated embedding and changes nothing", () => {
  const engine = new search.Engine({});
  const body = new TextEncoder().encode(
    JSON.stringify({
      name: "m",
      cloud: "aws",
      region: "us-east-1",
      embed: { model: "all-minilm-l6-v2", field_map: { text: "t" } },
    }),
  );
  const r = engine.handle("POST", "/indexes/create-for-model", "", body, undefined, undefined);
  assert.deepEqual(r, { module: "integrated" });
  const list = engine.handle("GET", "/indexes", "", new Uint8Array(0), undefined, undefined);
  assert.deepEqual(json(list).indexes, []);
  engine.free();
});

test("a persistent host runs on the search module until a request needs the full one, then keeps it", async () => {
  const m = modules();
  const store = new MemoryBlobStore();
  const host = new Host({ engine: { persistent: true }, store, modules: m.modules, embedder });
  const created = await host.send("POST", "/indexes", "", { name: "v", dimension: 2, metric: "euclidean", spec });
  assert.equal(created.status, 201);
  const up = await host.send("POST", "/index/v/vectors/upsert", "", { vectors: [{ id: "a", values: [1, 2] }] });
  assert.equal(up.status, 200);
  assert.equal(host.fullModule, false);
  assert.equal(m.loads, 0);
  const model = await host.send("POST", "/indexes/create-for-model", "", {
    name: "docs",
    cloud: "aws",
    region: "us-east-1",
    embed: { model: "all-minilm-l6-v2", field_map: { text: "t" } },
  });
  assert.equal(model.status, 201, new TextDecoder().decode(model.body));
  assert.equal(host.fullModule, true);
  assert.equal(m.loads, 1);
  // What the search module wrote is there on the full one, and the full one stays.
  const q = await host.send("POST", "/index/v/query", "", { vector: [1, 2], topK: 1 });
  assert.deepEqual(
    json(q).matches.map((x) => x.id),
    ["a"],
  );
  const list = await host.send("GET", "/indexes");
  assert.deepEqual(
    json(list)
      .indexes.map((i) => i.name)
      .sort(),
    ["docs", "v"],
  );
  assert.equal(m.loads, 1);
  host.close();
});

test("an in-memory host starts on the full module (its state could not be handed over)", async () => {
  const m = modules();
  const host = new Host({ engine: { persistent: false }, modules: m.modules, embedder });
  const created = await host.send("POST", "/indexes", "", { name: "v", dimension: 2, spec });
  assert.equal(created.status, 201);
  assert.equal(host.fullModule, true);
  assert.equal(m.loads, 1);
  const e = await host.send("POST", "/embed", "", { model: "all-minilm-l6-v2", inputs: [{ text: "hi" }] });
  assert.equal(e.status, 200);
  assert.equal(m.loads, 1);
  host.close();
});

test("without a full module the host reports what the request needed", async () => {
  const host = new Host({
    engine: { persistent: true },
    store: new MemoryBlobStore(),
    modules: { first: () => classes(search) },
  });
  await assert.rejects(host.send("GET", "/models"), /full module \(feature integrated\)/);
  host.close();
});
