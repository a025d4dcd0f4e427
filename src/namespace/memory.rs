//! Sizes: the bytes a namespace keeps in memory.
//!
//! Two measures. [`Namespace::resident_bytes`] is what the namespace holds: every buffer at
//! its capacity, collections with their nodes (see `src/heap.rs`), target-dependent — the one
//! to budget memory with. [`Namespace::approximate_bytes`] is a cheap estimate of the data
//! alone that is the same on every target (ids, vectors, norms, sparse values, metadata as
//! JSON, graphs, codes), so what Pinecone's query `readUnits` are derived from does not depend
//! on the host.

use std::mem::size_of;

use super::job::{Codes, Graph};
use super::persist::Persist;
use super::sealed::Sealed;
use super::{Loc, Namespace, VectorBytes};
use crate::distance::Metric;
use crate::heap;
use crate::index::hnsw::HnswBuilder;
use crate::index::quant::{Int8Builder, Int8Index};
use crate::manifest::LogOp;
use crate::record::Record;
use crate::segment::memtable::Memtable;
use crate::segment::stored::{StoredRecord, StoredValue};

impl Namespace {
    /// Approximate bytes of the records, graphs and codes: a stable figure, the same on every
    /// target (64 bytes per memtable record beyond its vector, the metadata as its JSON).
    /// Pinecone's query `readUnits` are derived from it; [`Namespace::resident_bytes`]
    /// measures memory.
    pub fn approximate_bytes(&self) -> usize {
        let mem = self.memtable.all_vectors().len() * 4 + self.memtable.len() * 64;
        mem + self
            .segments
            .iter()
            .map(|s| {
                let graph = s.graph.ready().map_or(0, Vec::len);
                let codes = s.int8().map_or(0, Int8Index::bytes);
                s.segment.approximate_bytes() + graph + codes
            })
            .sum::<usize>()
    }

    /// Bytes resident in memory for this namespace: the memtable and every segment's ids,
    /// dense vectors, norms, sparse values and metadata at their in-memory size (tracked as
    /// records are added, so this call is cheap), tombstones, graphs and int8 codes (built or
    /// being built), metadata postings and sparse indexes once built, a consolidation in
    /// progress, the write being logged and the search scratch. Allocator overhead is not
    /// counted, and sizes differ between targets (pointers are 8 bytes natively, 4 on wasm32).
    pub fn resident_bytes(&self) -> usize {
        let scratch = self.scratch.0.try_lock().map_or(0, |s| s.bytes());
        size_of::<Self>()
            + self.memtable.resident_bytes()
            + heap::vec(&self.segments)
            + self.segments.iter().map(Sealed::heap_bytes).sum::<usize>()
            + self.consolidation.as_ref().map_or(0, |c| c.heap_bytes())
            + self.persist.as_ref().map_or(0, Persist::heap_bytes)
            + scratch
    }

    /// [`Namespace::resident_bytes`] by part (the parts sum to it), for diagnostics and
    /// benchmarks.
    pub fn memory_report(&self) -> MemoryReport {
        let mut r = MemoryReport {
            memtable: self.memtable.resident_bytes(),
            consolidation: self.consolidation.as_ref().map_or(0, |c| c.heap_bytes()),
            persist: self.persist.as_ref().map_or(0, Persist::heap_bytes),
            other: size_of::<Self>()
                + heap::vec(&self.segments)
                + self.scratch.0.try_lock().map_or(0, |s| s.bytes()),
            ..MemoryReport::default()
        };
        for s in &self.segments {
            r.columns += s.segment.resident_bytes();
            r.tombstones += s.tombstones.heap_bytes();
            r.graphs += s.graph.heap_bytes();
            r.codes += s.codes.heap_bytes();
            r.postings += s.postings.get().map_or(0, |p| p.heap_bytes());
            r.sparse_index += s.sparse_index.get().map_or(0, |i| i.heap_bytes());
            r.row_layouts += s.row_layout.as_ref().map_or(0, |l| l.heap_bytes());
            if let Some(p) = &s.paged {
                let layout = p.layout.heap_bytes();
                r.row_layouts += layout;
                r.row_cache += p.heap_bytes() - layout;
            }
        }
        r
    }

    /// The bytes upserting `r` under a new id adds to [`Namespace::resident_bytes`] (its
    /// memtable slot and id-map entry; the buffers' spare capacity, and the copy logged until
    /// the next commit, not included), so that a host can refuse a batch before applying it.
    /// Sealing moves the record into a segment at about the same size.
    pub fn estimate_record_bytes(r: &Record) -> usize {
        Memtable::record_bytes(r)
    }

    /// [`Namespace::estimate_record_bytes`] of the live record at `loc` (what overwriting it
    /// gives back, for the namespace budget).
    /// A record of a paged segment gives back only what stays in memory of it (its id and
    /// sparse values, and no row).
    pub fn record_bytes(&self, loc: Loc) -> usize {
        match self.record(loc) {
            Ok(r) => Self::estimate_record_bytes(&r),
            Err(_) => Self::estimate_record_bytes(&Record {
                id: self.id(loc).to_string(),
                values: Vec::new(),
                sparse_values: self.sparse_values(loc).cloned(),
                metadata: None,
            }),
        }
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
}

/// [`Namespace::resident_bytes`] by part ([`Namespace::memory_report`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryReport {
    /// The memtable: its columns and id map.
    pub memtable: usize,
    /// Sealed segments' columns: ids, norms, sparse values, and the dense values and metadata
    /// of segments not paged out.
    pub columns: usize,
    pub tombstones: usize,
    /// Graphs, built or being built.
    pub graphs: usize,
    /// int8 codes, quantized or being quantized.
    pub codes: usize,
    /// Metadata indexes.
    pub postings: usize,
    /// Sparse inverted indexes.
    pub sparse_index: usize,
    /// Where each row of a stored segment is (paged or about to be).
    pub row_layouts: usize,
    /// Row groups of paged segments held in memory.
    pub row_cache: usize,
    /// A consolidation in progress.
    pub consolidation: usize,
    /// The write being logged, log references and garbage lists.
    pub persist: usize,
    /// The namespace itself, its segment list and the search scratch.
    pub other: usize,
}

impl std::ops::AddAssign for MemoryReport {
    fn add_assign(&mut self, o: Self) {
        self.memtable += o.memtable;
        self.columns += o.columns;
        self.tombstones += o.tombstones;
        self.graphs += o.graphs;
        self.codes += o.codes;
        self.postings += o.postings;
        self.sparse_index += o.sparse_index;
        self.row_layouts += o.row_layouts;
        self.row_cache += o.row_cache;
        self.consolidation += o.consolidation;
        self.persist += o.persist;
        self.other += o.other;
    }
}

impl MemoryReport {
    /// The sum of the parts: [`Namespace::resident_bytes`].
    pub fn total(&self) -> usize {
        self.memtable
            + self.columns
            + self.tombstones
            + self.graphs
            + self.codes
            + self.postings
            + self.sparse_index
            + self.row_layouts
            + self.row_cache
            + self.consolidation
            + self.persist
            + self.other
    }
}

impl Sealed {
    /// Bytes held beyond `size_of::<Sealed>()`.
    fn heap_bytes(&self) -> usize {
        self.segment.resident_bytes()
            + self.tombstones.heap_bytes()
            + self.graph.heap_bytes()
            + self.codes.heap_bytes()
            + self.postings.get().map_or(0, |p| p.heap_bytes())
            + self.sparse_index.get().map_or(0, |i| i.heap_bytes())
            + self.paged.as_ref().map_or(0, |p| p.heap_bytes())
            + self.row_layout.as_ref().map_or(0, |l| l.heap_bytes())
    }
}

impl Graph {
    /// Bytes held: the graph's bytes, or its builder.
    pub(super) fn heap_bytes(&self) -> usize {
        match self {
            Graph::None => 0,
            Graph::Building(b) => size_of::<HnswBuilder>() + b.heap_bytes(),
            Graph::Ready(bytes) => heap::vec(bytes),
        }
    }
}

impl Codes {
    /// Bytes held: the codes, or their builder.
    fn heap_bytes(&self) -> usize {
        match self {
            Codes::None => 0,
            Codes::Building(b) => size_of::<Int8Builder>() + b.heap_bytes(),
            Codes::Ready(q) => size_of::<Int8Index>() + q.bytes(),
        }
    }
}

impl Persist {
    /// Bytes held: the key prefix, the log references, the garbage lists and the write
    /// being logged.
    fn heap_bytes(&self) -> usize {
        let strings =
            |v: &Vec<String>| heap::vec(v) + v.iter().map(String::capacity).sum::<usize>();
        let op = |op: &LogOp| match op {
            LogOp::Put(records) => {
                heap::vec(records) + records.iter().map(stored_record_heap).sum::<usize>()
            }
            LogOp::Delete(ids) => strings(ids),
        };
        self.prefix.capacity()
            + heap::vec(&self.log)
            + heap::vec(&self.ops)
            + self.ops.iter().map(op).sum::<usize>()
            + strings(&self.dropped)
            + strings(&self.garbage)
    }
}

/// Bytes a logged record holds beyond `size_of::<StoredRecord>()`.
fn stored_record_heap(r: &StoredRecord) -> usize {
    let m = &r.meta;
    let sparse = m
        .sparse
        .as_ref()
        .map_or(0, |(i, v)| heap::vec(i) + heap::vec(v));
    let value = |v: &StoredValue| match v {
        StoredValue::String(s) => s.capacity(),
        StoredValue::Number(_) | StoredValue::Bool(_) => 0,
        StoredValue::List(l) => heap::vec(l) + l.iter().map(String::capacity).sum::<usize>(),
    };
    let metadata = m.metadata.as_ref().map_or(0, |md| {
        heap::vec(md)
            + md.iter()
                .map(|(k, v)| k.capacity() + value(v))
                .sum::<usize>()
    });
    m.id.capacity() + sparse + metadata + heap::vec(&r.values)
}
