//! Immutable segments: sealed, sorted runs of a namespace's records.
//!
//! A segment is written once (from a sealed memtable, or by compaction) and never changed;
//! deleting or overwriting one of its records sets a bit in its tombstone bitmap, which the
//! namespace keeps beside it. A segment is stored as two chunked blob series: the structured
//! part (ids, sparse values, metadata) as an rkyv archive, and the dense vectors as raw
//! little-endian `f32`s. Ids are sorted, so lookups are binary searches and listing merges
//! sorted runs.

pub mod columns;
pub mod memtable;
pub mod postings;
pub mod rows;
pub mod stored;

use std::ops::Deref;

use crate::distance;
use crate::error::{Error, Result};
use crate::format::{self, BlobKind};
use crate::index::dense::DenseRows;
use crate::metadata::Metadata;
use crate::record::Record;
use columns::Columns;
use stored::{StoredRecordMeta, StoredSegment};

/// The records of one sealed segment, ids sorted.
#[derive(Debug, Clone, Default)]
pub struct Segment {
    columns: Columns,
    /// [`Segment::approximate_bytes`], computed on first use: the segment never changes, and
    /// the metadata part serializes every record, too much to redo per query.
    bytes: std::cell::OnceCell<usize>,
}

impl Deref for Segment {
    type Target = Columns;

    fn deref(&self) -> &Columns {
        &self.columns
    }
}

impl Segment {
    /// A segment of columns whose ids are sorted and unique ([`Memtable::seal_sorted`]).
    ///
    /// [`Memtable::seal_sorted`]: crate::segment::memtable::Memtable::seal_sorted
    pub fn from_sorted_columns(columns: Columns) -> Self {
        debug_assert!(columns.ids.windows(2).all(|w| w[0] < w[1]));
        Segment {
            columns,
            bytes: std::cell::OnceCell::new(),
        }
    }

    /// Builds a segment from records sorted by id (ids unique).
    pub fn from_sorted(dimension: usize, records: Vec<Record>) -> Self {
        debug_assert!(records.windows(2).all(|w| w[0].id < w[1].id));
        let mut columns = Columns::new(dimension);
        for r in records {
            columns.push(r);
        }
        Segment {
            columns,
            bytes: std::cell::OnceCell::new(),
        }
    }

    /// A segment of columns filled in id order (ids unique).
    pub(crate) fn from_columns(columns: Columns) -> Self {
        debug_assert!(columns.ids.windows(2).all(|w| w[0] < w[1]));
        Segment {
            columns,
            bytes: std::cell::OnceCell::new(),
        }
    }

    /// A segment whose dense values and metadata live elsewhere (paged rows): ids, norms and
    /// sparse values only.
    pub(crate) fn without_rows(
        dimension: usize,
        ids: Vec<String>,
        norms: Vec<f32>,
        sparse: Vec<Option<crate::record::SparseVector>>,
        approximate_bytes: usize,
    ) -> Self {
        let mut columns = Columns {
            dimension,
            ids,
            norms,
            sparse,
            ..Columns::default()
        };
        columns.heap = columns.rowless_heap();
        let segment = Segment::from_columns(columns);
        segment.bytes.get_or_init(|| approximate_bytes);
        segment
    }

    /// Frees the dense values and metadata (the segment's rows are paged). The approximate
    /// size stays what it was: it stands for the records, not for memory.
    pub(crate) fn drop_rows(&mut self) {
        self.approximate_bytes();
        let c = &mut self.columns;
        c.heap = c.rowless_heap();
        c.vectors = DenseRows::new(c.dimension);
        c.metadata = Vec::new();
    }

    /// The slot of `id`, if present.
    pub fn slot_of(&self, id: &str) -> Option<u32> {
        self.ids
            .binary_search_by(|probe| probe.as_str().cmp(id))
            .ok()
            .map(|i| i as u32)
    }

    /// The first slot whose id is `>= id` (or `> id` when `exclusive`).
    pub fn lower_bound(&self, id: &str, exclusive: bool) -> u32 {
        self.ids.partition_point(|probe| {
            if exclusive {
                probe.as_str() <= id
            } else {
                probe.as_str() < id
            }
        }) as u32
    }

    /// Encodes the segment: (structured chunks, vector chunks).
    pub fn encode(&self) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        (self.encode_structured(), self.encode_vectors())
    }

    /// Encodes the structured part (ids, sparse values, metadata) as chunk blobs.
    pub fn encode_structured(&self) -> Vec<Vec<u8>> {
        let stored = StoredSegment {
            dimension: self.dimension as u32,
            records: (0..self.len())
                .map(|i| {
                    StoredRecordMeta::from_parts(&self.ids[i], &self.sparse[i], &self.metadata[i])
                })
                .collect(),
        };
        format::encode_chunked(BlobKind::SegmentChunk, &stored)
    }

    /// Encodes the dense vectors as chunk blobs.
    pub fn encode_vectors(&self) -> Vec<Vec<u8>> {
        format::encode_vectors(self.vectors.pages())
    }

    /// Decodes a segment from its chunk blobs, validating everything.
    pub fn decode(what: &str, structured: &[&[u8]], vectors: &[&[u8]]) -> Result<Self> {
        let stored: StoredSegment =
            format::decode_chunked(what, BlobKind::SegmentChunk, structured)?;
        let rows = decode_dense(what, stored.dimension as usize, vectors.iter().copied())?;
        Self::decode_with(what, stored, rows, None)
    }

    /// A paged segment from its structured part (whose metadata is dropped: the stored rows
    /// hold it) and its norms.
    pub(crate) fn decode_paged(
        what: &str,
        stored: StoredSegment,
        norms: Vec<f32>,
        approximate_bytes: usize,
    ) -> Result<Self> {
        let n = stored.records.len();
        let mut ids: Vec<String> = Vec::with_capacity(n);
        let mut sparse = Vec::with_capacity(n);
        for r in stored.records {
            let (id, s, _) = r.into_parts(what)?;
            if ids.last().is_some_and(|prev| *prev >= id) {
                return Err(Error::Corrupt {
                    what: what.to_string(),
                    reason: "segment ids are not strictly sorted".into(),
                });
            }
            ids.push(id);
            sparse.push(s);
        }
        if norms.len() != n {
            return Err(Error::Corrupt {
                what: what.to_string(),
                reason: format!("{} norms for {n} records", norms.len()),
            });
        }
        Ok(Self::without_rows(
            stored.dimension as usize,
            ids,
            norms,
            sparse,
            approximate_bytes,
        ))
    }

    /// A segment from its structured part and its dense values (`dimension` per record, in
    /// slot order); the metadata from `metadata` instead of the structured part when given.
    pub(crate) fn decode_with(
        what: &str,
        stored: StoredSegment,
        mut rows: DenseRows,
        metadata: Option<Vec<Option<Metadata>>>,
    ) -> Result<Self> {
        let dimension = stored.dimension as usize;
        let n = stored.records.len();
        if dimension == 0 {
            rows = DenseRows::zeroed(0, n);
        }
        if rows.len() != n || rows.dim() != dimension {
            return Err(Error::Corrupt {
                what: what.to_string(),
                reason: format!(
                    "{} rows of {} floats for {n} records of dimension {dimension}",
                    rows.len(),
                    rows.dim()
                ),
            });
        }
        let mut s = Columns {
            dimension,
            vectors: rows,
            ..Columns::default()
        };
        let mut replacement = metadata.map(Vec::into_iter);
        for (i, r) in stored.records.into_iter().enumerate() {
            let (id, sparse, mut metadata) = r.into_parts(what)?;
            if let Some(m) = replacement.as_mut().and_then(Iterator::next) {
                metadata = m;
            }
            if s.ids.last().is_some_and(|prev| *prev >= id) {
                return Err(Error::Corrupt {
                    what: what.to_string(),
                    reason: "segment ids are not strictly sorted".into(),
                });
            }
            s.norms.push(distance::norm(s.vectors.row(i)));
            s.heap += Columns::entry_heap(&id, &sparse, &metadata);
            s.ids.push(id);
            s.sparse.push(sparse);
            s.metadata.push(metadata);
        }
        Ok(Segment {
            columns: s,
            bytes: std::cell::OnceCell::new(),
        })
    }

    /// Approximate resident bytes.
    pub fn approximate_bytes(&self) -> usize {
        *self.bytes.get_or_init(|| self.count_bytes())
    }

    fn count_bytes(&self) -> usize {
        let ids: usize = self.ids.iter().map(|s| s.len() + 24).sum();
        let sparse: usize = self.sparse.iter().flatten().map(|s| s.len() * 8).sum();
        let meta: usize = self
            .metadata
            .iter()
            .flatten()
            .map(Metadata::json_size)
            .sum();
        self.vectors.len() * 4 + self.norms.len() * 4 + ids + sparse + meta
    }
}

/// A set of dead slots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tombstones {
    words: Vec<u64>,
    count: usize,
}

impl Tombstones {
    /// No dead slots among `len`.
    pub fn new(len: usize) -> Self {
        Tombstones {
            words: vec![0; len.div_ceil(64)],
            count: 0,
        }
    }

    /// True when `slot` is dead.
    pub fn contains(&self, slot: u32) -> bool {
        let s = slot as usize;
        self.words
            .get(s / 64)
            .is_some_and(|w| w & (1 << (s % 64)) != 0)
    }

    /// Marks `slot` dead; returns false if it already was.
    pub fn insert(&mut self, slot: u32) -> bool {
        let s = slot as usize;
        let (w, bit) = (s / 64, 1u64 << (s % 64));
        if self.words[w] & bit != 0 {
            return false;
        }
        self.words[w] |= bit;
        self.count += 1;
        true
    }

    /// The bitmap, 64 slots per word, slot `s` at bit `s % 64` of word `s / 64`.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// Number of dead slots.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Bytes of the bitmap.
    pub fn heap_bytes(&self) -> usize {
        crate::heap::vec(&self.words)
    }

    /// Encodes as one or more blobs.
    pub fn encode(&self) -> Vec<Vec<u8>> {
        format::encode_chunked(BlobKind::Tombstones, &self.words)
    }

    /// Decodes, checking the size against the segment's record count.
    pub fn decode(what: &str, chunks: &[&[u8]], len: usize) -> Result<Self> {
        let words: Vec<u64> = format::decode_chunked(what, BlobKind::Tombstones, chunks)?;
        if words.len() != len.div_ceil(64) {
            return Err(Error::Corrupt {
                what: what.to_string(),
                reason: format!("{} bitmap words for {len} records", words.len()),
            });
        }
        let count = words.iter().map(|w| w.count_ones() as usize).sum();
        Ok(Tombstones { words, count })
    }
}

/// Decodes vector chunk blobs into rows of `dimension` floats (a row may span two chunks).
pub(crate) fn decode_dense<B: AsRef<[u8]>>(
    what: &str,
    dimension: usize,
    chunks: impl IntoIterator<Item = B>,
) -> Result<DenseRows> {
    let mut rows = DenseRows::new(dimension);
    let mut carry = Vec::new();
    for chunk in chunks {
        format::decode_vectors(what, chunk.as_ref(), &mut carry)?;
        if let Some(whole) = carry.len().checked_div(dimension) {
            let whole = whole * dimension;
            rows.extend_flat(&carry[..whole]);
            carry.drain(..whole);
        }
    }
    if !carry.is_empty() {
        return Err(Error::Corrupt {
            what: what.to_string(),
            reason: format!(
                "vector chunks end with {} floats, not a whole row of {dimension}",
                carry.len()
            ),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::SparseVector;
    use serde_json::json;

    fn rec(id: &str, v: f32, md: Option<serde_json::Value>) -> Record {
        Record {
            id: id.into(),
            values: vec![v, 1.0],
            sparse_values: Some(SparseVector::new(vec![3, 1], vec![0.5, 0.25]).unwrap()),
            metadata: md.map(|m| Metadata::from_json(&m).unwrap()),
        }
    }

    #[test]
    fn encode_decode_round_trip() {
        let records = vec![
            rec(
                "a",
                1.0,
                Some(json!({"g": "x", "n": 2, "l": ["p", "q"], "b": true})),
            ),
            rec("b", 2.0, None),
        ];
        let seg = Segment::from_sorted(2, records.clone());
        let (s, v) = seg.encode();
        let s: Vec<&[u8]> = s.iter().map(Vec::as_slice).collect();
        let v: Vec<&[u8]> = v.iter().map(Vec::as_slice).collect();
        let back = Segment::decode("seg", &s, &v).unwrap();
        assert_eq!(back.record(0), records[0]);
        assert_eq!(back.record(1), records[1]);
        assert_eq!(back.slot_of("b"), Some(1));
        assert_eq!(back.lower_bound("a", true), 1);
        assert_eq!(back.norms(), seg.norms());
    }

    #[test]
    fn tombstones_round_trip() {
        let mut t = Tombstones::new(130);
        assert!(t.insert(129));
        assert!(!t.insert(129));
        t.insert(3);
        let blobs = t.encode();
        let refs: Vec<&[u8]> = blobs.iter().map(Vec::as_slice).collect();
        let back = Tombstones::decode("t", &refs, 130).unwrap();
        assert_eq!(back, t);
        assert!(back.contains(3) && !back.contains(4));
        assert!(Tombstones::decode("t", &refs, 1000).is_err());
    }
}
