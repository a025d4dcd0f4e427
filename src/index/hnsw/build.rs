//! Building the graph: hnswlib's insertion with its neighbour-selection heuristic.
//!
//! Inserting slot `q` draws its level, descends greedily from the entry point to that level,
//! then on each level from there down to 0 runs a beam of `ef_construction`, keeps at most `M`
//! of the beam's nodes by the heuristic (`getNeighborsByHeuristic2`: walk the candidates nearest
//! first and keep one only if it is closer to `q` than to every one kept so far, which spreads
//! the links over directions), links `q` to them and them back to `q`. A neighbour whose list is
//! full (`M` on the upper levels, `2M` on level 0) re-selects its list from its old neighbours
//! plus `q` with the same heuristic.
//!
//! [`HnswBuilder`] inserts slots in order and can stop and resume at any slot count, so a host
//! can spread a large build over several short calls (a Worker request has a CPU budget).

use super::calibrate::{Calibration, Calibrator};
use super::search::GRAPH_NODES_PER_EF;
use super::search::{Cand, SearchScratch, greedy, search_layer};
use super::{Hnsw, HnswConfig, MAX_LEVEL};
use crate::distance::{self, Metric};
use crate::error::{Error, Result};
use crate::index::dense::Dense;
use crate::index::flat::cosine_from_dot;
use crate::index::quant::Int8Index;
use crate::sort::SmallSort;

/// Builds an [`Hnsw`] one slot at a time.
#[derive(Debug, Clone)]
pub struct HnswBuilder {
    graph: Hnsw,
    rng: SplitMix64,
    scratch: SearchScratch,
    beam: Vec<Cand>,
    entries: Vec<Cand>,
    selected: Vec<Cand>,
    pool: Vec<Cand>,
    links: Vec<u32>,
    /// The calibration, once started ([`HnswBuilder::calibrate_step`]).
    calibrator: Option<Box<Calibrator>>,
}

impl HnswBuilder {
    /// An empty builder for `dim`-dimensional vectors.
    pub fn new(config: HnswConfig, metric: Metric, dim: usize) -> Result<Self> {
        config.validate()?;
        let dim = u32::try_from(dim).ok().filter(|&d| d > 0).ok_or_else(|| {
            Error::invalid(format!("HNSW dimension must be in 1..=2^32-1, got {dim}"))
        })?;
        Ok(HnswBuilder {
            graph: Hnsw {
                config,
                metric,
                dim,
                entry: 0,
                max_level: 0,
                levels: Vec::new(),
                upper_off: Vec::new(),
                level0: Vec::new(),
                upper: Vec::new(),
                calibration: Calibration::default(),
            },
            calibrator: None,
            rng: SplitMix64(config.seed),
            scratch: SearchScratch::new(),
            beam: Vec::new(),
            entries: Vec::new(),
            selected: Vec::new(),
            pool: Vec::new(),
            links: Vec::new(),
        })
    }

    /// Slots inserted so far (`0..len`).
    pub fn len(&self) -> usize {
        self.graph.len()
    }

    /// True before the first insert.
    pub fn is_empty(&self) -> bool {
        self.graph.is_empty()
    }

    /// Bytes held: the graph so far, its search scratch and the insertion buffers.
    pub fn heap_bytes(&self) -> usize {
        use crate::heap::vec;
        let g = &self.graph;
        vec(&g.levels)
            + vec(&g.upper_off)
            + vec(&g.level0)
            + vec(&g.upper)
            + self.scratch.bytes()
            + vec(&self.beam)
            + vec(&self.entries)
            + vec(&self.selected)
            + vec(&self.pool)
            + vec(&self.links)
    }

    /// Inserts slots `len()..target`. `vectors` must hold at least `target` rows of `dim`
    /// floats (and `norms` their norms, for cosine); rows already inserted must not change.
    pub fn insert_until(&mut self, target: usize, vectors: Dense<'_>, norms: &[f32]) -> Result<()> {
        let dim = self.graph.dim as usize;
        if target > u32::MAX as usize - 1 {
            return Err(Error::invalid(format!(
                "HNSW holds at most 2^32-2 slots, asked for {target}"
            )));
        }
        if vectors.dim() != dim
            || vectors.len() < target
            || (self.graph.metric == Metric::Cosine && norms.len() < target)
        {
            return Err(Error::invalid(format!(
                "HNSW build up to slot {target} needs {target} vectors of {dim} (and norms for cosine), got {} × {} and {} norms",
                vectors.len(),
                vectors.dim(),
                norms.len()
            )));
        }
        let space = Space {
            metric: self.graph.metric,
            vectors,
            norms,
        };
        for q in self.len()..target {
            self.insert(q as u32, &space);
        }
        Ok(())
    }

    /// Like [`HnswBuilder::insert_until`], comparing vectors by their int8 codes instead of
    /// the f32 vectors: each distance reads a quarter of the bytes and is integer arithmetic
    /// (SIMD128 `i32x4.dot_i16x8_s`), at the price of the codes' rounding in the graph's
    /// neighbour choices. Searches still rescore with full precision.
    pub fn insert_until_codes(&mut self, target: usize, codes: &Int8Index) -> Result<()> {
        if codes.metric() != self.graph.metric || codes.dim() != self.graph.dim as usize {
            return Err(Error::invalid(
                "int8 codes of another metric or dimension than the graph",
            ));
        }
        if target > codes.len() {
            return Err(Error::invalid(format!(
                "HNSW build up to slot {target} needs that many codes, got {}",
                codes.len()
            )));
        }
        for q in self.len()..target {
            self.insert(q as u32, codes);
        }
        Ok(())
    }

    /// The finished graph, with its calibration when [`HnswBuilder::calibrate_step`] completed
    /// it.
    pub fn finish(mut self) -> Hnsw {
        if let Some(c) = self.calibrator.as_ref().filter(|c| c.is_done()) {
            self.graph.calibration = c.finish(self.graph.len());
        }
        self.graph
    }

    /// True once [`HnswBuilder::calibrate_step`] has measured every sample.
    pub fn is_calibrated(&self) -> bool {
        self.calibrator.as_ref().is_some_and(|c| c.is_done())
    }

    /// Measures the graph built so far (call it once every slot is inserted; see
    /// `calibrate.rs`) for at most about `nodes` insertions' worth of work, at least one sample
    /// while any is left: each sample scans the `vectors` once and runs a few beams. Returns
    /// the insertions' worth used. `vectors` and `norms` are those of [`Self::insert_until`].
    pub fn calibrate_step(&mut self, vectors: Dense<'_>, norms: &[f32], nodes: usize) -> usize {
        if nodes == 0 || self.is_calibrated() {
            return 0;
        }
        let dim = self.graph.dim as usize;
        let n = self.graph.len();
        if vectors.dim() != dim
            || vectors.len() < n
            || (self.graph.metric == Metric::Cosine && norms.len() < n)
        {
            return 0;
        }
        // One insertion: a beam of `ef_construction` plus about as much again for the
        // neighbour selection and the back links, in the planner's units.
        let per_node = 2.0
            * self.graph.config.ef_construction as f64
            * f64::from(GRAPH_NODES_PER_EF)
            * (dim as f64 + f64::from(super::search::GRAPH_NODE_OVERHEAD));
        let calibrator = self
            .calibrator
            .get_or_insert_with(|| Box::new(Calibrator::new(n)));
        let budget = nodes as f64 * per_node;
        let view = self.graph.view();
        let spent = calibrator.step(&view, vectors, norms, budget, &mut self.scratch);
        ((spent / per_node).ceil() as usize).clamp(1, nodes)
    }

    fn random_level(&mut self) -> u8 {
        // P(level >= l) = m^-l, the distribution of floor(-ln(u) / ln(m)), in integers.
        let threshold = u64::MAX / u64::from(self.graph.config.m);
        let mut level = 0;
        while level < MAX_LEVEL && self.rng.next_u64() < threshold {
            level += 1;
        }
        level
    }

    fn insert<S: Between>(&mut self, q: u32, space: &S) {
        let level = self.random_level();
        let m = self.graph.config.m as usize;
        let m0 = self.graph.config.m0() as usize;
        let g = &mut self.graph;
        g.levels.push(level);
        g.upper_off.push((g.upper.len() / (m + 1)) as u32);
        g.upper.resize(g.upper.len() + level as usize * (m + 1), 0);
        g.level0.resize(g.level0.len() + m0 + 1, 0);
        if q == 0 {
            g.entry = 0;
            g.max_level = level;
            return;
        }
        let mut key = |u: u32| space.between(q, u);
        let top = self.graph.max_level;
        {
            let view = self.graph.view();
            let mut cur = Cand {
                key: key(view.entry),
                slot: view.entry,
            };
            for l in (level.saturating_add(1)..=top).rev() {
                cur = greedy(&view, l, cur, &mut key, &mut self.links);
            }
            self.entries.clear();
            self.entries.push(cur);
        }
        let ef = self.graph.config.ef_construction as usize;
        for l in (0..=level.min(top)).rev() {
            {
                let view = self.graph.view();
                search_layer(
                    &view,
                    l,
                    &self.entries,
                    ef,
                    &mut key,
                    &|_| true,
                    false,
                    &mut self.scratch,
                    &mut self.beam,
                );
            }
            select_by_heuristic(&self.beam, m, space, &mut self.selected);
            let cap = if l == 0 { m0 } else { m };
            let list = list_start(&self.graph, q, l);
            let words = if l == 0 {
                &mut self.graph.level0
            } else {
                &mut self.graph.upper
            };
            words[list] = self.selected.len() as u32;
            for (i, c) in self.selected.iter().enumerate() {
                words[list + 1 + i] = c.slot;
            }
            for i in 0..self.selected.len() {
                let s = self.selected[i];
                self.link_back(s.slot, q, s.key, l, cap, space);
            }
            std::mem::swap(&mut self.entries, &mut self.beam);
        }
        if level > top {
            self.graph.entry = q;
            self.graph.max_level = level;
        }
    }

    /// Adds `q` (at key `d` from `s`) to `s`'s list on `level`, re-selecting when it is full.
    fn link_back<S: Between>(&mut self, s: u32, q: u32, d: f32, level: u8, cap: usize, space: &S) {
        let list = list_start(&self.graph, s, level);
        let words = if level == 0 {
            &mut self.graph.level0
        } else {
            &mut self.graph.upper
        };
        let count = words[list] as usize;
        if count < cap {
            words[list + 1 + count] = q;
            words[list] += 1;
            return;
        }
        self.pool.clear();
        self.pool.push(Cand { key: d, slot: q });
        for &x in &words[list + 1..list + 1 + count] {
            self.pool.push(Cand {
                key: space.between(s, x),
                slot: x,
            });
        }
        self.pool.small_sort();
        select_by_heuristic(&self.pool, cap, space, &mut SelectInto(&mut self.links));
        let words = if level == 0 {
            &mut self.graph.level0
        } else {
            &mut self.graph.upper
        };
        let kept = &self.links;
        words[list] = kept.len() as u32;
        for (i, &x) in kept.iter().enumerate() {
            words[list + 1 + i] = x;
        }
    }
}

/// Where [`select_by_heuristic`] writes: a list of candidates or of bare slots.
trait Selected {
    fn clear(&mut self);
    fn len(&self) -> usize;
    fn push(&mut self, c: Cand);
    fn slots(&self) -> impl Iterator<Item = u32>;
}

impl Selected for Vec<Cand> {
    fn clear(&mut self) {
        Vec::clear(self);
    }
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn push(&mut self, c: Cand) {
        Vec::push(self, c);
    }
    fn slots(&self) -> impl Iterator<Item = u32> {
        self.iter().map(|c| c.slot)
    }
}

struct SelectInto<'a>(&'a mut Vec<u32>);

impl Selected for SelectInto<'_> {
    fn clear(&mut self) {
        self.0.clear();
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn push(&mut self, c: Cand) {
        self.0.push(c.slot);
    }
    fn slots(&self) -> impl Iterator<Item = u32> {
        self.0.iter().copied()
    }
}

/// hnswlib's `getNeighborsByHeuristic2`: from `pool` (nearest first), keep a candidate only if
/// it is nearer to the base node than to every candidate kept so far; at most `m`.
fn select_by_heuristic<S: Between>(pool: &[Cand], m: usize, space: &S, out: &mut impl Selected) {
    out.clear();
    if pool.len() <= m {
        for &c in pool {
            out.push(c);
        }
        return;
    }
    for &c in pool {
        if out.len() >= m {
            break;
        }
        if out.slots().all(|r| space.between(c.slot, r) >= c.key) {
            out.push(c);
        }
    }
}

/// Word index of `node`'s list on `level`.
#[inline]
fn list_start(g: &Hnsw, node: u32, level: u8) -> usize {
    if level == 0 {
        node as usize * (g.config.m0() as usize + 1)
    } else {
        (g.upper_off[node as usize] as usize + level as usize - 1) * (g.config.m as usize + 1)
    }
}

/// Keys (lower is better) between two stored slots: what the build compares.
pub(crate) trait Between {
    fn between(&self, a: u32, b: u32) -> f32;
}

/// Keys between stored f32 vectors, by the graph's metric.
pub(crate) struct Space<'a> {
    metric: Metric,
    vectors: Dense<'a>,
    norms: &'a [f32],
}

impl Between for Space<'_> {
    #[inline]
    fn between(&self, a: u32, b: u32) -> f32 {
        let (a, b) = (a as usize, b as usize);
        let va = self.vectors.row(a);
        let vb = self.vectors.row(b);
        match self.metric {
            Metric::Euclidean => distance::l2sq(va, vb),
            Metric::DotProduct => -distance::dot(va, vb),
            Metric::Cosine => -cosine_from_dot(distance::dot(va, vb), self.norms[a], self.norms[b]),
        }
    }
}

/// splitmix64: a tiny seeded generator (no `rand` in the engine).
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}
