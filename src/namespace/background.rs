//! Background index work in bounded steps: segments' HNSW graphs and int8 codes, and the
//! consolidation of sealed segments ([`Namespace::index_step`]).

use super::Namespace;
use super::component::SegmentComponent;
use super::job::{self, Codes, Graph, Job, Progress};
use crate::index::hnsw::HnswBuilder;
use crate::index::quant::Int8Builder;

#[cfg(doc)]
use super::AnnConfig;

impl Namespace {
    pub(super) fn schedule_graph(&mut self, i: usize) {
        let eligible = self.dimension > 0 && self.segments[i].segment.len() >= self.ann.min_records;
        let s = &mut self.segments[i];
        match (&s.graph, eligible) {
            (Graph::None, true) => {
                if let Ok(b) = HnswBuilder::new(self.ann.hnsw, self.metric, self.dimension) {
                    s.graph = Graph::Building(Box::new(b));
                }
            }
            (Graph::Building(_), false) => s.graph = Graph::None,
            _ => {}
        }
        self.sync_int8(i);
    }

    /// Schedules segment `i`'s int8 codes when [`AnnConfig::int8`] is on and its graph is
    /// ready (quantized by [`Namespace::index_step`], never here); drops them when it is off,
    /// marking the namespace dirty when stored codes are to become garbage.
    pub(super) fn sync_int8(&mut self, i: usize) {
        let on = self.ann.int8;
        let s = &mut self.segments[i];
        let ready = s.graph.is_ready();
        if !(on && ready) {
            // A paged segment keeps its codes in memory (they are how it searches without its
            // rows) until it is loaded again, then with every row; the stored ones still
            // become garbage.
            if !(s.paged.is_some() && ready) {
                s.codes = Codes::None;
            }
            if let Some(p) = self
                .persist
                .as_mut()
                .filter(|_| !on && s.blobs.named(SegmentComponent::Codes).is_some())
            {
                p.dirty = true;
            }
        } else if matches!(s.codes, Codes::Ready(_))
            && s.blobs.named(SegmentComponent::Codes).is_none()
        {
            // Kept in memory while int8 was off (a paged segment): stored again.
            if let Some(p) = self.persist.as_mut() {
                p.dirty = true;
            }
        } else if matches!(s.codes, Codes::None) {
            // Only fails for dimension 0 (no graph is built then); stay on f32.
            if let Ok(b) = Int8Builder::new(self.metric, self.dimension, s.segment.len()) {
                s.codes = Codes::Building(Box::new(b));
            }
        }
    }

    /// Advances pending graph builds by inserting at most `budget_nodes` nodes in all (so a
    /// host can bound the CPU time of one call), then quantizes segments whose graph is ready
    /// when [`AnnConfig::int8`] is on, then consolidates (see `merge_policy.rs`); each job
    /// converts the budget at its own cost ratio (`UNITS_PER_NODE`, `job.rs`). A graph or codes
    /// that complete are searched from then on and written by the next
    /// [`Namespace::commit`]. Returns true while more work is pending.
    ///
    /// Even with a budget of 0 it starts a consolidation that has become due, dropping the
    /// inputs' pending builds; [`Namespace::indexing_pending`] only asks.
    pub fn index_step(&mut self, budget_nodes: usize) -> bool {
        self.index_step_counted(budget_nodes).1
    }

    /// [`Namespace::index_step`], also returning how many nodes of the budget it used.
    pub fn index_step_counted(&mut self, budget_nodes: usize) -> (usize, bool) {
        // Merges postponed until the rows of their paged inputs are in memory (the host
        // provided them, `index_needs`).
        let before: Vec<u64> = self.segments.iter().map(|s| s.id).collect();
        self.compact();
        if let Some(p) = self
            .persist
            .as_mut()
            .filter(|_| self.segments.iter().map(|s| s.id).ne(before))
        {
            p.dirty = true;
        }
        if self.consolidation.is_none()
            && let Some(m) = self.blocked_merges().into_iter().next()
        {
            self.start_consolidation(&m);
        }
        if let Some(m) = self.consolidation_due() {
            self.start_consolidation(&m);
        }
        let mut left = budget_nodes;
        let mut completed = false;
        // The pending jobs: each segment's graph, then its codes (scheduled when the graph
        // completes), then the consolidation once no segment has a build pending.
        for i in 0..self.segments.len() {
            if left == 0 {
                break;
            }
            let s = &mut self.segments[i];
            let progress = s.graph.advance(&s.segment, left);
            left -= progress.used();
            if let Progress::Finished(_) = progress {
                s.blobs.touch(SegmentComponent::Graph);
                completed = true;
                self.sync_int8(i);
            }
            let s = &mut self.segments[i];
            if !s.codes.is_building() {
                continue;
            }
            if left == 0 {
                break;
            }
            let progress = s.codes.advance(&s.segment, left);
            left -= progress.used();
            if let Progress::Finished(_) = progress {
                // Codes the manifest already names (quantized again after a load with int8
                // off) are not rewritten.
                completed |= s.blobs.named(SegmentComponent::Codes).is_none();
            }
        }
        if let Some(p) = self.persist.as_mut().filter(|_| completed) {
            p.dirty = true;
        }
        if left > 0 && !self.building() {
            left -= self.consolidate_step(left);
        }
        // Row groups a background merge copied are dropped like a request's.
        self.trim_rows();
        let waiting = !self.index_needs().is_empty();
        // Whatever is still pending is work, a consolidation made due in this step included: a
        // host that stopped here would leave it to the next process.
        let more = self.building() || (!waiting && self.indexing_pending());
        // The room a full seal reserved for the next memtable is given back once a
        // namespace's writes have stopped and its index work is done.
        if !more && !waiting {
            self.memtable.release_room();
        }
        (budget_nodes - left, more)
    }

    /// True when [`Namespace::index_step`] has work to do: a graph or codes to build, a
    /// consolidation running or due, or a merge waiting for the rows of paged segments (the
    /// host provides [`Namespace::index_needs`] first; `index_step` alone reports no work
    /// pending then, so a loop over it ends). A pure probe: unlike `index_step(0)`, it plans nothing
    /// and drops no build.
    pub fn indexing_pending(&self) -> bool {
        self.building()
            || !self.blocked_merges().is_empty()
            || self.consolidation.is_some()
            || (self.consolidation_due().is_some()
                && HnswBuilder::new(self.ann.hnsw, self.metric, self.dimension).is_ok())
    }

    /// The sealed segments' graph builds in progress, as (nodes inserted, nodes to insert in
    /// all): a pure progress figure for hosts (consolidation and int8 codes not counted).
    pub fn graph_build_progress(&self) -> (usize, usize) {
        self.segments
            .iter()
            .filter_map(|s| match &s.graph {
                Graph::Building(b) => Some((b.len(), s.segment.len())),
                // Its graph is done; its int8 codes are still being quantized.
                Graph::Ready(_) if s.codes.is_building() => {
                    Some((s.segment.len(), s.segment.len()))
                }
                _ => None,
            })
            .fold((0, 0), |(d, t), (a, b)| (d + a, t + b))
    }

    /// True while a segment's graph or codes are being built.
    fn building(&self) -> bool {
        self.segments
            .iter()
            .any(|s| s.graph.is_building() || s.codes.is_building())
    }

    /// Advances the consolidation by at most `budget` nodes and swaps it in when done; drops
    /// it when an input is gone. Returns the nodes used.
    fn consolidate_step(&mut self, budget: usize) -> usize {
        let Some(c) = self.consolidation.as_mut() else {
            return 0;
        };
        let Some(used) = job::run(c, &self.segments, budget) else {
            self.abandon_consolidation();
            return 0;
        };
        if c.is_done(&self.segments) {
            let c = self.consolidation.take();
            if let Some((merged, graph)) = c.and_then(Job::finish) {
                self.finish_consolidation(merged, graph);
            }
        }
        used
    }
}
