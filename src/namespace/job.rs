//! Resumable background work: one [`Job`] shape for a segment's graph build, its int8
//! quantization and the consolidation of sealed segments, and one [`Build`] state for a
//! derived index that a job produces.
//!
//! [`Namespace::index_step`] spends a budget counted in graph nodes (one node costs roughly
//! `ef_construction` distance computations). Each job owns its cost ratio
//! ([`Job::UNITS_PER_NODE`]): how many of its own units of work (graph insertions, row passes,
//! copied records) one node of budget buys.

use crate::index::hnsw::HnswBuilder;
use crate::index::quant::{Int8Builder, Int8Index};
use crate::segment::columns::Columns;

#[cfg(doc)]
use super::Namespace;

/// A piece of background work that advances in bounded steps and gives the same result
/// however the work is sliced.
pub(super) trait Job {
    /// What every step reads (the same data at every call).
    type Input<'a>: Copy;
    /// What the finished job yields.
    type Output;
    /// Units of the job's work that cost one node of an [`Namespace::index_step`] budget.
    const UNITS_PER_NODE: usize;

    /// Does at most `units` units of work and returns how many it did, or `None` when the job
    /// cannot go on (it is then dropped).
    fn step(&mut self, input: Self::Input<'_>, units: usize) -> Option<usize>;

    /// True when no work is left.
    fn is_done(&self, input: Self::Input<'_>) -> bool;

    /// The result, once [`Job::is_done`]; `None` if it cannot be had.
    fn finish(self) -> Option<Self::Output>;
}

/// Runs `job` for at most `budget` nodes of work: the nodes used, or `None` when the job
/// cannot go on.
pub(super) fn run<J: Job>(job: &mut J, input: J::Input<'_>, budget: usize) -> Option<usize> {
    let units = job.step(input, budget.saturating_mul(J::UNITS_PER_NODE))?;
    Some(units.div_ceil(J::UNITS_PER_NODE).min(budget))
}

/// A derived index and the job that builds it.
#[derive(Debug, Clone)]
pub(super) enum Build<B, R> {
    /// None in memory (not wanted, or not buildable).
    None,
    /// Being built by [`Namespace::index_step`].
    Building(Box<B>),
    /// Built (or loaded).
    Ready(R),
}

/// What one [`Build::advance`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Progress {
    /// Used this many nodes of the budget; still building (or nothing to build).
    Used(usize),
    /// Used this many nodes and completed: the build is ready.
    Finished(usize),
    /// The job could not go on and was dropped.
    Failed,
}

impl Progress {
    /// Nodes of the budget used.
    pub(super) fn used(self) -> usize {
        match self {
            Progress::Used(n) | Progress::Finished(n) => n,
            Progress::Failed => 0,
        }
    }
}

impl<B, R> Build<B, R> {
    /// The result, when ready.
    pub(super) fn ready(&self) -> Option<&R> {
        match self {
            Build::Ready(r) => Some(r),
            _ => None,
        }
    }

    /// True when ready.
    pub(super) fn is_ready(&self) -> bool {
        matches!(self, Build::Ready(_))
    }

    /// True while being built.
    pub(super) fn is_building(&self) -> bool {
        matches!(self, Build::Building(_))
    }
}

impl<B: Job<Output = R>, R> Build<B, R> {
    /// Advances a pending build by at most `budget` nodes of work; a completed job becomes
    /// [`Build::Ready`], a failed one [`Build::None`]. Does nothing unless building.
    pub(super) fn advance(&mut self, input: B::Input<'_>, budget: usize) -> Progress {
        let Build::Building(job) = self else {
            return Progress::Used(0);
        };
        let Some(used) = run(job.as_mut(), input, budget) else {
            *self = Build::None;
            return Progress::Failed;
        };
        if !job.is_done(input) {
            return Progress::Used(used);
        }
        let Build::Building(job) = std::mem::replace(self, Build::None) else {
            return Progress::Failed;
        };
        match job.finish() {
            Some(r) => {
                *self = Build::Ready(r);
                Progress::Finished(used)
            }
            None => Progress::Failed,
        }
    }
}

/// A segment's HNSW graph: validated bytes of [`crate::index::hnsw::Hnsw::to_bytes`],
/// searched in place. Searched exactly while building.
pub(super) type Graph = Build<HnswBuilder, Vec<u8>>;

/// A segment's int8 codes ([`super::AnnConfig::int8`]): none while int8 is off, the graph is
/// not ready or the dimension is 0; the graph is searched on f32 while they are quantized.
pub(super) type Codes = Build<Int8Builder, Box<Int8Index>>;

/// Graph insertions, one node each, then the graph's calibration (`hnsw/calibrate.rs`), about
/// 1-2 % of the insertions' work, converted to nodes by the builder.
impl Job for HnswBuilder {
    type Input<'a> = &'a Columns;
    type Output = Vec<u8>;
    const UNITS_PER_NODE: usize = 1;

    fn step(&mut self, segment: &Columns, nodes: usize) -> Option<usize> {
        let before = self.len();
        let target = before.saturating_add(nodes).min(segment.len());
        // Fails only when the builder was not made for this segment's dimension.
        self.insert_until(target, segment.all_vectors(), segment.norms())
            .ok()?;
        let inserted = target - before;
        let calibrated = if self.len() == segment.len() {
            self.calibrate_step(segment.all_vectors(), segment.norms(), nodes - inserted)
        } else {
            0
        };
        Some(inserted + calibrated)
    }

    fn is_done(&self, segment: &Columns) -> bool {
        self.len() == segment.len() && (self.is_calibrated() || segment.is_empty())
    }

    fn finish(self) -> Option<Vec<u8>> {
        Some(HnswBuilder::finish(self).to_bytes())
    }
}

/// int8 quantization in row passes ([`Int8Builder::step`], two per vector).
impl Job for Int8Builder {
    type Input<'a> = &'a Columns;
    type Output = Box<Int8Index>;
    /// At dimension 384 a row pass takes ~0.9 µs natively and ~1.9 µs in wasm, inserting a
    /// node with the default `ef_construction` of 100 ~90 µs (natively, into a 3k-node graph)
    /// to ~460 µs (wasm, 116k nodes): 100–250 row passes per node. 32 keeps quantizing inside
    /// the time the same budget of graph work takes, also with cheaper graph settings, and
    /// still quantizes a segment in far fewer calls than its graph took (a Worker's
    /// `indexStep(200)` does 6,400 row passes, ~12 ms in wasm). Both costs grow with the
    /// dimension, so the ratio holds across dimensions. Quantizing a whole segment as one
    /// unit would not be bounded: merged segments grow past 100k records (~0.4 s in wasm).
    const UNITS_PER_NODE: usize = 32;

    fn step(&mut self, segment: &Columns, rows: usize) -> Option<usize> {
        // Fails only when the builder was not made for this segment.
        Int8Builder::step(self, segment.all_vectors(), segment.norms(), rows).ok()
    }

    fn is_done(&self, _: &Columns) -> bool {
        Int8Builder::is_done(self)
    }

    fn finish(self) -> Option<Box<Int8Index>> {
        Int8Builder::finish(self).ok().map(Box::new)
    }
}
