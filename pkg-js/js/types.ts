// Argument and result shapes of @pinecone-database/pinecone 9.0 (same names and fields; inputs
// also take 8.x's shapes), so code written against either SDK type-checks against Larch
// (test/types.test.mjs compiles SDK-style programs against both the SDK and these types).

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
export type Pagination = { next: string };
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

export type FetchByMetadataOptions = { filter: object; limit?: number; paginationToken?: string; namespace?: string };
export type FetchByMetadataResponse<T extends RecordMetadata = RecordMetadata> = {
  records: { [key: string]: PineconeRecord<T> };
  namespace: string;
  usage?: OperationUsage;
  pagination?: Pagination;
};

export interface ListNamespacesOptions {
  limit?: number;
  paginationToken?: string;
  prefix?: string;
}
/** As SDK 9 types it: `recordCount` and `sizeBytes` are decimal strings (Pinecone's int64s). */
export type NamespaceDescription = {
  name?: string;
  recordCount?: string;
  schema?: CreateNamespaceRequestSchema;
  indexedFields?: NamespaceDescriptionIndexedFields;
  sizeBytes?: string;
};
export type CreateNamespaceRequestSchemaFieldsValue = { filterable?: boolean };
export type CreateNamespaceRequestSchema = { fields: { [key: string]: CreateNamespaceRequestSchemaFieldsValue } };
export type NamespaceDescriptionIndexedFields = { fields?: Array<string> };
export type ListNamespacesResponse = {
  namespaces?: Array<NamespaceDescription>;
  pagination?: Pagination;
  totalCount?: number;
};
export type CreateNamespaceOptions = { name: string; schema?: CreateNamespaceRequestSchema };

// Control plane.
export type IndexName = string;
export type DeletionProtection = "enabled" | "disabled";
export type IndexMetric = "cosine" | "euclidean" | "dotproduct";
export type IndexState =
  | "Initializing"
  | "InitializationFailed"
  | "Failed"
  | "ScalingUp"
  | "ScalingDown"
  | "ScalingUpPodSize"
  | "Terminating"
  | "Ready"
  | "Disabled"
  | (string & {});
export type CreateIndexServerlessSpec = {
  cloud: string;
  region: string;
  sourceCollection?: string;
  readCapacity?: object;
};
export type ServerlessSpec = CreateIndexServerlessSpec;
export type CreateIndexSpec = { serverless?: CreateIndexServerlessSpec; pod?: object; byoc?: object };
type CreateIndexShared = {
  name: IndexName;
  deletionProtection?: DeletionProtection;
  tags?: { [key: string]: string };
  readCapacity?: object;
  /** Resolve with the described index once it is ready (Larch indexes are ready at once). */
  waitUntilReady?: boolean;
  /** Resolve quietly when an index of that name exists. */
  suppressConflicts?: boolean;
  timeout?: number;
};
/** The classic shape (SDK 8 and SDK 9): dimension, metric, spec, vectorType. */
export type LegacyCreateIndexOptions = CreateIndexShared & {
  dimension?: number;
  metric?: IndexMetric;
  vectorType?: "dense" | "sparse";
  spec: CreateIndexSpec;
  schema?: never;
  deployment?: never;
};
export type CreateIndexSchemaField =
  | { type: "dense_vector"; dimension: number; metric: IndexMetric }
  | { type: "sparse_vector"; [key: string]: unknown }
  | { type: "string"; [key: string]: unknown };
export type CreateIndexSchema = { fields: { [fieldName: string]: CreateIndexSchemaField } };
export type ManagedDeployment = {
  deploymentType: "managed";
  cloud: string;
  region: string;
  readonly environment?: string;
};
export type IndexDeploymentRequest = {
  deploymentType: "managed" | (string & {});
  cloud?: string;
  region?: string;
  [key: string]: unknown;
};
/** SDK 9's shape: `schema.fields` (`_values`: dense_vector) and a `deployment`. */
export type NativeCreateIndexOptions = CreateIndexShared & {
  schema: CreateIndexSchema;
  deployment?: IndexDeploymentRequest;
  dimension?: never;
  metric?: never;
  vectorType?: never;
  spec?: never;
};
export type CreateIndexOptions = NativeCreateIndexOptions | LegacyCreateIndexOptions;
export type ConfigureIndexResourceOptions = {
  deletionProtection?: DeletionProtection;
  tags?: { [key: string]: string };
  readCapacity?: object;
  embed?: object;
};
export type ConfigureIndexOptions = ConfigureIndexResourceOptions & { name: IndexName };
export type IndexModelStatus = { ready: boolean; state: IndexState };
export type IndexDeployment = ManagedDeployment;
export type IndexSchemaField = {
  type: "dense_vector" | "sparse_vector" | "string" | "float" | "integer" | "boolean" | "string_list" | (string & {});
  dimension?: number;
  metric?: IndexMetric | (string & {});
  [key: string]: unknown;
};
export type IndexSchema = { fields: { [fieldName: string]: IndexSchemaField } };
export type ReadCapacityResponse = {
  mode: "OnDemand" | "Dedicated";
  status?: { state: string };
  [key: string]: unknown;
};
export type LegacyServerlessSpec = {
  cloud: string;
  region: string;
  readCapacity?: ReadCapacityResponse;
  sourceCollection?: string;
  schema?: undefined;
};
/** The classic `spec` SDK 9 derives for compatibility (Larch indexes are serverless). */
export type LegacyIndexSpec = { serverless?: LegacyServerlessSpec; pod?: object; byoc?: object };
/** SDK 9's IndexModel: the 2026-07 fields, plus SDK 8's (`dimension`, `metric`, `spec`, `vectorType`). */
export type IndexModel = {
  name: string;
  host: string;
  privateHost?: string;
  status: IndexModelStatus;
  deployment: IndexDeployment;
  readCapacity?: ReadCapacityResponse;
  sourceCollection?: string;
  sourceBackupId?: string;
  cmekId?: string;
  schema: IndexSchema;
  tags?: { [key: string]: string } | null;
  deletionProtection: DeletionProtection | (string & {});
  readonly dimension?: number;
  readonly metric: string;
  readonly vectorType: "dense" | "sparse";
  readonly spec: LegacyIndexSpec;
  readonly embed?: object;
};
export type IndexList = { indexes?: Array<IndexModel> };

// The documents API (SDK 9's `index.documents`): Larch answers 501 (full-text search indexes are
// not implemented); the shapes are here so such code compiles.
export type DocumentRecord = { _id: string; [field: string]: unknown };
export type UpsertDocumentsOptions = { documents: Array<DocumentRecord>; namespace?: string };
export type UpsertDocumentsResponse = { upsertedCount: number };
export type DocumentScoringMethod = {
  type: string;
  fields?: Array<string>;
  field?: string;
  query?: string;
  values?: Array<number>;
  sparseValues?: RecordSparseValues;
};
export type SearchDocumentsOptions = {
  scoreBy: Array<DocumentScoringMethod>;
  topK: number;
  includeFields?: Array<string>;
  filter?: object;
};
export type DocumentSearchMatch = { _id: string; _score: number | null; [field: string]: unknown };
export type SearchDocumentsResponse = { matches: Array<DocumentSearchMatch>; namespace: string; usage: object };
export type FetchDocumentsOptions = {
  ids?: Array<string>;
  filter?: object;
  includeFields?: Array<string>;
  paginationToken?: string;
  limit?: number;
};
export type FetchedDocument = { _id: string; [field: string]: unknown };
export type FetchDocumentsResponse = {
  documents: { [id: string]: FetchedDocument };
  pagination?: Pagination;
  namespace: string;
  usage: object;
};
export type DeleteDocumentsOptions = { ids?: Array<string>; filter?: object; deleteAll?: boolean };
export type DeleteDocumentsResponse = { [key: string]: unknown };
export type ListDocumentsOptions = { prefix?: string; limit?: number; paginationToken?: string };
export type ListDocumentsResponse = { documents: Array<{ _id: string }>; pagination?: Pagination; namespace: string };
export type UpdateDocumentsOptions = {
  documents?: Array<DocumentRecord>;
  filter?: object;
  setFields?: { [key: string]: unknown };
  removeFields?: Array<string>;
};
export type UpdateDocumentsResponse = { [key: string]: unknown };
