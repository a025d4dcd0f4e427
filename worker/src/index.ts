// The Worker: authentication, then routing to Durable Objects. Pinecone semantics (validation,
// shapes, errors, limits, which engine serves a request) are the engine's: `Engine.classify`
// names the scope of a request, and every error body comes from the engine.
//
//   scope "control"   (/indexes…, and requests no namespace needs)  → Catalog
//   scope "index"     (describe_index_stats, GET /namespaces)        → Catalog: counts from every
//                                                                      namespace object
//   scope "namespace" (vectors API, describe/create/delete one namespace)
//                                                                    → that namespace's object,
//                                                                      one hop when warm; for an
//                                                                      index of N shards, the
//                                                                      shard objects the engine's
//                                                                      `Engine.shardStep` names,
//                                                                      in parallel

import { Engine, type EngineResponse } from "larchdb";
import type { EngineRequest } from "./engine";
import type { Env } from "./env";
import { catalogStub, namespaceStub } from "./names";
import type { Stale, Target } from "./namespace";

export { Catalog } from "./catalog";
export { Namespace } from "./namespace";

const encoder = new TextEncoder();
let expectedDigest: { key: string; digest: ArrayBuffer } | null = null;

async function digest(s: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", encoder.encode(s));
}

/** `Api-Key` against the LARCH_API_KEY secret, in constant time (equal-length digests). */
async function authorized(request: Request, env: Env): Promise<boolean> {
  const expected = env.LARCH_API_KEY;
  const given = request.headers.get("Api-Key");
  if (!expected || given === null) return false;
  if (expectedDigest?.key !== expected) expectedDigest = { key: expected, digest: await digest(expected) };
  return crypto.subtle.timingSafeEqual(await digest(given), expectedDigest.digest);
}

function toResponse(r: EngineResponse): Response {
  const headers = new Headers(r.headers);
  headers.set("content-type", r.contentType);
  return new Response(r.body.length ? r.body : null, { status: r.status, headers });
}

/** The body, or null when it is longer than `limit` (read no further than that). */
async function readBody(request: Request, limit: number): Promise<Uint8Array | null> {
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * Index name → its incarnation and create request, per isolate. Entries are never trusted
 * blindly: a namespace object of a deleted incarnation answers `stale` (fresh objects check
 * with the catalog, and a deleted index's objects are dropped before the delete is
 * acknowledged), and the entry is then resolved again.
 */
const targets = new Map<string, Target>();

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname;
    const method = request.method.toUpperCase();
    // Never log keys: nothing here logs requests or headers.
    if (!(await authorized(request, env))) return toResponse(Engine.unauthenticated(path) as EngineResponse);
    try {
      const limit = Engine.maxBodyBytes(method, path);
      const declared = Number(request.headers.get("Content-Length") ?? "0");
      if (declared > limit) return toResponse(Engine.bodyTooLarge(method, path, declared) as EngineResponse);
      const body = await readBody(request, limit);
      if (body === null) return toResponse(Engine.bodyTooLarge(method, path, limit + 1) as EngineResponse);
      const req: EngineRequest = {
        method,
        path,
        query: url.search.replace(/^\?/, ""),
        body,
        apiVersion: request.headers.get("X-Pinecone-Api-Version"),
      };
      return toResponse(await route(req, url.origin, env));
    } catch (e) {
      console.error("larch: internal error", path, e instanceof Error ? (e.stack ?? e.message) : String(e));
      return toResponse(Engine.internalError(path) as EngineResponse);
    }
  },
} satisfies ExportedHandler<Env>;

type Route =
  | { response: EngineResponse }
  | { scope: "control" }
  | { scope: "index"; index: string }
  | { scope: "namespace"; index: string; namespace: string; write: boolean };

async function route(req: EngineRequest, origin: string, env: Env): Promise<EngineResponse> {
  const r = Engine.classify(req.method, req.path, req.query, req.body) as Route;
  const catalog = catalogStub(env);
  if ("response" in r) return r.response;
  if (r.scope === "control") return catalog.control(req, origin);
  if (r.scope === "index") return catalog.indexWide(r.index, req, origin);
  for (let attempt = 0; attempt < 2; attempt++) {
    let target = targets.get(r.index);
    if (!target) {
      const resolved = await catalog.resolve(r.index);
      if (!resolved.target) return resolved.response;
      target = resolved.target;
      // A paused index is resolved again at every request: its resume may come from any isolate.
      if (!target.paused) targets.set(r.index, target);
    }
    if (target.paused) return Engine.indexPaused(req.path, r.index) as EngineResponse;
    const answer =
      target.shards > 1
        ? await sharded(env, target, r.namespace, r.write, req)
        : await namespaceStub(env, r.index, target.incarnation, r.namespace).handle(
            target,
            r.namespace,
            0,
            r.write,
            req,
          );
    if (!("stale" in answer)) return answer;
    targets.delete(r.index); // the index was deleted (and perhaps created again): resolve anew
  }
  throw new Error(`index ${r.index} changed twice while one request was routed`);
}

type ShardStep =
  | { send: Array<{ shard: number; method: string; path: string; query: string; body: Uint8Array }> }
  | { pass: number }
  | { response: EngineResponse };

/**
 * A namespace request to an index of several shards: the engine's `shardStep` names the
 * requests for which shard objects (sent in parallel) and merges their answers; one round, or
 * two for a query by id (its vector first, from its shard).
 */
async function sharded(
  env: Env,
  target: Target,
  ns: string,
  write: boolean,
  req: EngineRequest,
): Promise<EngineResponse | Stale> {
  const create = encoder.encode(target.create);
  const rounds: Array<Array<{ status: number; body: Uint8Array }>> = [];
  let last: EngineResponse[] = [];
  for (let round = 0; round < 4; round++) {
    const step = Engine.shardStep(
      req.method,
      req.path,
      req.query,
      req.body,
      req.apiVersion ?? undefined,
      create,
      target.shards,
      rounds,
    ) as ShardStep;
    if ("response" in step) return step.response;
    if ("pass" in step) return last[step.pass];
    const answers = await Promise.all(
      step.send.map((p) =>
        namespaceStub(env, target.index, target.incarnation, ns, p.shard).handle(
          target,
          ns,
          p.shard,
          write && p.method.toUpperCase() !== "GET",
          { method: p.method, path: p.path, query: p.query, body: p.body, apiVersion: req.apiVersion },
        ),
      ),
    );
    if (answers.some((a) => "stale" in a)) return { stale: true };
    last = answers as EngineResponse[];
    rounds.push(last.map((a) => ({ status: a.status, body: a.body })));
  }
  throw new Error("a sharded request took more than three rounds");
}
