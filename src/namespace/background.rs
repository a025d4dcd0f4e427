//! Background index work in bounded steps: segments' HNSW graphs and int8 codes, and the
//! consolidation of sealed segments ([`Namespace::index_step`]).

use super::Namespace;
use super::component::SegmentComponent;
use super::sealed::{Codes, Graph};
use crate::index::hnsw::HnswBuilder;
use crate::index::quant::Int8Builder;

#[cfg(doc)]
use super::AnnConfig;

/// Row passes of int8 quantization ([`Int8Builder::step`], two per vector) that cost one node
/// of an [`Namespace::index_step`] budget. At dimension 384 a row pass takes ~0.9 µs natively
/// and ~1.9 µs in wasm, inserting a node with the default `ef_construction` of 100 ~90 µs
/// (natively, into a 3k-node graph) to ~460 µs (wasm, 116k nodes): 100–250 row passes per node.
/// 32 keeps quantizing inside the time the same budget of graph work takes, also with cheaper
/// graph settings, and still quantizes a segment in far fewer calls than its graph took (a
/// Worker's `indexStep(200)` does 6,400 row passes, ~12 ms in wasm). Both costs grow with the
/// dimension, so the ratio holds across dimensions. Quantizing a whole segment as one unit
/// would not be bounded: merged segments grow past 100k records (~0.4 s in wasm).
const CODE_ROWS_PER_NODE: usize = 32;

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
        let ready = matches!(s.graph, Graph::Ready(_));
        if !(on && ready) {
            s.codes = Codes::None;
            if let Some(p) = self
                .persist
                .as_mut()
                .filter(|_| !on && s.blobs.named(SegmentComponent::Codes).is_some())
            {
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
    /// when [`AnnConfig::int8`] is on ([`CODE_ROWS_PER_NODE`] row passes cost one node). A
    /// graph or codes that complete are searched from then on and written by the next
    /// [`Namespace::commit`]. Returns true while more work is pending.
    pub fn index_step(&mut self, budget_nodes: usize) -> bool {
        self.index_step_counted(budget_nodes).1
    }

    /// [`Namespace::index_step`], also returning how many nodes of the budget it used.
    pub fn index_step_counted(&mut self, budget_nodes: usize) -> (usize, bool) {
        let mut left = budget_nodes;
        let mut completed = false;
        if self.consolidation.is_none() && self.consolidation_pays() {
            // The segments are about to be merged: graphs and codes still to build for them
            // would be thrown away, so they are not built (those segments are scanned exactly
            // until the swap), and the consolidation starts now.
            for s in &mut self.segments {
                if matches!(s.graph, Graph::Building(_)) {
                    s.graph = Graph::None;
                }
                if matches!(s.codes, Codes::Building(_)) {
                    s.codes = Codes::None;
                }
            }
            self.consolidation = self.plan_consolidation();
        }
        for i in 0..self.segments.len() {
            if left == 0 {
                break;
            }
            let s = &mut self.segments[i];
            if let Graph::Building(b) = &mut s.graph {
                let n = s.segment.len();
                let target = (b.len() + left).min(n);
                let done = target - b.len();
                if b.insert_until(target, s.segment.all_vectors(), s.segment.norms())
                    .is_err()
                {
                    // Unreachable (the builder was made for this dimension); stay exact.
                    s.graph = Graph::None;
                    continue;
                }
                left -= done;
                if target == n {
                    let Graph::Building(b) = std::mem::replace(&mut s.graph, Graph::None) else {
                        continue;
                    };
                    s.graph = Graph::Ready(b.finish().to_bytes());
                    s.blobs.touch(SegmentComponent::Graph);
                    completed = true;
                    self.sync_int8(i);
                }
            }
            let s = &mut self.segments[i];
            let Codes::Building(b) = &mut s.codes else {
                continue;
            };
            if left == 0 {
                break;
            }
            let rows = left.saturating_mul(CODE_ROWS_PER_NODE);
            let Ok(did) = b.step(s.segment.all_vectors(), s.segment.norms(), rows) else {
                // Unreachable (the builder was made for this segment); stay on f32.
                s.codes = Codes::None;
                continue;
            };
            left -= did.div_ceil(CODE_ROWS_PER_NODE).min(left);
            if b.is_done() {
                let Codes::Building(b) = std::mem::replace(&mut s.codes, Codes::None) else {
                    continue;
                };
                if let Ok(q) = b.finish() {
                    s.codes = Codes::Ready(Box::new(q));
                    // Codes the manifest already names (quantized again after a load with
                    // int8 off) are not rewritten.
                    completed |= s.blobs.named(SegmentComponent::Codes).is_none();
                }
            }
        }
        if let Some(p) = self.persist.as_mut().filter(|_| completed) {
            p.dirty = true;
        }
        let building = |ns: &Self| {
            ns.segments.iter().any(|s| {
                matches!(s.graph, Graph::Building(_)) || matches!(s.codes, Codes::Building(_))
            })
        };
        if left > 0 && !building(self) {
            left -= self.consolidate_step(left);
        }
        let pending = building(self) || self.consolidation.is_some();
        (budget_nodes - left, pending)
    }
}
