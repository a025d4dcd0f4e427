// Argument and result shapes of @pinecone-database/pinecone 8.2 (same names and fields), so
// code written against that SDK type-checks against Larch.

export type RecordId = string;
export type RecordValues = Array<number>;
export type RecordSparseValues = { indices: Array<number>; values: Array<number> };
export type RecordMetadataValue = string | boolean | number | Array<string>;
export type RecordMetadata = Record<string, RecordMetadataValue>;
export type PineconeRecord<T extends RecordMetadata = RecordMetadata> = {
  id: RecordId;
  values?: RecordValues;
  sparseValues?: RecordSparseValues;
  metadata?: T;
};
export type OperationUsage = { readUnits?: number };

/**
 * Dense values as Larch takes them: `number[]` (the SDK's type), `Float32Array`, or any array
 * of numbers. Results carry `number[]`, or `Float32Array` with `new Larch({ vectors: "float32array" })`.
 */
export type VectorValues = RecordValues | Float32Array | ArrayLike<number>;
export type SparseValuesInput = { indices: ArrayLike<number>; values: ArrayLike<number> };
/** A record to upsert: a `PineconeRecord` whose values may be any `VectorValues`. */
export type PineconeRecordInput<T extends RecordMetadata = RecordMetadata> = {
  id: RecordId;
  values?: VectorValues;
  sparseValues?: SparseValuesInput;
  metadata?: T;
};

/** Reported after each request of an upsert commits: records upserted so far, of `total`. */
export type UpsertProgress = { upserted: number; total: number };

export type UpsertOptions<T extends RecordMetadata = RecordMetadata> = {
  records: Array<PineconeRecordInput<T>>;
  namespace?: string;
  /** Larch: called after each request of a large upsert commits, in order; a promise it returns is awaited. */
  onProgress?: (progress: UpsertProgress) => void | Promise<void>;
};

export type QueryShared = {
  topK: number;
  includeValues?: boolean;
  includeMetadata?: boolean;
  filter?: object;
  namespace?: string;
  scanFactor?: number;
  maxCandidates?: number;
};
export type QueryByRecordId = QueryShared & { id: string };
export type QueryByVectorValues = QueryShared & { vector: VectorValues; sparseVector?: SparseValuesInput };
export type QueryOptions = QueryByRecordId | QueryByVectorValues;
export interface ScoredPineconeRecord<T extends RecordMetadata = RecordMetadata> extends PineconeRecord<T> {
  score?: number;
}
export type QueryResponse<T extends RecordMetadata = RecordMetadata> = {
  matches: Array<ScoredPineconeRecord<T>>;
  namespace: string;
  usage?: OperationUsage;
};

export type FetchOptions = { ids: Array<RecordId>; namespace?: string };
export type FetchResponse<T extends RecordMetadata = RecordMetadata> = {
  records: { [key: string]: PineconeRecord<T> };
  namespace: string;
  usage?: OperationUsage;
};

export type UpdateOptions<T extends RecordMetadata = RecordMetadata> = {
  id?: RecordId;
  values?: VectorValues;
  sparseValues?: SparseValuesInput;
  metadata?: Partial<T>;
  filter?: object;
  namespace?: string;
};

export type DeleteOneOptions = { id: string; namespace?: string };
export type DeleteManyOptions = { ids?: Array<RecordId>; filter?: object; namespace?: string };
export type DeleteAllOptions = { namespace?: string };

export type ListOptions = { prefix?: string; limit?: number; paginationToken?: string; namespace?: string };
export type Pagination = { next?: string };
export type ListItem = { id?: string };
export type ListResponse = {
  vectors?: Array<ListItem>;
  pagination?: Pagination;
  namespace?: string;
  usage?: OperationUsage;
};

export type IndexStatsNamespaceSummary = { recordCount: number };
export type IndexStatsDescription = {
  namespaces?: { [key: string]: IndexStatsNamespaceSummary };
  dimension?: number;
  indexFullness?: number;
  totalRecordCount?: number;
};
export type DescribeIndexStatsOptions = { filter: object };

export interface ListNamespacesOptions {
  limit?: number;
  paginationToken?: string;
  prefix?: string;
}
export type NamespaceDescription = {
  name?: string;
  recordCount?: number;
  schema?: { fields: { [key: string]: { filterable?: boolean } } };
  indexedFields?: { fields?: Array<string> };
  sizeBytes?: number;
};
export type ListNamespacesResponse = {
  namespaces?: Array<NamespaceDescription>;
  pagination?: Pagination;
  totalCount?: number;
};
export type CreateNamespaceOptions = {
  name: string;
  schema?: { fields: { [key: string]: { filterable?: boolean } } };
};

// Control plane.
export type IndexName = string;
export type DeletionProtection = "enabled" | "disabled";
export type ServerlessSpec = { cloud: string; region: string; sourceCollection?: string; readCapacity?: object };
export type CreateIndexSpec = { serverless?: ServerlessSpec; pod?: object; byoc?: object };
export type CreateIndexOptions = {
  name: IndexName;
  dimension?: number;
  metric?: "cosine" | "euclidean" | "dotproduct" | string;
  deletionProtection?: DeletionProtection;
  tags?: { [key: string]: string };
  spec: CreateIndexSpec;
  vectorType?: "dense" | "sparse" | string;
  /** Resolve with the described index once it is ready (Larch indexes are ready at once). */
  waitUntilReady?: boolean;
  /** Resolve quietly when an index of that name exists. */
  suppressConflicts?: boolean;
  timeout?: number;
};
export type ConfigureIndexOptions = {
  name: IndexName;
  deletionProtection?: DeletionProtection;
  tags?: { [key: string]: string };
  readCapacity?: object;
};
export type IndexModelStatus = { ready: boolean; state: string };
export type IndexModel = {
  name: string;
  dimension?: number;
  metric: string;
  host: string;
  privateHost?: string;
  deletionProtection?: DeletionProtection;
  tags?: { [key: string]: string };
  embed?: object;
  spec: { serverless?: { cloud: string; region: string; [k: string]: unknown }; pod?: object; byoc?: object };
  status: IndexModelStatus;
  vectorType: string;
};
export type IndexList = { indexes?: Array<IndexModel> };
