//! The memtable: a namespace's mutable write buffer, searched exactly.
//!
//! It owns every structure its records live in — id map, vector array, norms, sparse vectors,
//! metadata. Records occupy dense slots `0..len`; removing a record moves the last slot into the
//! hole, so scans never meet gaps. When it grows past a threshold the namespace seals it into an
//! immutable [`crate::segment::Segment`].

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::distance;
use crate::metadata::Metadata;
use crate::record::{Record, SparseVector};

/// The mutable records of one namespace.
#[derive(Debug, Clone, Default)]
pub struct Memtable {
    dimension: usize,
    by_id: BTreeMap<String, u32>,
    ids: Vec<String>,
    vectors: Vec<f32>,
    norms: Vec<f32>,
    sparse: Vec<Option<SparseVector>>,
    metadata: Vec<Option<Metadata>>,
}

impl Memtable {
    /// An empty memtable for vectors of `dimension` floats (0 for sparse indexes).
    pub fn new(dimension: usize) -> Self {
        Memtable {
            dimension,
            ..Memtable::default()
        }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The slot of `id`, if present.
    pub fn slot_of(&self, id: &str) -> Option<u32> {
        self.by_id.get(id).copied()
    }

    /// The id in `slot`.
    pub fn id(&self, slot: u32) -> &str {
        &self.ids[slot as usize]
    }

    /// The dense values in `slot` (empty for sparse indexes).
    pub fn values(&self, slot: u32) -> &[f32] {
        let (d, s) = (self.dimension, slot as usize);
        &self.vectors[s * d..(s + 1) * d]
    }

    /// All dense values, `dimension` per slot.
    pub fn all_vectors(&self) -> &[f32] {
        &self.vectors
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

    /// Inserts or replaces a whole record.
    pub fn put(&mut self, r: Record) {
        debug_assert_eq!(r.values.len(), self.dimension);
        let norm = distance::norm(&r.values);
        match self.by_id.get(&r.id) {
            Some(&slot) => {
                let (d, s) = (self.dimension, slot as usize);
                self.vectors[s * d..(s + 1) * d].copy_from_slice(&r.values);
                self.norms[s] = norm;
                self.sparse[s] = r.sparse_values;
                self.metadata[s] = r.metadata;
            }
            None => {
                let slot = self.ids.len() as u32;
                self.by_id.insert(r.id.clone(), slot);
                self.ids.push(r.id);
                self.vectors.extend_from_slice(&r.values);
                self.norms.push(norm);
                self.sparse.push(r.sparse_values);
                self.metadata.push(r.metadata);
            }
        }
    }

    /// Removes a record; false when absent.
    pub fn remove(&mut self, id: &str) -> bool {
        let Some(slot) = self.by_id.remove(id) else {
            return false;
        };
        let s = slot as usize;
        let last = self.ids.len() - 1;
        let d = self.dimension;
        if s != last {
            self.vectors.copy_within(last * d..(last + 1) * d, s * d);
            let moved = self.ids[last].clone();
            self.by_id.insert(moved, slot);
        }
        self.vectors.truncate(last * d);
        self.ids.swap_remove(s);
        self.norms.swap_remove(s);
        self.sparse.swap_remove(s);
        self.metadata.swap_remove(s);
        true
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

    /// Ids from `start` on, in byte order, with their slots.
    pub fn ids_from<'a>(&'a self, start: Bound<&'a str>) -> impl Iterator<Item = (&'a str, u32)> {
        self.by_id
            .range::<str, _>((start, Bound::Unbounded))
            .map(|(id, &slot)| (id.as_str(), slot))
    }

    /// Moves every record out, in id order, leaving the memtable empty.
    pub fn drain_sorted(&mut self) -> Vec<Record> {
        let out = self.by_id.values().map(|&s| self.record(s)).collect();
        *self = Memtable::new(self.dimension);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, v: [f32; 2]) -> Record {
        Record {
            id: id.into(),
            values: v.to_vec(),
            ..Record::default()
        }
    }

    #[test]
    fn remove_moves_last_slot_and_keeps_maps_consistent() {
        let mut m = Memtable::new(2);
        for r in [
            rec("a", [0.0, 1.0]),
            rec("b", [1.0, 0.0]),
            rec("c", [1.0, 1.0]),
        ] {
            m.put(r);
        }
        assert!(m.remove("a"));
        assert!(!m.remove("a"));
        assert_eq!(m.len(), 2);
        let c = m.slot_of("c").unwrap();
        assert_eq!((m.values(c), m.id(c)), (&[1.0, 1.0][..], "c"));
        let ids: Vec<&str> = m.ids_from(Bound::Unbounded).map(|(id, _)| id).collect();
        assert_eq!(ids, vec!["b", "c"]);
        let drained = m.drain_sorted();
        assert_eq!(drained.len(), 2);
        assert!(m.is_empty());
    }
}
