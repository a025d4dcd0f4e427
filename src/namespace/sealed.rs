//! A sealed segment as a namespace holds it: the immutable records, their tombstones, the
//! derived indexes (HNSW graph, int8 codes, metadata postings, sparse inverted index) and what
//! the last commit wrote of it.

use super::component::SegmentBlobs;
use super::job::{Codes, Graph};
use crate::filter::Filter;
use crate::index::hnsw::{HnswView, SearchScratch};
use crate::index::quant::Int8Index;
use crate::index::sparse;
use crate::metadata::Metadata;
use crate::segment::postings::{Postings, SlotSet};
use crate::segment::rows::{PagedRows, RowLayout};
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
    /// `Some` once the segment's dense values and metadata are paged out of memory (its
    /// stored rows are written and its codes ready): where each row is, and the row groups
    /// read back so far. `None`: every row is in `segment`.
    pub(super) paged: Option<PagedRows>,
    /// The layout of the stored rows while the segment is resident (written by the last commit, or read at load), for paging out.
    pub(super) row_layout: Option<RowLayout>,
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
            paged: None,
            row_layout: None,
        }
    }

    /// The metadata index, built from the resident metadata on first use (a paged segment
    /// loads it with its rows' directory).
    pub(super) fn postings(&self) -> &Postings {
        let n = self.segment.len();
        self.postings
            .get_or_init(|| Postings::build((0..n as u32).map(|slot| self.segment.metadata(slot))))
    }

    /// The group holding `slot`'s row when the segment is paged and that group is not in
    /// memory.
    pub(super) fn missing_group(&self, slot: u32) -> Option<u32> {
        let p = self.paged.as_ref()?;
        let (g, _) = p.layout.locate(slot);
        (!p.groups.contains_key(&g)).then_some(g)
    }

    /// The dense values in `slot`, `None` when its row group is paged out; marks the group
    /// used at `tick`.
    pub(super) fn values(&self, slot: u32, tick: u64) -> Option<&[f32]> {
        let Some(p) = &self.paged else {
            return Some(self.segment.values(slot));
        };
        let (g, i) = p.layout.locate(slot);
        let group = p.groups.get(&g)?;
        group.touch(tick);
        Some(group.values(i, self.segment.dimension))
    }

    /// The metadata in `slot` (`Some(None)` when it has none), `None` when its row group is
    /// paged out; marks the group used at `tick`.
    pub(super) fn metadata(&self, slot: u32, tick: u64) -> Option<Option<&Metadata>> {
        let Some(p) = &self.paged else {
            return Some(self.segment.metadata(slot));
        };
        let (g, i) = p.layout.locate(slot);
        let group = p.groups.get(&g)?;
        group.touch(tick);
        Some(group.metadata(i))
    }

    /// Drops the resident dense values and metadata once the stored rows are written
    /// (`layout`) and the segment searches on its codes; rows are then read by group.
    pub(super) fn page_out(&mut self, layout: RowLayout) {
        self.postings();
        self.segment.drop_rows();
        self.paged = Some(PagedRows {
            layout,
            groups: Default::default(),
        });
    }

    pub(super) fn live(&self) -> usize {
        self.segment.len() - self.tombstones.count()
    }

    /// The live slots `filter` matches, from the metadata index (built on first use).
    pub(super) fn select(&self, filter: &Filter) -> SlotSet {
        let mut set = self.postings().select(filter);
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
