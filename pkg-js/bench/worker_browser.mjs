// The worker entry against the main entry in headless Chromium (IndexedDB), issue 17:
//
//   node pkg-js/bench/worker_browser.mjs [N=50000] [DIM=384] [PREFILL=20000] [TURNS=20]
//   (FREEZE_ONLY=1: the first measurement only)
//
// 1. Main-thread freeze: one upsert of N × DIM records (Float32Array values) from the page,
//    through "larchdb" (engine on the page) and "larchdb/worker" (engine in a Worker). A
//    MessageChannel probe on the page records the longest gap between two of its tasks (what a
//    user's click would wait), beside the longest `longtask` entry.
// 2. Tabs taking turns: a namespace of PREFILL × DIM records (indexed), then TURNS upserts of
//    100 records, alternating between two tabs (and, for reference, all from one tab), each
//    followed by a 10-NN query in the other tab; per-upsert and per-query medians. Through
//    "larchdb" each tab has its own engine (a write in the other tab makes it reload the
//    namespace); through "larchdb/worker" both tabs use one engine in a SharedWorker.
// Prints one JSON line per measurement.
import { fileURLToPath } from "node:url";
import { launch, serve, watch } from "../test/support.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const [N = 50000, DIM = 384, PREFILL = 20000, TURNS = 20] = process.argv.slice(2).map(Number);
const spec = { serverless: { cloud: "aws", region: "us-east-1" } };

const server = await serve(root);
const browser = await launch();
const log = [];

async function tab(context) {
  const page = await context.newPage();
  watch(page, log);
  await page.goto(`${server.url}/test/pages/worker_tab.html`);
  await page.waitForFunction(() => window.ready === true);
  return page;
}

async function freeze(entry) {
  const context = await browser.newContext();
  const page = await tab(context);
  const r = await page.evaluate(
    async ({ entry, n, dim, spec }) => {
      const m = entry === "worker" ? window.larch : window.main;
      await m.init();
      const pc = new m.Larch({ storage: { indexedDB: `freeze-${entry}` }, persist: false });
      await pc.createIndex({ name: "b", dimension: dim, spec });
      let seed = 1;
      const rnd = () => {
        seed = (seed * 1103515245 + 12345) >>> 0;
        return (seed / 2 ** 32) * 2 - 1;
      };
      const records = Array.from({ length: n }, (_, i) => ({
        id: `r${i}`,
        values: Float32Array.from({ length: dim }, rnd),
      }));
      await new Promise((r) => setTimeout(r, 100)); // end the task that generated the records
      const tasks = [];
      new PerformanceObserver((l) => tasks.push(...l.getEntries().map((e) => e.duration))).observe({
        type: "longtask",
      });
      let longest = 0;
      let last = performance.now();
      let running = true;
      const ch = new MessageChannel();
      ch.port1.onmessage = () => {
        const now = performance.now();
        longest = Math.max(longest, now - last);
        last = now;
        if (running) ch.port2.postMessage(0);
      };
      ch.port2.postMessage(0);
      const t0 = performance.now();
      await pc.index("b").upsert({ records });
      const ms = performance.now() - t0;
      running = false;
      await new Promise((r) => setTimeout(r, 100));
      const count = (await pc.index("b").describeIndexStats()).totalRecordCount;
      pc.close();
      return { ms, longestGapMs: longest, longestTaskMs: Math.max(0, ...tasks), longTasks: tasks.length, count };
    },
    { entry, n: N, dim: DIM, spec },
  );
  await context.close();
  console.log(
    JSON.stringify({ bench: "freeze", entry, n: N, dim: DIM, ...r, recordsPerS: Math.round(N / (r.ms / 1000)) }),
  );
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function turns(entry, tabsUsed) {
  const context = await browser.newContext();
  const db = `turns-${entry}-${tabsUsed}`;
  const pages = [await tab(context), await tab(context)];
  // Prefill and index from the first tab.
  await pages[0].evaluate(
    async ({ entry, db, n, dim, spec }) => {
      const m = entry === "worker" ? window.larch : window.main;
      await m.init();
      const pc = new m.Larch({ storage: { indexedDB: db }, persist: false });
      await pc.createIndex({ name: "b", dimension: dim, spec });
      let seed = 7;
      const rnd = () => {
        seed = (seed * 1103515245 + 12345) >>> 0;
        return (seed / 2 ** 32) * 2 - 1;
      };
      const records = Array.from({ length: n }, (_, i) => ({
        id: `p${i}`,
        values: Float32Array.from({ length: dim }, rnd),
      }));
      await pc.index("b").namespace("ns").upsert({ records });
      await pc.flushIndexing();
      window.pc = pc;
    },
    { entry, db, n: PREFILL, dim: DIM, spec },
  );
  await pages[1].evaluate(
    async ({ entry, db }) => {
      const m = entry === "worker" ? window.larch : window.main;
      await m.init();
      window.pc = new m.Larch({ storage: { indexedDB: db }, persist: false });
    },
    { entry, db },
  );
  // Warm both (each loads the namespace once).
  for (const p of pages)
    await p.evaluate(
      (dim) =>
        window.pc
          .index("b")
          .namespace("ns")
          .query({ topK: 10, vector: Array.from({ length: dim }, (_, i) => (i % 7) - 3) }),
      DIM,
    );
  const up = [];
  const read = [];
  for (let k = 0; k < TURNS; k++) {
    const writer = pages[tabsUsed === 2 ? k % 2 : 0];
    const reader = pages[tabsUsed === 2 ? (k + 1) % 2 : 0];
    up.push(
      await writer.evaluate(
        async ({ k, dim }) => {
          let seed = 1000 + k;
          const rnd = () => {
            seed = (seed * 1103515245 + 12345) >>> 0;
            return (seed / 2 ** 32) * 2 - 1;
          };
          const records = Array.from({ length: 100 }, (_, i) => ({
            id: `t${k}-${i}`,
            values: Float32Array.from({ length: dim }, rnd),
          }));
          const t0 = performance.now();
          await window.pc.index("b").namespace("ns").upsert({ records });
          return performance.now() - t0;
        },
        { k, dim: DIM },
      ),
    );
    read.push(
      await reader.evaluate(async (dim) => {
        const t0 = performance.now();
        await window.pc
          .index("b")
          .namespace("ns")
          .query({ topK: 10, vector: Array.from({ length: dim }, (_, i) => (i % 5) - 2) });
        return performance.now() - t0;
      }, DIM),
    );
  }
  const count = await pages[0].evaluate(
    async () => (await window.pc.index("b").describeIndexStats()).namespaces.ns.recordCount,
  );
  await context.close();
  console.log(
    JSON.stringify({
      bench: "turns",
      entry,
      tabs: tabsUsed,
      prefill: PREFILL,
      dim: DIM,
      turns: TURNS,
      upsertMedianMs: +median(up).toFixed(1),
      upsertMinMs: +Math.min(...up).toFixed(1),
      queryAfterOtherWriteMedianMs: +median(read).toFixed(1),
      count,
      expected: PREFILL + 100 * TURNS,
    }),
  );
}

try {
  for (const entry of ["main", "worker"]) await freeze(entry);
  if (!process.env.FREEZE_ONLY) for (const entry of ["main", "worker"]) for (const t of [1, 2]) await turns(entry, t);
} finally {
  await browser.close();
  await server.close();
  if (log.some((l) => l.startsWith("[pageerror]"))) console.error(log.join("\n"));
}
