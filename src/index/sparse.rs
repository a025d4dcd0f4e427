//! Sparse vectors and their dot product.

use crate::error::{Error, Result};
use crate::sort::SmallSort;

/// Pinecone's limit on non-zeros per sparse vector.
pub const MAX_SPARSE_NONZEROS: usize = 2048;

/// A sparse vector: strictly increasing `indices` with matching `values`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SparseVector {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl SparseVector {
    /// Bytes of its buffers.
    pub fn heap_bytes(&self) -> usize {
        crate::heap::vec(&self.indices) + crate::heap::vec(&self.values)
    }

    /// Validates lengths, finiteness and the non-zero limit, then sorts by index. Duplicate
    /// indices are rejected.
    pub fn new(indices: Vec<u32>, values: Vec<f32>) -> Result<Self> {
        if indices.len() != values.len() {
            return Err(Error::invalid(format!(
                "Sparse vector indices and values must have the same length, got {} indices and {} values",
                indices.len(),
                values.len()
            )));
        }
        if indices.len() > MAX_SPARSE_NONZEROS {
            return Err(Error::invalid(format!(
                "Sparse vector has {} non-zero values, which exceeds the limit of {MAX_SPARSE_NONZEROS}",
                indices.len()
            )));
        }
        if let Some(v) = values.iter().find(|v| !v.is_finite()) {
            return Err(Error::invalid(format!(
                "Sparse vector values must be finite numbers, got {v}"
            )));
        }
        let mut pairs: Vec<(u32, f32)> = indices.into_iter().zip(values).collect();
        // Equal indices are an error below, so the order among them does not matter.
        pairs.small_sort_by_key(|p| p.0);
        if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(Error::invalid(format!(
                "Sparse vector indices must be unique, index {} appears more than once",
                w[0].0
            )));
        }
        let (indices, values) = pairs.into_iter().unzip();
        Ok(SparseVector { indices, values })
    }

    /// Number of non-zeros.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// True when there are no non-zeros.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

/// Dot product of two sparse vectors (sorted indices); `None` when they share no index.
pub fn dot(a: &SparseVector, b: &SparseVector) -> Option<f32> {
    let (mut i, mut j) = (0, 0);
    let mut sum = 0.0f32;
    let mut overlap = false;
    while i < a.indices.len() && j < b.indices.len() {
        match a.indices[i].cmp(&b.indices[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += a.values[i] * b.values[j];
                overlap = true;
                i += 1;
                j += 1;
            }
        }
    }
    overlap.then_some(sum)
}

/// An in-memory inverted index of a segment's sparse vectors: for each sparse dimension, the
/// slots whose vector has a non-zero there (ascending). Built lazily by a hybrid graph query so
/// that every record sharing an index with the query's sparse vector is a candidate.
#[derive(Debug, Clone, Default)]
pub struct InvertedIndex {
    slots: std::collections::HashMap<u32, Vec<u32>>,
    /// [`InvertedIndex::heap_bytes`], computed on first use (only memory accounting asks).
    bytes: std::sync::OnceLock<usize>,
}

impl InvertedIndex {
    /// Indexes the sparse vectors of slots `0..` in order (`None` for a slot without one).
    pub fn build<'a>(vectors: impl Iterator<Item = Option<&'a SparseVector>>) -> Self {
        let mut slots: std::collections::HashMap<u32, Vec<u32>> = std::collections::HashMap::new();
        for (slot, sv) in vectors.enumerate() {
            for &d in sv.map_or(&[][..], |sv| &sv.indices) {
                slots.entry(d).or_default().push(slot as u32);
            }
        }
        InvertedIndex {
            slots,
            bytes: std::sync::OnceLock::new(),
        }
    }

    /// Bytes held: the table and every slot list.
    pub fn heap_bytes(&self) -> usize {
        *self.bytes.get_or_init(|| {
            crate::heap::hash_map::<u32, Vec<u32>>(self.slots.capacity())
                + self.slots.values().map(crate::heap::vec).sum::<usize>()
        })
    }

    /// The slots with a non-zero in dimension `dim`, ascending.
    pub fn slots(&self, dim: u32) -> &[u32] {
        self.slots.get(&dim).map_or(&[], Vec::as_slice)
    }

    /// Every slot sharing at least one index with `query`, ascending and without duplicates.
    pub fn matching(&self, query: &SparseVector) -> Vec<u32> {
        let mut out: Vec<u32> = query
            .indices
            .iter()
            .flat_map(|&d| self.slots(d).iter().copied())
            .collect();
        out.small_sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_and_dots() {
        let a = SparseVector::new(vec![5, 1], vec![2.0, 1.0]).unwrap();
        assert_eq!(a.indices, vec![1, 5]);
        let b = SparseVector::new(vec![5, 7], vec![3.0, 1.0]).unwrap();
        assert_eq!(dot(&a, &b), Some(6.0));
        let c = SparseVector::new(vec![9], vec![1.0]).unwrap();
        assert_eq!(dot(&a, &c), None);
    }

    #[test]
    fn inverted_index_finds_every_overlapping_slot() {
        let v = [
            Some(SparseVector::new(vec![1, 5], vec![1.0, 1.0]).unwrap()),
            None,
            Some(SparseVector::new(vec![5, 9], vec![1.0, 1.0]).unwrap()),
            Some(SparseVector::new(vec![2], vec![1.0]).unwrap()),
        ];
        let idx = InvertedIndex::build(v.iter().map(Option::as_ref));
        assert_eq!(idx.slots(5), &[0, 2]);
        assert!(idx.slots(7).is_empty());
        let q = SparseVector::new(vec![9, 1, 4], vec![1.0, 1.0, 1.0]).unwrap();
        assert_eq!(idx.matching(&q), vec![0, 2]);
        let none = SparseVector::new(vec![4], vec![1.0]).unwrap();
        assert!(idx.matching(&none).is_empty());
    }

    #[test]
    fn rejects_unequal_lengths_and_duplicates() {
        assert!(SparseVector::new(vec![1, 2], vec![1.0]).is_err());
        assert!(SparseVector::new(vec![1, 1], vec![1.0, 2.0]).is_err());
        assert!(SparseVector::new(vec![1], vec![f32::NAN]).is_err());
    }
}
