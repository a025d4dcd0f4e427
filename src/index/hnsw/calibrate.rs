//! How hard a graph is to search, measured once when its build finishes: the beam width `ef`
//! at which the graph's own nodes, used as queries, find their exact top 10 (themselves left
//! out) with a mean recall of [`SAMPLE_RECALL`], and how many nodes such a beam scores.
//!
//! A sample is left out of its own search: the beam never scores or expands its node, so it
//! has to find the neighbours the way a query between the nodes does.
//!
//! The same `ef` gives recall@10 0.98-0.99 on sentence embeddings and 0.7 on uniform random
//! vectors of 64 dimensions, so a fixed default cannot fit every dataset. The calibration
//! ([`Calibrator`], run by [`super::HnswBuilder`] after the last insertion, in bounded steps
//! like the insertions) is stored in the graph's header ([`Calibration`]); queries raise their
//! beam to it ([`Calibration::beam`]) and the planner compares the measured cost of that beam
//! with an exact scan ([`super::search_filtered_plan_with`]), so a segment whose graph needs a
//! beam as costly as a scan is scanned, and its answer is exact.

use super::HnswView;
use super::search::{F32Query, SearchScratch, knn};
use crate::index::dense::Dense;
use crate::index::flat;

/// What the build measured: the beam width that met [`SAMPLE_RECALL`] on the sample and the
/// mean number of nodes that beam scored. Zero (graphs stored before calibration existed, or
/// built by [`super::Hnsw::build`]): unknown, and queries use the configured `ef_search` and
/// the planner's model of its cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Calibration {
    /// Beam width reaching the sample recall at k = 10 (0: not calibrated).
    pub ef: u32,
    /// Mean nodes scored by that beam (at least the node count when no beam of
    /// [`LADDER`] reached the recall more cheaply than a scan).
    pub scored: u32,
}

impl Calibration {
    /// True when measured.
    pub fn is_known(&self) -> bool {
        self.ef > 0
    }

    /// The beam for a top-`k` query: at least `floor` (the configured `ef_search`) and `k`,
    /// and the calibrated width scaled by `k / 10` (more results need a wider beam for the
    /// same recall; the planner scans instead when that beam costs more).
    pub fn beam(&self, k: usize, floor: usize) -> usize {
        let scaled = (self.ef as usize).saturating_mul(k.max(K)) / K;
        floor.max(k).max(scaled)
    }

    /// Estimated nodes scored by a beam of `ef`: measured at the calibrated width, scaled
    /// linearly; `None` when not calibrated.
    pub fn scored_at(&self, ef: usize) -> Option<f32> {
        self.is_known()
            .then(|| self.scored as f32 * (ef as f32 / self.ef as f32).max(1.0))
    }
}

/// The recall@10 the sample must reach. Above the 0.95 queries are meant to keep: the
/// sample's own nodes are in the graph's neighbourhoods while real queries fall between them,
/// and 64 samples estimate the mean to about ±0.01.
pub const SAMPLE_RECALL: f32 = 0.97;
/// Beam widths tried, in order.
pub const LADDER: [u32; 12] = [16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768];
/// Nodes used as queries (all of them in smaller graphs).
pub const SAMPLES: u32 = 64;
const K: usize = 10;

/// Sequential exact-scan cost per dimension of a row, in the planner's units (see
/// [`super::search_filtered_plan_with`]).
pub(crate) const SCAN_PER_DIM: f32 = 0.4;
/// Sequential exact-scan cost per row beyond its distance (liveness bit, heap bound check).
pub(crate) const SCAN_PER_ROW: f32 = 8.0;

/// The calibration in progress: samples done so far and the sums per [`LADDER`] width.
#[derive(Debug, Clone)]
pub struct Calibrator {
    next: u32,
    samples: u32,
    recall: [f32; LADDER.len()],
    scored: [f64; LADDER.len()],
    /// Samples whose ladder stopped before this width because a beam cost more than a scan.
    priced_out: [u32; LADDER.len()],
}

impl Calibrator {
    /// A calibration of a graph of `n` nodes.
    pub fn new(n: usize) -> Self {
        Calibrator {
            next: 0,
            samples: SAMPLES.min(n as u32),
            recall: [0.0; LADDER.len()],
            scored: [0.0; LADDER.len()],
            priced_out: [0; LADDER.len()],
        }
    }

    /// True when every sample is measured.
    pub fn is_done(&self) -> bool {
        self.next >= self.samples
    }

    /// Measures samples until about `budget` units of the planner's cost model are spent (at
    /// least one sample when any is left and `budget > 0`); returns the units spent.
    pub fn step(
        &mut self,
        g: &HnswView<'_>,
        vectors: Dense<'_>,
        norms: &[f32],
        budget: f64,
        scratch: &mut SearchScratch,
    ) -> f64 {
        let mut spent = 0.0;
        while !self.is_done() && spent < budget {
            spent += self.sample(g, vectors, norms, scratch);
            self.next += 1;
        }
        spent
    }

    /// One sample: its exact top 10 without itself, then the beam at each width of the
    /// ladder until it finds all 10 or costs more than the scan. Returns its cost.
    fn sample(
        &mut self,
        g: &HnswView<'_>,
        vectors: Dense<'_>,
        norms: &[f32],
        scratch: &mut SearchScratch,
    ) -> f64 {
        let (n, dim) = (g.len(), g.dim());
        let q = (u64::from(self.next) * n as u64 / u64::from(self.samples.max(1))) as u32;
        let Some(query) = vectors.get(q as usize) else {
            self.priced_out.iter_mut().for_each(|p| *p += 1);
            return 0.0;
        };
        let not_self = |s: u32| s != q;
        let scan_cost = n as f32 * (SCAN_PER_DIM * dim as f32 + SCAN_PER_ROW);
        let exact = flat::scan(g.metric, query, vectors.prefix(n), norms, K, not_self);
        let want = exact.len().max(1);
        let space = F32Query::new(g.metric, query, vectors, norms);
        let mut spent = f64::from(scan_cost);
        let mut done_at: Option<(usize, f32)> = None;
        for (j, &ef) in LADDER.iter().enumerate() {
            if let Some((at, scored)) = done_at {
                // All 10 found at a narrower beam: a wider one finds them too, scoring more.
                self.recall[j] += 1.0;
                self.scored[j] += f64::from(scored * ef as f32 / LADDER[at] as f32);
                continue;
            }
            let mut count = 0u32;
            let found = knn(
                g,
                K,
                ef as usize,
                // The sample is invisible to the beam (never scored, so never expanded), like a
                // query that falls between the nodes: reaching its own node and reading its
                // neighbour list would find its neighbours far too easily.
                |s| {
                    if s == q {
                        return f32::INFINITY;
                    }
                    count += 1;
                    space.key(s)
                },
                &not_self,
                false,
                scratch,
            );
            let hits = found
                .iter()
                .filter(|(_, s)| exact.iter().any(|(_, e)| e == s))
                .count();
            let recall = hits as f32 / want as f32;
            self.recall[j] += recall;
            self.scored[j] += f64::from(count);
            let beam_cost = count as f32 * (dim as f32 + super::search::GRAPH_NODE_OVERHEAD);
            spent += f64::from(beam_cost);
            if recall >= 1.0 {
                done_at = Some((j, count as f32));
            } else if beam_cost > scan_cost {
                self.priced_out[j + 1..].iter_mut().for_each(|p| *p += 1);
                break;
            }
        }
        spent
    }

    /// The result once [`Calibrator::is_done`] (unknown for an empty graph).
    pub fn finish(&self, n: usize) -> Calibration {
        if self.samples == 0 {
            return Calibration::default();
        }
        let s = self.samples as f32;
        for (j, &ef) in LADDER.iter().enumerate() {
            // A sample priced out before this width counts as a miss.
            if self.priced_out[j] == 0 && self.recall[j] / s >= SAMPLE_RECALL {
                let scored = (self.scored[j] / f64::from(self.samples)).ceil() as u32;
                return Calibration {
                    ef,
                    scored: scored.max(1),
                };
            }
        }
        // No beam of the ladder is both good enough and cheaper than a scan.
        Calibration {
            ef: LADDER[LADDER.len() - 1],
            scored: n.max(1).min(u32::MAX as usize) as u32,
        }
    }
}
