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
import { Engine } from "larchdb";
import { EngineHost, type EngineRequest, type EngineResponse, internal, jsonOf, SqlBlobs } from "./engine";
import type { Env } from "./env";
import { namespaceStub, shardKey } from "./names";
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
    // shardHost: this host routes by read capacity and enforces a pause itself, and the
    // engine refuses a change of an index's shard count (records cannot move yet).
    this.host = new EngineHost(new SqlBlobs(ctx.storage), { shardHost: true });
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS incarnations (name TEXT PRIMARY KEY, incarnation INTEGER NOT NULL, create_body TEXT NOT NULL, api_version TEXT NOT NULL);" +
        "CREATE TABLE IF NOT EXISTS registry (idx TEXT NOT NULL, ns TEXT NOT NULL, gen INTEGER NOT NULL, PRIMARY KEY (idx, ns));" +
        "CREATE TABLE IF NOT EXISTS drops (idx TEXT NOT NULL, incarnation INTEGER NOT NULL, ns TEXT NOT NULL, PRIMARY KEY (idx, incarnation, ns));" +
        "CREATE TABLE IF NOT EXISTS counters (k TEXT PRIMARY KEY, v INTEGER NOT NULL);" +
        // Per index, the capacity epoch: raised at every pause and resume (absent: 0).
        "CREATE TABLE IF NOT EXISTS capacity (idx TEXT PRIMARY KEY, epoch INTEGER NOT NULL);",
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

  /**
   * An index's read capacity as its configuration says: the shard objects per namespace and
   * whether it is paused (`replicas: 0`); null when there is no such index.
   */
  private async capacity(index: string): Promise<{ shards: number; paused: boolean } | null> {
    const r = await this.host.handle(internal("GET", `/indexes/${encodeURIComponent(index)}`));
    if (r.status !== 200) return null;
    const rc = jsonOf(r)?.spec?.serverless?.read_capacity;
    const manual = rc?.mode === "Dedicated" ? rc?.dedicated?.manual : undefined;
    const shards = Number(manual?.shards ?? 1);
    return { shards: Number.isInteger(shards) && shards > 0 ? shards : 1, paused: manual?.replicas === 0 };
  }

  private epoch(index: string): number {
    return this.sql.exec<{ epoch: number }>("SELECT epoch FROM capacity WHERE idx = ?", index).toArray()[0]?.epoch ?? 0;
  }

  /** Control plane: `/indexes…` and requests no namespace needs, answered by the engine. */
  async control(req: EngineRequest, origin: string): Promise<EngineResponse> {
    const segments = req.path.split("/").filter(Boolean);
    const method = req.method.toUpperCase();
    const named = segments.length === 2 && segments[0] === "indexes" ? this.deletedName(req) : null;
    const before = named !== null && (method === "PATCH" || method === "DELETE") ? await this.capacity(named) : null;
    const { response, writes } = await this.host.run(req, this.template(origin));
    if (method === "PATCH" && named !== null && before !== null && response.status < 300) {
      const after = await this.capacity(named);
      if (after !== null && after.paused !== before.paused) {
        // A pause or resume: a new epoch, told to every namespace object before the change
        // is acknowledged, so no isolate's cached target serves past it.
        const epoch = this.next("epoch");
        this.host.commit(writes, () =>
          this.sql.exec("INSERT OR REPLACE INTO capacity (idx, epoch) VALUES (?, ?)", named, epoch),
        );
        await this.tellEpoch(named, after.shards, epoch);
        return response;
      }
    }
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
        // One row per shard object (`ns`, `ns§1`, …: `drops.ns` is the object's key).
        for (const { ns } of this.registered(name))
          for (let s = 0; s < (before?.shards ?? 1); s++)
            this.sql.exec(
              "INSERT OR IGNORE INTO drops (idx, incarnation, ns) VALUES (?, ?, ?)",
              name,
              incarnation,
              shardKey(ns, s),
            );
        this.sql.exec("DELETE FROM capacity WHERE idx = ?", name);
        this.sql.exec("DELETE FROM incarnations WHERE name = ?", name);
        this.sql.exec("DELETE FROM registry WHERE idx = ?", name);
      });
      await this.finishDrops();
    } else {
      this.host.commit(writes);
    }
    return response;
  }

  /** Tells every registered namespace object of `index` its new capacity epoch. */
  private async tellEpoch(index: string, shards: number, epoch: number): Promise<void> {
    const incarnation = this.incarnation(index);
    if (incarnation === null) return;
    const objects = this.registered(index).flatMap(({ ns }) => Array.from({ length: shards }, (_, s) => ({ ns, s })));
    await allLimited(objects, FAN_OUT, ({ ns, s }) =>
      namespaceStub(this.env, index, incarnation, ns, s).setEpoch(epoch),
    );
  }

  /** The index a `/indexes/{name}` request named (the engine decoded and validated it). */
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
    const capacity = (await this.capacity(index)) ?? { shards: 1, paused: false };
    return {
      target: {
        index,
        incarnation: r.incarnation,
        create: r.create_body,
        apiVersion: r.api_version,
        ...capacity,
        epoch: this.epoch(index),
      },
    };
  }

  /** The index's capacity epoch while `incarnation` is its current one, else null. */
  async epochOf(index: string, incarnation: number): Promise<number | null> {
    return this.incarnation(index) === incarnation ? this.epoch(index) : null;
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
    const capacity = incarnation === null ? null : await this.capacity(index);
    if (capacity?.paused) return Engine.indexPaused(req.path, index) as EngineResponse;
    const shards = capacity?.shards ?? 1;
    const names = incarnation === null ? [] : this.registered(index);
    // API versions whose namespace descriptions carry `size_bytes` (2026-07 and later): each
    // object then reports its resident bytes too (loading its namespace).
    const sizes = (req.apiVersion ?? "") >= "2026-07";
    // A namespace of several shards: the sum of its shard objects' counts (absent when none
    // of them holds it).
    const counts = await allLimited(names, FAN_OUT, async ({ ns, gen }) => {
      const parts: Count[] = await Promise.all(
        Array.from({ length: shards }, (_, s) => namespaceStub(this.env, index, incarnation ?? 0, ns, s).count(sizes)),
      );
      const held = parts.filter((c) => c.count !== null);
      const count = held.length ? held.reduce((n, c) => n + (c.count ?? 0), 0) : null;
      const sizeBytes = parts.reduce((n, c) => n + c.sizeBytes, 0);
      return { ns, gen, count, sizeBytes, busy: parts.some((c) => c.busy) };
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
