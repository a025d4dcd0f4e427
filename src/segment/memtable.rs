//! The memtable: a namespace's mutable write buffer, searched exactly.
//!
//! It owns every structure its records live in — id map, vector array, norms, sparse vectors,
//! metadata. Records occupy dense slots `0..len`; removing a record moves the last slot into the
//! hole, so scans never meet gaps. When it grows past a threshold the namespace seals it into an
//! immutable [`crate::segment::Segment`].

use std::collections::BTreeMap;
use std::ops::{Bound, Deref};

use super::columns::Columns;
use crate::heap;
use crate::record::Record;

/// The mutable records of one namespace: columns plus an id → slot map.
#[derive(Debug, Clone, Default)]
pub struct Memtable {
    columns: Columns,
    by_id: BTreeMap<String, u32>,
    /// Bytes of the map's keys.
    key_bytes: usize,
}

impl Deref for Memtable {
    type Target = Columns;

    fn deref(&self) -> &Columns {
        &self.columns
    }
}

impl Memtable {
    /// An empty memtable for vectors of `dimension` floats (0 for sparse indexes).
    pub fn new(dimension: usize) -> Self {
        Memtable {
            columns: Columns::new(dimension),
            by_id: BTreeMap::new(),
            key_bytes: 0,
        }
    }

    /// The slot of `id`, if present.
    pub fn slot_of(&self, id: &str) -> Option<u32> {
        self.by_id.get(id).copied()
    }

    /// Inserts or replaces a whole record.
    pub fn put(&mut self, r: Record) {
        match self.by_id.get(&r.id) {
            Some(&slot) => self.columns.replace(slot, r),
            None => {
                let key = r.id.clone();
                self.key_bytes += key.capacity();
                self.by_id.insert(key, self.columns.len() as u32);
                self.columns.reserve_one();
                self.columns.push(r);
            }
        }
    }

    /// Removes a record; false when absent.
    pub fn remove(&mut self, id: &str) -> bool {
        let Some((key, slot)) = self.by_id.remove_entry(id) else {
            return false;
        };
        self.key_bytes -= key.capacity();
        if let Some(moved) = self.columns.swap_remove(slot) {
            self.by_id.insert(moved.to_string(), slot);
        }
        true
    }

    /// Ids from `start` on, in byte order, with their slots.
    pub fn ids_from<'a>(&'a self, start: Bound<&'a str>) -> impl Iterator<Item = (&'a str, u32)> {
        self.by_id
            .range::<str, _>((start, Bound::Unbounded))
            .map(|(id, &slot)| (id.as_str(), slot))
    }

    /// Bytes held: the columns, and the id map's nodes and keys.
    pub fn resident_bytes(&self) -> usize {
        self.columns.resident_bytes()
            + heap::btree_map::<String, u32>(self.by_id.len())
            + self.key_bytes
    }

    /// Bytes `r` takes once put under a new id (the buffers' spare capacity not included).
    pub fn record_bytes(r: &Record) -> usize {
        Columns::record_bytes(r) + heap::btree_entry::<String, u32>() + r.id.len()
    }

    /// Moves every record into columns in id order (a sealed segment's), leaving the
    /// memtable empty with room for `reserve` records. Rows are copied column to column, not
    /// through one allocation per record (the dense values are reordered in their pages, not
    /// copied), and the new room is reserved only once the old columns are freed: a namespace that seals at a fixed size reuses the same blocks at
    /// every seal instead of growing its heap with the pieces of ever larger ones.
    pub fn seal_sorted(&mut self, reserve: usize) -> Columns {
        let dim = self.columns.dimension;
        let old = std::mem::replace(self, Memtable::new(dim));
        let Columns {
            mut ids,
            mut vectors,
            norms,
            mut sparse,
            mut metadata,
            heap,
            ..
        } = old.columns;
        let n = old.by_id.len();
        let order: Vec<u32> = old.by_id.values().copied().collect();
        drop(old.by_id);
        let mut out = Columns::new(dim);
        out.ids.reserve_exact(n);
        out.norms.reserve_exact(n);
        out.sparse.reserve_exact(n);
        out.metadata.reserve_exact(n);
        for &slot in &order {
            let s = slot as usize;
            out.ids.push(std::mem::take(&mut ids[s]));
            out.norms.push(norms[s]);
            out.sparse.push(sparse[s].take());
            out.metadata.push(metadata[s].take());
        }
        drop((ids, norms, sparse, metadata));
        // The dense values, the bulk, are sorted where they are.
        vectors.permute(&order);
        vectors.shrink_to_fit();
        out.vectors = vectors;
        out.heap = heap;
        self.columns.ids.reserve_exact(reserve);
        self.columns.norms.reserve_exact(reserve);
        self.columns.sparse.reserve_exact(reserve);
        self.columns.metadata.reserve_exact(reserve);
        out
    }

    /// Gives back the columns' room beyond a quarter more than the records use (what
    /// [`Memtable::seal_sorted`] reserved, once writes have stopped). True when it shrank.
    pub fn release_room(&mut self) -> bool {
        let (n, c) = (self.columns.ids.len(), &mut self.columns);
        if n == 0 && c.ids.capacity() > 0 {
            *self = Memtable::new(c.dimension);
            return true;
        }
        if c.ids.capacity() <= n + n / 4 + 16 {
            return false;
        }
        c.ids.shrink_to_fit();
        c.vectors.shrink_to_fit();
        c.norms.shrink_to_fit();
        c.sparse.shrink_to_fit();
        c.metadata.shrink_to_fit();
        true
    }

    /// Moves every record out, in id order, leaving the memtable empty.
    pub fn drain_sorted(&mut self) -> Vec<Record> {
        let out = self.by_id.values().map(|&s| self.record(s)).collect();
        *self = Memtable::new(self.columns.dimension);
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

    #[test]
    fn seal_sorted_moves_every_column_in_id_order_and_reserves_room() {
        let mut m = Memtable::new(2);
        let md = crate::Metadata::from_json(&serde_json::json!({"g": "x"})).unwrap();
        let sv = crate::record::SparseVector::new(vec![3], vec![0.5]).unwrap();
        for (id, v) in [("d", 4.0), ("b", 2.0), ("c", 3.0), ("a", 1.0)] {
            m.put(Record {
                metadata: (id == "c").then(|| md.clone()),
                sparse_values: (id == "b").then(|| sv.clone()),
                ..rec(id, [v, v])
            });
        }
        m.remove("d");
        let expected: Vec<Record> = m.clone().drain_sorted();
        let heap = m.columns.heap;
        let sealed = m.seal_sorted(100);
        assert!(m.is_empty());
        assert!(m.columns.ids.capacity() >= 100);
        assert_eq!(sealed.ids, ["a", "b", "c"]);
        assert_eq!(
            sealed.vectors,
            crate::index::dense::DenseRows::from_flat(2, &[1.0, 1.0, 2.0, 2.0, 3.0, 3.0])
        );
        assert_eq!(sealed.heap, heap);
        for (i, r) in expected.iter().enumerate() {
            assert_eq!(sealed.record(i as u32), *r);
            assert_eq!(sealed.norms[i], crate::distance::norm(&r.values));
        }
    }
}
