// Packaging smoke tests: the packed tarball (npm pack) installed into a fresh project and used
// by name from Node 20, a plain <script type="module"> page, a Vite build, and workerd
// (wrangler dev). Needs `build.sh` to have run, Debian chromium, and pkg-js's devDependencies.

import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { launch, serve, watch } from "./support.mjs";

const run = promisify(execFile);
const pkg = fileURLToPath(new URL("..", import.meta.url));
const bin = (name) => join(pkg, "node_modules", ".bin", name);
let dir, browser;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "larch-smoke-"));
  await run("npm", ["pack", "--pack-destination", dir, "--silent"], { cwd: pkg });
  const tgz = (await readdir(dir)).find((f) => f.endsWith(".tgz"));
  assert.ok(tgz, "npm pack made a tarball");
  await writeFile(join(dir, "package.json"), JSON.stringify({ name: "smoke", private: true, type: "module" }));
  await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", join(dir, tgz)], { cwd: dir });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

// The same little program everywhere: two tenants, one query each.
const PROGRAM = `
  const pc = new Larch(OPTIONS);
  await pc.createIndex({ name: "smoke", dimension: 2, spec: { serverless: { cloud: "aws", region: "us-east-1" } }, suppressConflicts: true });
  const ix = pc.index("smoke");
  await ix.namespace("a").upsert({ records: [{ id: "a1", values: [1, 0] }, { id: "a2", values: [0, 1] }] });
  await ix.namespace("b").upsert({ records: [{ id: "b1", values: [1, 0] }] });
  const q = await ix.namespace("a").query({ topK: 5, vector: [1, 0.1] });
  let code = null;
  try { await pc.describeIndex("missing"); } catch (e) { code = e.name + ":" + e.code; }
  const result = { ids: q.matches.map((m) => m.id), simd: simd(), code };
`;
const EXPECTED = { ids: ["a1", "a2"], simd: true, code: "PineconeNotFoundError:NOT_FOUND" };

async function inBrowser(url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const log = watch(page);
  await page.goto(url);
  await page.waitForFunction(() => window.result !== undefined, null, { timeout: 30_000 }).catch(() => {});
  const result = await page.evaluate(() => window.result);
  await context.close();
  return { result, log: log.join("\n") };
}

test("Node 20 imports the package by name", async () => {
  const file = join(dir, "node-smoke.mjs");
  await writeFile(
    file,
    `import { Larch, simd } from "larchdb";\n${PROGRAM.replace("OPTIONS", "")}\nconsole.log(JSON.stringify(result));`,
  );
  const { stdout } = await run(process.execPath, [file], { cwd: dir });
  assert.deepEqual(JSON.parse(stdout), EXPECTED);
});

test("a plain <script type=module> page", async () => {
  const page = `<!doctype html><meta charset="utf-8"><title>smoke</title>
<script type="module">
  import { init, Larch, simd } from "./node_modules/larchdb/dist/browser.js";
  await init();
  ${PROGRAM.replace("OPTIONS", '{ storage: { indexedDB: "script-smoke" } }')}
  window.result = result;
</script>`;
  await writeFile(join(dir, "index.html"), page);
  const server = await serve(dir);
  try {
    const { result, log } = await inBrowser(`${server.url}/index.html`);
    assert.deepEqual(result, EXPECTED, log);
  } finally {
    await server.close();
  }
});

test("a Vite build", async () => {
  const app = join(dir, "vite-app");
  await mkdir(app, { recursive: true });
  await writeFile(
    join(app, "index.html"),
    `<!doctype html><meta charset="utf-8"><title>vite smoke</title><script type="module" src="./main.js"></script>`,
  );
  await writeFile(
    join(app, "main.js"),
    `import { init, Larch, simd } from "larchdb";\nawait init();\n${PROGRAM.replace("OPTIONS", '{ storage: "memory" }')}\nwindow.result = result;\n`,
  );
  await run(
    process.execPath,
    [
      join(pkg, "node_modules", "vite", "bin", "vite.js"),
      "build",
      "--logLevel",
      "warn",
      "--outDir",
      "dist",
      "--emptyOutDir",
    ],
    { cwd: app },
  );
  const assets = await readdir(join(app, "dist", "assets"));
  assert.ok(
    assets.some((f) => f.endsWith(".wasm")),
    `the .wasm was emitted as an asset: ${assets}`,
  );
  const server = await serve(join(app, "dist"));
  try {
    const { result, log } = await inBrowser(`${server.url}/index.html`);
    assert.deepEqual(result, EXPECTED, log);
  } finally {
    await server.close();
  }
});

test("workerd (wrangler dev) through the workerd entry", { timeout: 120_000 }, async () => {
  const worker = join(dir, "worker");
  await mkdir(worker, { recursive: true });
  await writeFile(
    join(worker, "wrangler.toml"),
    `name = "larch-smoke"\nmain = "index.js"\ncompatibility_date = "2025-09-01"\n`,
  );
  await writeFile(
    join(worker, "index.js"),
    `import { Larch, simd } from "larchdb";\nexport default {\n  async fetch() {\n${PROGRAM.replace("OPTIONS", "")}\n    return Response.json(result);\n  },\n};\n`,
  );
  const port = 20000 + Math.floor(Math.random() * 20000);
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" };
  delete env.CLOUDFLARE_API_TOKEN;
  const child = spawn(bin("wrangler"), ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", "0"], {
    cwd: worker,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  try {
    const deadline = Date.now() + 90_000;
    while (!/Ready on/.test(out)) {
      if (Date.now() > deadline || child.exitCode !== null) assert.fail(`wrangler dev did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const res = await fetch(`http://127.0.0.1:${port}/`);
    const body = await res.text();
    assert.equal(res.status, 200, `${body}\n${out}`);
    assert.deepEqual(JSON.parse(body), EXPECTED);
  } finally {
    try {
      process.kill(-child.pid, "SIGINT");
    } catch {}
    await new Promise((r) => setTimeout(r, 500));
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
  }
});
