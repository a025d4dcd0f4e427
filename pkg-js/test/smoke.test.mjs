// Packaging smoke tests: the packed tarball (npm pack) installed into a fresh project and used
// by name from Node 20, a plain <script type="module"> page, a Vite build, and workerd
// (wrangler dev); the READMEs' snippets run verbatim (the Node ones twice, as ESM and as
// CommonJS in a fresh `npm init` project), and the examples/ apps run. Needs `build.sh` to have
// run, Debian chromium, and pkg-js's devDependencies. No network: installs come from the
// tarball and npm's cache (--prefer-offline).

import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { launch, serve, watch } from "./support.mjs";

const run = promisify(execFile);
const pkg = fileURLToPath(new URL("..", import.meta.url));
const bin = (name) => join(pkg, "node_modules", ".bin", name);
const repo = join(pkg, "..");
let dir, tarball, browser;

/** The fenced code block of `file` (under the repo) whose first line is `first`, or whose fence says `lang` in section `section`. */
async function snippet(file, { first, section, lang }) {
  const text = await readFile(join(repo, file), "utf8");
  const from = section ? text.indexOf(`## ${section}`) : 0;
  assert.ok(from >= 0, `${file} has a section "${section}"`);
  const re = /^```(\w*)\n([\s\S]*?)^```$/gm;
  re.lastIndex = from;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (first !== undefined && m[2].split("\n")[0] === first) return m[2];
    if (lang !== undefined && m[1] === lang) return m[2];
  }
  assert.fail(`${file}: no code block ${first ?? lang}`);
}

/** A fresh project at `path` (`npm init -y`: CommonJS), with the tarball installed. */
async function project(path, type) {
  await mkdir(path, { recursive: true });
  await run("npm", ["init", "-y"], { cwd: path });
  if (type) {
    const p = JSON.parse(await readFile(join(path, "package.json"), "utf8"));
    await writeFile(join(path, "package.json"), JSON.stringify({ ...p, type }));
  }
  await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", tarball], { cwd: path });
  return path;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "larch-smoke-"));
  await run("npm", ["pack", "--pack-destination", dir, "--silent"], { cwd: pkg });
  const tgz = (await readdir(dir)).find((f) => f.endsWith(".tgz"));
  assert.ok(tgz, "npm pack made a tarball");
  assert.match(tgz, /^larchdb-/, "the package is named larchdb");
  tarball = join(dir, tgz);
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
  await viteBuild(app);
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

for (const [name, first, type] of [
  ["ES module (index.mjs)", "// index.mjs", undefined],
  ["CommonJS (index.js in a fresh npm init project)", "// index.js", undefined],
]) {
  test(`README's Node quick start as ${name}, run twice on one directory`, async () => {
    const code = await snippet("README.md", { section: "Node quick start", first });
    const file = first.slice(3);
    const app = await project(join(dir, `readme-${file.replace(".", "-")}`), type);
    const pkgJson = JSON.parse(await readFile(join(app, "package.json"), "utf8"));
    assert.equal(pkgJson.type ?? "commonjs", "commonjs", "npm init makes a CommonJS project");
    await writeFile(join(app, file), code);
    for (const round of [1, 2]) {
      const { stdout, stderr } = await run(process.execPath, [file], { cwd: app });
      assert.equal(stdout.trim(), "[ 'a1' ] 1", `run ${round}: ${stderr}`);
    }
    assert.ok((await stat(join(app, "data", "larch.journal"))).isFile(), "persisted to ./data");
  });
}

test("README's browser quick start, verbatim as index.html", async () => {
  const html = await snippet("README.md", { section: "Browser quick start", lang: "html" });
  await writeFile(join(dir, "readme.html"), `<!doctype html><meta charset="utf-8"><title>readme</title>\n${html}`);
  const server = await serve(dir);
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const log = watch(page);
    await page.goto(`${server.url}/readme.html`);
    await page.waitForFunction(() => true);
    // The snippet logs its matches; then its database holds the record it upserted.
    const deadline = Date.now() + 30_000;
    while (!log.some((l) => l.startsWith("[log]")) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    const stored = await page.evaluate(async () => {
      const { Larch } = await import("./node_modules/larchdb/dist/browser.js");
      const pc = new Larch({ storage: { indexedDB: "my-app" }, persist: false });
      return (await pc.index("docs").describeIndexStats()).namespaces;
    });
    await context.close();
    assert.ok(!log.some((l) => l.startsWith("[pageerror]")), log.join("\n"));
    assert.ok(
      log.some((l) => l.startsWith("[log]")),
      log.join("\n"),
    );
    assert.deepEqual(stored, { "tenant-1": { recordCount: 1 } }, log.join("\n"));
  } finally {
    await server.close();
  }
});

test("pkg-js/README.md's first snippet, verbatim in a Vite app", async () => {
  const code = await snippet("pkg-js/README.md", { first: 'import { init, Larch } from "larchdb";' });
  const app = join(dir, "vite-readme");
  await mkdir(app, { recursive: true });
  await writeFile(
    join(app, "index.html"),
    `<!doctype html><meta charset="utf-8"><script type="module" src="./main.js"></script>`,
  );
  await writeFile(join(app, "main.js"), `${code}\nwindow.result = matches.map((m) => [m.id, m.metadata]);\n`);
  await viteBuild(app);
  const server = await serve(join(app, "dist"));
  try {
    const { result, log } = await inBrowser(`${server.url}/index.html`);
    assert.deepEqual(result, [["a", { kind: "memo" }]], log);
  } finally {
    await server.close();
  }
});

async function viteBuild(app) {
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
}

/** Copies examples/`name` into the smoke directory with the tarball as its larchdb. */
async function example(name) {
  const app = join(dir, `example-${name}`);
  await cp(join(repo, "examples", name), app, {
    recursive: true,
    filter: (p) => !/node_modules|\/data$|\/dist$/.test(p),
  });
  const p = JSON.parse(await readFile(join(app, "package.json"), "utf8"));
  p.dependencies.larchdb = `file:${tarball}`;
  delete p.devDependencies; // vite comes from pkg-js's node_modules
  await writeFile(join(app, "package.json"), JSON.stringify(p));
  await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline"], { cwd: app });
  return app;
}

test("examples/node runs, twice on its directory", async () => {
  const app = await example("node");
  const expected = {
    recent: [
      ["n1", "billing"],
      ["n3", "travel"],
    ],
    all: ["n1", "n2", "n3"],
    namespaces: { acme: { recordCount: 3 }, globex: { recordCount: 1 } },
    missing: "PineconeNotFoundError",
  };
  for (const round of [1, 2]) {
    const { stdout, stderr } = await run(process.execPath, ["index.mjs"], { cwd: app });
    assert.deepEqual(JSON.parse(stdout), expected, `run ${round}: ${stderr}`);
  }
});

test("examples/browser: a Vite build of the worker entry (SharedWorker), two visits", async () => {
  const app = await example("browser");
  await viteBuild(app);
  const assets = await readdir(join(app, "dist", "assets"));
  assert.ok(
    assets.some((f) => f.endsWith(".wasm")),
    `the .wasm was emitted: ${assets}`,
  );
  const server = await serve(join(app, "dist"));
  try {
    const context = await browser.newContext();
    const results = [];
    for (const visit of [1, 2]) {
      const page = await context.newPage();
      const log = watch(page, [`visit ${visit}`]);
      await page.goto(`${server.url}/index.html`);
      await page.waitForFunction(() => window.result !== undefined, null, { timeout: 30_000 }).catch(() => {});
      results.push({ result: await page.evaluate(() => window.result), log: log.join("\n") });
      await page.close();
    }
    await context.close();
    const [first, second] = results;
    assert.equal(first.result?.visits, 1, first.log);
    assert.deepEqual(first.result.nearest, ["visit-1"]);
    assert.equal(first.result.error, "PineconeNotFoundError");
    assert.deepEqual(first.result.engine, { shared: true, engines: 1, clients: 1 });
    assert.equal(second.result?.visits, 2, second.log);
    assert.deepEqual([...second.result.nearest].sort(), ["visit-1", "visit-2"]);
  } finally {
    await server.close();
  }
});
