// A typical @pinecone-database/pinecone 9.x program, written as the SDK's README writes it
// (`pc.indexes.*`, the options form of `pc.index`, the 2026-07 index model, `Errors`).
// test/types.test.mjs compiles it against SDK 9 itself and, with only the import changed,
// against larchdb's types.
import {
  Errors,
  type FetchByMetadataResponse,
  type IndexModel,
  type NamespaceDescription,
  type Pagination,
  Pinecone,
} from "@pinecone-database/pinecone";

type Product = { category: string; price: number };

export async function main(): Promise<unknown[]> {
  const pc = new Pinecone({ apiKey: "your_api_key" });
  const created = await pc.indexes.create({
    name: "product-catalog",
    schema: { fields: { _values: { type: "dense_vector", dimension: 4, metric: "cosine" } } },
    deployment: { deploymentType: "managed", cloud: "aws", region: "us-east-1" },
  });
  const createdName: string = created.name;
  const legacy = await pc.indexes.create({
    name: "legacy",
    dimension: 4,
    metric: "dotproduct",
    spec: { serverless: { cloud: "aws", region: "us-east-1" } },
    suppressConflicts: true,
  });
  // biome-ignore lint/suspicious/noConfusingVoidType: the SDK's own return type.
  const maybe: IndexModel | void = legacy;
  const model: IndexModel = await pc.indexes.describe("product-catalog");
  const deploymentType: string = model.deployment.deploymentType;
  const region: string | undefined = "region" in model.deployment ? model.deployment.region : undefined;
  const valuesField = model.schema.fields._values;
  const fieldType: string | undefined = valuesField && "type" in valuesField ? valuesField.type : undefined;
  const state: string = model.status.state;
  const protection: string = model.deletionProtection;
  const legacyDimension: number | undefined = model.dimension;
  const metric: string = model.metric;
  const all = await pc.indexes.list();
  const hosts: string[] = (all.indexes ?? []).map((i) => i.host);
  await pc.indexes.configure("product-catalog", { deletionProtection: "disabled", tags: { team: "search" } });

  const index = pc.index<Product>({ name: "product-catalog", host: model.host, namespace: "products-en" });
  await index.upsert({ records: [{ id: "p1", values: [1, 0, 0, 0], metadata: { category: "shoes", price: 90 } }] });
  const q = await index.query({
    topK: 5,
    vector: [1, 0, 0, 0],
    includeMetadata: true,
    filter: { price: { $lt: 100 } },
  });
  const price: number | undefined = q.matches[0]?.metadata?.price;
  const byMeta: FetchByMetadataResponse<Product> = await index.fetchByMetadata({
    filter: { category: "shoes" },
    limit: 10,
  });
  const pagination: Pagination | undefined = byMeta.pagination;
  const nextToken: string | undefined = pagination?.next;
  const described: NamespaceDescription = await index.describeNamespace("products-en");
  const count: number = Number(described.recordCount ?? "0");
  const listed = await index.listNamespaces();
  const counts: Array<string | undefined> = (listed.namespaces ?? []).map((n) => n.recordCount);
  const legacyHost = pc.index("legacy", "https://legacy-abc1234.svc.aped-4627-b74a.pinecone.io");
  await legacyHost.namespace("a").deleteAll();
  try {
    await index.documents.search({ scoreBy: [{ type: "text", field: "body", query: "shoes" }], topK: 3 });
  } catch (e) {
    if (e instanceof Errors.PineconeNotImplementedError || e instanceof Errors.PineconeNotFoundError) {
      // the documents API needs a full-text index
    } else if (e instanceof Errors.PineconeArgumentError) {
      throw e;
    }
  }
  await pc.indexes.delete("product-catalog");
  return [
    createdName,
    maybe,
    deploymentType,
    region,
    fieldType,
    state,
    protection,
    legacyDimension,
    metric,
    hosts,
    price,
    nextToken,
    count,
    counts,
  ];
}
