//! Sizes: the bytes a namespace keeps resident.

use super::job::Graph;
use super::sealed::Sealed;
use super::{Namespace, VectorBytes};
use crate::distance::Metric;
use crate::index::quant::Int8Index;

impl Namespace {
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
