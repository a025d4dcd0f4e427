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
}
