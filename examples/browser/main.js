// larchdb in a Vite app: the worker entry (the engine in a SharedWorker, so the page never
// freezes and tabs share one engine), data in IndexedDB "larchdb-example".
// Run: npm install && npx vite (or npx vite build && serve dist/).
import { Errors, Pinecone } from "larchdb/worker";

const out = document.querySelector("#out");
const pc = new Pinecone({ storage: { indexedDB: "larchdb-example" } });

async function main() {
  await pc.createIndex({
    name: "visits",
    dimension: 3,
    spec: { serverless: { cloud: "aws", region: "us-east-1" } },
    suppressConflicts: true,
  });
  const visits = pc.index({ name: "visits", namespace: "this-browser" });
  const stats = await visits.describeIndexStats();
  const n = stats.namespaces?.["this-browser"]?.recordCount ?? 0;
  await visits.upsert({
    records: [{ id: `visit-${n + 1}`, values: [1, n + 1, 0.5], metadata: { at: new Date().toISOString(), n: n + 1 } }],
  });
  const { matches } = await visits.query({ topK: 3, vector: [1, 1, 0.5], includeMetadata: true });
  let error = "";
  try {
    await pc.describeIndex("no-such-index");
  } catch (e) {
    error = e instanceof Errors.PineconeNotFoundError ? e.name : String(e);
  }
  const result = { visits: n + 1, nearest: matches.map((m) => m.id), error, engine: await pc.engineInfo() };
  out.textContent = JSON.stringify(result, null, 2);
  window.result = result;
}

main().catch((e) => {
  out.textContent = `failed: ${e}`;
  window.result = { failed: String(e) };
});
