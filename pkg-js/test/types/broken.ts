// Must NOT compile against larchdb (the type test checks that the types are not `any`).
import { Pinecone } from "@pinecone-database/pinecone";

export async function main(): Promise<void> {
  const pc = new Pinecone();
  const res = await pc.index("x").query({ topK: 3, vector: [1, 2] });
  const wrong: string = res.matches[0].score; // score is a number
  await pc.createIndex({ name: "y", dimension: "4", spec: { serverless: { cloud: "aws", region: "r" } } });
  void wrong;
}
