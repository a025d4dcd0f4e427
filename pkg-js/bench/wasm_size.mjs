// What the engine's wasm spends its bytes on (issue 17, item 6):
//
//   node pkg-js/bench/wasm_size.mjs [named.wasm]
//
// Without an argument it makes a wasm with function names from the last cargo build (as
// build.sh does, but `wasm-bindgen --keep-debug` and `wasm-opt -Oz -g`, so names survive), then
// prints the code bytes per crate and per module (two path segments), the largest functions,
// and the generic families with the most copies (monomorphizations: `core::slice::sort`,
// `alloc::collections::btree`, ...). Sizes are of the optimized code, before gzip.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = fileURLToPath(new URL("..", import.meta.url));

function namedWasm() {
  const dir = mkdtempSync(join(tmpdir(), "larch-size-"));
  const meta = JSON.parse(execFileSync("cargo", ["metadata", "--format-version", "1", "--no-deps"], { cwd: pkg }));
  const raw = join(meta.target_directory, "wasm32-unknown-unknown", "wasm-release", "larch_js.wasm");
  execFileSync("wasm-bindgen", ["--target", "web", "--keep-debug", "--out-dir", dir, "--out-name", "larch_js", raw]);
  const features = [
    "simd",
    "bulk-memory",
    "nontrapping-float-to-int",
    "sign-ext",
    "mutable-globals",
    "reference-types",
    "multivalue",
  ];
  const out = join(dir, "named.wasm");
  execFileSync(join(pkg, "node_modules", ".bin", "wasm-opt"), [
    "-Oz",
    "-g",
    ...features.map((f) => `--enable-${f}`),
    join(dir, "larch_js_bg.wasm"),
    "-o",
    out,
  ]);
  return out;
}

const file = process.argv[2] ?? namedWasm();
const b = readFileSync(file);
let p = 8;
const leb = () => {
  let r = 0;
  let s = 0;
  let x;
  do {
    x = b[p++];
    r += (x & 0x7f) * 2 ** s;
    s += 7;
  } while (x & 0x80);
  return r;
};
let imports = 0;
const bodies = [];
const names = new Map();
let dataBytes = 0;
while (p < b.length) {
  const id = b[p++];
  const n = leb();
  const end = p + n;
  if (id === 2) {
    const count = leb();
    for (let i = 0; i < count; i++) {
      for (let k = 0; k < 2; k++) {
        const len = leb(); // module, then field name
        p += len;
      }
      const kind = b[p++];
      if (kind === 0) {
        leb();
        imports++;
      } else if (kind === 1) {
        p++;
        const f = b[p++];
        leb();
        if (f & 1) leb();
      } else if (kind === 2) {
        const f = b[p++];
        leb();
        if (f & 1) leb();
      } else if (kind === 3) p += 2;
    }
  } else if (id === 10) {
    const count = leb();
    for (let i = 0; i < count; i++) {
      const size = leb();
      bodies.push(size);
      p += size;
    }
  } else if (id === 11) dataBytes = n;
  else if (id === 0) {
    const len = leb();
    const name = b.subarray(p, p + len).toString();
    p += len;
    if (name === "name")
      while (p < end) {
        const sub = b[p++];
        const size = leb();
        const next = p + size;
        if (sub === 1) {
          const count = leb();
          for (let i = 0; i < count; i++) {
            const idx = leb();
            const l = leb();
            names.set(idx, b.subarray(p, p + l).toString());
            p += l;
          }
        }
        p = next;
      }
  }
  p = end;
}
const rows = bodies.map((size, i) => ({ size, name: names.get(i + imports) ?? `func${i + imports}` }));
const code = rows.reduce((a, r) => a + r.size, 0);
const path = (name, depth) => {
  const m =
    /^(?:core::ptr::drop_in_place<)?<?&?(?:mut )?([a-z_][a-z0-9_]*(?:\[[0-9a-f]+\])?)((?:::[a-z_][a-z0-9_]*)*)/.exec(
      name,
    );
  if (!m) return "(other)";
  const parts = [m[1].replace(/\[[0-9a-f]+\]/, ""), ...m[2].split("::").filter(Boolean)];
  return parts.slice(0, depth).join("::");
};
const table = (title, key, limit) => {
  const by = new Map();
  for (const r of rows) {
    const k = key(r.name);
    const e = by.get(k) ?? { size: 0, count: 0 };
    e.size += r.size;
    e.count++;
    by.set(k, e);
  }
  console.log(`\n${title}`);
  for (const [k, e] of [...by].sort((a, b) => b[1].size - a[1].size).slice(0, limit))
    console.log(
      `${String(e.size).padStart(8)} ${((100 * e.size) / code).toFixed(1).padStart(5)}% ${String(e.count).padStart(5)} fns  ${k}`,
    );
};
console.log(`${file}: ${b.length} bytes; code ${code} bytes in ${rows.length} functions; data ${dataBytes} bytes`);
table("by crate", (n) => path(n, 1), 12);
table("by module", (n) => path(n, 2), 25);
table(
  "generic families (name without hash and type parameters)",
  (n) => n.replace(/::h[0-9a-f]{16}$/, "").replace(/<.*$/, "") || "(trait impls: <T as Trait>::f)",
  15,
);
console.log("\nlargest functions");
for (const r of [...rows].sort((a, b) => b.size - a.size).slice(0, 12))
  console.log(`${String(r.size).padStart(8)}  ${r.name.slice(0, 140)}`);
