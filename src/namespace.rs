//! One namespace: a memtable and immutable segments, log-structured.
//!
//! Writes go to the mutable [`Memtable`]; overwriting or deleting a record that lives in a
//! sealed [`Segment`] sets its tombstone bit instead. When the memtable reaches
//! [`StorageConfig::seal_records`] (or the write log [`StorageConfig::max_log_entries`]) it is
//! sealed into a new segment, and compaction merges small segments and drops dead records.
//! Every live id lives in exactly one place, so a query fans out over the memtable and the
//! segments and merges their top-k without deduplication: the newest version wins because older
//! versions are tombstoned, and a deleted record is never returned.
//!
//! Segments of at least [`AnnConfig::min_records`] records also get an HNSW graph, built in
//! bounded steps by [`Namespace::index_step`] and searched once ready; until then (and always
//! for the memtable, small segments and sparse-only queries) the search is exact. Hybrid
//! queries on dotproduct indexes take the graph's dense candidates plus every record sharing a
//! sparse index with the query, and score them exactly.
//!
//! A namespace owns all its structures (nothing is shared with other namespaces), so it can be
//! stored, loaded and dropped on its own. When persistent it records each write's physical
//! effect and [`Namespace::commit`] turns it into a [`WriteBatch`] (see `docs/format.md`).
//!
//! The code is split by role, one `impl Namespace` per file:
//!
//! | file | role |
//! |---|---|
//! | `sealed.rs` | a sealed segment with its tombstones and derived indexes |
//! | `component.rs` | a segment's stored components: keys, commit rules, encoding, decoding |
//! | `read.rs` | lookups by id, listing in id order, counting |
//! | `query.rs` | query planning and the fan-out over parts |
//! | `write.rs` | writes and the write log |
//! | `merge_policy.rs` | which merges run when (compaction and consolidation) |
//! | `merger.rs` | the one copy path of every merge |
//! | `merge.rs` | sealing, compaction, and starting and swapping in a consolidation |
//! | `job.rs` | the resumable-job shape: the `Job` trait and `Build<B, R>` |
//! | `consolidation.rs` | the background merge as a job |
//! | `background.rs` | [`Namespace::index_step`] and [`Namespace::indexing_pending`] |
//! | `persist.rs` | [`Namespace::commit`] and [`Namespace::load`] |
//! | `paging.rs` | rows of paged segments: reading them, naming missing row groups, the cache |
//! | `memory.rs` | [`Namespace::resident_bytes`] and the other sizes |
//!
//! [`Memtable`]: crate::segment::memtable::Memtable
//! [`Segment`]: crate::segment::Segment
//! [`WriteBatch`]: crate::storage::WriteBatch

mod background;
mod component;
mod consolidation;
mod job;
mod memory;
mod merge;
mod merge_policy;
mod merger;
mod paging;
mod persist;
mod query;
mod read;
mod sealed;
mod write;

pub use crate::config::{AnnConfig, StorageConfig};
pub use memory::MemoryReport;
pub use paging::RowsTouched;

use crate::distance::Metric;
use crate::record::SparseVector;
use crate::segment::memtable::Memtable;
use consolidation::Consolidation;
use persist::Persist;
use sealed::{ScratchCell, Sealed};

/// A query vector: dense, sparse, or both (hybrid).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryVector {
    pub values: Option<Vec<f32>>,
    pub sparse_values: Option<SparseVector>,
}

/// Resident bytes per vector of each representation ([`Namespace::bytes_per_vector`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VectorBytes {
    pub f32: usize,
    pub int8: Option<usize>,
}

/// One of the places records live in: the memtable, or a sealed segment by its position in
/// [`Namespace`]'s list of segments (oldest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    Memtable,
    Segment(u32),
}

/// Where a live record is: a part and a slot in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    part: Part,
    slot: u32,
}

/// One scored result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub loc: Loc,
    pub score: f32,
}

/// The records of one namespace.
#[derive(Debug, Clone)]
pub struct Namespace {
    dimension: usize,
    metric: Metric,
    config: StorageConfig,
    ann: AnnConfig,
    scratch: ScratchCell,
    /// A dense query's search waiting for its rows (`query.rs`).
    pending: query::PendingSearch,
    memtable: Memtable,
    segments: Vec<Sealed>,
    /// A merge of sealed segments in progress (in memory only; see [`AnnConfig::merge_bytes`]).
    consolidation: Option<Consolidation>,
    next_segment: u64,
    lsn: u64,
    persist: Option<Persist>,
    /// Advanced at the end of every request: when each row group of a paged segment was last
    /// read (`paging.rs`).
    rows_tick: u64,
    row_stats: paging::RowStats,
}

impl Namespace {
    /// An empty in-memory namespace.
    pub fn new(dimension: usize, metric: Metric) -> Self {
        Namespace::with_config(dimension, metric, StorageConfig::default())
    }

    /// An empty in-memory namespace with explicit thresholds.
    pub fn with_config(dimension: usize, metric: Metric, config: StorageConfig) -> Self {
        Namespace {
            dimension,
            metric,
            config,
            ann: AnnConfig::default(),
            scratch: ScratchCell::default(),
            pending: query::PendingSearch::default(),
            memtable: Memtable::new(dimension),
            segments: Vec::new(),
            consolidation: None,
            next_segment: 0,
            lsn: 0,
            persist: None,
            rows_tick: 0,
            row_stats: paging::RowStats::default(),
        }
    }

    /// An empty namespace whose blobs live under `prefix`; LSNs start after `lsn_floor`.
    pub fn new_persistent(
        dimension: usize,
        metric: Metric,
        config: StorageConfig,
        prefix: String,
        lsn_floor: u64,
    ) -> Self {
        let mut ns = Namespace::with_config(dimension, metric, config);
        ns.lsn = lsn_floor;
        ns.persist = Some(Persist {
            prefix,
            log: Vec::new(),
            next_seq: 0,
            ops: Vec::new(),
            dirty: true,
            sealed_since_commit: false,
            dropped: Vec::new(),
            garbage: Vec::new(),
        });
        ns
    }

    /// Sets the approximate-search configuration: segments at or above `min_records` without
    /// a graph get a pending build, pending builds of smaller ones are dropped. Ready graphs are
    /// kept (they were built with the configuration of their time). Turning
    /// [`AnnConfig::int8`] on schedules codes for segments with a ready graph (quantized by
    /// [`Namespace::index_step`]); turning it off drops them from memory, and stored codes from
    /// the next manifest.
    pub fn set_ann_config(&mut self, ann: AnnConfig) {
        self.ann = ann;
        for i in 0..self.segments.len() {
            self.schedule_graph(i);
        }
    }

    /// The approximate-search configuration.
    pub fn ann_config(&self) -> AnnConfig {
        self.ann
    }

    /// True while a consolidation of sealed segments is in progress
    /// ([`AnnConfig::merge_bytes`]).
    pub fn consolidating(&self) -> bool {
        self.consolidation.is_some()
    }

    /// Number of segments whose graph is ready (built or loaded).
    pub fn graph_count(&self) -> usize {
        self.segments.iter().filter(|s| s.graph.is_ready()).count()
    }

    /// Starts LSNs after `lsn` (a re-created namespace continues where the dropped one ended).
    pub fn start_lsn_after(&mut self, lsn: u64) {
        self.lsn = self.lsn.max(lsn);
    }

    /// Number of live records.
    pub fn len(&self) -> usize {
        self.memtable.len() + self.segments.iter().map(Sealed::live).sum::<usize>()
    }

    /// True when no record is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The sequence number of the last write.
    pub fn lsn(&self) -> u64 {
        self.lsn
    }

    /// Number of sealed segments.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Number of segments searched on int8 codes ([`AnnConfig::int8`]).
    pub fn int8_count(&self) -> usize {
        self.segments.iter().filter(|s| s.int8().is_some()).count()
    }

    /// Number of segments whose rows are paged out of memory (read on demand).
    pub fn paged_count(&self) -> usize {
        self.segments.iter().filter(|s| s.paged.is_some()).count()
    }
}
