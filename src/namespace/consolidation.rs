//! Consolidation, the background merge of every sealed segment into one
//! ([`AnnConfig::merge_bytes`]), as one [`Job`]: the [`Merger`] copies the inputs' live
//! records in bounded steps, then the new segment's graph is built in bounded steps, while the
//! inputs keep answering queries. The swap is [`Namespace`]'s (`merge.rs`).

use super::job::{Build, Graph, Job, Progress};
use super::merger::{Merged, Merger};
use super::sealed::Sealed;
use crate::index::hnsw::HnswBuilder;

#[cfg(doc)]
use super::{AnnConfig, Namespace};

/// A background merge of sealed segments into one, in memory until the swap.
#[derive(Debug, Clone)]
pub(super) struct Consolidation {
    /// Copying the inputs' records, then the merged segment.
    copy: Build<Merger, Merged>,
    /// The merged segment's graph.
    graph: Graph,
}

impl Consolidation {
    /// A consolidation of `merger`'s inputs whose graph `builder` builds.
    pub(super) fn new(merger: Merger, builder: HnswBuilder) -> Self {
        Consolidation {
            copy: Build::Building(Box::new(merger)),
            graph: Build::Building(Box::new(builder)),
        }
    }

    /// The row groups the copy waits for, as (segment id, group).
    pub(super) fn needs(&self, segments: &[Sealed]) -> Vec<(u64, u32)> {
        match &self.copy {
            Build::Building(m) => m.needs(segments),
            _ => Vec::new(),
        }
    }

    /// Bytes held: the records copied so far (then the merged segment), the inputs'
    /// tombstones when it began, and the graph being built.
    pub(super) fn heap_bytes(&self) -> usize {
        let copy = match &self.copy {
            Build::None => 0,
            Build::Building(m) => m.heap_bytes(),
            Build::Ready(merged) => merged.heap_bytes(),
        };
        copy + self.graph.heap_bytes()
    }
}

/// Nodes of budget: the copy converts them at its own ratio, the graph inserts one per node.
impl Job for Consolidation {
    type Input<'a> = &'a [Sealed];
    type Output = (Merged, Vec<u8>);
    const UNITS_PER_NODE: usize = 1;

    /// Copies, then builds the graph in what is left of `budget`; `None` when an input is
    /// gone (merged or dropped by compaction meanwhile).
    fn step(&mut self, segments: &[Sealed], budget: usize) -> Option<usize> {
        let copy = match self.copy.advance(segments, budget) {
            Progress::Failed => return None,
            p => p.used(),
        };
        let Build::Ready(merged) = &self.copy else {
            return Some(copy);
        };
        match self.graph.advance(&merged.segment, budget - copy) {
            Progress::Failed => None,
            p => Some(copy + p.used()),
        }
    }

    fn is_done(&self, _: &[Sealed]) -> bool {
        self.graph.is_ready()
    }

    fn finish(self) -> Option<(Merged, Vec<u8>)> {
        match (self.copy, self.graph) {
            (Build::Ready(merged), Build::Ready(graph)) => Some((merged, graph)),
            _ => None,
        }
    }
}
