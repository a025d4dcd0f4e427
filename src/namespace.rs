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

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use crate::distance::{self, Metric};
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::format::{self, BlobKind};
use crate::index::hnsw::{
    FilteredPlan, HnswBuilder, HnswConfig, HnswView, SearchScratch, search_filtered_plan,
};
use crate::index::quant::{Int8Builder, Int8Index};
use crate::index::{flat, sparse};
use crate::manifest::{LogEntry, LogOp, LogRef, Manifest, ManifestV1, ManifestV2, SegmentRef};
use crate::metadata::Metadata;
use crate::record::{Record, SparseVector};
use crate::segment::columns::Columns;
use crate::segment::memtable::Memtable;
use crate::segment::postings::{Postings, SlotSet};
use crate::segment::stored::StoredRecord;
use crate::segment::{Segment, Tombstones};
use crate::storage::{WriteBatch, keys};

/// When to seal and compact. User-tunable; the defaults suit browsers and Workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageConfig {
    /// Seal the memtable into a segment at this many records.
    pub seal_records: usize,
    /// Seal at this many unsealed write-log entries (bounds replay work at load).
    pub max_log_entries: usize,
    /// Merge the smallest segments when there are more than this many.
    pub max_segments: usize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            seal_records: 10_000,
            max_log_entries: 64,
            max_segments: 8,
        }
    }
}

/// Approximate search of sealed segments. User-tunable; kept apart from [`StorageConfig`] so
/// code that spells that struct out keeps compiling.
///
/// A segment of at least `min_records` records gets an HNSW graph, built in bounded steps by
/// [`Namespace::index_step`] (never during a write), persisted with the segment by the next
/// [`Namespace::commit`] and loaded with it (no rebuild). Until its graph is ready a segment is
/// searched exactly, so results are correct at every moment. The same holds for int8 codes
/// ([`AnnConfig::int8`]): quantized by `index_step` once the graph is ready, persisted, loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnConfig {
    /// Segments smaller than this stay exact-scan (`usize::MAX`: never build graphs).
    pub min_records: usize,
    /// Graph parameters; `hnsw.ef_search` is the query beam (raised to `k`).
    pub hnsw: HnswConfig,
    /// Also keep int8 codes ([`Int8Index`]) of every segment whose graph is ready, and search
    /// dense queries on them with f32 rescoring, so scores stay exact. The codes are quantized
    /// by [`Namespace::index_step`] (never at load), stored with the segment by the next
    /// [`Namespace::commit`] and read back by [`Namespace::load`]; until they are ready a
    /// segment searches its graph on f32. Off, codes are neither read nor kept, and stored
    /// ones become garbage at the next commit.
    pub int8: bool,
    /// Consolidate the sealed segments into one while their live records' vectors take at most
    /// this many bytes, 4 per dimension per record (0: never; the default, 256 MiB, is 174k
    /// records at 384 dimensions, 1.3M at 50). A query searches every segment's graph, so fewer, larger segments answer
    /// faster at the same recall. [`Namespace::index_step`] starts a consolidation when no
    /// other index work is pending and the segments other than the largest hold at least half
    /// as many live records as it does (so each record is rebuilt a logarithmic number of
    /// times); it copies their live records into a new segment and builds its graph in bounded
    /// steps while the old segments keep answering, then swaps it in, carrying over the
    /// deletes and overwrites made meanwhile. Memory peaks at about twice the segments' size.
    pub merge_bytes: usize,
}

impl Default for AnnConfig {
    fn default() -> Self {
        AnnConfig {
            min_records: 2048,
            hnsw: HnswConfig::default(),
            int8: false,
            merge_bytes: 256 << 20,
        }
    }
}

impl AnnConfig {
    /// Never build graphs: every query is an exact scan.
    pub fn disabled() -> Self {
        AnnConfig {
            min_records: usize::MAX,
            ..AnnConfig::default()
        }
    }
}

/// Row passes of int8 quantization ([`Int8Builder::step`], two per vector) that cost one node
/// of an [`Namespace::index_step`] budget. At dimension 384 a row pass takes ~0.9 µs natively
/// and ~1.9 µs in wasm, inserting a node with the default `ef_construction` of 100 ~90 µs
/// (natively, into a 3k-node graph) to ~460 µs (wasm, 116k nodes): 100–250 row passes per node.
/// 32 keeps quantizing inside the time the same budget of graph work takes, also with cheaper
/// graph settings, and still quantizes a segment in far fewer calls than its graph took (a
/// Worker's `indexStep(200)` does 6,400 row passes, ~12 ms in wasm). Both costs grow with the
/// dimension, so the ratio holds across dimensions. Quantizing a whole segment as one unit
/// would not be bounded: merged segments grow past 100k records (~0.4 s in wasm).
const CODE_ROWS_PER_NODE: usize = 32;

/// A background merge of sealed segments into one ([`AnnConfig::merge_bytes`]).
#[derive(Debug, Clone)]
struct Consolidation {
    /// The input segments' ids, with their tombstones when the merge began.
    inputs: Vec<(u64, Tombstones)>,
    /// Copy phase: the next slot of each input (same order as `inputs`) and the records live
    /// when the merge began copied so far, merged in id order.
    cursors: Vec<u32>,
    copied: Columns,
    /// The merged segment, once every record is copied.
    segment: Option<Segment>,
    /// The new segment's graph, being built.
    builder: Box<HnswBuilder>,
}

/// Records copied into a consolidation per node of an [`Namespace::index_step`] budget: a
/// copy costs ~1-2 µs at 384 dimensions (wasm), a graph insertion ~100-460 µs.
const COPY_ROWS_PER_NODE: usize = 128;

/// A segment's approximate index.
#[derive(Debug, Clone)]
enum Graph {
    /// Exact scans only (too small, or ANN disabled).
    None,
    /// Being built by [`Namespace::index_step`]; searched exactly meanwhile.
    Building(Box<HnswBuilder>),
    /// Validated bytes of [`crate::index::hnsw::Hnsw::to_bytes`], searched in place.
    Ready(Vec<u8>),
}

/// A segment's int8 codes ([`AnnConfig::int8`]).
#[derive(Debug, Clone)]
enum Codes {
    /// None in memory: int8 is off, the graph is not ready, or the dimension is 0.
    None,
    /// Being quantized by [`Namespace::index_step`]; the graph is searched on f32 meanwhile.
    Building(Box<Int8Builder>),
    /// Searched with the graph.
    Ready(Box<Int8Index>),
}

/// The graph search scratch (visited marks sized to the largest segment), kept between
/// queries so a query does not allocate and zero it again. A clone starts empty.
#[derive(Debug, Default)]
struct ScratchCell(std::sync::Mutex<SearchScratch>);

impl Clone for ScratchCell {
    fn clone(&self) -> Self {
        ScratchCell::default()
    }
}

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

/// Where a live record is: part 0 is the memtable, part `i + 1` is segment `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    part: u32,
    slot: u32,
}

/// One scored result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub loc: Loc,
    pub score: f32,
}

#[derive(Debug, Clone)]
struct Sealed {
    id: u64,
    segment: Segment,
    tombstones: Tombstones,
    /// Blob counts once written: (structured chunks, vector chunks).
    chunks: Option<(u32, u32)>,
    /// Persisted tombstones (version, chunks).
    persisted_tombstones: Option<(u32, u32)>,
    tombstones_dirty: bool,
    graph: Graph,
    /// Persisted graph chunks.
    graph_chunks: Option<u32>,
    /// The graph is ready but not written yet.
    graph_dirty: bool,
    /// int8 codes of the segment's vectors ([`AnnConfig::int8`], graph ready).
    codes: Codes,
    /// Code chunks the last manifest names (written or loaded). They stay named while int8 is
    /// on, even while the codes are not in memory (loaded with int8 off, then switched on:
    /// they are quantized again but not rewritten), and become garbage at the first commit
    /// with int8 off.
    codes_chunks: Option<u32>,
    /// The metadata index, built on the first filtered query.
    postings: std::sync::OnceLock<Postings>,
    /// Sparse dimension → slots, built on the first hybrid graph query.
    sparse_index: std::sync::OnceLock<sparse::InvertedIndex>,
}

impl Sealed {
    /// A segment not written yet, with no graph or codes.
    fn new(id: u64, segment: Segment, tombstones: Tombstones) -> Self {
        Sealed {
            id,
            segment,
            tombstones,
            chunks: None,
            persisted_tombstones: None,
            tombstones_dirty: false,
            graph: Graph::None,
            graph_chunks: None,
            graph_dirty: false,
            codes: Codes::None,
            codes_chunks: None,
            postings: std::sync::OnceLock::new(),
            sparse_index: std::sync::OnceLock::new(),
        }
    }

    fn live(&self) -> usize {
        self.segment.len() - self.tombstones.count()
    }

    /// The live slots `filter` matches, from the metadata index (built on first use).
    fn select(&self, filter: &Filter) -> SlotSet {
        let n = self.segment.len();
        let postings = self
            .postings
            .get_or_init(|| Postings::build((0..n as u32).map(|slot| self.segment.metadata(slot))));
        let mut set = postings.select(filter);
        set.remove_words(self.tombstones.words());
        set
    }

    /// The graph, when ready.
    fn graph_view(&self) -> Option<HnswView<'_>> {
        match &self.graph {
            Graph::Ready(bytes) => HnswView::from_validated_bytes(bytes).ok(),
            _ => None,
        }
    }

    /// The int8 codes, when ready.
    fn int8(&self) -> Option<&Int8Index> {
        match &self.codes {
            Codes::Ready(q) => Some(q),
            _ => None,
        }
    }
}

/// Persistence state of a namespace.
#[derive(Debug, Clone)]
struct Persist {
    prefix: String,
    log: Vec<LogRef>,
    next_seq: u64,
    /// Ops of the write being built, not yet committed.
    ops: Vec<LogOp>,
    /// Writes since the last commit.
    dirty: bool,
    sealed_since_commit: bool,
    /// Blobs of segments merged or dropped since the last commit.
    dropped: Vec<String>,
    /// Garbage named by the last commit, deleted again by the next one.
    garbage: Vec<String>,
}

/// The records of one namespace.
#[derive(Debug, Clone)]
pub struct Namespace {
    dimension: usize,
    metric: Metric,
    config: StorageConfig,
    ann: AnnConfig,
    scratch: ScratchCell,
    memtable: Memtable,
    segments: Vec<Sealed>,
    /// A merge of sealed segments in progress (in memory only; see [`AnnConfig::merge_bytes`]).
    consolidation: Option<Consolidation>,
    next_segment: u64,
    lsn: u64,
    persist: Option<Persist>,
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
            memtable: Memtable::new(dimension),
            segments: Vec::new(),
            consolidation: None,
            next_segment: 0,
            lsn: 0,
            persist: None,
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

    fn schedule_graph(&mut self, i: usize) {
        let eligible = self.dimension > 0 && self.segments[i].segment.len() >= self.ann.min_records;
        let s = &mut self.segments[i];
        match (&s.graph, eligible) {
            (Graph::None, true) => {
                if let Ok(b) = HnswBuilder::new(self.ann.hnsw, self.metric, self.dimension) {
                    s.graph = Graph::Building(Box::new(b));
                }
            }
            (Graph::Building(_), false) => s.graph = Graph::None,
            _ => {}
        }
        self.sync_int8(i);
    }

    /// Schedules segment `i`'s int8 codes when [`AnnConfig::int8`] is on and its graph is
    /// ready (quantized by [`Namespace::index_step`], never here); drops them when it is off,
    /// marking the namespace dirty when stored codes are to become garbage.
    fn sync_int8(&mut self, i: usize) {
        let on = self.ann.int8;
        let s = &mut self.segments[i];
        let ready = matches!(s.graph, Graph::Ready(_));
        if !(on && ready) {
            s.codes = Codes::None;
            if let Some(p) = self
                .persist
                .as_mut()
                .filter(|_| !on && s.codes_chunks.is_some())
            {
                p.dirty = true;
            }
        } else if matches!(s.codes, Codes::None) {
            // Only fails for dimension 0 (no graph is built then); stay on f32.
            if let Ok(b) = Int8Builder::new(self.metric, self.dimension, s.segment.len()) {
                s.codes = Codes::Building(Box::new(b));
            }
        }
    }

    /// Advances pending graph builds by inserting at most `budget_nodes` nodes in all (so a
    /// host can bound the CPU time of one call), then quantizes segments whose graph is ready
    /// when [`AnnConfig::int8`] is on ([`CODE_ROWS_PER_NODE`] row passes cost one node). A
    /// graph or codes that complete are searched from then on and written by the next
    /// [`Namespace::commit`]. Returns true while more work is pending.
    pub fn index_step(&mut self, budget_nodes: usize) -> bool {
        self.index_step_counted(budget_nodes).1
    }

    /// [`Namespace::index_step`], also returning how many nodes of the budget it used.
    pub fn index_step_counted(&mut self, budget_nodes: usize) -> (usize, bool) {
        let mut left = budget_nodes;
        let mut completed = false;
        if self.consolidation.is_none() && self.consolidation_pays() {
            // The segments are about to be merged: graphs and codes still to build for them
            // would be thrown away, so they are not built (those segments are scanned exactly
            // until the swap), and the consolidation starts now.
            for s in &mut self.segments {
                if matches!(s.graph, Graph::Building(_)) {
                    s.graph = Graph::None;
                }
                if matches!(s.codes, Codes::Building(_)) {
                    s.codes = Codes::None;
                }
            }
            self.consolidation = self.plan_consolidation();
        }
        for i in 0..self.segments.len() {
            if left == 0 {
                break;
            }
            let s = &mut self.segments[i];
            if let Graph::Building(b) = &mut s.graph {
                let n = s.segment.len();
                let target = (b.len() + left).min(n);
                let done = target - b.len();
                if b.insert_until(target, s.segment.all_vectors(), s.segment.norms())
                    .is_err()
                {
                    // Unreachable (the builder was made for this dimension); stay exact.
                    s.graph = Graph::None;
                    continue;
                }
                left -= done;
                if target == n {
                    let Graph::Building(b) = std::mem::replace(&mut s.graph, Graph::None) else {
                        continue;
                    };
                    s.graph = Graph::Ready(b.finish().to_bytes());
                    s.graph_dirty = true;
                    completed = true;
                    self.sync_int8(i);
                }
            }
            let s = &mut self.segments[i];
            let Codes::Building(b) = &mut s.codes else {
                continue;
            };
            if left == 0 {
                break;
            }
            let rows = left.saturating_mul(CODE_ROWS_PER_NODE);
            let Ok(did) = b.step(s.segment.all_vectors(), s.segment.norms(), rows) else {
                // Unreachable (the builder was made for this segment); stay on f32.
                s.codes = Codes::None;
                continue;
            };
            left -= did.div_ceil(CODE_ROWS_PER_NODE).min(left);
            if b.is_done() {
                let Codes::Building(b) = std::mem::replace(&mut s.codes, Codes::None) else {
                    continue;
                };
                if let Ok(q) = b.finish() {
                    s.codes = Codes::Ready(Box::new(q));
                    // Codes the manifest already names (quantized again after a load with
                    // int8 off) are not rewritten.
                    completed |= s.codes_chunks.is_none();
                }
            }
        }
        if let Some(p) = self.persist.as_mut().filter(|_| completed) {
            p.dirty = true;
        }
        let building = |ns: &Self| {
            ns.segments.iter().any(|s| {
                matches!(s.graph, Graph::Building(_)) || matches!(s.codes, Codes::Building(_))
            })
        };
        if left > 0 && !building(self) {
            left -= self.consolidate_step(left);
        }
        let pending = building(self) || self.consolidation.is_some();
        (budget_nodes - left, pending)
    }

    /// True when [`AnnConfig::merge_bytes`] allows consolidating the sealed segments and it
    /// pays: at least two segments, live vectors of at most `merge_bytes`, enough records for
    /// a graph, and the segments besides the largest holding at least half as many as it does.
    fn consolidation_pays(&self) -> bool {
        let live: Vec<usize> = self.segments.iter().map(Sealed::live).collect();
        let total: usize = live.iter().sum();
        let largest = live.iter().copied().max().unwrap_or(0);
        self.segments.len() >= 2
            && self.dimension > 0
            && total.saturating_mul(self.dimension * 4) <= self.ann.merge_bytes
            && total >= self.ann.min_records
            && (total - largest) * 2 >= largest
    }

    /// A consolidation of every sealed segment: their live records copied, id-sorted, into
    /// a new segment, and an empty builder for its graph.
    fn plan_consolidation(&self) -> Option<Consolidation> {
        let builder = HnswBuilder::new(self.ann.hnsw, self.metric, self.dimension).ok()?;
        Some(Consolidation {
            inputs: self
                .segments
                .iter()
                .map(|s| (s.id, s.tombstones.clone()))
                .collect(),
            cursors: vec![0; self.segments.len()],
            copied: Columns::new(self.dimension),
            segment: None,
            builder: Box::new(builder),
        })
    }

    /// Copies up to `rows` more records into the consolidation, merging its inputs in id
    /// order and skipping the records dead when it began. Returns the records copied, or
    /// `None` when an input is gone. Builds the segment after the last record.
    fn consolidation_copy(&mut self, rows: usize) -> Option<usize> {
        let c = self.consolidation.as_mut()?;
        let inputs: Vec<&Sealed> = c
            .inputs
            .iter()
            .map(|(id, _)| self.segments.iter().find(|s| s.id == *id))
            .collect::<Option<_>>()?;
        let mut copied = 0;
        while copied < rows {
            // Skip to each input's next record that was live when the merge began.
            for (i, s) in inputs.iter().enumerate() {
                let then = &c.inputs[i].1;
                while (c.cursors[i] as usize) < s.segment.len() && then.contains(c.cursors[i]) {
                    c.cursors[i] += 1;
                }
            }
            let next = (0..inputs.len())
                .filter(|&i| (c.cursors[i] as usize) < inputs[i].segment.len())
                .min_by(|&a, &b| {
                    let id = |i: usize| inputs[i].segment.id(c.cursors[i]);
                    id(a).cmp(id(b))
                });
            let Some(i) = next else {
                let columns = std::mem::take(&mut c.copied);
                c.segment = Some(Segment::from_columns(columns));
                break;
            };
            c.copied.push(inputs[i].segment.record(c.cursors[i]));
            c.cursors[i] += 1;
            copied += 1;
        }
        Some(copied)
    }

    /// Inserts up to `budget` nodes into the consolidation's graph; on completion swaps the
    /// new segment in for its inputs. Returns the nodes inserted.
    fn consolidate_step(&mut self, budget: usize) -> usize {
        let mut used = 0;
        if self
            .consolidation
            .as_ref()
            .is_some_and(|c| c.segment.is_none())
        {
            let Some(rows) = self.consolidation_copy(budget.saturating_mul(COPY_ROWS_PER_NODE))
            else {
                self.abandon_consolidation();
                return 0;
            };
            used = rows.div_ceil(COPY_ROWS_PER_NODE).min(budget);
        }
        let budget = budget - used;
        let Some(c) = self.consolidation.as_mut() else {
            return used;
        };
        let Some(segment) = c.segment.as_ref() else {
            return used;
        };
        let n = segment.len();
        let target = (c.builder.len() + budget).min(n);
        let done = target - c.builder.len();
        if c.builder
            .insert_until(target, segment.all_vectors(), segment.norms())
            .is_err()
        {
            // Unreachable (the builder was made for this dimension).
            self.consolidation = None;
            return done;
        }
        if target == n {
            let c = self.consolidation.take().expect("present");
            self.finish_consolidation(c);
        }
        used + done
    }

    /// Drops the consolidation because an input is gone (compaction merged or dropped it); the
    /// remaining segments get the graphs and codes skipped for it.
    fn abandon_consolidation(&mut self) {
        self.consolidation = None;
        for i in 0..self.segments.len() {
            self.schedule_graph(i);
        }
    }

    /// Replaces the consolidation's inputs by its segment, tombstoning there every record
    /// deleted or overwritten in an input since the merge began. Drops the consolidation
    /// instead when an input is gone (merged or dropped by compaction meanwhile).
    fn finish_consolidation(&mut self, c: Consolidation) {
        let Consolidation {
            inputs,
            segment,
            builder,
            ..
        } = c;
        let Some(segment) = segment else {
            return;
        };
        let mut positions = Vec::with_capacity(inputs.len());
        for (id, _) in &inputs {
            match self.segments.iter().position(|s| s.id == *id) {
                Some(i) => positions.push(i),
                None => return self.abandon_consolidation(),
            }
        }
        let mut tombstones = Tombstones::new(segment.len());
        for ((_, then), &i) in inputs.iter().zip(&positions) {
            let s = &self.segments[i];
            for (w, (&now, &before)) in s.tombstones.words().iter().zip(then.words()).enumerate() {
                let mut died = now & !before;
                while died != 0 {
                    let slot = (w * 64) as u32 + died.trailing_zeros();
                    died &= died - 1;
                    if let Some(new) = segment.slot_of(s.segment.id(slot)) {
                        tombstones.insert(new);
                    }
                }
            }
        }
        positions.sort_unstable_by(|a, b| b.cmp(a));
        for i in positions {
            let s = self.segments.remove(i);
            self.drop_blobs(&s);
        }
        let dirty = tombstones.count() > 0;
        self.segments.push(Sealed {
            tombstones_dirty: dirty,
            graph: Graph::Ready(builder.finish().to_bytes()),
            graph_dirty: true,
            ..Sealed::new(self.next_segment, segment, tombstones)
        });
        self.next_segment += 1;
        self.sync_int8(self.segments.len() - 1);
        if let Some(p) = &mut self.persist {
            // Not a seal: the memtable and its log stay as they are.
            p.dirty = true;
        }
    }

    /// True while a consolidation of sealed segments is in progress
    /// ([`AnnConfig::merge_bytes`]).
    pub fn consolidating(&self) -> bool {
        self.consolidation.is_some()
    }

    /// Number of segments whose graph is ready (built or loaded).
    pub fn graph_count(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| matches!(s.graph, Graph::Ready(_)))
            .count()
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

    /// Approximate resident bytes.
    pub fn approximate_bytes(&self) -> usize {
        let mem = self.memtable.all_vectors().len() * 4 + self.memtable.len() * 64;
        mem + self
            .segments
            .iter()
            .map(|s| {
                let graph = match &s.graph {
                    Graph::Ready(b) => b.len(),
                    _ => 0,
                };
                let codes = s.int8().map_or(0, Int8Index::bytes);
                s.segment.approximate_bytes() + graph + codes
            })
            .sum::<usize>()
    }

    /// Number of segments searched on int8 codes ([`AnnConfig::int8`]).
    pub fn int8_count(&self) -> usize {
        self.segments.iter().filter(|s| s.int8().is_some()).count()
    }

    /// Resident bytes per vector of the two search representations: `f32` (4 per dimension,
    /// plus the stored norm for cosine) and `int8` (1 per dimension, plus a 4-byte offset for
    /// cosine and dot product), the latter `None` when no segment carries codes. In int8 mode
    /// the f32 vectors stay resident as well (they rescore candidates and serve fetches), so
    /// [`Namespace::approximate_bytes`] counts codes on top of them.
    pub fn bytes_per_vector(&self) -> VectorBytes {
        let norm = if self.metric == Metric::Cosine { 4 } else { 0 };
        VectorBytes {
            f32: self.dimension * 4 + norm,
            int8: self
                .segments
                .iter()
                .find_map(Sealed::int8)
                .map(|q| q.bytes_per_vector()),
        }
    }

    // ----- reads -------------------------------------------------------------------------

    /// Where the live version of `id` is.
    pub fn locate(&self, id: &str) -> Option<Loc> {
        if let Some(slot) = self.memtable.slot_of(id) {
            return Some(Loc { part: 0, slot });
        }
        self.segments.iter().enumerate().find_map(|(i, s)| {
            let slot = s.segment.slot_of(id)?;
            (!s.tombstones.contains(slot)).then_some(Loc {
                part: i as u32 + 1,
                slot,
            })
        })
    }

    /// The records of one part: 0 is the memtable, `i + 1` is segment `i`.
    fn part(&self, part: u32) -> &Columns {
        match part {
            0 => &self.memtable,
            p => &self.segments[p as usize - 1].segment,
        }
    }

    /// The id at `loc`.
    pub fn id(&self, loc: Loc) -> &str {
        self.part(loc.part).id(loc.slot)
    }

    /// The dense values at `loc`.
    pub fn values(&self, loc: Loc) -> &[f32] {
        self.part(loc.part).values(loc.slot)
    }

    /// The sparse values at `loc`.
    pub fn sparse_values(&self, loc: Loc) -> Option<&SparseVector> {
        self.part(loc.part).sparse_values(loc.slot)
    }

    /// The metadata at `loc`.
    pub fn metadata(&self, loc: Loc) -> Option<&Metadata> {
        self.part(loc.part).metadata(loc.slot)
    }

    /// The whole record at `loc`, copied out.
    pub fn record(&self, loc: Loc) -> Record {
        self.part(loc.part).record(loc.slot)
    }

    /// Live locations matching `filter`, memtable first; sealed segments answer from their
    /// metadata index.
    fn matching(&self, filter: &Filter) -> Vec<Loc> {
        let mut out: Vec<Loc> = (0..self.memtable.len() as u32)
            .map(|slot| Loc { part: 0, slot })
            .filter(|&l| filter.matches(self.metadata(l)))
            .collect();
        for (i, s) in self.segments.iter().enumerate() {
            let part = i as u32 + 1;
            out.extend(s.select(filter).iter().map(|slot| Loc { part, slot }));
        }
        out
    }

    /// Number of records matching `filter` (all for `None`).
    pub fn count(&self, filter: Option<&Filter>) -> usize {
        match filter {
            Some(f) if !f.is_match_all() => self.matching(f).len(),
            _ => self.len(),
        }
    }

    /// Live ids from `start` on in byte order, across all parts, with their locations; at most
    /// `limit + 1` (so callers can tell whether more follow).
    fn sorted_from(
        &self,
        start: Bound<&str>,
        limit: usize,
        keep: impl Fn(&str, Loc) -> bool,
    ) -> Vec<(String, Loc)> {
        let mut out: Vec<(String, Loc)> = self
            .memtable
            .ids_from(start)
            .map(|(id, slot)| (id, Loc { part: 0, slot }))
            .filter(|(id, l)| keep(id, *l))
            .take(limit + 1)
            .map(|(id, l)| (id.to_string(), l))
            .collect();
        for (i, s) in self.segments.iter().enumerate() {
            let first = match start {
                Bound::Included(a) => s.segment.lower_bound(a, false),
                Bound::Excluded(a) => s.segment.lower_bound(a, true),
                Bound::Unbounded => 0,
            };
            let part = i as u32 + 1;
            out.extend(
                (first..s.segment.len() as u32)
                    .filter(|&slot| !s.tombstones.contains(slot))
                    .map(|slot| (s.segment.id(slot), Loc { part, slot }))
                    .filter(|(id, l)| keep(id, *l))
                    .take(limit + 1)
                    .map(|(id, l)| (id.to_string(), l)),
            );
        }
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        out.truncate(limit + 1);
        out
    }

    /// Ids starting with `prefix`, in byte order, strictly after `after`, at most `limit`. The
    /// second value is true when more follow.
    pub fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> (Vec<String>, bool) {
        let start = match after {
            Some(a) if a >= prefix => Bound::Excluded(a),
            _ => Bound::Included(prefix),
        };
        // Ids with the prefix are contiguous in byte order; stop each run at the first miss.
        let mut ids: Vec<String> = self
            .sorted_from(start, limit, |_, _| true)
            .into_iter()
            .map(|(id, _)| id)
            .take_while(|id| id.starts_with(prefix))
            .collect();
        let more = ids.len() > limit;
        ids.truncate(limit);
        (ids, more)
    }

    /// Records matching `filter` in id order after `after`, at most `limit`.
    pub fn scan_where(
        &self,
        filter: &Filter,
        after: Option<&str>,
        limit: usize,
    ) -> (Vec<Loc>, bool) {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut locs: Vec<Loc> = self
            .sorted_from(start, limit, |_, l| filter.matches(self.metadata(l)))
            .into_iter()
            .map(|(_, l)| l)
            .collect();
        let more = locs.len() > limit;
        locs.truncate(limit);
        (locs, more)
    }

    /// The `k` best live records for `query` among those matching `filter`, best first.
    ///
    /// Dense-only queries score with the metric. Queries with sparse values score
    /// `dense dot + sparse dot`; without dense values only records sharing a sparse index with
    /// the query are candidates.
    pub fn query(&self, query: &QueryVector, k: usize, filter: Option<&Filter>) -> Vec<Scored> {
        let filter = filter.filter(|f| !f.is_match_all());
        let higher_is_better = self.metric.higher_is_better() || query.sparse_values.is_some();
        let mut merged: Vec<Scored> = Vec::new();
        // A query running concurrently with another (never in one wasm thread) gets its own.
        let mut own = None;
        let mut shared = None;
        let parts = std::iter::once((0u32, None)).chain(
            self.segments
                .iter()
                .enumerate()
                .map(|(i, s)| (i as u32 + 1, Some(&s.tombstones))),
        );
        for (part, tombs) in parts {
            let sealed = match part {
                0 => None,
                p => Some(&self.segments[p as usize - 1]),
            };
            // A sealed segment answers the filter from its metadata index, once per query:
            // the exact set of live matching slots, one bit test per record reached.
            let selected = sealed.zip(filter).map(|(s, f)| s.select(f));
            if selected.as_ref().is_some_and(|set| set.count() == 0) {
                continue;
            }
            let accept = |slot: u32| match &selected {
                Some(set) => set.contains(slot),
                None => {
                    tombs.is_none_or(|t| !t.contains(slot))
                        && filter.is_none_or(|f| f.matches(self.metadata(Loc { part, slot })))
                }
            };
            let (vectors, norms) = (self.part(part).all_vectors(), self.part(part).norms());
            let graph = sealed.and_then(|s| Some((s, s.graph_view()?)));
            // Hybrid queries use the graph for their dense part only where it ranks by dot.
            let hybrid_graph = self.metric == Metric::DotProduct;
            let found = match (&query.values, &query.sparse_values, graph) {
                (Some(q), sq, Some((sealed, view))) if sq.is_none() || hybrid_graph => {
                    if shared.is_none() && own.is_none() {
                        match self.scratch.0.try_lock() {
                            Ok(guard) => shared = Some(guard),
                            Err(_) => own = Some(SearchScratch::new()),
                        }
                    }
                    let scratch: &mut SearchScratch = match shared.as_mut() {
                        Some(guard) => guard,
                        None => own.get_or_insert_with(SearchScratch::new),
                    };
                    let n = sealed.segment.len().max(1) as f32;
                    let accepted = selected.as_ref().map_or(sealed.live(), SlotSet::count);
                    let fraction = accepted as f32 / n;
                    match sq {
                        None => self.graph_search(
                            sealed, view, q, vectors, norms, k, &accept, fraction, scratch,
                        ),
                        Some(sq) => self.hybrid_graph_search(
                            part, sealed, view, q, sq, k, &accept, fraction, scratch,
                        ),
                    }
                }
                (Some(q), None, _) => flat::scan(self.metric, q, vectors, norms, k, accept),
                (dense, Some(sq), _) => self.hybrid_scan(part, dense.as_deref(), sq, k, accept),
                (None, None, _) => Vec::new(),
            };
            merged.extend(found.into_iter().map(|(score, slot)| Scored {
                loc: Loc { part, slot },
                score,
            }));
        }
        // Each part returned at most k; the best k overall are among them. Ties go to the
        // lower id so results do not depend on where records happen to live.
        merged.sort_by(|a, b| {
            let o = if higher_is_better {
                b.score.total_cmp(&a.score)
            } else {
                a.score.total_cmp(&b.score)
            };
            o.then_with(|| self.id(a.loc).cmp(self.id(b.loc)))
        });
        merged.truncate(k);
        merged
    }

    /// Searches a segment's graph. `accept` (live and matching) is applied during the
    /// traversal; `fraction` estimates the share of slots it passes, and `search_filtered`
    /// falls back to the exact scan whenever the graph finds fewer than `min(k, accepted)`, so
    /// the answer is never short. With int8 codes ([`AnnConfig::int8`]) the graph is walked on
    /// them, candidates are rescored in f32, and the same plan and fallback apply.
    #[allow(clippy::too_many_arguments)]
    fn graph_search(
        &self,
        sealed: &Sealed,
        view: HnswView<'_>,
        q: &[f32],
        vectors: &[f32],
        norms: &[f32],
        k: usize,
        accept: &dyn Fn(u32) -> bool,
        fraction: f32,
        scratch: &mut SearchScratch,
    ) -> Vec<(f32, u32)> {
        if k == 0 {
            return Vec::new();
        }
        let ef = (self.ann.hnsw.ef_search as usize).max(k);
        if let Some(q8) = sealed.int8() {
            // The same plan as `search_filtered`, walking the graph on codes and rescoring in
            // f32; the exact plan, and a graph answer that came back short (fewer than k
            // accepted found), scan the accepted slots' codes and rescore the best `ef` in f32,
            // which returns min(k, accepted).
            let plan = search_filtered_plan(view.len(), view.dim(), k, ef, fraction);
            let found = match plan {
                FilteredPlan::Exact => None,
                p => {
                    let two_hop = p == FilteredPlan::TwoHop;
                    q8.search_mode(&view, q, vectors, norms, k, ef, &accept, two_hop, scratch)
                        .ok()
                }
            };
            return match found {
                Some(found) if found.len() >= k => found,
                _ => q8
                    .scan(&view, q, vectors, norms, k, ef, accept)
                    // Unreachable (codes, graph and segment were checked together).
                    .unwrap_or_else(|_| flat::scan(self.metric, q, vectors, norms, k, accept)),
            };
        }
        match view.search_filtered(q, vectors, norms, k, ef, accept, fraction, scratch) {
            Ok((found, _plan)) => found,
            // Unreachable: the graph was checked against the segment at load or build.
            Err(_) => flat::scan(self.metric, q, vectors, norms, k, accept),
        }
    }

    fn hybrid_scan(
        &self,
        part: u32,
        dense: Option<&[f32]>,
        sq: &SparseVector,
        k: usize,
        accept: impl Fn(u32) -> bool,
    ) -> Vec<(f32, u32)> {
        let mut top = flat::TopK::new(k, true);
        for slot in 0..self.part(part).len() as u32 {
            if !accept(slot) {
                continue;
            }
            if let Some(score) = self.hybrid_score(Loc { part, slot }, dense, sq) {
                top.push(score, slot);
            }
        }
        top.into_sorted()
    }

    /// A record's hybrid score, `dense dot + sparse dot`; without dense values, the sparse dot,
    /// and `None` when the record shares no sparse index with the query. The one formula of
    /// the exact and the graph paths, so both give the same bits.
    fn hybrid_score(&self, loc: Loc, dense: Option<&[f32]>, sq: &SparseVector) -> Option<f32> {
        let sparse_score = self.sparse_values(loc).and_then(|sv| sparse::dot(sq, sv));
        match dense {
            Some(q) => Some(distance::dot(q, self.values(loc)) + sparse_score.unwrap_or(0.0)),
            None => sparse_score,
        }
    }

    /// A hybrid (dense + sparse) query of a segment with a graph, on a dotproduct index. The
    /// candidates are the graph's best `max(ef, 4k)` accepted slots by the dense part, plus
    /// every accepted slot sharing a sparse index with the query (from the segment's inverted
    /// index, built on first use), so a record with a strong sparse match is never missed
    /// however poor its dense score. Each candidate is scored exactly like [`Self::hybrid_scan`].
    #[allow(clippy::too_many_arguments)]
    fn hybrid_graph_search(
        &self,
        part: u32,
        sealed: &Sealed,
        view: HnswView<'_>,
        q: &[f32],
        sq: &SparseVector,
        k: usize,
        accept: &dyn Fn(u32) -> bool,
        fraction: f32,
        scratch: &mut SearchScratch,
    ) -> Vec<(f32, u32)> {
        if k == 0 {
            return Vec::new();
        }
        let ef = self.ann.hnsw.ef_search as usize;
        let dense_k = ef.max(k.saturating_mul(4));
        let (vectors, norms) = (self.part(part).all_vectors(), self.part(part).norms());
        let dense = self.graph_search(
            sealed, view, q, vectors, norms, dense_k, accept, fraction, scratch,
        );
        let index = sealed.sparse_index.get_or_init(|| {
            sparse::InvertedIndex::build(
                (0..sealed.segment.len() as u32).map(|slot| sealed.segment.sparse_values(slot)),
            )
        });
        let mut candidates = index.matching(sq);
        candidates.retain(|&slot| accept(slot));
        candidates.extend(dense.into_iter().map(|(_, slot)| slot));
        // Ascending slots, like the exact scan, so ties break the same way.
        candidates.sort_unstable();
        candidates.dedup();
        let mut top = flat::TopK::new(k, true);
        for slot in candidates {
            if let Some(score) = self.hybrid_score(Loc { part, slot }, Some(q), sq) {
                top.push(score, slot);
            }
        }
        top.into_sorted()
    }

    // ----- writes ------------------------------------------------------------------------

    /// Physically puts a record: tombstones an older segment version, writes the memtable.
    fn put(&mut self, r: Record) {
        if self.memtable.slot_of(&r.id).is_none() {
            self.tombstone(&r.id);
        }
        self.memtable.put(r);
    }

    /// Physically removes a record; false when absent.
    fn remove(&mut self, id: &str) -> bool {
        self.memtable.remove(id) || self.tombstone(id)
    }

    fn tombstone(&mut self, id: &str) -> bool {
        for s in &mut self.segments {
            if let Some(slot) = s.segment.slot_of(id)
                && s.tombstones.insert(slot)
            {
                s.tombstones_dirty = true;
                return true;
            }
        }
        false
    }

    fn log(&mut self, op: LogOp) {
        if let Some(p) = &mut self.persist {
            p.ops.push(op);
        }
    }

    fn put_logged(&mut self, records: Vec<Record>) {
        if self.persist.is_some() {
            let stored = records.iter().map(StoredRecord::from_record).collect();
            self.log(LogOp::Put(stored));
        }
        for r in records {
            self.put(r);
        }
    }

    /// Ends a write: bumps the LSN, and seals and compacts when a threshold is reached.
    fn finish_write(&mut self) -> u64 {
        self.lsn += 1;
        let log_len = match &mut self.persist {
            Some(p) => {
                p.dirty = true;
                p.log.len() + 1
            }
            None => 0,
        };
        if self.memtable.len() >= self.config.seal_records || log_len > self.config.max_log_entries
        {
            self.seal();
        }
        self.lsn
    }

    /// Inserts or replaces whole records. Returns the new LSN.
    pub fn upsert(&mut self, records: Vec<Record>) -> u64 {
        self.put_logged(records);
        self.finish_write()
    }

    /// Overwrites parts of one record. Returns false when `id` is absent.
    pub fn update(
        &mut self,
        id: &str,
        values: Option<Vec<f32>>,
        sparse_values: Option<SparseVector>,
        set_metadata: Option<&Metadata>,
    ) -> bool {
        let Some(loc) = self.locate(id) else {
            return false;
        };
        let mut r = self.record(loc);
        if let Some(v) = values {
            r.values = v;
        }
        if let Some(sv) = sparse_values {
            r.sparse_values = Some(sv);
        }
        if let Some(md) = set_metadata {
            r.metadata.get_or_insert_with(Metadata::new).merge(md);
        }
        self.put_logged(vec![r]);
        self.finish_write();
        true
    }

    /// Merges `set_metadata` into every record matching `filter`. Returns how many matched.
    pub fn update_where(&mut self, filter: &Filter, set_metadata: &Metadata) -> usize {
        let records: Vec<Record> = self
            .matching(filter)
            .into_iter()
            .map(|l| {
                let mut r = self.record(l);
                r.metadata
                    .get_or_insert_with(Metadata::new)
                    .merge(set_metadata);
                r
            })
            .collect();
        let n = records.len();
        self.put_logged(records);
        self.finish_write();
        n
    }

    /// Deletes ids; unknown ids are ignored. Returns how many were deleted.
    pub fn delete_ids<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>) -> usize {
        let ids: Vec<String> = ids.into_iter().map(str::to_string).collect();
        let n = ids.iter().filter(|id| self.remove(id)).count();
        self.log(LogOp::Delete(ids));
        self.finish_write();
        n
    }

    /// Deletes every record matching `filter`. Returns how many were deleted.
    pub fn delete_where(&mut self, filter: &Filter) -> usize {
        let ids: Vec<String> = self
            .matching(filter)
            .into_iter()
            .map(|l| self.id(l).to_string())
            .collect();
        self.delete_ids(ids.iter().map(String::as_str))
    }

    // ----- sealing and compaction ----------------------------------------------------------

    /// Seals the memtable into a segment and compacts.
    pub fn seal(&mut self) {
        if !self.memtable.is_empty() {
            let records = self.memtable.drain_sorted();
            self.push_segment(records);
        }
        self.compact();
        if let Some(p) = &mut self.persist {
            p.sealed_since_commit = true;
            p.dirty = true;
        }
    }

    fn push_segment(&mut self, records: Vec<Record>) {
        let segment = Segment::from_sorted(self.dimension, records);
        let tombstones = Tombstones::new(segment.len());
        self.segments
            .push(Sealed::new(self.next_segment, segment, tombstones));
        self.next_segment += 1;
        self.schedule_graph(self.segments.len() - 1);
    }

    /// Drops empty segments, rewrites mostly-dead ones, and merges the smallest when there are
    /// too many.
    fn compact(&mut self) {
        let mut i = 0;
        while i < self.segments.len() {
            let s = &self.segments[i];
            if s.live() == 0 {
                let s = self.segments.remove(i);
                self.drop_blobs(&s);
            } else if s.tombstones.count() * 2 > s.segment.len() {
                self.merge(&[i]);
                i = 0;
            } else {
                i += 1;
            }
        }
        while self.segments.len() > self.config.max_segments.max(1) {
            let mut by_size: Vec<usize> = (0..self.segments.len()).collect();
            by_size.sort_by_key(|&i| self.segments[i].live());
            let take = (self.segments.len() - self.config.max_segments.max(1) + 1).max(2);
            by_size.truncate(take.min(self.segments.len()));
            self.merge(&by_size);
        }
    }

    /// Replaces the given segments by one holding their live records.
    fn merge(&mut self, which: &[usize]) {
        let mut sorted = which.to_vec();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        let mut records = Vec::new();
        for i in sorted {
            let s = self.segments.remove(i);
            records.extend(
                (0..s.segment.len() as u32)
                    .filter(|&slot| !s.tombstones.contains(slot))
                    .map(|slot| s.segment.record(slot)),
            );
            self.drop_blobs(&s);
        }
        records.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        if !records.is_empty() {
            self.push_segment(records);
        }
    }

    fn drop_blobs(&mut self, s: &Sealed) {
        let Some(p) = &mut self.persist else { return };
        if let Some((sc, vc)) = s.chunks {
            p.dropped
                .extend((0..sc).map(|c| keys::segment(&p.prefix, s.id, c)));
            p.dropped
                .extend((0..vc).map(|c| keys::vectors(&p.prefix, s.id, c)));
        }
        if let Some((ver, tc)) = s.persisted_tombstones {
            p.dropped
                .extend((0..tc).map(|c| keys::tombstones(&p.prefix, s.id, ver, c)));
        }
        if let Some(gc) = s.graph_chunks {
            p.dropped
                .extend((0..gc).map(|c| keys::graph(&p.prefix, s.id, c)));
        }
        if let Some(qc) = s.codes_chunks {
            p.dropped
                .extend((0..qc).map(|c| keys::codes(&p.prefix, s.id, c)));
        }
    }

    // ----- persistence -------------------------------------------------------------------

    /// The write batch for everything written since the last commit, or `None` when nothing
    /// changed (or the namespace is not persistent). The manifest is the last put.
    pub fn commit(&mut self) -> Option<WriteBatch> {
        let count = self.len() as u64;
        let int8 = self.ann.int8;
        let p = self.persist.as_mut()?;
        if !p.dirty {
            return None;
        }
        let mut batch = WriteBatch::default();
        let mut garbage = std::mem::take(&mut p.dropped);
        let sealed = p.sealed_since_commit;
        if sealed {
            // The log is folded into segments and persisted tombstones.
            for l in p.log.drain(..) {
                garbage.extend((0..l.chunks).map(|c| keys::log(&p.prefix, l.seq, c)));
            }
            p.ops.clear();
        } else if !p.ops.is_empty() {
            let entry = LogEntry {
                lsn: self.lsn,
                ops: std::mem::take(&mut p.ops),
            };
            let blobs = format::encode_chunked(BlobKind::Log, &entry);
            let seq = p.next_seq;
            for (c, blob) in blobs.iter().enumerate() {
                batch
                    .puts
                    .push((keys::log(&p.prefix, seq, c as u32), blob.clone()));
            }
            p.log.push(LogRef {
                seq,
                chunks: blobs.len() as u32,
            });
            p.next_seq += 1;
        }
        // New segments (sealed, merged or consolidated) are written whole; the tombstones of
        // older ones only when the log is folded (until then the log's replay recreates them).
        // A consolidation swaps in a segment without sealing: the log stays, and replaying it
        // over the new segment is idempotent.
        for s in &mut self.segments {
            let new = s.chunks.is_none();
            if new {
                let (structured, vectors) = s.segment.encode();
                for (c, blob) in structured.iter().enumerate() {
                    batch
                        .puts
                        .push((keys::segment(&p.prefix, s.id, c as u32), blob.clone()));
                }
                for (c, blob) in vectors.iter().enumerate() {
                    batch
                        .puts
                        .push((keys::vectors(&p.prefix, s.id, c as u32), blob.clone()));
                }
                s.chunks = Some((structured.len() as u32, vectors.len() as u32));
            }
            if s.tombstones_dirty && (sealed || new) {
                let version = s.persisted_tombstones.map_or(0, |(v, _)| v + 1);
                if let Some((old, chunks)) = s.persisted_tombstones {
                    garbage.extend((0..chunks).map(|c| keys::tombstones(&p.prefix, s.id, old, c)));
                }
                let blobs = s.tombstones.encode();
                for (c, blob) in blobs.iter().enumerate() {
                    batch.puts.push((
                        keys::tombstones(&p.prefix, s.id, version, c as u32),
                        blob.clone(),
                    ));
                }
                s.persisted_tombstones = Some((version, blobs.len() as u32));
                s.tombstones_dirty = false;
            }
        }
        // Graphs completed since the last commit (their segments' blobs are written by now),
        // then int8 codes: new ones once their graph is written, stored ones with int8 off
        // become garbage.
        for s in &mut self.segments {
            if s.graph_dirty && s.chunks.is_some() {
                if let Graph::Ready(bytes) = &s.graph {
                    let chunks = format::split_chunks(bytes);
                    for (c, chunk) in chunks.iter().enumerate() {
                        batch.puts.push((
                            keys::graph(&p.prefix, s.id, c as u32),
                            format::seal_blob(BlobKind::GraphChunk, chunk),
                        ));
                    }
                    s.graph_chunks = Some(chunks.len() as u32);
                }
                s.graph_dirty = false;
            }
            match (&s.codes, s.codes_chunks) {
                (Codes::Ready(q), None) if s.graph_chunks.is_some() => {
                    let bytes = q.to_bytes();
                    let chunks = format::split_chunks(&bytes);
                    for (c, chunk) in chunks.iter().enumerate() {
                        batch.puts.push((
                            keys::codes(&p.prefix, s.id, c as u32),
                            format::seal_blob(BlobKind::CodesChunk, chunk),
                        ));
                    }
                    s.codes_chunks = Some(chunks.len() as u32);
                }
                (_, Some(chunks)) if !int8 => {
                    garbage.extend((0..chunks).map(|c| keys::codes(&p.prefix, s.id, c)));
                    s.codes_chunks = None;
                }
                _ => {}
            }
        }
        // A batch never deletes what it writes: codes that an earlier commit dropped (int8
        // off) are written again under the same keys when int8 comes back on, while the
        // previous manifest may still list them as garbage.
        let written: BTreeSet<String> = batch.puts.iter().map(|(k, _)| k.clone()).collect();
        garbage.retain(|k| !written.contains(k));
        let manifest = Manifest {
            lsn: self.lsn,
            count,
            segments: self
                .segments
                .iter()
                .map(|s| {
                    let (structured_chunks, vector_chunks) = s.chunks.unwrap_or((0, 0));
                    SegmentRef {
                        id: s.id,
                        records: s.segment.len() as u64,
                        structured_chunks,
                        vector_chunks,
                        tombstones: s.persisted_tombstones,
                        graph_chunks: s.graph_chunks.unwrap_or(0),
                        codes_chunks: s.codes_chunks.unwrap_or(0),
                    }
                })
                .collect(),
            log: p.log.clone(),
            next_seq: p.next_seq,
            next_segment: self.next_segment,
            garbage: garbage.clone(),
        };
        let blob = format::encode_chunked(BlobKind::Manifest, &manifest);
        batch.puts.push((keys::manifest(&p.prefix), blob.concat()));
        batch.deletes = std::mem::replace(&mut p.garbage, garbage);
        batch.deletes.retain(|k| !written.contains(k));
        batch.deletes.extend(p.garbage.iter().cloned());
        p.dirty = false;
        p.sealed_since_commit = false;
        Some(batch)
    }

    /// Decodes a manifest blob, of format version 1 or 2 (converted) or 3.
    pub fn decode_manifest(what: &str, bytes: &[u8]) -> Result<Manifest> {
        let (version, _) = format::open_blob_versioned(what, BlobKind::Manifest, bytes)?;
        match version {
            1 => {
                let m: ManifestV1 = format::decode_chunked(what, BlobKind::Manifest, &[bytes])?;
                Ok(m.upgrade())
            }
            2 => {
                let m: ManifestV2 = format::decode_chunked(what, BlobKind::Manifest, &[bytes])?;
                Ok(m.upgrade())
            }
            _ => format::decode_chunked(what, BlobKind::Manifest, &[bytes]),
        }
    }

    /// Every blob key [`Namespace::load`] needs to load a manifest with the configuration
    /// `ann`: everything it names, except int8 codes when [`AnnConfig::int8`] is off (they
    /// are not read then).
    pub fn required_keys(prefix: &str, m: &Manifest, ann: AnnConfig) -> Vec<String> {
        let mut out = Vec::new();
        for s in &m.segments {
            out.extend((0..s.structured_chunks).map(|c| keys::segment(prefix, s.id, c)));
            out.extend((0..s.vector_chunks).map(|c| keys::vectors(prefix, s.id, c)));
            if let Some((v, n)) = s.tombstones {
                out.extend((0..n).map(|c| keys::tombstones(prefix, s.id, v, c)));
            }
            out.extend((0..s.graph_chunks).map(|c| keys::graph(prefix, s.id, c)));
            if ann.int8 {
                out.extend((0..s.codes_chunks).map(|c| keys::codes(prefix, s.id, c)));
            }
        }
        for l in &m.log {
            out.extend((0..l.chunks).map(|c| keys::log(prefix, l.seq, c)));
        }
        out
    }

    /// Rebuilds a namespace from its manifest and the blobs it names (keyed as
    /// [`Namespace::required_keys`] lists them for the same `ann`). Segments load as stored,
    /// with their graphs, and with their int8 codes when [`AnnConfig::int8`] is on; the write
    /// log is replayed into the memtable. Nothing is built here: segments that lack a graph or
    /// codes get pending work for [`Namespace::index_step`].
    pub fn load(
        dimension: usize,
        metric: Metric,
        config: StorageConfig,
        ann: AnnConfig,
        prefix: String,
        manifest: Manifest,
        blobs: &BTreeMap<String, Vec<u8>>,
    ) -> Result<Self> {
        let get = |k: &str| -> Result<&[u8]> {
            blobs
                .get(k)
                .map(Vec::as_slice)
                .ok_or_else(|| Error::Corrupt {
                    what: k.to_string(),
                    reason: "blob named by the manifest is missing".into(),
                })
        };
        let mut ns = Namespace::new_persistent(dimension, metric, config, prefix.clone(), 0);
        ns.ann = ann;
        for s in &manifest.segments {
            let structured: Vec<&[u8]> = (0..s.structured_chunks)
                .map(|c| get(&keys::segment(&prefix, s.id, c)))
                .collect::<Result<_>>()?;
            let vectors: Vec<&[u8]> = (0..s.vector_chunks)
                .map(|c| get(&keys::vectors(&prefix, s.id, c)))
                .collect::<Result<_>>()?;
            let what = keys::segment(&prefix, s.id, 0);
            let segment = Segment::decode(&what, &structured, &vectors)?;
            if segment.len() as u64 != s.records
                || (!segment.is_empty() && segment.all_vectors().len() != segment.len() * dimension)
            {
                return Err(Error::Corrupt {
                    what,
                    reason: "segment size disagrees with its manifest or the index dimension"
                        .into(),
                });
            }
            let tombstones = match s.tombstones {
                Some((v, n)) => {
                    let chunks: Vec<&[u8]> = (0..n)
                        .map(|c| get(&keys::tombstones(&prefix, s.id, v, c)))
                        .collect::<Result<_>>()?;
                    Tombstones::decode(&what, &chunks, segment.len())?
                }
                None => Tombstones::new(segment.len()),
            };
            let graph = if s.graph_chunks == 0 {
                Graph::None
            } else {
                let gwhat = keys::graph(&prefix, s.id, 0);
                let mut bytes = Vec::new();
                for c in 0..s.graph_chunks {
                    let key = keys::graph(&prefix, s.id, c);
                    bytes.extend_from_slice(format::open_blob(
                        &key,
                        BlobKind::GraphChunk,
                        get(&key)?,
                    )?);
                }
                let bad = |reason: String| Error::Corrupt {
                    what: gwhat.clone(),
                    reason,
                };
                let view = HnswView::from_bytes(&bytes).map_err(|e| match e {
                    Error::Corrupt { reason, .. } => bad(reason),
                    other => bad(other.to_string()),
                })?;
                if view.len() != segment.len() || view.dim() != dimension || view.metric() != metric
                {
                    return Err(bad(
                        "graph size, dimension or metric disagrees with its segment".into(),
                    ));
                }
                Graph::Ready(bytes)
            };
            let codes = ns.load_codes(&prefix, s, &segment, &graph, &get)?;
            ns.segments.push(Sealed {
                chunks: Some((s.structured_chunks, s.vector_chunks)),
                persisted_tombstones: s.tombstones,
                graph_chunks: matches!(graph, Graph::Ready(_)).then_some(s.graph_chunks),
                graph,
                codes,
                codes_chunks: (s.codes_chunks > 0).then_some(s.codes_chunks),
                ..Sealed::new(s.id, segment, tombstones)
            });
            ns.schedule_graph(ns.segments.len() - 1);
        }
        for l in &manifest.log {
            let chunks: Vec<&[u8]> = (0..l.chunks)
                .map(|c| get(&keys::log(&prefix, l.seq, c)))
                .collect::<Result<_>>()?;
            let what = keys::log(&prefix, l.seq, 0);
            let entry: LogEntry = format::decode_chunked(&what, BlobKind::Log, &chunks)?;
            for op in entry.ops {
                match op {
                    LogOp::Put(records) => {
                        for r in records {
                            let r = r.into_record(&what)?;
                            if r.values.len() != dimension {
                                return Err(Error::Corrupt {
                                    what,
                                    reason: "logged record has the wrong dimension".into(),
                                });
                            }
                            ns.put(r);
                        }
                    }
                    LogOp::Delete(ids) => {
                        for id in &ids {
                            ns.remove(id);
                        }
                    }
                }
            }
        }
        if ns.len() as u64 != manifest.count {
            return Err(Error::Corrupt {
                what: keys::manifest(&prefix),
                reason: format!(
                    "manifest counts {} records, its blobs hold {}",
                    manifest.count,
                    ns.len()
                ),
            });
        }
        ns.lsn = manifest.lsn;
        ns.next_segment = manifest.next_segment;
        if let Some(p) = &mut ns.persist {
            p.log = manifest.log;
            p.next_seq = manifest.next_seq;
            p.garbage = manifest.garbage;
            p.dirty = false;
        }
        Ok(ns)
    }

    /// A loaded segment's int8 codes: decoded and checked against the segment when stored and
    /// [`AnnConfig::int8`] is on, else none (a segment whose graph is ready gets them from
    /// [`Namespace::index_step`]). Codes without a graph are corrupt: nothing writes them.
    fn load_codes<'b>(
        &self,
        prefix: &str,
        s: &SegmentRef,
        segment: &Segment,
        graph: &Graph,
        get: &impl Fn(&str) -> Result<&'b [u8]>,
    ) -> Result<Codes> {
        let what = keys::codes(prefix, s.id, 0);
        let bad = |reason: String| Error::Corrupt {
            what: what.clone(),
            reason,
        };
        if s.codes_chunks > 0 && !matches!(graph, Graph::Ready(_)) {
            return Err(bad("int8 codes of a segment without a graph".into()));
        }
        if s.codes_chunks == 0 || !self.ann.int8 {
            return Ok(Codes::None);
        }
        let mut bytes = Vec::new();
        for c in 0..s.codes_chunks {
            let key = keys::codes(prefix, s.id, c);
            bytes.extend_from_slice(format::open_blob(&key, BlobKind::CodesChunk, get(&key)?)?);
        }
        let q = Int8Index::from_bytes(&bytes).map_err(|e| match e {
            Error::Corrupt { reason, .. } => bad(reason),
            other => bad(other.to_string()),
        })?;
        if q.len() != segment.len() || q.dim() != self.dimension || q.metric() != self.metric {
            return Err(bad(
                "int8 codes' size, dimension or metric disagree with their segment".into(),
            ));
        }
        Ok(Codes::Ready(Box::new(q)))
    }
}

impl Namespace {
    /// True when [`Namespace::index_step`] has work to do: a graph or codes build in progress,
    /// or a consolidation running or due. A pure probe (`index_step(0)` may plan).
    pub fn indexing_pending(&self) -> bool {
        self.consolidation.is_some()
            || self.consolidation_pays()
            || self.segments.iter().any(|s| {
                matches!(s.graph, Graph::Building(_)) || matches!(s.codes, Codes::Building(_))
            })
    }

    /// Resident bytes of the namespace (see [`Namespace::approximate_bytes`]).
    pub fn resident_bytes(&self) -> usize {
        self.approximate_bytes()
    }

    /// Bytes one record adds to a namespace in memory: its id, values, norm, sparse values,
    /// metadata and the per-record structures (slot maps, graph links).
    pub fn estimate_record_bytes(r: &Record) -> usize {
        const PER_RECORD: usize = 24 + 4 + 64;
        r.id.len()
            + r.values.len() * 4
            + r.sparse_values.as_ref().map_or(0, |s| s.len() * 8)
            + r.metadata.as_ref().map_or(0, Metadata::json_size)
            + PER_RECORD
    }

    /// [`Namespace::estimate_record_bytes`] of a stored record.
    pub fn record_bytes(&self, loc: Loc) -> usize {
        Self::estimate_record_bytes(&self.record(loc))
    }
}
