// larchdb in Node: two tenants' notes persisted in ./data, searched by vector with a metadata
// filter. Run: npm install && node index.mjs (again: the same answer, from the directory).
// The vectors are toy 4-dimensional "embeddings"; use a real embedding model's in practice.
import { Errors, Pinecone } from "larchdb";

const pc = new Pinecone({ storage: { directory: "./data" } });
await pc.createIndex({
  name: "notes",
  dimension: 4,
  metric: "cosine",
  spec: { serverless: { cloud: "aws", region: "us-east-1" } },
  suppressConflicts: true, // the second run finds the index there
});
const { host } = await pc.describeIndex("notes");
const notes = pc.index("notes", host); // the SDK's (name, host) form

const acme = notes.namespace("acme");
await acme.upsert({
  records: [
    { id: "n1", values: [0.9, 0.1, 0, 0], metadata: { topic: "billing", year: 2024 } },
    { id: "n2", values: [0.8, 0.2, 0.1, 0], metadata: { topic: "billing", year: 2022 } },
    { id: "n3", values: [0, 0, 1, 0.2], metadata: { topic: "travel", year: 2024 } },
  ],
});
await notes
  .namespace("globex")
  .upsert({ records: [{ id: "g1", values: [0.9, 0.1, 0, 0], metadata: { topic: "billing", year: 2024 } }] });

const recent = await acme.query({
  topK: 3,
  vector: [1, 0, 0, 0],
  filter: { year: { $gte: 2023 } },
  includeMetadata: true,
});
const all = await acme.query({ topK: 3, vector: [1, 0, 0, 0] });
const stats = await notes.describeIndexStats();
let missing = "";
try {
  await pc.describeIndex("no-such-index");
} catch (e) {
  missing = e instanceof Errors.PineconeNotFoundError ? "PineconeNotFoundError" : String(e);
}
console.log(
  JSON.stringify({
    recent: recent.matches.map((m) => [m.id, m.metadata?.topic]),
    all: all.matches.map((m) => m.id),
    namespaces: stats.namespaces,
    missing,
  }),
);
pc.close();
