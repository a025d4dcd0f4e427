//! HNSW: the approximate index of a sealed segment, stored as flat arrays and searched in place.
//!
//! The graph is Malkov & Yashunin's hierarchical navigable small world, built and searched the
//! way hnswlib does it (greedy descent through the upper levels, a beam of `ef` on level 0,
//! neighbour selection by hnswlib's `getNeighborsByHeuristic2`), over the slots `0..n` of a
//! contiguous vector array (`dim` floats per slot) that the caller owns and passes in.
//!
//! # Layout
//! Four flat arrays, and nothing per node on the heap:
//! - `levels`: one byte per node, its top level (geometric, `P(level >= l) = M^-l`);
//! - `level0`: `n` lists of `1 + 2M` words: a count, then up to `2M` neighbour slots;
//! - `upper`: lists of `1 + M` words for levels 1 and up, node after node;
//! - `upper_off`: per node, the index in `upper` of its level-1 list (its level-`l` list is at
//!   `upper_off + l - 1`); unused for level-0 nodes.
//!
//! [`Hnsw`] owns the arrays (built by [`HnswBuilder`]); [`Hnsw::to_bytes`] writes them
//! little-endian after a versioned header (layout in `hnsw/format.rs`), and
//! [`HnswView::from_bytes`] validates such bytes once (every offset, count and neighbour id) and
//! then searches them where they lie: no rebuild, no per-node allocation, any alignment (words are
//! read with `u32::from_le_bytes`, a plain unaligned load on wasm32 and x86). [`Hnsw::view`]
//! gives the same view over the owned arrays, so both search with the same code.
//!
//! # Metrics
//! The graph orders candidates by a *key*, lower is better:
//! - cosine: `-cos(q, v)`, computed as `dot(q, v) / (|q| |v|)` with the caller's stored norms
//!   ([`flat::cosine_from_dot`], so a record scores the same bits as in the exact scan) — no
//!   normalised copy of the vectors is kept;
//! - euclidean: the squared L2 distance;
//! - dotproduct: `-dot(q, v)`. Inner product is not a metric (a vector need not be its own
//!   nearest neighbour); like hnswlib's `ip` space the graph is built and searched with it as if
//!   it were one, which works well on near-constant-norm data and degrades gracefully otherwise.
//!
//! Results are `(score, slot)` pairs, best first, with Pinecone's scores: cosine similarity,
//! squared euclidean distance, dot product.
//!
//! # Determinism
//! Node levels come from a splitmix64 stream seeded by [`HnswConfig::seed`] (integer arithmetic
//! only, no `ln`), so for one build target the same vectors and config give the same bytes.
//! Native and wasm32 kernels round float sums differently, so graphs built on different targets
//! may differ in a few edges; their byte format is the same and either target reads either.

pub(crate) mod build;
mod calibrate;
mod format;
mod search;
mod visited;

pub use build::HnswBuilder;
pub use calibrate::{Calibration, SAMPLE_RECALL};
pub use search::{
    FilteredPlan, MIN_TWO_HOP_FRACTION, PLAIN_GRAPH_FRACTION, SearchScratch, search_filtered_plan,
    search_filtered_plan_with,
};

use crate::distance::Metric;
use crate::error::{Error, Result};
use crate::index::dense::Dense;
use crate::index::flat;

/// Largest `M` accepted (level 0 then holds up to 128 neighbours).
pub const MAX_M: u32 = 64;
/// Highest level a node can have. With `M >= 2` a level above this has probability `<= 2^-16`
/// per node; such draws are clamped.
pub const MAX_LEVEL: u8 = 16;

/// User-tunable HNSW parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HnswConfig {
    /// Neighbours per node on the upper levels; level 0 keeps up to `2 * m`. 2..=64.
    pub m: u32,
    /// Beam width while inserting. Larger builds slower and finds better neighbours.
    pub ef_construction: u32,
    /// Default beam width of a query (raised to `k` when smaller).
    pub ef_search: u32,
    /// Seed of the level generator.
    pub seed: u64,
}

impl Default for HnswConfig {
    fn default() -> Self {
        HnswConfig {
            m: 16,
            ef_construction: 100,
            ef_search: 64,
            seed: 0x6c61_7263_6868_6e73,
        }
    }
}

impl HnswConfig {
    /// Checks the ranges documented on the fields.
    pub fn validate(&self) -> Result<()> {
        if !(2..=MAX_M).contains(&self.m) {
            return Err(Error::invalid(format!(
                "HNSW m must be in 2..={MAX_M}, got {}",
                self.m
            )));
        }
        if self.ef_construction == 0 || self.ef_search == 0 {
            return Err(Error::invalid(
                "HNSW ef_construction and ef_search must be at least 1",
            ));
        }
        Ok(())
    }

    /// Level-0 capacity: `2 * m`.
    pub fn m0(&self) -> u32 {
        2 * self.m
    }
}

/// An HNSW graph that owns its arrays. Build one with [`HnswBuilder`] (or [`Hnsw::build`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Hnsw {
    pub(crate) config: HnswConfig,
    pub(crate) metric: Metric,
    pub(crate) dim: u32,
    /// Node with the highest level; meaningless while the graph is empty.
    pub(crate) entry: u32,
    pub(crate) max_level: u8,
    pub(crate) levels: Vec<u8>,
    pub(crate) upper_off: Vec<u32>,
    pub(crate) level0: Vec<u32>,
    pub(crate) upper: Vec<u32>,
    /// Measured by [`HnswBuilder`] after the last insertion (unknown from [`Hnsw::build`]).
    pub(crate) calibration: Calibration,
}

impl Hnsw {
    /// Builds the graph of every slot of `vectors` (`dim` floats each; `norms` are their
    /// Euclidean norms, needed for cosine and ignored otherwise).
    pub fn build(
        config: HnswConfig,
        metric: Metric,
        dim: usize,
        vectors: Dense<'_>,
        norms: &[f32],
    ) -> Result<Hnsw> {
        let mut b = HnswBuilder::new(config, metric, dim)?;
        let n = vectors.len();
        b.insert_until(n, vectors, norms)?;
        Ok(b.finish())
    }

    /// Builds the graph of every slot of `codes`, comparing vectors by their int8 codes (see
    /// [`HnswBuilder::insert_until_codes`]).
    pub fn build_on_codes(
        config: HnswConfig,
        codes: &crate::index::quant::Int8Index,
    ) -> Result<Hnsw> {
        let mut b = HnswBuilder::new(config, codes.metric(), codes.dim())?;
        b.insert_until_codes(codes.len(), codes)?;
        Ok(b.finish())
    }

    /// Number of nodes (slots `0..len`).
    pub fn len(&self) -> usize {
        self.levels.len()
    }

    /// True when the graph has no node.
    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    /// The configuration it was built with.
    pub fn config(&self) -> HnswConfig {
        self.config
    }

    /// A view over the owned arrays; searches exactly like a view of [`Hnsw::to_bytes`].
    pub fn view(&self) -> HnswView<'_> {
        HnswView {
            config: self.config,
            metric: self.metric,
            dim: self.dim,
            n: self.levels.len() as u32,
            entry: self.entry,
            max_level: self.max_level,
            upper_off: Words::Native(&self.upper_off),
            level0: Words::Native(&self.level0),
            upper: Words::Native(&self.upper),
            calibration: self.calibration,
        }
    }

    /// What the build measured of the graph's search cost (see [`Calibration`]).
    pub fn calibration(&self) -> Calibration {
        self.calibration
    }

    /// Bytes of the graph alone (what [`Hnsw::to_bytes`] writes, less the header).
    pub fn graph_bytes(&self) -> usize {
        self.levels.len().next_multiple_of(4)
            + 4 * (self.upper_off.len() + self.level0.len() + self.upper.len())
    }

    /// The graph as little-endian bytes (see `hnsw/format.rs`); [`HnswView::from_bytes`] reads
    /// them back.
    pub fn to_bytes(&self) -> Vec<u8> {
        format::encode(self)
    }

    /// See [`HnswView::search`].
    #[allow(clippy::too_many_arguments)]
    pub fn search(
        &self,
        query: &[f32],
        vectors: Dense<'_>,
        norms: &[f32],
        k: usize,
        ef: usize,
        accept: impl Fn(u32) -> bool,
        scratch: &mut SearchScratch,
    ) -> Result<Vec<(f32, u32)>> {
        self.view()
            .search(query, vectors, norms, k, ef, accept, scratch)
    }
}

/// A borrowed HNSW graph: over bytes ([`HnswView::from_bytes`]) or over an [`Hnsw`].
#[derive(Debug, Clone, Copy)]
pub struct HnswView<'a> {
    pub(crate) config: HnswConfig,
    pub(crate) metric: Metric,
    pub(crate) dim: u32,
    pub(crate) n: u32,
    pub(crate) entry: u32,
    pub(crate) max_level: u8,
    pub(crate) upper_off: Words<'a>,
    pub(crate) level0: Words<'a>,
    pub(crate) upper: Words<'a>,
    pub(crate) calibration: Calibration,
}

impl<'a> HnswView<'a> {
    /// Validates `bytes` written by [`Hnsw::to_bytes`] and borrows them. Any inconsistency
    /// (bad magic or version, sizes that do not add up, a count above capacity, a neighbour id
    /// out of range or on too low a level) is [`Error::Corrupt`]; nothing here panics.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<HnswView<'a>> {
        format::decode(bytes)
    }

    /// A view of bytes that [`HnswView::from_bytes`] validated before (and that have not
    /// changed since): reads the header only, so a segment validates its graph once at load
    /// and not per query.
    pub(crate) fn from_validated_bytes(bytes: &'a [u8]) -> Result<HnswView<'a>> {
        format::decode_trusted(bytes)
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.n as usize
    }

    /// True when the graph has no node.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The metric the graph was built for.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// The vector dimension the graph was built for.
    pub fn dim(&self) -> usize {
        self.dim as usize
    }

    /// The configuration it was built with.
    pub fn config(&self) -> HnswConfig {
        self.config
    }

    /// What the build measured of the graph's search cost (unknown for graphs stored before
    /// calibration existed).
    pub fn calibration(&self) -> Calibration {
        self.calibration
    }

    /// The beam width for a top-`k` query: `ef_search` (raised to `k`), and with `auto` also
    /// to the calibrated width for that `k` ([`Calibration::beam`]).
    pub fn beam(&self, k: usize, ef_search: usize, auto: bool) -> usize {
        if auto {
            self.calibration.beam(k, ef_search)
        } else {
            ef_search.max(k)
        }
    }

    /// The plan for a top-`k` query with a beam of `ef` whose filter passes about
    /// `accepted_fraction` of the slots ([`search_filtered_plan_with`], with `auto` with the
    /// nodes the beam scores as the calibration measured them, else as modelled).
    pub fn plan(&self, k: usize, ef: usize, accepted_fraction: f32, auto: bool) -> FilteredPlan {
        let scored = self.calibration.scored_at(ef.max(k)).filter(|_| auto);
        let (n, dim) = (self.len(), self.dim());
        search_filtered_plan_with(n, dim, k, ef, accepted_fraction, scored, auto)
    }

    /// The `k` best slots for `query` among those where `accept(slot)` holds, best first, with
    /// Pinecone scores. `ef` is the beam width (raised to `k`). `accept` is evaluated during the
    /// level-0 traversal: rejected nodes are still walked through (so the graph stays connected
    /// under a filter) but never returned. With a selective filter the beam may find fewer
    /// than `k` accepted slots; [`HnswView::search_filtered`] falls back to an exact scan then.
    ///
    /// `vectors` / `norms` are the slots' vectors and norms the graph was built on.
    #[allow(clippy::too_many_arguments)]
    pub fn search(
        &self,
        query: &[f32],
        vectors: Dense<'_>,
        norms: &[f32],
        k: usize,
        ef: usize,
        accept: impl Fn(u32) -> bool,
        scratch: &mut SearchScratch,
    ) -> Result<Vec<(f32, u32)>> {
        self.search_mode(query, vectors, norms, k, ef, &accept, false, scratch)
    }

    #[allow(clippy::too_many_arguments)]
    fn search_mode(
        &self,
        query: &[f32],
        vectors: Dense<'_>,
        norms: &[f32],
        k: usize,
        ef: usize,
        accept: &impl Fn(u32) -> bool,
        two_hop: bool,
        scratch: &mut SearchScratch,
    ) -> Result<Vec<(f32, u32)>> {
        self.check_inputs(query, vectors, norms)?;
        let space = search::F32Query::new(self.metric, query, vectors, norms);
        let found = search::knn(self, k, ef, |s| space.key(s), accept, two_hop, scratch);
        Ok(found
            .into_iter()
            .map(|(key, slot)| (key_to_score(self.metric, key), slot))
            .collect())
    }

    /// Filtered search with a plan ([`search_filtered_plan`]): an exact scan of the accepted
    /// slots when the filter is selective (`accepted_fraction`, an estimate of the share of
    /// slots `accept` passes, is small), else the graph with the filter applied during the
    /// traversal (two-hop for mid-range filters), falling back to the exact scan when the graph
    /// finds fewer than `k` accepted slots. Returns `min(k, accepted)`
    /// results whenever the estimate is honest or not: the fallback guarantees it.
    #[allow(clippy::too_many_arguments)]
    pub fn search_filtered(
        &self,
        query: &[f32],
        vectors: Dense<'_>,
        norms: &[f32],
        k: usize,
        ef: usize,
        accept: impl Fn(u32) -> bool,
        accepted_fraction: f32,
        scratch: &mut SearchScratch,
    ) -> Result<(Vec<(f32, u32)>, FilteredPlan)> {
        self.search_filtered_with(
            query,
            vectors,
            norms,
            k,
            ef,
            accept,
            accepted_fraction,
            true,
            scratch,
        )
    }

    /// [`HnswView::search_filtered`], planning with the calibration only when `auto`
    /// ([`HnswView::plan`]).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn search_filtered_with(
        &self,
        query: &[f32],
        vectors: Dense<'_>,
        norms: &[f32],
        k: usize,
        ef: usize,
        accept: impl Fn(u32) -> bool,
        accepted_fraction: f32,
        auto: bool,
        scratch: &mut SearchScratch,
    ) -> Result<(Vec<(f32, u32)>, FilteredPlan)> {
        self.check_inputs(query, vectors, norms)?;
        let n = self.len();
        let exact = |accept: &dyn Fn(u32) -> bool| {
            flat::scan(self.metric, query, vectors.prefix(n), norms, k, accept)
        };
        let plan = self.plan(k, ef, accepted_fraction, auto);
        if plan == FilteredPlan::Exact {
            return Ok((exact(&accept), plan));
        }
        let two_hop = plan == FilteredPlan::TwoHop;
        let found = self.search_mode(query, vectors, norms, k, ef, &accept, two_hop, scratch)?;
        if found.len() >= k {
            return Ok((found, plan));
        }
        Ok((exact(&accept), FilteredPlan::GraphThenExact))
    }

    /// The `k` best accepted slots by an arbitrary key (lower is better), as `(key, slot)`;
    /// `two_hop` as in [`HnswView::search_filtered`].
    pub(crate) fn knn_by_key(
        &self,
        k: usize,
        ef: usize,
        key: impl FnMut(u32) -> f32,
        accept: &impl Fn(u32) -> bool,
        two_hop: bool,
        scratch: &mut SearchScratch,
    ) -> Vec<(f32, u32)> {
        search::knn(self, k, ef, key, accept, two_hop, scratch)
    }

    /// Scores `slots` exactly against `query` and keeps the best `k`, best first.
    pub(crate) fn rescore(
        &self,
        query: &[f32],
        vectors: Dense<'_>,
        norms: &[f32],
        k: usize,
        slots: impl Iterator<Item = u32>,
    ) -> Vec<(f32, u32)> {
        let space = search::F32Query::new(self.metric, query, vectors, norms);
        let mut top = flat::TopK::new(k, self.metric.higher_is_better());
        for s in slots {
            top.push(key_to_score(self.metric, space.key(s)), s);
        }
        top.into_sorted()
    }

    pub(crate) fn check_inputs(
        &self,
        query: &[f32],
        vectors: Dense<'_>,
        norms: &[f32],
    ) -> Result<()> {
        let dim = self.dim();
        if query.len() != dim {
            return Err(Error::DimensionMismatch {
                expected: self.dim,
                got: query.len(),
            });
        }
        if vectors.dim() != dim
            || vectors.len() < self.len()
            || (self.metric == Metric::Cosine && norms.len() < self.len())
        {
            return Err(Error::invalid(format!(
                "HNSW graph of {} slots × {dim} needs that many vectors (and norms for cosine), got {} × {} and {} norms",
                self.len(),
                vectors.len(),
                vectors.dim(),
                norms.len()
            )));
        }
        Ok(())
    }

    /// Copies the neighbours of `node` on `level` into `out` (cleared first). Out-of-range
    /// reads yield no neighbours (validated views never have them).
    #[inline]
    pub(crate) fn neighbors(&self, node: u32, level: u8, out: &mut Vec<u32>) {
        out.clear();
        let (words, base, cap) = if level == 0 {
            let cap = self.config.m0() as usize;
            (&self.level0, node as usize * (cap + 1), cap)
        } else {
            let cap = self.config.m as usize;
            let list = self.upper_off.get(node as usize) as usize + level as usize - 1;
            (&self.upper, list * (cap + 1), cap)
        };
        words.copy_list(base, cap, out);
    }
}

/// Turns a key (lower is better) into a Pinecone score.
#[inline]
pub(crate) fn key_to_score(metric: Metric, key: f32) -> f32 {
    match metric {
        Metric::Euclidean => key,
        Metric::Cosine | Metric::DotProduct => -key,
    }
}

/// An array of `u32`: native words, or little-endian words in bytes of any alignment.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Words<'a> {
    Native(&'a [u32]),
    Le(&'a [u8]),
}

impl Words<'_> {
    /// Number of words.
    pub(crate) fn len(&self) -> usize {
        match self {
            Words::Native(w) => w.len(),
            Words::Le(b) => b.len() / 4,
        }
    }

    /// Word `i`, or 0 when out of range.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> u32 {
        match self {
            Words::Native(w) => w.get(i).copied().unwrap_or(0),
            Words::Le(b) => le_word(b, i).unwrap_or(0),
        }
    }

    /// Appends the list at word `base` (a count, then up to `cap` ids) to `out`; the count is
    /// clamped to `cap` and to the array.
    #[inline]
    fn copy_list(&self, base: usize, cap: usize, out: &mut Vec<u32>) {
        match self {
            Words::Native(w) => {
                if let Some(&count) = w.get(base) {
                    let end = (base + 1 + (count as usize).min(cap)).min(w.len());
                    out.extend_from_slice(&w[base + 1..end]);
                }
            }
            Words::Le(b) => {
                if let Some(count) = le_word(b, base) {
                    let end = (base + 1 + (count as usize).min(cap)).min(b.len() / 4);
                    if let Some(bytes) = b.get((base + 1) * 4..end * 4) {
                        out.extend(
                            bytes
                                .chunks_exact(4)
                                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                        );
                    }
                }
            }
        }
    }
}

#[inline]
fn le_word(b: &[u8], i: usize) -> Option<u32> {
    let c = b.get(i * 4..i * 4 + 4)?;
    Some(u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

#[cfg(test)]
mod tests;
