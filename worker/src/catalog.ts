// The Catalog Durable Object: one per deployment. It holds
//   - the control plane: an engine whose database has every index's configuration (and no
//     namespaces: those live in the namespace objects);
//   - per index an incarnation number, part of every namespace object's name, so an index
//     deleted and created again never meets the old index's objects, with the create request
//     that made the index (the namespace objects create their copy from it);
//   - the namespace registry: per index, the names of the namespaces that may exist (a
//     superset: a namespace is registered before its first write commits). Stats and listings
//     ask each registered namespace object for its committed count, and the engine renders the
//     answer from those counts; names whose objects hold nothing are pruned.
// It is not on the path of data-plane requests to a warm namespace: the Worker caches index
// resolution per isolate, and a namespace object validates it (see namespace.ts).

import { DurableObject } from "cloudflare:workers";
import { EngineHost, type EngineRequest, type EngineResponse, internal, jsonOf, SqlBlobs } from "./engine";
import type { Env } from "./env";
import { namespaceStub } from "./names";
import type { Count, Target } from "./namespace";

/** The index's current incarnation, or the engine's answer when there is none. */
export type Resolved = { target: Target; response?: undefined } | { target?: undefined; response: EngineResponse };

/** Namespace objects asked at once by a listing or an index deletion. */
const FAN_OUT = 32;

export class Catalog extends DurableObject<Env> {
  private readonly host: EngineHost;
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.host = new EngineHost(new SqlBlobs(ctx.storage));
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS incarnations (name TEXT PRIMARY KEY, incarnation INTEGER NOT NULL, create_body TEXT NOT NULL, api_version TEXT NOT NULL);" +
        "CREATE TABLE IF NOT EXISTS registry (idx TEXT NOT NULL, ns TEXT NOT NULL, gen INTEGER NOT NULL, PRIMARY KEY (idx, ns));" +
        "CREATE TABLE IF NOT EXISTS drops (idx TEXT NOT NULL, incarnation INTEGER NOT NULL, ns TEXT NOT NULL, PRIMARY KEY (idx, incarnation, ns));" +
        "CREATE TABLE IF NOT EXISTS counters (k TEXT PRIMARY KEY, v INTEGER NOT NULL);",
    );
  }

  private template(origin: string): string {
    return `${origin}/index/{name}`;
  }

  private next(counter: string): number {
    const v = (this.sql.exec<{ v: number }>("SELECT v FROM counters WHERE k = ?", counter).toArray()[0]?.v ?? 0) + 1;
    this.sql.exec("INSERT OR REPLACE INTO counters (k, v) VALUES (?, ?)", counter, v);
    return v;
  }

  private incarnation(index: string): number | null {
    const rows = this.sql
      .exec<{ incarnation: number }>("SELECT incarnation FROM incarnations WHERE name = ?", index)
      .toArray();
    return rows.length ? rows[0].incarnation : null;
  }

  private registered(index: string): Array<{ ns: string; gen: number }> {
    return this.sql
      .exec<{ ns: string; gen: number }>("SELECT ns, gen FROM registry WHERE idx = ? ORDER BY ns", index)
      .toArray();
  }

  /** Control plane: `/indexes…` and requests no namespace needs, answered by the engine. */
  async control(req: EngineRequest, origin: string): Promise<EngineResponse> {
    const { response, writes } = await this.host.run(req, this.template(origin));
    const segments = req.path.split("/").filter(Boolean);
    const method = req.method.toUpperCase();
    if (method === "POST" && segments.length === 1 && segments[0] === "indexes" && response.status === 201) {
      const name = jsonOf(response)?.name as string;
      const body = new TextDecoder().decode(req.body);
      this.host.commit(writes, () => {
        this.sql.exec(
          "INSERT OR REPLACE INTO incarnations (name, incarnation, create_body, api_version) VALUES (?, ?, ?, ?)",
          name,
          this.next("incarnation"),
          body,
          req.apiVersion ?? "2025-04",
        );
      });
    } else if (method === "DELETE" && segments.length === 2 && segments[0] === "indexes" && response.status < 300) {
      const name = this.deletedName(req);
      const incarnation = name === null ? null : this.incarnation(name);
      await this.ctx.storage.setAlarm(Date.now() + 60_000); // resumes the drops if cut short
      this.host.commit(writes, () => {
        if (name === null || incarnation === null) return;
        // The index is gone as of this commit; its namespace objects are dropped next (and
        // again after a crash, from `drops`), before the delete is acknowledged.
        for (const { ns } of this.registered(name))
          this.sql.exec("INSERT OR IGNORE INTO drops (idx, incarnation, ns) VALUES (?, ?, ?)", name, incarnation, ns);
        this.sql.exec("DELETE FROM incarnations WHERE name = ?", name);
        this.sql.exec("DELETE FROM registry WHERE idx = ?", name);
      });
      await this.finishDrops();
    } else {
      this.host.commit(writes);
    }
    return response;
  }

  /** The index a `DELETE /indexes/{name}` named (the engine decoded and validated it). */
  private deletedName(req: EngineRequest): string | null {
    const raw = req.path.split("/").filter(Boolean)[1];
    try {
      return decodeURIComponent(raw);
    } catch {
      return null;
    }
  }

  /** Drops the namespace objects of deleted indexes. */
  private async finishDrops(): Promise<void> {
    const pending = this.sql
      .exec<{ idx: string; incarnation: number; ns: string }>("SELECT idx, incarnation, ns FROM drops")
      .toArray();
    await allLimited(pending, FAN_OUT, async ({ idx, incarnation, ns }) => {
      await namespaceStub(this.env, idx, incarnation, ns).drop();
      this.sql.exec("DELETE FROM drops WHERE idx = ? AND incarnation = ? AND ns = ?", idx, incarnation, ns);
    });
  }

  async alarm(): Promise<void> {
    await this.finishDrops();
  }

  /** Index name → what its namespace objects need, or the data-plane error to answer. */
  async resolve(index: string): Promise<Resolved> {
    const rows = this.sql
      .exec<{ incarnation: number; create_body: string; api_version: string }>(
        "SELECT incarnation, create_body, api_version FROM incarnations WHERE name = ?",
        index,
      )
      .toArray();
    if (!rows.length) {
      // The data plane's 404 for this index, in the engine's words.
      const path = `/index/${encodeURIComponent(index)}/describe_index_stats`;
      return { response: await this.host.handle(internal("POST", path)) };
    }
    const r = rows[0];
    return { target: { index, incarnation: r.incarnation, create: r.create_body, apiVersion: r.api_version } };
  }

  /** True while `incarnation` is the index's current one. */
  async alive(index: string, incarnation: number): Promise<boolean> {
    return this.incarnation(index) === incarnation;
  }

  /** Registers a namespace before its object's first write commits; false for a dead incarnation. */
  async register(index: string, incarnation: number, ns: string): Promise<boolean> {
    if (this.incarnation(index) !== incarnation) return false;
    this.sql.exec("INSERT OR REPLACE INTO registry (idx, ns, gen) VALUES (?, ?, ?)", index, ns, this.next("gen"));
    return true;
  }

  /**
   * Stats and the namespace listing of one index: every registered namespace object reports
   * its committed count, the engine renders the answer from them, and names whose objects
   * hold nothing (and had no write in flight, and were not registered again meanwhile) are
   * pruned from the registry.
   */
  async indexWide(index: string, req: EngineRequest, origin: string): Promise<EngineResponse> {
    const incarnation = this.incarnation(index);
    const names = incarnation === null ? [] : this.registered(index);
    // API versions whose namespace descriptions carry `size_bytes` (2026-07 and later): each
    // object then reports its resident bytes too (loading its namespace).
    const sizes = (req.apiVersion ?? "") >= "2026-07";
    const counts = await allLimited(names, FAN_OUT, async ({ ns, gen }) => {
      const c: Count = await namespaceStub(this.env, index, incarnation ?? 0, ns).count(sizes);
      return { ns, gen, ...c };
    });
    for (const { ns, gen, count, busy } of counts) {
      if (count === null && !busy)
        this.sql.exec("DELETE FROM registry WHERE idx = ? AND ns = ? AND gen = ?", index, ns, gen);
    }
    const namespaces = counts.flatMap(({ ns, count, sizeBytes }) =>
      count === null ? [] : [{ name: ns, recordCount: count, sizeBytes }],
    );
    const { response, writes } = await this.host.run({ ...req, namespaces }, this.template(origin));
    this.host.commit(writes);
    return response;
  }
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function allLimited<T, R>(items: T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
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
