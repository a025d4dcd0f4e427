// The facade: @pinecone-database/pinecone's surface over the engine. Each call builds the REST
// request the SDK would send (path, query string, JSON body), sends it through the engine, and
// maps the REST response to the SDK's result shape. Validation, defaults and error messages are
// the engine's (src/api/); nothing of Pinecone's semantics is repeated here.

import { errorFromResponse, PineconeArgumentError, PineconeConflictError } from "./errors.js";
import {
  type BlobStore,
  type EngineResponse,
  Host,
  type HostOptions,
  type IndexingProgress,
  type SideVectors,
  type TextEmbedder,
} from "./host.js";
import type {
  ConfigureIndexOptions,
  ConfigureIndexResourceOptions,
  CreateIndexOptions,
  CreateNamespaceOptions,
  DeleteAllOptions,
  DeleteDocumentsOptions,
  DeleteDocumentsResponse,
  DeleteManyOptions,
  DeleteOneOptions,
  DescribeIndexStatsOptions,
  FetchByMetadataOptions,
  FetchByMetadataResponse,
  FetchDocumentsOptions,
  FetchDocumentsResponse,
  FetchOptions,
  FetchResponse,
  IndexList,
  IndexModel,
  IndexStatsDescription,
  ListDocumentsOptions,
  ListDocumentsResponse,
  ListNamespacesOptions,
  ListNamespacesResponse,
  ListOptions,
  ListResponse,
  NamespaceDescription,
  QueryOptions,
  QueryResponse,
  RecordMetadata,
  SearchDocumentsOptions,
  SearchDocumentsResponse,
  UpdateDocumentsOptions,
  UpdateDocumentsResponse,
  UpdateOptions,
  UpsertDocumentsOptions,
  UpsertDocumentsResponse,
  UpsertOptions,
  UpsertProgress,
} from "./types.js";
import { chunkUpsert, jsonValues, packSlots, sideable, sparseJson, yieldTask } from "./vectors.js";

/** Records serialised per task by a large upsert before it yields to the event loop. */
const YIELD_RECORDS = 2048;

/** Where a Larch database keeps its data. */
export type StorageOption =
  | "memory"
  /** Browsers (and workers with IndexedDB): the IndexedDB database of that name. */
  | { indexedDB: string }
  /**
   * Node: a directory, one file per blob with an atomic commit per write; processes sharing it
   * take turns (a lock per request). `lockTimeoutMs`: how long a request waits for another
   * process's lock before failing with code STORAGE_LOCKED (default 60 s).
   */
  | { directory: string; lockTimeoutMs?: number }
  /** Any store implementing the host boundary. */
  | BlobStore;

/**
 * The SDK's `PineconeConfiguration` fields, accepted so `new Pinecone({ apiKey })` runs unchanged;
 * Larch is local (no network, keys, retries or headers), so it ignores them.
 */
export type PineconeConfigurationFields = {
  apiKey?: string;
  controllerHostUrl?: string;
  fetchApi?: unknown;
  additionalHeaders?: Record<string, string>;
  sourceTag?: string;
  caller?: { provider?: string; model: string };
  maxRetries?: number;
  assistantRegion?: string;
};

export type LarchOptions = PineconeConfigurationFields & {
  /** Default: IndexedDB database "larch" in browsers, memory in Node and Workers. */
  storage?: StorageOption;
  /**
   * The `host` reported for indexes; `{name}` is the index name (default
   * `http://127.0.0.1:8787/index/{name}`, the local Worker's). `pc.index(name, host)` and
   * `pc.index({ host })` route a host of this form to its index.
   */
  hostTemplate?: string;
  /** Keep at most this many namespaces per index loaded (persistent storage only). */
  maxLoadedNamespaces?: number;
  /** Engine tuning: seal the memtable into a segment at this many records, etc. */
  sealRecords?: number;
  maxLogEntries?: number;
  maxSegments?: number;
  /** Sealed segments of at least this many records get an HNSW graph (default 2048). */
  annMinRecords?: number;
  /**
   * Search segments with a graph on int8 codes, rescoring candidates in f32 (same scores;
   * about 2x faster dense queries in wasm). On by default: the codes (1 byte per dimension)
   * are built by background indexing and stored with the segment, and with a store the
   * segment then pages its f32 vectors and metadata out of memory (read back by row group).
   * `false` keeps every vector resident and searches in f32.
   */
  int8?: boolean;
  /** Bytes of paged rows each namespace keeps cached between calls (default 16 MiB). */
  rowCacheBytes?: number;
  /**
   * The type of dense `values` in `fetch` and `query` results: `"array"` (default, as the
   * SDK: `number[]`) or `"float32array"` (`Float32Array`).
   */
  vectors?: "array" | "float32array";
  /**
   * How dense vectors reach the engine: `"bytes"` (default: as f32 bytes beside the JSON,
   * never printed or parsed) or `"json"` (inside the JSON body, as over REST). The answers
   * are the same; `"json"` is there for comparisons and benchmarks.
   */
  vectorTransport?: "bytes" | "json";
  /** Called after each background indexing step with the graph nodes built so far of all. */
  onIndexingProgress?: (progress: IndexingProgress) => void;
  /**
   * Runs the embedding model of integrated indexes (`createIndexForModel`, `upsertRecords`,
   * `searchRecords` by text, `inference.embed`). Node's entry point supplies one that loads
   * the package's `larch-embed` module and the weights from `model` (below); pass your own
   * to run the model elsewhere (a Web Worker, a server).
   */
  embedder?: TextEmbedder;
  /**
   * Where Node's default embedder finds all-MiniLM-L6-v2: a directory with
   * `model.int8.safetensors` (or `weights`: another file in it) and `vocab.txt`. Default:
   * `$LARCH_MODEL_HOME/all-minilm-l6-v2`, else `~/.cache/larch-models/all-minilm-l6-v2`
   * (what `scripts/fetch-model.sh` fills).
   */
  model?: { directory?: string; weights?: string };
  /**
   * Browsers, IndexedDB storage: ask `navigator.storage.persist()` so the browser does not
   * evict the database under storage pressure (default `true`; Firefox may show a prompt).
   * `false` never asks; `pc.persisted` then says whether it is persisted already.
   */
  persist?: boolean;
  /**
   * `larchdb/worker` only: `"shared"` (default with IndexedDB storage where `SharedWorker`
   * exists) runs one engine in a SharedWorker for every tab of the origin using the same
   * options, so tabs taking turns never reload a namespace; `"dedicated"` (default otherwise)
   * runs this client's engine in its own Worker.
   */
  worker?: "shared" | "dedicated";
};

/**
 * What a client sends requests through: the host loop in this thread (`Host`), or a proxy to
 * one in a Web Worker (the `larchdb/worker` entry).
 */
export type Transport = Pick<Host, "send" | "upsertLimits" | "flushIndexing" | "indexingProgress" | "close">;

/** What an entry point (browser / node / workerd / worker) plugs into the facade. */
export type Runtime = {
  /** Loads the wasm if needed (browser); undefined where loading is synchronous. */
  ready?: () => Promise<void>;
  /** Host options for a storage choice: the store, the lock, the broadcast. */
  storage: (
    option: StorageOption | undefined,
    larch: LarchCore,
    options: LarchOptions,
  ) => Partial<HostOptions> & { persistent: boolean };
  /** The embedder used when the options give none (Node: the package's model module). */
  embedder?: (options: LarchOptions) => TextEmbedder | undefined;
  /** A transport other than a host loop in this thread (the engine in a Web Worker). */
  connect?: (options: LarchOptions, larch: LarchCore) => Transport;
};

let runtime: Runtime | null = null;

/** Called once by the entry point. */
export function setRuntime(r: Runtime): void {
  runtime = r;
}

type Json = Record<string, unknown>;

const enc = encodeURIComponent;

/** Drops `undefined` and `null` fields, as the SDK's generated models do. */
function defined<T extends Json>(o: T): Partial<T> {
  const out: Json = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== null) out[k] = v;
  return out as Partial<T>;
}

const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** snake_case keys to camelCase, recursively (for specs; never for user maps such as tags). */
function camelKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(camelKeys);
  if (v && typeof v === "object") {
    const out: Json = {};
    for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[camel(k)] = camelKeys(x);
    return out;
  }
  return v;
}

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** camelCase keys to snake_case, recursively (for request specs; never for user maps). */
function snakeKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(snakeKeys);
  if (v && typeof v === "object") {
    const out: Json = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[snake(k)] = snakeKeys(x);
    return out;
  }
  return v;
}

/** A schema's field map: names as given (they are the user's), definitions converted by `keys`. */
function schemaWith(schema: unknown, keys: (v: unknown) => unknown): unknown {
  const fields = (schema as { fields?: Json } | undefined)?.fields;
  if (!fields || typeof fields !== "object") return schema;
  const out: Json = {};
  for (const [name, def] of Object.entries(fields)) out[name] = keys(def);
  return { ...(schema as Json), fields: out };
}

function toIndexModel(j: Json): IndexModel {
  const spec = camelKeys(j.spec) as { serverless?: { readCapacity?: unknown } } | undefined;
  return defined({
    name: j.name,
    host: j.host,
    privateHost: j.private_host,
    status: j.status,
    deployment: camelKeys(j.deployment),
    readCapacity: spec?.serverless?.readCapacity,
    schema: schemaWith(j.schema, camelKeys),
    tags: j.tags,
    deletionProtection: j.deletion_protection,
    dimension: j.dimension,
    metric: j.metric,
    vectorType: j.vector_type,
    spec,
    embed: j.embed === undefined || j.embed === null ? undefined : camelKeys(j.embed),
  }) as IndexModel;
}

/** SDK 9 types the int64 counts of a namespace as decimal strings. */
const int64 = (v: unknown) => (v === undefined || v === null ? undefined : String(v));

function toNamespaceDescription(j: Json): NamespaceDescription {
  return defined({
    name: j.name,
    recordCount: int64(j.record_count),
    schema: j.schema,
    indexedFields: j.indexed_fields,
    sizeBytes: int64(j.size_bytes),
  }) as NamespaceDescription;
}

/** The engine's default `hostTemplate` (src/api.rs, `ApiOptions::default`). */
export const DEFAULT_HOST_TEMPLATE = "http://127.0.0.1:8787/index/{name}";

const bareHost = (h: string) =>
  h
    .trim()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, "")
    .replace(/\/+$/, "");

/**
 * The index a host URL names: a host of the form `template` renders (with or without its
 * scheme, trailing slashes ignored), or a Pinecone host (`{name}-{project}.svc.{env}.pinecone.io`).
 * `undefined` when it names none.
 */
export function indexFromHost(host: string, template: string): string | undefined {
  const [before, after, ...more] = bareHost(template).split("{name}");
  if (after !== undefined && more.length === 0) {
    const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const m = new RegExp(`^${esc(before)}([^/]+)${esc(after)}$`, "i").exec(bareHost(host));
    if (m) {
      try {
        return decodeURIComponent(m[1]);
      } catch {
        return undefined;
      }
    }
  }
  const pinecone = /^([a-z0-9-]+)-[a-z0-9]+\.svc\.[^/]*pinecone\.io$/i.exec(bareHost(host));
  return pinecone?.[1];
}

/** `pc.index`'s options object (SDK 9's `IndexOptions`). */
export type IndexOptions = {
  name?: string;
  namespace?: string;
  host?: string;
  additionalHeaders?: Record<string, string>;
};

function query(params: Array<[string, unknown]>): string {
  const q = new URLSearchParams();
  for (const [k, v] of params) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) for (const x of v) q.append(k, String(x));
    else q.append(k, String(v));
  }
  return q.toString();
}

/** The values an engine response carries beside its JSON, by record id. */
function valuesById(r: EngineResponse): Map<unknown, Float32Array> | undefined {
  if (!r.values || !r.valueIds || !r.valueLengths) return undefined;
  const out = new Map<unknown, Float32Array>();
  let at = 0;
  for (const [i, id] of r.valueIds.entries()) {
    const n = r.valueLengths[i];
    out.set(id, r.values.subarray(at, at + n));
    at += n;
  }
  return out;
}

/** The client shared by every entry point (each exports it as `Larch`). */
export class LarchCore {
  /** @internal */
  readonly host: Transport;
  /** Result of `navigator.storage.persist()` (browsers with IndexedDB storage), once known. */
  persisted: Promise<boolean> = Promise.resolve(false);
  /** @internal Dense values of results as `Float32Array`s. */
  readonly float32Out: boolean;
  /** @internal Dense vectors travel to the engine as bytes. */
  readonly bytesIn: boolean;
  /** @internal The `hostTemplate` hosts are matched against. */
  readonly hostTemplate: string;
  /** SDK 9's control plane: `pc.indexes.create(...)`, `.list()`, `.describe(name)`, ... */
  readonly indexes: Indexes;

  /** `rt`: the entry point's runtime (several entries may be loaded in one page). */
  constructor(options: LarchOptions = {}, rt: Runtime | null = runtime) {
    if (!rt) throw new Error("larch: no runtime entry point loaded (import 'larchdb')");
    this.float32Out = options.vectors === "float32array";
    this.bytesIn = options.vectorTransport !== "json";
    this.hostTemplate = options.hostTemplate ?? DEFAULT_HOST_TEMPLATE;
    this.indexes = new Indexes(this);
    if (rt.connect) {
      this.host = rt.connect(options, this);
      return;
    }
    const storage = rt.storage(options.storage, this, options);
    this.host = new Host({
      ...storage,
      ready: rt.ready,
      maxLoadedNamespaces: options.maxLoadedNamespaces,
      onIndexingProgress: options.onIndexingProgress,
      embedder: options.embedder ?? rt.embedder?.(options),
      engine: defined({
        persistent: storage.persistent,
        hostTemplate: options.hostTemplate,
        sealRecords: options.sealRecords,
        maxLogEntries: options.maxLogEntries,
        maxSegments: options.maxSegments,
        annMinRecords: options.annMinRecords,
        int8: options.int8,
        rowCacheBytes: options.rowCacheBytes,
      }),
    });
  }

  /**
   * Waits until background indexing (HNSW graphs of sealed segments, built in bounded steps
   * between requests) has finished and been committed. Optional: queries are exact until a
   * graph is ready. Mostly for tests and benchmarks.
   */
  flushIndexing(): Promise<void> {
    return this.host.flushIndexing();
  }

  /**
   * Background indexing right now: graph nodes built of all being built, and whether any
   * work is pending. Reports also go to `onIndexingProgress` after every step.
   */
  indexingStatus(): IndexingProgress {
    return this.host.indexingProgress();
  }

  /** @internal Sends a request; resolves with the parsed JSON body, throws Pinecone errors. */
  async request(method: string, path: string, q = "", body?: unknown, vectors?: SideVectors): Promise<Json> {
    return (await this.exchange(method, path, q, body, vectors))[0];
  }

  /** @internal `request`, also returning the engine's response (for values beside the body). */
  async exchange(
    method: string,
    path: string,
    q = "",
    body?: unknown,
    vectors?: SideVectors,
  ): Promise<[Json, EngineResponse]> {
    const r: EngineResponse = await this.host.send(method, path, q, body, vectors);
    const text = r.body.length ? new TextDecoder().decode(r.body) : "";
    let json: unknown = {};
    if (text && r.contentType.includes("json")) {
      try {
        json = JSON.parse(text);
      } catch {
        json = {};
      }
    }
    if (r.status >= 400) throw errorFromResponse(r.status, json, text);
    return [(json ?? {}) as Json, r];
  }

  /**
   * Creates an index from SDK 8's options (`dimension`, `metric`, `spec`) or SDK 9's (`schema`,
   * `deployment`). With `suppressConflicts`, an existing index of that name is not an error
   * (the call then resolves with nothing), as in the SDK.
   */
  createIndex(options: CreateIndexOptions & { suppressConflicts?: false }): Promise<IndexModel>;
  // biome-ignore lint/suspicious/noConfusingVoidType: the TS SDK's signature (void on a suppressed conflict).
  createIndex(options: CreateIndexOptions): Promise<IndexModel | void>;
  // biome-ignore lint/suspicious/noConfusingVoidType: as above.
  async createIndex(options: CreateIndexOptions): Promise<IndexModel | void> {
    const { waitUntilReady, suppressConflicts, timeout: _timeout, ...o } = options ?? ({} as CreateIndexOptions);
    let body: Json;
    if (o.schema !== undefined || o.deployment !== undefined) {
      // SDK 9's native shape: the 2026-07 request body.
      body = defined({
        name: o.name,
        schema: schemaWith(o.schema, snakeKeys),
        deployment: snakeKeys(o.deployment),
        deletion_protection: o.deletionProtection,
        tags: o.tags,
        read_capacity: snakeKeys(o.readCapacity),
      });
    } else {
      const sparse = typeof o.vectorType === "string" && o.vectorType.toLowerCase() === "sparse";
      // The SDK sends the metric it defaults to; so does Larch.
      const metric = o.metric ?? (sparse ? "dotproduct" : "cosine");
      body = defined({
        name: o.name,
        dimension: o.dimension,
        metric,
        deletion_protection: o.deletionProtection,
        tags: o.tags,
        spec: o.spec,
        vector_type: o.vectorType,
      });
    }
    try {
      const j = await this.request("POST", "/indexes", "", body);
      if (waitUntilReady) return await this.describeIndex(o.name);
      return toIndexModel(j);
    } catch (e) {
      if (!(suppressConflicts && e instanceof PineconeConflictError)) throw e;
    }
  }

  /**
   * Creates an index with integrated embedding (the TS SDK's `createIndexForModel`):
   * `{name, cloud, region, embed: {model, fieldMap: {text: field}, metric?, readParameters?,
   * writeParameters?}, deletionProtection?, tags?, waitUntilReady?}`.
   */
  async createIndexForModel(options: CreateIndexForModelOptions): Promise<IndexModel> {
    const { waitUntilReady, suppressConflicts, embed, ...o } = options;
    try {
      const j = await this.request(
        "POST",
        "/indexes/create-for-model",
        "",
        defined({
          name: o.name,
          cloud: o.cloud,
          region: o.region,
          deletion_protection: o.deletionProtection,
          tags: o.tags,
          embed: defined({
            model: embed?.model,
            field_map: embed?.fieldMap,
            metric: embed?.metric,
            read_parameters: embed?.readParameters,
            write_parameters: embed?.writeParameters,
          }),
        }),
      );
      if (waitUntilReady) return await this.describeIndex(o.name);
      return toIndexModel(j);
    } catch (e) {
      if (!(suppressConflicts && e instanceof PineconeConflictError)) throw e;
      return await this.describeIndex(o.name);
    }
  }

  /** Pinecone's inference API on the models Larch runs: `embed`, `listModels`, `getModel`. */
  get inference(): Inference {
    return new Inference(this);
  }

  async describeIndex(indexName: string): Promise<IndexModel> {
    return toIndexModel(await this.request("GET", `/indexes/${enc(indexName)}`));
  }

  async listIndexes(): Promise<IndexList> {
    const j = await this.request("GET", "/indexes");
    return defined({ indexes: Array.isArray(j.indexes) ? j.indexes.map((x) => toIndexModel(x as Json)) : undefined });
  }

  async configureIndex(options: ConfigureIndexOptions): Promise<IndexModel> {
    const { name, deletionProtection, tags, readCapacity } = options ?? ({} as ConfigureIndexOptions);
    const spec = readCapacity === undefined ? undefined : { serverless: { read_capacity: readCapacity } };
    const j = await this.request(
      "PATCH",
      `/indexes/${enc(name)}`,
      "",
      defined({ spec, deletion_protection: deletionProtection, tags }),
    );
    return toIndexModel(j);
  }

  async deleteIndex(indexName: string): Promise<void> {
    await this.request("DELETE", `/indexes/${enc(indexName)}`);
  }

  /**
   * The data plane of an index, with the SDK's signatures: `index(name, host?, headers?)` (8.x
   * and 9.x) and `index({ name?, host?, namespace? })` (9.x). A `host` names its index (see
   * `hostTemplate`); one naming another index than `name` is a `PineconeArgumentError`, as is
   * a host that names no index when no `name` is given. Namespaces: `.namespace(ns)`.
   */
  index<T extends RecordMetadata = RecordMetadata>(options: IndexOptions): Index<T>;
  index<T extends RecordMetadata = RecordMetadata>(
    indexName: string,
    indexHostUrl?: string,
    additionalHeaders?: Record<string, string>,
  ): Index<T>;
  index<T extends RecordMetadata = RecordMetadata>(
    nameOrOptions: string | IndexOptions,
    indexHostUrl?: string,
    _additionalHeaders?: Record<string, string>,
  ): Index<T> {
    const o: IndexOptions =
      typeof nameOrOptions === "string" ? { name: nameOrOptions, host: indexHostUrl } : (nameOrOptions ?? {});
    if (!o.name && !o.host) throw new PineconeArgumentError("Either name or host must be provided in IndexOptions");
    let name = o.name;
    if (o.host) {
      const named = indexFromHost(o.host, this.hostTemplate);
      if (named !== undefined && name && named !== name) {
        throw new PineconeArgumentError(
          `The host "${o.host}" is the host of index "${named}", not of index "${name}". Pass the host of "${name}" (describeIndex("${name}").host) or leave it out.`,
        );
      }
      if (named === undefined && !name) {
        throw new PineconeArgumentError(
          `The host "${o.host}" names no index: Larch hosts look like "${this.hostTemplate}" (describeIndex(name).host).`,
        );
      }
      name = named ?? name;
    }
    return new Index<T>(this, name as string, o.namespace ?? "");
  }

  /** Alias of `index`, as in the SDK. */
  Index<T extends RecordMetadata = RecordMetadata>(options: IndexOptions): Index<T>;
  Index<T extends RecordMetadata = RecordMetadata>(
    indexName: string,
    indexHostUrl?: string,
    additionalHeaders?: Record<string, string>,
  ): Index<T>;
  Index<T extends RecordMetadata = RecordMetadata>(
    nameOrOptions: string | IndexOptions,
    indexHostUrl?: string,
    additionalHeaders?: Record<string, string>,
  ): Index<T> {
    return typeof nameOrOptions === "string"
      ? this.index<T>(nameOrOptions, indexHostUrl, additionalHeaders)
      : this.index<T>(nameOrOptions);
  }

  /** Releases the engine and closes the store. */
  close(): void {
    this.host.close();
  }
}

export type CreateIndexForModelOptions = {
  name: string;
  cloud: string;
  region: string;
  embed: {
    model: string;
    fieldMap: Record<string, string>;
    metric?: string;
    readParameters?: Record<string, unknown>;
    writeParameters?: Record<string, unknown>;
  };
  deletionProtection?: string;
  tags?: Record<string, string>;
  waitUntilReady?: boolean;
  suppressConflicts?: boolean;
};

/** The SDK's camelCase embed parameters (`inputType`) as the REST API spells them. */
function snakeParameters(p: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!p) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) out[k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = v;
  return out;
}

/** `pc.inference`: embeddings from the models Larch runs locally. */
export class Inference {
  constructor(private readonly client: LarchCore) {}

  /**
   * `embed(model, inputs, parameters?)` or `embed({model, inputs, parameters})` (SDK 6 and 7+
   * shapes): `{model, vectorType, data: [{values, vectorType}], usage: {totalTokens}}`.
   */
  async embed(
    modelOrOptions: string | { model: string; inputs: string[]; parameters?: Record<string, unknown> },
    inputs?: string[],
    parameters?: Record<string, unknown>,
  ): Promise<Json> {
    const o =
      typeof modelOrOptions === "string" ? { model: modelOrOptions, inputs: inputs ?? [], parameters } : modelOrOptions;
    const j = await this.client.request(
      "POST",
      "/embed",
      "",
      defined({
        model: o.model,
        inputs: o.inputs.map((text) => ({ text })),
        parameters: snakeParameters(o.parameters),
      }),
    );
    const data = Array.isArray(j.data) ? (j.data as Json[]) : [];
    const usage = (j.usage ?? {}) as Json;
    return {
      model: j.model,
      vectorType: j.vector_type,
      data: data.map((d) => ({ values: d.values, vectorType: d.vector_type })),
      usage: { totalTokens: usage.total_tokens },
    };
  }

  async listModels(): Promise<Json> {
    return this.client.request("GET", "/models");
  }

  async getModel(model: string): Promise<Json> {
    return this.client.request("GET", `/models/${enc(model)}`);
  }
}

/** SDK 9's `pc.indexes`: the control plane as a resource (the same calls as `pc.createIndex` & co.). */
export class Indexes {
  constructor(private readonly client: LarchCore) {}

  list(): Promise<IndexList> {
    return this.client.listIndexes();
  }

  create(options: CreateIndexOptions & { suppressConflicts?: false }): Promise<IndexModel>;
  // biome-ignore lint/suspicious/noConfusingVoidType: the TS SDK's signature (void on a suppressed conflict).
  create(options: CreateIndexOptions): Promise<IndexModel | void>;
  // biome-ignore lint/suspicious/noConfusingVoidType: as above.
  create(options: CreateIndexOptions): Promise<IndexModel | void> {
    return this.client.createIndex(options);
  }

  /** An index with integrated embedding: `pc.createIndexForModel`. */
  createForModel(options: CreateIndexForModelOptions): Promise<IndexModel> {
    return this.client.createIndexForModel(options);
  }

  describe(indexName: string): Promise<IndexModel> {
    return this.client.describeIndex(indexName);
  }

  delete(name: string): Promise<void> {
    return this.client.deleteIndex(name);
  }

  configure(name: string, options: ConfigureIndexResourceOptions): Promise<IndexModel> {
    return this.client.configureIndex({ ...options, name });
  }
}

/** SDK 9's `index.documents` (full-text search indexes): Larch's engine answers 501 for each. */
export class Documents {
  private readonly base: string;

  constructor(
    private readonly client: LarchCore,
    indexName: string,
    namespace: string,
  ) {
    this.base = `/index/${enc(indexName)}/namespaces/${enc(namespace || "__default__")}/documents`;
  }

  private async call<R>(method: string, op: string, body?: unknown): Promise<R> {
    return (await this.client.request(method, `${this.base}/${op}`, "", body)) as R;
  }
  upsert(options: UpsertDocumentsOptions): Promise<UpsertDocumentsResponse> {
    return this.call("POST", "upsert", options);
  }
  search(options: SearchDocumentsOptions): Promise<SearchDocumentsResponse> {
    return this.call("POST", "search", options);
  }
  fetch(options: FetchDocumentsOptions): Promise<FetchDocumentsResponse> {
    return this.call("POST", "fetch", options);
  }
  update(options: UpdateDocumentsOptions): Promise<UpdateDocumentsResponse> {
    return this.call("POST", "update", options);
  }
  list(options?: ListDocumentsOptions): Promise<ListDocumentsResponse> {
    return this.call("POST", "list", options ?? {});
  }
  delete(options: DeleteDocumentsOptions): Promise<DeleteDocumentsResponse> {
    return this.call("POST", "delete", options);
  }
}

/** One index (and a target namespace): upsert, query, fetch, update, delete, list, stats. */
export class Index<T extends RecordMetadata = RecordMetadata> {
  private readonly base: string;
  /** SDK 9's documents API of this namespace (not implemented by Larch: every call is a 501). */
  readonly documents: Documents;

  constructor(
    private readonly client: LarchCore,
    readonly indexName: string,
    private readonly targetNamespace: string,
  ) {
    this.base = `/index/${enc(indexName)}`;
    this.documents = new Documents(client, indexName, targetNamespace);
  }

  upsertDocuments(options: UpsertDocumentsOptions): Promise<UpsertDocumentsResponse> {
    return this.documents.upsert(options);
  }
  searchDocuments(options: SearchDocumentsOptions): Promise<SearchDocumentsResponse> {
    return this.documents.search(options);
  }
  fetchDocuments(options: FetchDocumentsOptions): Promise<FetchDocumentsResponse> {
    return this.documents.fetch(options);
  }
  deleteDocuments(options: DeleteDocumentsOptions): Promise<DeleteDocumentsResponse> {
    return this.documents.delete(options);
  }
  listDocuments(options?: ListDocumentsOptions): Promise<ListDocumentsResponse> {
    return this.documents.list(options);
  }
  updateDocuments(options: UpdateDocumentsOptions): Promise<UpdateDocumentsResponse> {
    return this.documents.update(options);
  }

  /** The same index, targeting namespace `ns`. */
  namespace(ns: string): Index<T> {
    return new Index<T>(this.client, this.indexName, ns);
  }

  private post(path: string, body: unknown, vectors?: SideVectors): Promise<Json> {
    return this.client.request("POST", this.base + path, "", body, vectors);
  }

  /** Dense values of a result as the client returns them (`side`: those beside the JSON, by id). */
  private values(v: unknown, id: unknown, side?: Map<unknown, Float32Array>): unknown {
    const s = side?.get(id);
    if (s) return s;
    return this.client.float32Out && Array.isArray(v) ? new Float32Array(v) : v;
  }

  /** Ask for values beside the JSON: only for `Float32Array` results (the same f32s either way). */
  private get sideOut(): boolean {
    return this.client.bytesIn && this.client.float32Out;
  }

  /**
   * Upserts `records` (any number: more than one request's worth — 1000 records or 2 MB of
   * JSON — are sent in several requests, each committed). Before the first is applied, every
   * request is validated by the engine, so an invalid record anywhere fails the whole call
   * with nothing written. `onProgress` is called after each request commits (the next waits
   * for a promise it returns).
   */
  async upsert(options: UpsertOptions<T>): Promise<void> {
    // The SDK 8 signature is `upsert({ records, namespace })`; a bare array (SDK ≤ 6) works too.
    const o = Array.isArray(options) ? { records: options as UpsertOptions<T>["records"] } : options;
    const namespace = o?.namespace ?? this.targetNamespace;
    const records = o?.records ?? [];
    const path = "/vectors/upsert";
    if (!Array.isArray(records)) {
      await this.post(path, { vectors: records, namespace });
      return;
    }
    const bytes = this.client.bytesIn;
    const pieces: string[] = new Array(records.length);
    const slots: Array<ArrayLike<number> | undefined> = new Array(records.length);
    for (const [i, r] of records.entries()) {
      // Serialising 50k records takes ~50 ms: yield now and then so the page stays responsive.
      if (i > 0 && i % YIELD_RECORDS === 0) await yieldTask();
      const side = bytes && sideable(r?.values);
      slots[i] = side ? r.values : undefined;
      pieces[i] = JSON.stringify(
        defined({
          id: r.id,
          values: side ? undefined : jsonValues(r.values),
          sparseValues: sparseJson(r.sparseValues),
          metadata: r.metadata,
        }),
      );
    }
    const limits = await this.client.host.upsertLimits(this.base + path);
    const chunks = chunkUpsert(pieces, namespace, limits.records, limits.bytes);
    const vectors = (c: { start: number; end: number }, validateOnly: boolean) =>
      bytes || validateOnly ? packSlots(slots.slice(c.start, c.end), validateOnly) : undefined;
    if (chunks.length > 1) for (const c of chunks) await this.post(path, c.body, vectors(c, true));
    for (const c of chunks) {
      await this.post(path, c.body, vectors(c, false));
      await o.onProgress?.({ upserted: c.end, total: records.length } satisfies UpsertProgress);
    }
  }

  async query(options: QueryOptions): Promise<QueryResponse<T>> {
    const o = options as QueryOptions & { vector?: unknown; sparseVector?: object; id?: string };
    const namespace = o.namespace ?? this.targetNamespace;
    const side = this.client.bytesIn && sideable(o.vector);
    const out = this.sideOut && o.includeValues === true;
    const slots = side ? packSlots([o.vector as ArrayLike<number>]) : undefined;
    const [j, r] = await this.client.exchange(
      "POST",
      `${this.base}/query`,
      "",
      defined({
        namespace,
        topK: o.topK,
        filter: o.filter,
        includeValues: o.includeValues,
        includeMetadata: o.includeMetadata,
        vector: side ? undefined : jsonValues(o.vector),
        sparseVector: sparseJson(o.sparseVector),
        id: o.id,
        scanFactor: o.scanFactor,
        maxCandidates: o.maxCandidates,
      }),
      out ? { ...slots, sideValues: true } : slots,
    );
    const sideValues = valuesById(r);
    const matches = Array.isArray(j.matches)
      ? (j.matches as Json[]).map((m) => defined({ ...m, values: this.values(m.values, m.id, sideValues) }))
      : [];
    return { matches, namespace, ...(j.usage ? { usage: j.usage } : {}) } as unknown as QueryResponse<T>;
  }

  async fetch(options: FetchOptions | string[]): Promise<FetchResponse<T>> {
    const o = Array.isArray(options) ? { ids: options } : options;
    const namespace = o?.namespace ?? this.targetNamespace;
    const [j, response] = await this.client.exchange(
      "GET",
      `${this.base}/vectors/fetch`,
      query([
        ["ids", o?.ids ?? []],
        ["namespace", namespace],
      ]),
      undefined,
      this.sideOut ? { sideValues: true } : undefined,
    );
    const sideValues = valuesById(response);
    const records: Json = {};
    for (const [id, r] of Object.entries((j.vectors ?? {}) as Record<string, Json>))
      records[id] = defined({ ...r, values: this.values(r.values, r.id, sideValues) });
    return {
      records,
      namespace: typeof j.namespace === "string" ? j.namespace : "",
      ...(j.usage ? { usage: j.usage } : {}),
    } as FetchResponse<T>;
  }

  /** Records matching `filter`, in id order, a page at a time (`pagination.next`). */
  async fetchByMetadata(options: FetchByMetadataOptions): Promise<FetchByMetadataResponse<T>> {
    const j = await this.client.request(
      "POST",
      `${this.base}/vectors/fetch_by_metadata`,
      "",
      defined({
        filter: options?.filter,
        limit: options?.limit,
        paginationToken: options?.paginationToken,
        namespace: options?.namespace ?? this.targetNamespace,
      }),
    );
    const records: Json = {};
    for (const [id, r] of Object.entries((j.vectors ?? {}) as Record<string, Json>))
      records[id] = defined({ ...r, values: this.values(r.values, r.id) });
    return defined({
      records,
      namespace: typeof j.namespace === "string" ? j.namespace : "",
      usage: j.usage,
      pagination: j.pagination ? defined(j.pagination as Json) : undefined,
    }) as FetchByMetadataResponse<T>;
  }

  async update(options: UpdateOptions<T>): Promise<void> {
    const side = this.client.bytesIn && sideable(options?.values);
    await this.post(
      "/vectors/update",
      defined({
        id: options?.id,
        values: side ? undefined : jsonValues(options?.values),
        sparseValues: sparseJson(options?.sparseValues),
        setMetadata: options?.metadata,
        namespace: options?.namespace ?? this.targetNamespace,
        filter: options?.filter,
      }),
      side ? packSlots([options.values as ArrayLike<number>]) : undefined,
    );
  }

  async deleteOne(options: DeleteOneOptions | string): Promise<void> {
    const o = typeof options === "string" ? { id: options } : options;
    await this.post("/vectors/delete", { ids: [o?.id], namespace: o?.namespace ?? this.targetNamespace });
  }

  async deleteMany(options: DeleteManyOptions | string[]): Promise<void> {
    const o: DeleteManyOptions = Array.isArray(options) ? { ids: options } : options;
    const namespace = o?.namespace ?? this.targetNamespace;
    await this.post("/vectors/delete", o?.ids ? { ids: o.ids, namespace } : defined({ namespace, filter: o?.filter }));
  }

  async deleteAll(options?: DeleteAllOptions): Promise<void> {
    await this.post("/vectors/delete", { deleteAll: true, namespace: options?.namespace ?? this.targetNamespace });
  }

  async listPaginated(options?: ListOptions): Promise<ListResponse> {
    const namespace = options?.namespace ?? this.targetNamespace;
    const j = await this.client.request(
      "GET",
      `${this.base}/vectors/list`,
      query([
        ["prefix", options?.prefix],
        ["limit", options?.limit],
        ["paginationToken", options?.paginationToken],
        ["namespace", namespace],
      ]),
    );
    return defined({
      vectors: Array.isArray(j.vectors) ? (j.vectors as Json[]).map((v) => defined(v)) : undefined,
      pagination: j.pagination ? defined(j.pagination as Json) : undefined,
      namespace: j.namespace,
      usage: j.usage,
    }) as ListResponse;
  }

  async describeIndexStats(options?: DescribeIndexStatsOptions): Promise<IndexStatsDescription> {
    const j = await this.post("/describe_index_stats", { ...options });
    const namespaces: Record<string, { recordCount: number }> = {};
    for (const [ns, s] of Object.entries((j.namespaces ?? {}) as Record<string, Json>)) {
      namespaces[ns] = { recordCount: (s.vectorCount ?? s.recordCount) as number };
    }
    return {
      namespaces,
      dimension: j.dimension as number | undefined,
      indexFullness: j.indexFullness as number | undefined,
      totalRecordCount: (j.totalVectorCount ?? j.totalRecordCount) as number | undefined,
    };
  }

  async listNamespaces(options?: ListNamespacesOptions): Promise<ListNamespacesResponse> {
    const j = await this.client.request(
      "GET",
      `${this.base}/namespaces`,
      query([
        ["limit", options?.limit],
        ["paginationToken", options?.paginationToken],
        ["prefix", options?.prefix],
      ]),
    );
    return defined({
      namespaces: Array.isArray(j.namespaces) ? (j.namespaces as Json[]).map(toNamespaceDescription) : undefined,
      pagination: j.pagination ? defined(j.pagination as Json) : undefined,
      totalCount: j.total_count,
    }) as ListNamespacesResponse;
  }

  /**
   * Upserts records of an integrated index (the SDK's `upsertRecords`): each has `_id` or
   * `id`, the index's text field (embedded by its model) and other fields (metadata). SDK 7+
   * shape `upsertRecords({records, namespace?})` or a bare array.
   */
  async upsertRecords(options: Json[] | { records: Json[]; namespace?: string }): Promise<void> {
    const o = Array.isArray(options) ? { records: options } : options;
    const ns = (o as { namespace?: string }).namespace ?? this.targetNamespace;
    const ndjson = o.records.map((r) => JSON.stringify(r)).join("\n");
    await this.client.request(
      "POST",
      `${this.base}/records/namespaces/${enc(ns || "__default__")}/upsert`,
      "",
      new TextEncoder().encode(ndjson),
    );
  }

  /**
   * Searches an integrated index (the SDK's `searchRecords`): `{query: {topK, inputs?: {text},
   * vector?: {values}, id?, filter?}, fields?, rerank?, namespace?}`. Returns
   * `{result: {hits: [{_id, _score, fields}]}, usage: {readUnits, embedTotalTokens?}}`.
   */
  async searchRecords(options: {
    query: { topK: number; inputs?: { text: string }; vector?: { values: number[] }; id?: string; filter?: Json };
    fields?: string[];
    rerank?: Json;
    namespace?: string;
  }): Promise<Json> {
    const ns = options.namespace ?? this.targetNamespace;
    const q = options.query;
    const j = await this.client.request(
      "POST",
      `${this.base}/records/namespaces/${enc(ns || "__default__")}/search`,
      "",
      defined({
        query: defined({ top_k: q.topK, inputs: q.inputs, vector: q.vector, id: q.id, filter: q.filter }),
        fields: options.fields,
        rerank: options.rerank,
      }),
    );
    const usage = (j.usage ?? {}) as Json;
    return {
      result: j.result,
      usage: defined({ readUnits: usage.read_units, embedTotalTokens: usage.embed_total_tokens }),
    };
  }

  async describeNamespace(namespace: string): Promise<NamespaceDescription> {
    return toNamespaceDescription(await this.client.request("GET", `${this.base}/namespaces/${enc(namespace)}`));
  }

  async createNamespace(options: CreateNamespaceOptions): Promise<NamespaceDescription> {
    return toNamespaceDescription(
      await this.post("/namespaces", defined({ name: options?.name, schema: options?.schema })),
    );
  }

  async deleteNamespace(namespace: string): Promise<void> {
    await this.client.request("DELETE", `${this.base}/namespaces/${enc(namespace)}`);
  }
}
