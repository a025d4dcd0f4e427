// The Catalog Durable Object: one per deployment. It holds
//   - the control plane: an engine whose database has every index's configuration, and one
//     empty "shell" namespace per namespace that exists in that index (so the engine itself
//     answers list/describe namespace and describe_index_stats, with names, pagination, legacy
//     default-namespace naming and error bodies);
//   - per (index, namespace) the record count the namespace objects report after each write,
//     patched into those answers (`ns_counts`);
//   - per index an incarnation number, part of every namespace object's name, so an index
//     deleted and created again never meets the old index's objects.

import { DurableObject } from "cloudflare:workers";
import { EngineHost, type EngineRequest, type EngineResponse, internal, jsonOf, SqlBlobs } from "./engine";
import type { Env } from "./env";
import { canonicalNamespace, namespaceStub } from "./names";
import type { Target } from "./namespace";

/** What the Worker needs to route one data-plane request of an index. */
/** The index's current incarnation, or the engine's answer when there is none. */
export type Resolved =
  | { target: Omit<Target, "ns">; response?: undefined }
  | { target?: undefined; response: EngineResponse };

const encoder = new TextEncoder();

function withBody(r: EngineResponse, body: unknown): EngineResponse {
  return { ...r, body: encoder.encode(JSON.stringify(body)) };
}

export class Catalog extends DurableObject<Env> {
  private readonly host: EngineHost;
  private readonly sql: SqlStorage;
  /** index name → resolution, dropped on every control-plane write. */
  private resolved = new Map<string, Resolved>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.host = new EngineHost(new SqlBlobs(ctx.storage));
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS indexes (name TEXT PRIMARY KEY, incarnation INTEGER NOT NULL);" +
        "CREATE TABLE IF NOT EXISTS ns_counts (idx TEXT NOT NULL, ns TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (idx, ns));" +
        "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);",
    );
  }

  private template(origin: string): string {
    return `${origin}/index/{name}`;
  }

  private incarnation(index: string): number | null {
    const rows = this.sql
      .exec<{ incarnation: number }>("SELECT incarnation FROM indexes WHERE name = ?", index)
      .toArray();
    return rows.length ? rows[0].incarnation : null;
  }

  private namespacesOf(index: string): string[] {
    return this.sql
      .exec<{ ns: string }>("SELECT ns FROM ns_counts WHERE idx = ?", index)
      .toArray()
      .map((r) => r.ns);
  }

  private count(index: string, ns: string): number | null {
    const rows = this.sql
      .exec<{ count: number }>("SELECT count FROM ns_counts WHERE idx = ? AND ns = ?", index, canonicalNamespace(ns))
      .toArray();
    return rows.length ? rows[0].count : null;
  }

  /** Control plane: `/indexes…`, answered by the engine; index lifecycle bookkeeping here. */
  async control(req: EngineRequest, origin: string): Promise<EngineResponse> {
    const { response, writes } = this.host.run(req, this.template(origin));
    const segments = req.path.split("/").filter(Boolean);
    const method = req.method.toUpperCase();
    if (method === "POST" && segments.length === 1 && response.status === 201) {
      const name = jsonOf(response)?.name as string;
      this.host.commit(writes, () => {
        const next =
          (this.sql.exec<{ v: number }>("SELECT v FROM meta WHERE k = 'next_incarnation'").toArray()[0]?.v ?? 0) + 1;
        this.sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('next_incarnation', ?)", next);
        this.sql.exec("INSERT OR REPLACE INTO indexes (name, incarnation) VALUES (?, ?)", name, next);
      });
    } else if (method === "DELETE" && segments.length === 2 && response.status < 300) {
      const name = decodeURIComponent(segments[1]);
      const incarnation = this.incarnation(name);
      const namespaces = this.namespacesOf(name);
      this.host.commit(writes, () => {
        this.sql.exec("DELETE FROM indexes WHERE name = ?", name);
        this.sql.exec("DELETE FROM ns_counts WHERE idx = ?", name);
      });
      // Offboard every namespace object of the index (their names include the incarnation, so
      // even an object missed here is unreachable from a later index of the same name).
      if (incarnation !== null) {
        await allLimited(namespaces, 32, (ns) => namespaceStub(this.env, name, incarnation, ns).drop());
      }
    } else {
      this.host.commit(writes);
    }
    if (writes.length) this.resolved.clear();
    return response;
  }

  /** Index name → what its namespace objects need, or the data-plane error to answer. */
  async resolve(index: string, origin: string): Promise<Resolved> {
    const cached = this.resolved.get(index);
    if (cached) return cached;
    const template = this.template(origin);
    const r = this.host.handle(internal("GET", `/indexes/${encodeURIComponent(index)}`), template);
    const incarnation = this.incarnation(index);
    if (r.status !== 200 || incarnation === null) {
      // The data plane's 404 (rpc-status body) for this index, in the engine's words.
      const notFound = this.host.handle(
        internal("POST", `/index/${encodeURIComponent(index)}/describe_index_stats`),
        template,
      );
      return { response: notFound };
    }
    const m = jsonOf(r);
    const spec = m.spec?.serverless
      ? { serverless: { cloud: m.spec.serverless.cloud, region: m.spec.serverless.region } }
      : m.spec;
    const create: Record<string, unknown> = { name: m.name, metric: m.metric, vector_type: m.vector_type, spec };
    if (typeof m.dimension === "number") create.dimension = m.dimension;
    const out = {
      target: {
        index,
        incarnation,
        create: JSON.stringify(create),
        dimension: typeof m.dimension === "number" ? m.dimension : null,
      },
    };
    this.resolved.set(index, out);
    return out;
  }

  /**
   * A namespace object's record count after a write (`null`: the namespace no longer exists).
   * Creates or drops the shell namespace as needed. Ignored for a stale incarnation.
   */
  async noteCount(index: string, incarnation: number, ns: string, count: number | null): Promise<void> {
    if (this.incarnation(index) !== incarnation) return;
    const canon = canonicalNamespace(ns);
    const known = this.count(index, canon);
    const base = `/index/${encodeURIComponent(index)}/namespaces`;
    if (count === null) {
      if (known === null) return;
      const { writes } = this.host.run(internal("DELETE", `${base}/${encodeURIComponent(canon)}`));
      this.host.commit(writes, () => this.sql.exec("DELETE FROM ns_counts WHERE idx = ? AND ns = ?", index, canon));
      return;
    }
    if (known === count) return;
    const writes = known === null ? this.host.run(internal("POST", base, { name: canon })).writes : [];
    this.host.commit(writes, () =>
      this.sql.exec("INSERT OR REPLACE INTO ns_counts (idx, ns, count) VALUES (?, ?, ?)", index, canon, count),
    );
  }

  /**
   * Namespace-level requests answered from the catalog: describe_index_stats, list/describe/
   * create namespaces, and anything that needs no namespace object (unknown routes, bulk
   * imports, oversized bodies): the engine answers over the shell namespaces and we patch in
   * the reported counts. `countsFrom` overrides counts (stats with a filter, computed by the
   * namespace objects).
   */
  async data(
    index: string,
    rest: string,
    req: EngineRequest,
    origin: string,
    countsFrom?: Record<string, number>,
  ): Promise<EngineResponse> {
    const path = `/index/${encodeURIComponent(index)}${rest}`;
    const method = req.method.toUpperCase();
    const isStats = rest === "/describe_index_stats";
    // Stats: the shell index has no records, so a filter changes nothing in the engine's
    // answer except validation; counts come from us (or from the namespace objects).
    const { response, writes } = this.host.run({ ...req, path }, this.template(origin));
    const incarnation = this.incarnation(index);
    if (method === "POST" && rest === "/namespaces" && response.status === 200 && incarnation !== null) {
      const name = jsonOf(response)?.name as string;
      this.host.commit(writes, () =>
        this.sql.exec(
          "INSERT OR IGNORE INTO ns_counts (idx, ns, count) VALUES (?, ?, 0)",
          index,
          canonicalNamespace(name),
        ),
      );
      return response;
    }
    this.host.commit(writes);
    if (response.status !== 200) return response;
    // Filtered stats: the request above validated the filter; the names come from an
    // unfiltered answer, and (as the engine does under a filter) namespaces without a match
    // are left out.
    const answer = isStats && countsFrom ? this.host.handle({ ...req, path, body: new Uint8Array(0) }) : response;
    const body = jsonOf(answer);
    if (!body) return response;
    const countOf = (name: string) =>
      countsFrom ? (countsFrom[canonicalNamespace(name)] ?? 0) : (this.count(index, name) ?? 0);
    if (isStats && body.namespaces && typeof body.namespaces === "object") {
      let total = 0;
      for (const name of Object.keys(body.namespaces)) {
        const n = countOf(name);
        if (countsFrom && n === 0) delete body.namespaces[name];
        else body.namespaces[name] = { ...body.namespaces[name], vectorCount: n };
        total += n;
      }
      body.totalVectorCount = total;
      return withBody(response, body);
    }
    if (method === "GET" && rest === "/namespaces" && Array.isArray(body.namespaces)) {
      for (const d of body.namespaces) d.record_count = countOf(d.name);
      return withBody(response, body);
    }
    if (method === "GET" && rest.startsWith("/namespaces/") && typeof body.name === "string") {
      body.record_count = countOf(body.name);
      return withBody(response, body);
    }
    return response;
  }

  /**
   * `DELETE /namespaces/{ns}`: drops the namespace object's storage first (offboarding), then
   * the shell namespace and its count. An unknown namespace gets the engine's 404.
   */
  async deleteNamespace(index: string, ns: string, req: EngineRequest, origin: string): Promise<EngineResponse> {
    const incarnation = this.incarnation(index);
    if (incarnation !== null && this.count(index, ns) !== null) {
      await namespaceStub(this.env, index, incarnation, ns).drop();
    }
    const path = `/index/${encodeURIComponent(index)}/namespaces/${encodeURIComponent(ns)}`;
    const { response, writes } = this.host.run({ ...req, path }, this.template(origin));
    this.host.commit(writes, () => {
      if (response.status === 200)
        this.sql.exec("DELETE FROM ns_counts WHERE idx = ? AND ns = ?", index, canonicalNamespace(ns));
    });
    return response;
  }

  /** Namespaces of an index (canonical names) with their objects' incarnation. */
  async namespaces(index: string): Promise<{ incarnation: number | null; names: string[] }> {
    return { incarnation: this.incarnation(index), names: this.namespacesOf(index) };
  }
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function allLimited<T, R>(items: T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  });
  await Promise.all(workers);
  return out;
}
