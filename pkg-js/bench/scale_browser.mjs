// The scale workload in headless Chromium (IndexedDB), shared by the browser reload test and
// the benchmark:
//
//   node pkg-js/bench/scale_browser.mjs N DIM [int8=0|1] [batch=500]   prints one JSON line
//
// Builds N × DIM in one namespace in the page (vectors generated there), flushes indexing,
// records wasm memory and residentBytes, reloads the page, opens the database again and times
// the first query (then checks it answers as before the reload).
import { fileURLToPath } from "node:url";
import { launch, serve, watch } from "../test/support.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Runs the workload in a fresh browser context of `browser` served from `url`. */
export async function scaleInBrowser(browser, url, { n, dim, int8 = true, batch = 500, db = "scale", log = [] }) {
  const context = await browser.newContext();
  const page = await context.newPage();
  watch(page, log);
  const open = async () => {
    await page.goto(`${url}/test/pages/tab.html`);
    await page.waitForFunction(() => window.ready === true);
  };
  await open();
  const built = await page.evaluate(
    async ({ n, dim, int8, batch, db }) => {
      const core = await import("/bench/scale_core.mjs");
      const pc = new window.larch.Larch({ storage: { indexedDB: db }, int8 });
      const r = await core.build(pc, { n, dim, batch });
      const before = await core.ask(pc, { n, dim });
      return {
        ...r,
        before,
        wasm: await core.wasmBytes("/dist/wasm/larch_js.js"),
        resident: core.residentBytes(pc),
      };
    },
    { n, dim, int8, batch, db },
  );
  await page.reload();
  await page.waitForFunction(() => window.ready === true);
  const reloaded = await page.evaluate(
    async ({ n, dim, int8, db }) => {
      const core = await import("/bench/scale_core.mjs");
      const pc = new window.larch.Larch({ storage: { indexedDB: db }, int8 });
      const t = performance.now();
      const after = await core.ask(pc, { n, dim });
      const firstMs = performance.now() - t;
      const t2 = performance.now();
      await core.askFiltered(pc, { n, dim });
      const filteredMs = performance.now() - t2;
      return {
        after,
        firstMs,
        filteredMs,
        wasm: await core.wasmBytes("/dist/wasm/larch_js.js"),
        resident: core.residentBytes(pc),
      };
    },
    { n, dim, int8, db },
  );
  await context.close();
  return { built, reloaded };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [nArg, dimArg, ...rest] = process.argv.slice(2);
  const opt = Object.fromEntries(rest.map((a) => a.split("=")));
  const n = Number(nArg);
  const dim = Number(dimArg);
  const server = await serve(root);
  const browser = await launch();
  const log = [];
  try {
    const { built, reloaded } = await scaleInBrowser(browser, server.url, {
      n,
      dim,
      int8: opt.int8 !== "0",
      batch: Number(opt.batch ?? 500),
      log,
    });
    const f32 = n * dim * 4;
    const mb = (b) => Math.round(b / 1e5) / 10;
    console.log(
      JSON.stringify({
        n,
        dim,
        int8: opt.int8 !== "0",
        ingestRate: Math.round(built.rate),
        ingestS: Math.round(built.ingestMs / 100) / 10,
        indexS: Math.round(built.indexMs / 100) / 10,
        f32MB: mb(f32),
        builtWasmMB: mb(built.wasm),
        builtResidentMB: mb(built.resident),
        reloadWasmMB: mb(reloaded.wasm),
        reloadResidentMB: mb(reloaded.resident),
        reloadWasmOverF32: Math.round((reloaded.wasm / f32) * 1000) / 1000,
        reloadResidentOverF32: Math.round((reloaded.resident / f32) * 1000) / 1000,
        firstAnswerMs: Math.round(reloaded.firstMs),
        firstFilteredMs: Math.round(reloaded.filteredMs),
        same: JSON.stringify(built.before) === JSON.stringify(reloaded.after),
      }),
    );
  } finally {
    if (log.some((l) => l.startsWith("[pageerror]"))) console.error(log.join("\n"));
    await browser.close();
    await server.close();
  }
}
