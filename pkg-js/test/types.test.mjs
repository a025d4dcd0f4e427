// Type compatibility: typical SDK 8 and SDK 9 programs (test/types/sdk8.ts, sdk9.ts) compile
// against the SDK itself (so they are real SDK code) and, with only the import changed, against
// larchdb's generated .d.ts under `tsc --strict`, without `skipLibCheck` and without
// @types/node; a program with type errors does not compile (the types are not `any`). Needs
// `build.sh` to have run (dist/*.d.ts) and pkg-js's devDependencies (typescript, the SDKs).

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const pkg = fileURLToPath(new URL("..", import.meta.url));
const tsc = join(pkg, "node_modules", "typescript", "bin", "tsc");
const SDK = "@pinecone-database/pinecone";
let dir;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "larch-types-"));
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * Compiles `source` in a fresh project whose node_modules holds `modules` (name → directory);
 * resolves to tsc's exit code and output.
 */
async function compile(
  name,
  source,
  modules,
  { skipLibCheck = false, moduleResolution = "Bundler", customConditions = [] } = {},
) {
  const project = join(dir, name);
  await mkdir(join(project, "node_modules", "@pinecone-database"), { recursive: true });
  for (const [mod, target] of Object.entries(modules)) await symlink(target, join(project, "node_modules", mod), "dir");
  await writeFile(join(project, "package.json"), JSON.stringify({ name, private: true, type: "module" }));
  await writeFile(join(project, "main.ts"), source);
  const compilerOptions = {
    strict: true,
    noEmit: true,
    target: "ES2022",
    module: moduleResolution === "NodeNext" ? "NodeNext" : "ESNext",
    moduleResolution,
    lib: ["ES2022", "DOM"],
    types: [], // no @types/node
    skipLibCheck,
    ...(customConditions.length ? { customConditions } : {}),
  };
  await writeFile(join(project, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["main.ts"] }));
  try {
    const { stdout } = await run(process.execPath, [tsc, "-p", project], { cwd: project });
    return { code: 0, out: stdout };
  } catch (e) {
    return { code: e.code ?? 1, out: `${e.stdout}${e.stderr}` };
  }
}

const program = (file) => readFile(new URL(`./types/${file}`, import.meta.url), "utf8");
const asLarch = (source) => source.replaceAll(`"${SDK}"`, '"larchdb"');
const larch = { larchdb: pkg };

for (const [file, sdk] of [
  ["sdk8.ts", "pinecone-sdk8"],
  ["sdk9.ts", "pinecone-sdk9"],
]) {
  test(`${file} is valid code for the SDK it imitates (${sdk})`, async () => {
    // The SDK's own .d.ts is not ours to check: skipLibCheck here only.
    const r = await compile(
      `${file}-sdk`,
      await program(file),
      { [SDK]: join(pkg, "node_modules", sdk) },
      { skipLibCheck: true },
    );
    assert.equal(r.code, 0, r.out);
  });
  for (const moduleResolution of ["Bundler", "NodeNext"]) {
    test(`${file} compiles against larchdb (strict, no skipLibCheck, no @types/node, ${moduleResolution})`, async () => {
      const source = asLarch(await program(file));
      assert.ok(source.includes('from "larchdb"') && !source.includes(`from "${SDK}"`), "only the import changed");
      const r = await compile(`${file}-larch-${moduleResolution}`, source, larch, { moduleResolution });
      assert.equal(r.code, 0, r.out);
    });
  }
}

test("a program with type errors does not compile against larchdb", async () => {
  const r = await compile("broken", asLarch(await program("broken.ts")), larch);
  assert.notEqual(r.code, 0);
  assert.match(r.out, /main\.ts\(7,\d+\): error TS2322/, r.out); // score is a number
  assert.match(r.out, /main\.ts\(8,\d+\): error TS2769/, r.out); // dimension is a number
});

for (const condition of ["default", "browser", "node", "workerd"]) {
  test(`the ${condition} entry's .d.ts compiles on its own (strict, no skipLibCheck, no @types/node)`, async () => {
    const entries = JSON.parse(await readFile(join(pkg, "package.json"), "utf8")).exports;
    const typed = Object.keys(entries).filter((k) => k !== "./package.json" && k !== "./wasm");
    const source = typed.map((k, i) => `import * as e${i} from "larchdb${k.slice(1)}";\nexport const x${i} = e${i};`);
    const customConditions = condition === "default" ? [] : [condition];
    const r = await compile(`entry-${condition}`, source.join("\n"), larch, { customConditions });
    assert.equal(r.code, 0, r.out);
  });
}
