//! A sealed segment as a namespace holds it: the immutable records, their tombstones, the
//! derived indexes (HNSW graph, int8 codes, metadata postings, sparse inverted index) and what
//! the last commit wrote of it.

use super::component::SegmentBlobs;
use super::job::{Codes, Graph};
use crate::filter::Filter;
use crate::index::hnsw::{HnswView, SearchScratch};
use crate::index::quant::Int8Index;
use crate::index::sparse;
use crate::segment::postings::{Postings, SlotSet};
use crate::segment::{Segment, Tombstones};

#[cfg(doc)]
use super::{AnnConfig, Namespace};

/// The graph search scratch (visited marks sized to the largest segment), kept between
/// queries so a query does not allocate and zero it again. A clone starts empty.
#[derive(Debug, Default)]
pub(super) struct ScratchCell(pub(super) std::sync::Mutex<SearchScratch>);

impl Clone for ScratchCell {
    fn clone(&self) -> Self {
        ScratchCell::default()
    }
}

/// A sealed segment with its tombstones, derived indexes and persistence bookkeeping.
#[derive(Debug, Clone)]
pub(super) struct Sealed {
    pub(super) id: u64,
    pub(super) segment: Segment,
    pub(super) tombstones: Tombstones,
    pub(super) graph: Graph,
    /// int8 codes of the segment's vectors ([`AnnConfig::int8`], graph ready).
    pub(super) codes: Codes,
    /// What the store holds of the segment. Codes stay named while int8 is on, even while
    /// they are not in memory (loaded with int8 off, then switched on: they are quantized
    /// again but not rewritten), and become garbage at the first commit with int8 off.
    pub(super) blobs: SegmentBlobs,
    /// The metadata index, built on the first filtered query.
    pub(super) postings: std::sync::OnceLock<Postings>,
    /// Sparse dimension → slots, built on the first hybrid graph query.
    pub(super) sparse_index: std::sync::OnceLock<sparse::InvertedIndex>,
}

impl Sealed {
    /// A segment not written yet, with no graph or codes.
    pub(super) fn new(id: u64, segment: Segment, tombstones: Tombstones) -> Self {
        Sealed {
            id,
            segment,
            tombstones,
            graph: Graph::None,
            codes: Codes::None,
            blobs: SegmentBlobs::default(),
            postings: std::sync::OnceLock::new(),
            sparse_index: std::sync::OnceLock::new(),
        }
    }

    pub(super) fn live(&self) -> usize {
        self.segment.len() - self.tombstones.count()
    }

    /// The live slots `filter` matches, from the metadata index (built on first use).
    pub(super) fn select(&self, filter: &Filter) -> SlotSet {
        let n = self.segment.len();
        let postings = self
            .postings
            .get_or_init(|| Postings::build((0..n as u32).map(|slot| self.segment.metadata(slot))));
        let mut set = postings.select(filter);
        set.remove_words(self.tombstones.words());
        set
    }

    /// The graph, when ready.
    pub(super) fn graph_view(&self) -> Option<HnswView<'_>> {
        HnswView::from_validated_bytes(self.graph.ready()?).ok()
    }

    /// The int8 codes, when ready.
    pub(super) fn int8(&self) -> Option<&Int8Index> {
        self.codes.ready().map(|q| &**q)
    }
}
