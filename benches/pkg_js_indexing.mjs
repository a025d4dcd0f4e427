// Queries and the event loop while graphs build, through pkg-js in Node (the host a browser tab
// runs, over the in-memory store): N random vectors × DIM upserted in batches of 100, queries
// (topK 10) sent one after another from the first upsert until background indexing is done.
// Reports query latency during the build and after it, upsert latency (seals happen inside
// upserts), the longest event-loop stall (a 1 ms interval's largest gap: what would freeze a
// page) and the longest single engine.indexStep call.
//
//   node benches/pkg_js_indexing.mjs [N=50000] [DIM=384] [turn=new|legacy]
//
// Needs pkg-js/dist (pkg-js/build.sh). turn=legacy makes each background turn one
// engine.indexStep() at the engine's budget (256 nodes), as the host did before its turns were
// bounded by time; turn=new is the shipped host (steps of 8 nodes while under 8 ms).

import { Engine, Larch } from "../pkg-js/dist/node.js";

const args = Object.fromEntries(
  process.argv.slice(2).map((a, i) => (a.includes("=") ? a.split("=") : [["n", "dim"][i], a])),
);
const n = Number(args.n ?? 50000);
const dim = Number(args.dim ?? 384);
const turn = args.turn ?? "new";

const original = Engine.prototype.indexStep;
const stepMs = [];
Engine.prototype.indexStep = function (budget) {
  const t = performance.now();
  const more = original.call(this, turn === "legacy" ? undefined : budget);
  stepMs.push(performance.now() - t);
  return more;
};

let state = 0x2545f491;
const rand = () => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 2 ** 32 - 0.5;
};
const vector = () => Array.from({ length: dim }, rand);

let maxGap = 0;
let last = performance.now();
const monitor = setInterval(() => {
  const now = performance.now();
  maxGap = Math.max(maxGap, now - last);
  last = now;
}, 1);

const pc = new Larch();
await pc.createIndex({ name: "b", dimension: dim, spec: { serverless: { cloud: "aws", region: "us-east-1" } } });
const ns = pc.index("b").namespace("n");
const engine = () => pc.host.engine;

const during = [];
const upserts = [];
let loading = true;
const querying = (async () => {
  const q = vector();
  while (loading || engine()?.indexingPending()) {
    const t = performance.now();
    await ns.query({ topK: 10, vector: q });
    during.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 0));
  }
})();
const t0 = performance.now();
for (let b = 0; b < n; b += 100) {
  const records = Array.from({ length: Math.min(100, n - b) }, (_, i) => ({ id: `v${b + i}`, values: vector() }));
  const t = performance.now();
  await ns.upsert({ records });
  upserts.push(performance.now() - t);
}
loading = false;
await querying;
const buildS = (performance.now() - t0) / 1000;
const after = [];
for (let i = 0; i < 50; i++) {
  const t = performance.now();
  await ns.query({ topK: 10, vector: vector() });
  after.push(performance.now() - t);
}
clearInterval(monitor);
pc.close();

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN;
};
const f = (x) => x.toFixed(1);
console.log(
  `| ${turn} | ${n} × ${dim} | ${f(buildS)} | ${during.length} | ${f(pct(during, 0.5))} | ${f(pct(during, 0.99))} | ` +
    `${f(Math.max(...during))} | ${f(pct(after, 0.5))} | ${f(pct(upserts, 0.5))} | ${f(Math.max(...upserts))} | ` +
    `${f(Math.max(...stepMs))} | ${f(maxGap)} |`,
);
