// The Worker: authentication, then routing to Durable Objects. Pinecone semantics (validation,
// shapes, errors, freshness headers) are the engine's; see README.md for the routing table.
//
//   /indexes…                              → Catalog (control plane)
//   /index/{name}/{vectors op}             → Namespace object of (name, namespace of the request)
//   /index/{name}/describe_index_stats     → Catalog (counts reported by namespace objects;
//                                            with a filter: fan-out to the namespace objects)
//   /index/{name}/namespaces[/{ns}]        → Catalog (DELETE also drops the namespace object)
//   anything else                          → Catalog's engine (its 404 / 501 in Pinecone's shape)

import { allLimited, type Catalog } from "./catalog";
import type { EngineRequest, EngineResponse } from "./engine";
import type { Env } from "./env";
import { catalogStub, namespaceStub } from "./names";

export { Catalog } from "./catalog";
export { Namespace } from "./namespace";

/** Pinecone's upsert request limit; larger upserts get the engine's 400 from the catalog. */
const MAX_UPSERT_BYTES = 2 * 1024 * 1024;

/** Data-plane operations served by one namespace object; the namespace comes from the body or the query. */
const NAMESPACE_OPS: Record<string, "body" | "query"> = {
  "POST /vectors/upsert": "body",
  "POST /query": "body",
  "POST /vectors/update": "body",
  "POST /vectors/delete": "body",
  "DELETE /vectors/delete": "body",
  "POST /vectors/fetch_by_metadata": "body",
  "GET /vectors/fetch": "query",
  "GET /vectors/list": "query",
};

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

/**
 * Pinecone's 401: JSON on the control plane, plain text on the data plane. These are the
 * engine's `Api::unauthenticated` bodies, repeated here until the binding exposes it (README).
 */
function unauthenticated(path: string): Response {
  if (path.replace(/^\/+/, "").startsWith("indexes")) {
    return Response.json(
      { error: { code: "UNAUTHENTICATED", message: "Invalid API key." }, status: 401 },
      { status: 401 },
    );
  }
  return new Response("Unauthorized", { status: 401, headers: { "content-type": "text/plain" } });
}

/** An unexpected failure (a bug or a platform error), in the plane's error shape. */
function internalError(path: string): Response {
  if (path.startsWith("/indexes")) {
    return Response.json(
      { error: { code: "UNKNOWN", message: "Internal server error" }, status: 500 },
      { status: 500 },
    );
  }
  return Response.json({ code: 13, message: "Internal server error", details: [] }, { status: 500 });
}

function toResponse(r: EngineResponse): Response {
  const headers = new Headers(r.headers);
  headers.set("content-type", r.contentType);
  return new Response(r.body.length ? r.body : null, { status: r.status, headers });
}

/** A client's JSON body (`undefined` when it does not parse); untrusted, so `unknown`. */
function parseJson(body: Uint8Array): unknown {
  if (body.length === 0) return {};
  try {
    return JSON.parse(new TextDecoder().decode(body));
  } catch {
    return undefined;
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname;
    // Never log keys: nothing here logs requests or headers.
    if (!(await authorized(request, env))) return unauthenticated(path);
    try {
      const body = new Uint8Array(await request.arrayBuffer());
      const req: EngineRequest = {
        method: request.method.toUpperCase(),
        path,
        query: url.search.replace(/^\?/, ""),
        body,
        apiVersion: request.headers.get("X-Pinecone-Api-Version"),
      };
      return toResponse(await route(req, url.origin, env));
    } catch (e) {
      console.error("larch: internal error", path, e instanceof Error ? (e.stack ?? e.message) : String(e));
      return internalError(path);
    }
  },
} satisfies ExportedHandler<Env>;

async function route(req: EngineRequest, origin: string, env: Env): Promise<EngineResponse> {
  const catalog = catalogStub(env);
  const m = /^\/index\/([^/]+)(\/.*)?$/.exec(req.path);
  if (!m) return catalog.control(req, origin); // /indexes… and anything else (engine: 404)
  const index = decodeURIComponent(m[1]);
  const rest = (m[2] ?? "").replace(/\/+$/, "");
  const op = `${req.method} ${rest}`;

  const where = NAMESPACE_OPS[op];
  if (where) {
    let ns = "";
    if (where === "query") {
      ns = new URLSearchParams(req.query).get("namespace") ?? "";
    } else {
      const j = op === "POST /vectors/upsert" && req.body.length > MAX_UPSERT_BYTES ? undefined : parseJson(req.body);
      // Oversized or malformed bodies: the catalog's engine answers (no namespace object wakes).
      if (j === undefined || j === null || typeof j !== "object") return catalog.data(index, rest, req, origin);
      const named = (j as { namespace?: unknown }).namespace;
      if (typeof named === "string") ns = named;
    }
    const resolved = await catalog.resolve(index, origin);
    if (!resolved.target) return resolved.response;
    const t = resolved.target;
    return namespaceStub(env, index, t.incarnation, ns).handle({ ...t, ns }, rest, req, origin);
  }

  if (rest === "/describe_index_stats" && (req.method === "POST" || req.method === "GET")) {
    const j = parseJson(req.body);
    const filter = j && typeof j === "object" ? (j as { filter?: unknown }).filter : undefined;
    const filtered = !!filter && typeof filter === "object" && Object.keys(filter).length > 0;
    if (filtered) return filteredStats(catalog, env, index, rest, req, origin);
  }

  const nsMatch = /^\/namespaces\/([^/]+)$/.exec(rest);
  if (nsMatch && req.method === "DELETE") {
    return catalog.deleteNamespace(index, decodeURIComponent(nsMatch[1]), req, origin);
  }
  return catalog.data(index, rest, req, origin);
}

/** describe_index_stats with a filter: each namespace object counts its matches. */
async function filteredStats(
  catalog: DurableObjectStub<Catalog>,
  env: Env,
  index: string,
  rest: string,
  req: EngineRequest,
  origin: string,
): Promise<EngineResponse> {
  const resolved = await catalog.resolve(index, origin);
  if (!resolved.target) return resolved.response;
  const t = resolved.target;
  const { names } = await catalog.namespaces(index);
  const counts: Record<string, number> = {};
  const answers = await allLimited(names, 16, async (ns) => {
    const r = await namespaceStub(env, index, t.incarnation, ns).handle({ ...t, ns }, rest, req, origin);
    return { ns, r };
  });
  for (const { ns, r } of answers) {
    if (r.status !== 200) return r; // e.g. the engine rejects the filter
    const j = JSON.parse(new TextDecoder().decode(r.body));
    const n = Object.values((j.namespaces ?? {}) as Record<string, { vectorCount?: number }>)[0]?.vectorCount ?? 0;
    counts[ns] = n;
  }
  return catalog.data(index, rest, req, origin, counts);
}
