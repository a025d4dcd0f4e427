//! The column store both the memtable and sealed segments keep their records in: ids, dense
//! vectors (`dimension` floats per slot, in pages: [`DenseRows`]), norms, sparse values and
//! metadata, one entry per slot.

use crate::index::dense::{Dense, DenseRows};
use crate::metadata::Metadata;
use crate::record::{Record, SparseVector};
use crate::{distance, heap};

/// Records in dense slots `0..len`.
#[derive(Debug, Clone, Default)]
pub struct Columns {
    pub(crate) dimension: usize,
    pub(crate) ids: Vec<String>,
    pub(crate) vectors: DenseRows,
    pub(crate) norms: Vec<f32>,
    pub(crate) sparse: Vec<Option<SparseVector>>,
    pub(crate) metadata: Vec<Option<Metadata>>,
    /// Bytes the records' ids, sparse values and metadata hold ([`Columns::entry_heap`]),
    /// kept up to date as records come and go.
    pub(crate) heap: usize,
}

impl Columns {
    /// No records, vectors of `dimension` floats.
    pub fn new(dimension: usize) -> Self {
        Columns {
            dimension,
            vectors: DenseRows::new(dimension),
            ..Columns::default()
        }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when there are no records.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The id in `slot`.
    pub fn id(&self, slot: u32) -> &str {
        &self.ids[slot as usize]
    }

    /// The dense values in `slot` (empty for sparse indexes).
    pub fn values(&self, slot: u32) -> &[f32] {
        self.vectors.row(slot as usize)
    }

    /// All dense values, `dimension` per slot.
    pub fn all_vectors(&self) -> Dense<'_> {
        self.vectors.view()
    }

    /// All norms, one per slot.
    pub fn norms(&self) -> &[f32] {
        &self.norms
    }

    /// The sparse values in `slot`.
    pub fn sparse_values(&self, slot: u32) -> Option<&SparseVector> {
        self.sparse[slot as usize].as_ref()
    }

    /// The metadata in `slot`.
    pub fn metadata(&self, slot: u32) -> Option<&Metadata> {
        self.metadata[slot as usize].as_ref()
    }

    /// The whole record in `slot`, copied out.
    pub fn record(&self, slot: u32) -> Record {
        Record {
            id: self.id(slot).to_string(),
            values: self.values(slot).to_vec(),
            sparse_values: self.sparse_values(slot).cloned(),
            metadata: self.metadata(slot).cloned(),
        }
    }

    /// Bytes one record's entries hold beyond the column buffers: its id, sparse values and
    /// metadata.
    pub(crate) fn entry_heap(
        id: &String,
        sparse: &Option<SparseVector>,
        metadata: &Option<Metadata>,
    ) -> usize {
        id.capacity()
            + sparse.as_ref().map_or(0, SparseVector::heap_bytes)
            + metadata.as_ref().map_or(0, Metadata::heap_bytes)
    }

    /// What the entries hold without their metadata (ids and sparse values): [`Columns::heap`]
    /// once the dense values and metadata are paged out.
    pub(crate) fn rowless_heap(&self) -> usize {
        self.ids
            .iter()
            .zip(&self.sparse)
            .map(|(id, s)| Self::entry_heap(id, s, &None))
            .sum()
    }

    /// Bytes `r` takes once pushed: its slot in every column and what its entries hold (a
    /// column buffer's spare capacity not included).
    pub fn record_bytes(r: &Record) -> usize {
        size_of::<String>()
            + r.values.len() * size_of::<f32>()
            + size_of::<f32>()
            + size_of::<Option<SparseVector>>()
            + size_of::<Option<Metadata>>()
            + Self::entry_heap(&r.id, &r.sparse_values, &r.metadata)
    }

    /// Bytes held: the column buffers and what the records' entries hold.
    pub fn resident_bytes(&self) -> usize {
        heap::vec(&self.ids)
            + self.vectors.heap_bytes()
            + heap::vec(&self.norms)
            + heap::vec(&self.sparse)
            + heap::vec(&self.metadata)
            + self.heap
    }

    /// Makes room for one more record, growing a full column by a quarter of its records
    /// (at least 16) instead of doubling it: a growing memtable then holds at most a quarter
    /// more than it uses, and a reallocation copies into 1.25× the bytes, not 2×. (The dense
    /// values grow a page at a time.)
    pub fn reserve_one(&mut self) {
        let n = self.len();
        if self.ids.len() < self.ids.capacity() {
            return;
        }
        let more = (n / 4).max(16);
        self.ids.reserve_exact(more);
        self.norms.reserve_exact(more);
        self.sparse.reserve_exact(more);
        self.metadata.reserve_exact(more);
    }

    /// Appends a record in a new last slot.
    pub fn push(&mut self, r: Record) {
        debug_assert_eq!(r.values.len(), self.dimension);
        self.heap += Self::entry_heap(&r.id, &r.sparse_values, &r.metadata);
        self.norms.push(distance::norm(&r.values));
        self.vectors.push(&r.values);
        self.ids.push(r.id);
        self.sparse.push(r.sparse_values);
        self.metadata.push(r.metadata);
    }

    /// Replaces everything but the id in `slot`.
    pub fn replace(&mut self, slot: u32, r: Record) {
        let s = slot as usize;
        let id = &self.ids[s];
        self.heap -= Self::entry_heap(id, &self.sparse[s], &self.metadata[s]);
        self.heap += Self::entry_heap(id, &r.sparse_values, &r.metadata);
        self.norms[s] = distance::norm(&r.values);
        self.vectors.row_mut(s).copy_from_slice(&r.values);
        self.sparse[s] = r.sparse_values;
        self.metadata[s] = r.metadata;
    }

    /// Removes `slot` by moving the last slot into it; returns the moved record's id, if any.
    pub fn swap_remove(&mut self, slot: u32) -> Option<&str> {
        let s = slot as usize;
        let last = self.ids.len() - 1;
        self.heap -= Self::entry_heap(&self.ids[s], &self.sparse[s], &self.metadata[s]);
        self.vectors.swap_remove(s);
        self.ids.swap_remove(s);
        self.norms.swap_remove(s);
        self.sparse.swap_remove(s);
        self.metadata.swap_remove(s);
        (s != last).then(|| self.ids[s].as_str())
    }
}
