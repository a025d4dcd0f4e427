// The worker entry (`larchdb/worker`) in headless Chromium: the engine in a dedicated Worker
// behind the same API, and one engine in a SharedWorker shared by several tabs (no reload when
// tabs take turns writing), each asserting results and that nothing is lost.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { launch, serve, watch } from "./support.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
let server, browser;

before(async () => {
  server = await serve(root);
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

async function openTab(context, log) {
  const page = await context.newPage();
  watch(page, log);
  await page.goto(`${server.url}/test/pages/worker_tab.html`);
  await page.waitForFunction(() => window.ready === true);
  return page;
}

const spec = { serverless: { cloud: "aws", region: "us-east-1" } };

test("a dedicated Worker runs the engine behind the same API", async () => {
  const context = await browser.newContext();
  const log = [];
  const page = await openTab(context, log);
  const r = await page.evaluate(async (spec) => {
    const { Larch, Errors } = window.larch;
    const progress = [];
    const pc = new Larch({
      storage: { indexedDB: "dedicated" },
      worker: "dedicated",
      sealRecords: 64,
      annMinRecords: 64,
      persist: false,
      onIndexingProgress: (p) => progress.push(p),
    });
    await pc.createIndex({ name: "w", dimension: 3, spec, suppressConflicts: true });
    const ix = pc.index("w").namespace("n");
    const records = Array.from({ length: 300 }, (_, i) => ({
      id: `r${i}`,
      values: Float32Array.of(Math.cos(i), Math.sin(i), 1),
      metadata: { even: i % 2 === 0 },
    }));
    const parts = [];
    await ix.upsert({ records, onProgress: (p) => parts.push(p.upserted) });
    await pc.flushIndexing();
    const q = await ix.query({ topK: 3, vector: [1, 0, 1], filter: { even: true }, includeMetadata: true });
    const f = await ix.fetch({ ids: ["r0", "r7", "nope"] });
    let error = null;
    try {
      await pc.describeIndex("missing");
    } catch (e) {
      error = { cls: e instanceof Errors.PineconeNotFoundError, name: e.name, code: e.code, status: e.status };
    }
    const stats = await pc.index("w").describeIndexStats();
    const info = await pc.engineInfo();
    const status = pc.indexingStatus();
    pc.close();
    let closed = null;
    try {
      await pc.listIndexes();
    } catch (e) {
      closed = e.message;
    }
    return {
      parts,
      ids: q.matches.map((m) => m.id),
      even: q.matches.every((m) => m.metadata.even === true),
      fetched: Object.keys(f.records).sort(),
      values: f.records.r7.values,
      error,
      stats: stats.namespaces,
      info,
      status,
      reports: progress.length,
      persisted: await pc.persisted,
      closed,
    };
  }, spec);
  assert.deepEqual(r.parts, [300], log.join("\n"));
  assert.equal(r.ids.length, 3);
  assert.equal(r.ids[0], "r0", "the nearest even record to (1, 0, 1)");
  assert.equal(r.even, true);
  assert.deepEqual(r.fetched, ["r0", "r7"]);
  // The same f32s (JSON carries them as their shortest decimal).
  assert.deepEqual(r.values.map(Math.fround), Array.from(Float32Array.of(Math.cos(7), Math.sin(7), 1)));
  assert.deepEqual(r.error, { cls: true, name: "PineconeNotFoundError", code: "NOT_FOUND", status: 404 });
  assert.deepEqual(r.stats, { n: { recordCount: 300 } });
  assert.deepEqual(r.info, { shared: false, engines: 1, clients: 1 });
  assert.ok(r.reports > 0, "indexing progress reached the page");
  assert.equal(r.status.pending, false);
  assert.equal(r.status.built, r.status.total);
  assert.equal(typeof r.persisted, "boolean");
  assert.match(r.closed, /closed/);

  // The data is in IndexedDB: the main entry (engine on the page) reads it after a reload.
  await page.reload();
  await page.waitForFunction(() => window.ready === true);
  const back = await page.evaluate(async () => {
    const pc = new window.main.Larch({ storage: { indexedDB: "dedicated" }, persist: false });
    return (await pc.index("w").describeIndexStats()).namespaces;
  });
  assert.deepEqual(back, { n: { recordCount: 300 } }, log.join("\n"));
  await context.close();
});

test("tabs share one engine in a SharedWorker: turns of writes lose nothing and never reload", async () => {
  const context = await browser.newContext();
  const log = [];
  const tabs = [await openTab(context, log), await openTab(context, log), await openTab(context, log)];
  await Promise.all(
    tabs.map((page, t) =>
      page.evaluate(
        async ({ spec, t }) => {
          window.pc = new window.larch.Larch({
            storage: { indexedDB: "shared-tabs" },
            sealRecords: 32,
            persist: false,
          });
          await window.pc.createIndex({ name: "s", dimension: 2, spec, suppressConflicts: true });
          return t;
        },
        { spec, t },
      ),
    ),
  );
  const infos = await Promise.all(tabs.map((p) => p.evaluate(() => window.pc.engineInfo())));
  for (const info of infos) assert.deepEqual(info, { shared: true, engines: 1, clients: 3 }, log.join("\n"));

  // Taking turns: each tab writes a batch, and the next tab reads it at once.
  const N = 30;
  for (let i = 0; i < N; i++) {
    const t = i % tabs.length;
    await tabs[t].evaluate(
      ({ i, t }) =>
        window.pc
          .index("s")
          .namespace("common")
          .upsert({
            records: [
              { id: `t${t}-${i}`, values: [i + 1, t + 1], metadata: { t, i } },
              { id: `x${i}`, values: [t + 1, i + 1] },
            ],
          }),
      { i, t },
    );
    const next = tabs[(t + 1) % tabs.length];
    const seen = await next.evaluate(
      async (i) =>
        Object.keys(
          (
            await window.pc
              .index("s")
              .namespace("common")
              .fetch({ ids: [`x${i}`] })
          ).records,
        ),
      i,
    );
    assert.deepEqual(seen, [`x${i}`], `write ${i} seen by the next tab\n${log.join("\n")}`);
  }
  // And all at once.
  await Promise.all(
    tabs.map((page, t) =>
      page.evaluate(
        async ({ t, N }) => {
          const ns = window.pc.index("s").namespace(`own-${t}`);
          await Promise.all(
            Array.from({ length: N }, (_, i) => ns.upsert({ records: [{ id: `o${i}`, values: [t + 1, i + 1] }] })),
          );
        },
        { t, N },
      ),
    ),
  );
  const check = (page) =>
    page.evaluate(async (N) => {
      const ix = window.pc.index("s");
      const ids = Array.from({ length: N }, (_, i) => `t${i % 3}-${i}`);
      const f = await ix.namespace("common").fetch({ ids });
      const bad = ids.filter((id) => {
        const [t, i] = id.slice(1).split("-").map(Number);
        const r = f.records[id];
        return !r || r.values[0] !== i + 1 || r.values[1] !== t + 1 || r.metadata.t !== t || r.metadata.i !== i;
      });
      return { bad, stats: (await ix.describeIndexStats()).namespaces };
    }, N);
  const expected = {
    common: { recordCount: 2 * N },
    "own-0": { recordCount: N },
    "own-1": { recordCount: N },
    "own-2": { recordCount: N },
  };
  for (const page of tabs) {
    const r = await check(page);
    assert.deepEqual(r.bad, [], log.join("\n"));
    assert.deepEqual(r.stats, expected, log.join("\n"));
  }
  // A tab that closes leaves the engine to the others; a tab on the main entry (its own engine
  // on the page) sees the shared engine's commits and its writes reach the shared engine.
  await tabs[2].evaluate(() => window.pc.close());
  assert.deepEqual(await tabs[0].evaluate(() => window.pc.engineInfo()), { shared: true, engines: 1, clients: 2 });
  const mixed = await tabs[2].evaluate(async () => {
    const pc = new window.main.Larch({ storage: { indexedDB: "shared-tabs" }, persist: false });
    await pc
      .index("s")
      .namespace("main")
      .upsert({ records: [{ id: "m", values: [1, 1] }] });
    return (await pc.index("s").describeIndexStats()).namespaces.common;
  });
  assert.deepEqual(mixed, { recordCount: 2 * N });
  const fromShared = await tabs[1].evaluate(async () =>
    Object.keys(
      (
        await window.pc
          .index("s")
          .namespace("main")
          .fetch({ ids: ["m"] })
      ).records,
    ),
  );
  assert.deepEqual(fromShared, ["m"], log.join("\n"));
  await context.close();
});
