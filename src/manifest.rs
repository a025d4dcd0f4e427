//! Commit records: the root (indexes and their catalogs) and the per-namespace manifest.
//!
//! Replacing a manifest (or the root) is a commit point: every blob a manifest names was written
//! before it in the same write batch, and every blob it stops naming is deleted after it (listed
//! in `garbage`, deleted again by the next commit in case a crash cut the first deletion short).

use rkyv::{Archive, Deserialize, Serialize};

use crate::segment::stored::StoredRecord;

/// A namespace's commit record, generic over its segment references so the manifests of older
/// format versions, which differ only there, share the definition (and so the archived layout)
/// of the current one.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct ManifestOf<S> {
    /// Sequence number of the last committed write.
    pub lsn: u64,
    /// Live records.
    pub count: u64,
    /// Sealed segments, oldest first.
    pub segments: Vec<S>,
    /// Write-log entries not yet sealed, in order.
    pub log: Vec<LogRef>,
    /// Next log sequence number.
    pub next_seq: u64,
    /// Next segment id.
    pub next_segment: u64,
    /// Keys made obsolete by this commit.
    pub garbage: Vec<String>,
}

/// The current (format version 4) manifest.
pub type Manifest = ManifestOf<SegmentRef>;
/// A format-version-3 manifest (segments without paged rows), converted on read.
pub type ManifestV3 = ManifestOf<SegmentRefV3>;
/// A format-version-2 manifest (segments without int8 codes), converted on read.
pub type ManifestV2 = ManifestOf<SegmentRefV2>;
/// A format-version-1 manifest (segments without graphs), converted on read.
pub type ManifestV1 = ManifestOf<SegmentRefV1>;

impl<S: Into<SegmentRef>> ManifestOf<S> {
    /// The same manifest with current segment references.
    pub fn upgrade(self) -> Manifest {
        ManifestOf {
            lsn: self.lsn,
            count: self.count,
            segments: self.segments.into_iter().map(Into::into).collect(),
            log: self.log,
            next_seq: self.next_seq,
            next_segment: self.next_segment,
            garbage: self.garbage,
        }
    }
}

/// One sealed segment and its blobs.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SegmentRef {
    pub id: u64,
    pub records: u64,
    pub structured_chunks: u32,
    pub vector_chunks: u32,
    /// Persisted tombstones: (version, chunks), or none when no record was dead at sealing.
    pub tombstones: Option<(u32, u32)>,
    /// Chunks of the segment's HNSW graph; 0 while it has none (format version 2).
    pub graph_chunks: u32,
    /// Chunks of the segment's int8 codes (`Int8Index::to_bytes`); 0 while it has none. Only
    /// a segment with a graph has codes (format version 3).
    pub codes_chunks: u32,
    /// Chunks of the segment's paged rows (directory and row groups); 0 while they are not
    /// written (format version 4).
    pub rows_chunks: u32,
    /// Chunks of the segment's metadata index; 0 while it is not written (format version 4).
    pub postings_chunks: u32,
}

/// A format-version-3 segment reference.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SegmentRefV3 {
    pub id: u64,
    pub records: u64,
    pub structured_chunks: u32,
    pub vector_chunks: u32,
    pub tombstones: Option<(u32, u32)>,
    pub graph_chunks: u32,
    pub codes_chunks: u32,
}

impl From<SegmentRefV3> for SegmentRef {
    fn from(s: SegmentRefV3) -> Self {
        SegmentRef {
            id: s.id,
            records: s.records,
            structured_chunks: s.structured_chunks,
            vector_chunks: s.vector_chunks,
            tombstones: s.tombstones,
            graph_chunks: s.graph_chunks,
            codes_chunks: s.codes_chunks,
            rows_chunks: 0,
            postings_chunks: 0,
        }
    }
}

/// A format-version-2 segment reference.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SegmentRefV2 {
    pub id: u64,
    pub records: u64,
    pub structured_chunks: u32,
    pub vector_chunks: u32,
    pub tombstones: Option<(u32, u32)>,
    pub graph_chunks: u32,
}

impl From<SegmentRefV2> for SegmentRef {
    fn from(s: SegmentRefV2) -> Self {
        SegmentRef {
            id: s.id,
            records: s.records,
            structured_chunks: s.structured_chunks,
            vector_chunks: s.vector_chunks,
            tombstones: s.tombstones,
            graph_chunks: s.graph_chunks,
            codes_chunks: 0,
            rows_chunks: 0,
            postings_chunks: 0,
        }
    }
}

/// A format-version-1 segment reference.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SegmentRefV1 {
    pub id: u64,
    pub records: u64,
    pub structured_chunks: u32,
    pub vector_chunks: u32,
    pub tombstones: Option<(u32, u32)>,
}

impl From<SegmentRefV1> for SegmentRef {
    fn from(s: SegmentRefV1) -> Self {
        SegmentRef {
            id: s.id,
            records: s.records,
            structured_chunks: s.structured_chunks,
            vector_chunks: s.vector_chunks,
            tombstones: s.tombstones,
            graph_chunks: 0,
            codes_chunks: 0,
            rows_chunks: 0,
            postings_chunks: 0,
        }
    }
}

/// One write-log entry and its chunk count.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct LogRef {
    pub seq: u64,
    pub chunks: u32,
}

/// The physical effect of one acknowledged write.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub lsn: u64,
    pub ops: Vec<LogOp>,
}

/// One physical change.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum LogOp {
    /// Whole records inserted or replaced.
    Put(Vec<StoredRecord>),
    /// Records removed.
    Delete(Vec<String>),
}

/// The database root: every index, its configuration and where its catalog lives.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Root {
    pub next_index: u64,
    pub indexes: Vec<StoredIndex>,
    /// Key prefixes of dropped indexes and namespaces still to reclaim.
    pub reclaim: Vec<String>,
    /// Always empty: no root commit makes single keys obsolete (dropped indexes and namespaces
    /// go through `reclaim`). Kept only so every stored root has the same archived layout.
    pub reserved: Vec<String>,
}

/// One index in the root.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StoredIndex {
    pub id: u64,
    pub config: StoredConfig,
    pub catalog: CatalogRef,
}

/// An index configuration, stored.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StoredConfig {
    pub name: String,
    /// 0 dense, 1 sparse.
    pub vector_type: u8,
    pub dimension: u32,
    /// 0 cosine, 1 euclidean, 2 dotproduct.
    pub metric: u8,
    pub deletion_protection: bool,
    pub tags: Vec<(String, String)>,
    pub cloud: String,
    pub region: String,
    /// Dedicated read capacity: (node type, replicas, shards).
    pub dedicated: Option<(String, u32, u32)>,
}

/// Where an index's namespace catalog lives: a base snapshot plus small deltas, so creating or
/// dropping a namespace writes O(1) bytes.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct CatalogRef {
    pub base_gen: u64,
    pub base_chunks: u32,
    pub deltas: Vec<u64>,
    pub next_delta: u64,
    pub next_namespace: u64,
    /// LSNs of re-created namespaces start above this, so LSNs never go backwards.
    pub lsn_floor: u64,
}

/// A catalog snapshot: namespace names and their ids.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct CatalogBase {
    pub entries: Vec<(String, u64)>,
}

/// A catalog change.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum CatalogDelta {
    Added(String, u64),
    Removed(String),
}
