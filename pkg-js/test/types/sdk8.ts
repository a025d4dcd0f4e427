// A typical @pinecone-database/pinecone 8.x program, written as the SDK's README writes it.
// test/types.test.mjs compiles it against SDK 8 itself and, with only the import changed,
// against larchdb's types.
import {
  Errors,
  type IndexModel,
  Pinecone,
  type PineconeRecord,
  type RecordMetadata,
} from "@pinecone-database/pinecone";

type MovieMetadata = { title: string; runtime: number; genre: "comedy" | "horror" | "drama" };

export async function main(): Promise<number> {
  const pc = new Pinecone({ apiKey: "your_api_key" });
  await pc.createIndex({
    name: "sample-index",
    dimension: 4,
    metric: "cosine",
    spec: { serverless: { cloud: "aws", region: "us-west-2" } },
    deletionProtection: "disabled",
    tags: { team: "data-science" },
    waitUntilReady: true,
    suppressConflicts: true,
  });
  const indexModel: IndexModel = await pc.describeIndex("sample-index");
  const dimension: number | undefined = indexModel.dimension;
  const ready: boolean = indexModel.status.ready;
  const host: string = indexModel.host;
  const list = await pc.listIndexes();
  const names: string[] = (list.indexes ?? []).map((i) => i.name);

  const index = pc.index<MovieMetadata>("sample-index", host);
  const ns = index.namespace("movies");
  const records: PineconeRecord<MovieMetadata>[] = [
    { id: "1", values: [0.1, 0.2, 0.3, 0.4], metadata: { title: "Hot Fuzz", runtime: 121, genre: "comedy" } },
  ];
  await ns.upsert({ records });
  const results = await ns.query({
    topK: 3,
    vector: [0.1, 0.2, 0.3, 0.4],
    includeMetadata: true,
    filter: { genre: { $eq: "comedy" } },
  });
  const titles: Array<string | undefined> = results.matches.map((m) => m.metadata?.title);
  const score: number | undefined = results.matches[0]?.score;
  const fetched = await ns.fetch({ ids: ["1"] });
  const values: number[] | undefined = fetched.records["1"]?.values;
  await ns.update({ id: "1", metadata: { runtime: 122 } });
  const page = await ns.listPaginated({ prefix: "1", limit: 10 });
  const next: string | undefined = page.pagination?.next;
  const ids: Array<string | undefined> = (page.vectors ?? []).map((v) => v.id);
  const stats = await index.describeIndexStats();
  const total: number | undefined = stats.totalRecordCount;
  const perNs: number | undefined = stats.namespaces?.movies?.recordCount;
  const namespaces = await index.listNamespaces({ limit: 10 });
  const nsNames: Array<string | undefined> = (namespaces.namespaces ?? []).map((n) => n.name);
  await ns.deleteOne({ id: "1" });
  await ns.deleteMany({ ids: ["2", "3"] });
  await ns.deleteAll();
  await pc.configureIndex({ name: "sample-index", deletionProtection: "enabled", tags: { env: "prod" } });
  try {
    await pc.describeIndex("missing");
  } catch (e) {
    if (e instanceof Errors.PineconeNotFoundError) return -1;
    if (e instanceof Errors.BasePineconeError) return -2;
    throw e;
  }
  const generic = pc.Index<RecordMetadata>("sample-index");
  await generic.upsert({ records: [{ id: "x", values: [1, 2, 3, 4], sparseValues: { indices: [1], values: [0.5] } }] });
  await pc.deleteIndex("sample-index");
  return [dimension, ready, names, titles, score, values, next, ids, total, perNs, nsNames].length;
}
