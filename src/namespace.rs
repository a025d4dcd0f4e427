//! One namespace's records and the operations on them.
//!
//! A namespace owns every structure its records live in — id map, vector array, norms, sparse
//! vectors, metadata — so it can be stored, loaded and dropped on its own. Records occupy dense
//! slots `0..len`; deleting a record moves the last slot into the hole, so scans never meet gaps.
//!
//! The namespace trusts its caller ([`crate::db::Index`]) to have validated records against the
//! index configuration; it never fails for data reasons.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::distance::{self, Metric};
use crate::filter::Filter;
use crate::index::{flat, sparse};
use crate::metadata::Metadata;
use crate::record::{Record, SparseVector};

/// A query vector: dense, sparse, or both (hybrid).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryVector {
    pub values: Option<Vec<f32>>,
    pub sparse_values: Option<SparseVector>,
}

/// One scored result: the record's slot and its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub slot: u32,
    pub score: f32,
}

/// The records of one namespace.
#[derive(Debug, Clone)]
pub struct Namespace {
    dimension: usize,
    metric: Metric,
    by_id: BTreeMap<String, u32>,
    ids: Vec<String>,
    vectors: Vec<f32>,
    norms: Vec<f32>,
    sparse: Vec<Option<SparseVector>>,
    metadata: Vec<Option<Metadata>>,
    lsn: u64,
}

impl Namespace {
    /// An empty namespace for vectors of `dimension` floats (0 for sparse indexes).
    pub fn new(dimension: usize, metric: Metric) -> Self {
        Namespace {
            dimension,
            metric,
            by_id: BTreeMap::new(),
            ids: Vec::new(),
            vectors: Vec::new(),
            norms: Vec::new(),
            sparse: Vec::new(),
            metadata: Vec::new(),
            lsn: 0,
        }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when the namespace holds no records.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The sequence number of the last write (0 before any write).
    pub fn lsn(&self) -> u64 {
        self.lsn
    }

    /// Approximate bytes held by the records (vectors, sparse values, metadata, ids).
    pub fn approximate_bytes(&self) -> usize {
        let sparse: usize = self.sparse.iter().flatten().map(|s| s.len() * 8).sum();
        let meta: usize = self.metadata.iter().flatten().map(Metadata::json_size).sum();
        let ids: usize = self.ids.iter().map(String::len).sum();
        self.vectors.len() * 4 + self.norms.len() * 4 + sparse + meta + ids
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
        let d = self.dimension;
        &self.vectors[slot as usize * d..(slot as usize + 1) * d]
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

    /// Inserts or replaces whole records. Returns the new LSN.
    pub fn upsert(&mut self, records: Vec<Record>) -> u64 {
        for r in records {
            debug_assert_eq!(r.values.len(), self.dimension);
            let norm = distance::norm(&r.values);
            match self.by_id.get(&r.id) {
                Some(&slot) => {
                    let s = slot as usize;
                    let d = self.dimension;
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
        self.bump()
    }

    /// Overwrites parts of an existing record. Returns false when `id` is absent.
    pub fn update(
        &mut self,
        id: &str,
        values: Option<Vec<f32>>,
        sparse_values: Option<SparseVector>,
        set_metadata: Option<&Metadata>,
    ) -> bool {
        let Some(slot) = self.slot_of(id) else {
            return false;
        };
        let s = slot as usize;
        if let Some(values) = values {
            let d = self.dimension;
            self.norms[s] = distance::norm(&values);
            self.vectors[s * d..(s + 1) * d].copy_from_slice(&values);
        }
        if let Some(sv) = sparse_values {
            self.sparse[s] = Some(sv);
        }
        if let Some(md) = set_metadata {
            self.metadata[s].get_or_insert_with(Metadata::new).merge(md);
        }
        self.bump();
        true
    }

    /// Merges `set_metadata` into every record matching `filter`. Returns how many matched.
    pub fn update_where(&mut self, filter: &Filter, set_metadata: &Metadata) -> usize {
        let slots = self.matching_slots(filter);
        for &s in &slots {
            self.metadata[s as usize]
                .get_or_insert_with(Metadata::new)
                .merge(set_metadata);
        }
        if !slots.is_empty() {
            self.bump();
        }
        slots.len()
    }

    /// Deletes the given ids; unknown ids are ignored. Returns how many were deleted.
    pub fn delete_ids<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>) -> usize {
        let mut n = 0;
        for id in ids {
            if let Some(slot) = self.slot_of(id) {
                self.remove_slot(slot);
                n += 1;
            }
        }
        self.bump();
        n
    }

    /// Deletes every record matching `filter`. Returns how many were deleted.
    pub fn delete_where(&mut self, filter: &Filter) -> usize {
        let mut slots = self.matching_slots(filter);
        // Highest first, so moving the last slot into a hole never moves a slot still to delete.
        slots.sort_unstable_by(|a, b| b.cmp(a));
        for &s in &slots {
            self.remove_slot(s);
        }
        self.bump();
        slots.len()
    }

    /// Number of records matching `filter` (all records for `None`).
    pub fn count(&self, filter: Option<&Filter>) -> usize {
        match filter {
            None => self.len(),
            Some(f) if f.is_match_all() => self.len(),
            Some(f) => self.matching_slots(f).len(),
        }
    }

    /// Ids starting with `prefix`, in lexicographic (byte) order, strictly after `after`, at
    /// most `limit` of them. The second value is true when more ids follow.
    pub fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> (Vec<&str>, bool) {
        let start = match after {
            Some(a) if a >= prefix => Bound::Excluded(a),
            _ => Bound::Included(prefix),
        };
        let mut iter = self
            .by_id
            .range::<str, _>((start, Bound::Unbounded))
            .map(|(id, _)| id.as_str())
            .take_while(|id| id.starts_with(prefix));
        let page: Vec<&str> = iter.by_ref().take(limit).collect();
        let more = iter.next().is_some();
        (page, more)
    }

    /// Slots of records matching `filter`, in id order, strictly after id `after`, at most
    /// `limit`. The second value is true when more follow.
    pub fn scan_ids_where(
        &self,
        filter: &Filter,
        after: Option<&str>,
        limit: usize,
    ) -> (Vec<u32>, bool) {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut iter = self
            .by_id
            .range::<str, _>((start, Bound::Unbounded))
            .map(|(_, &slot)| slot)
            .filter(|&slot| filter.matches(self.metadata(slot)));
        let page: Vec<u32> = iter.by_ref().take(limit).collect();
        let more = iter.next().is_some();
        (page, more)
    }

    /// The `k` best records for `query` among those matching `filter`, best first.
    ///
    /// Dense-only queries score with the namespace's metric. Queries with sparse values (hybrid,
    /// or sparse indexes) score `dense dot + sparse dot`; in a sparse-only namespace only records
    /// sharing at least one sparse index with the query are candidates.
    pub fn query(&self, query: &QueryVector, k: usize, filter: Option<&Filter>) -> Vec<Scored> {
        let filter = filter.filter(|f| !f.is_match_all());
        let accept = |slot: u32| filter.is_none_or(|f| f.matches(self.metadata(slot)));
        let pairs = match (&query.values, &query.sparse_values) {
            (Some(q), None) => flat::scan(self.metric, q, &self.vectors, &self.norms, k, accept),
            (dense, Some(sq)) => self.hybrid_scan(dense.as_deref(), sq, k, accept),
            (None, None) => Vec::new(),
        };
        pairs
            .into_iter()
            .map(|(score, slot)| Scored { slot, score })
            .collect()
    }

    fn hybrid_scan(
        &self,
        dense: Option<&[f32]>,
        sq: &SparseVector,
        k: usize,
        accept: impl Fn(u32) -> bool,
    ) -> Vec<(f32, u32)> {
        let mut top = flat::TopK::new(k, true);
        for slot in 0..self.len() as u32 {
            if !accept(slot) {
                continue;
            }
            let sparse_score = self.sparse_values(slot).and_then(|sv| sparse::dot(sq, sv));
            let score = match dense {
                Some(q) => distance::dot(q, self.values(slot)) + sparse_score.unwrap_or(0.0),
                None => match sparse_score {
                    Some(s) => s,
                    None => continue,
                },
            };
            top.push(score, slot);
        }
        top.into_sorted()
    }

    fn matching_slots(&self, filter: &Filter) -> Vec<u32> {
        (0..self.len() as u32)
            .filter(|&s| filter.matches(self.metadata(s)))
            .collect()
    }

    fn remove_slot(&mut self, slot: u32) {
        let s = slot as usize;
        let last = self.ids.len() - 1;
        let d = self.dimension;
        if s != last {
            self.vectors.copy_within(last * d..(last + 1) * d, s * d);
            let moved = self.ids[last].clone();
            self.by_id.insert(moved, slot);
        }
        self.vectors.truncate(last * d);
        let id = self.ids.swap_remove(s);
        self.by_id.remove(&id);
        self.norms.swap_remove(s);
        self.sparse.swap_remove(s);
        self.metadata.swap_remove(s);
    }

    fn bump(&mut self) -> u64 {
        self.lsn += 1;
        self.lsn
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
    fn delete_moves_last_slot_and_keeps_maps_consistent() {
        let mut ns = Namespace::new(2, Metric::Euclidean);
        ns.upsert(vec![rec("a", [0.0, 1.0]), rec("b", [1.0, 0.0]), rec("c", [1.0, 1.0])]);
        assert_eq!(ns.delete_ids(["a"]), 1);
        assert_eq!(ns.len(), 2);
        let c = ns.slot_of("c").unwrap();
        assert_eq!(ns.values(c), &[1.0, 1.0]);
        assert_eq!(ns.id(c), "c");
        let top = ns.query(
            &QueryVector {
                values: Some(vec![1.0, 1.0]),
                sparse_values: None,
            },
            5,
            None,
        );
        assert_eq!(ns.id(top[0].slot), "c");
        assert_eq!(top[0].score, 0.0);
    }

    #[test]
    fn list_pages_in_byte_order() {
        let mut ns = Namespace::new(2, Metric::Cosine);
        ns.upsert(["b1", "a2", "a1", "a10", "c"].map(|id| rec(id, [1.0, 0.0])).to_vec());
        let (page, more) = ns.list("a", None, 2);
        assert_eq!(page, vec!["a1", "a10"]);
        assert!(more);
        let (page, more) = ns.list("a", Some("a10"), 2);
        assert_eq!(page, vec!["a2"]);
        assert!(!more);
    }
}
