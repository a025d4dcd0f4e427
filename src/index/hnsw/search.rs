//! Graph search: greedy descent through the upper levels, then a beam of width `ef` on level 0
//! (hnswlib's `searchBaseLayerST`), with the filter evaluated during the traversal.
//!
//! The beam keeps two heaps: the candidates still to expand (nearest first) and the best `ef`
//! *accepted* nodes found so far (worst on top). Every node reached is a candidate, accepted or
//! not, so a filter does not cut the graph apart; only accepted nodes enter the results. The
//! search stops when the nearest unexpanded candidate is worse than the worst of `ef` results.
//! Under a selective filter that takes long (few nodes fill the results), which is why
//! [`search_filtered_plan`] sends such queries to the exact scan.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::HnswView;
use super::calibrate::{SCAN_PER_DIM, SCAN_PER_ROW};
use super::visited::Visited;
use crate::distance::{self, Metric};
use crate::index::dense::Dense;
use crate::index::flat::cosine_from_dot;
use crate::sort::SmallSort;

/// A node and its key (lower is better). Ordered by key (IEEE total order), then slot.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cand {
    pub(crate) key: f32,
    pub(crate) slot: u32,
}

impl Ord for Cand {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        self.key
            .total_cmp(&other.key)
            .then(self.slot.cmp(&other.slot))
    }
}

impl PartialOrd for Cand {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Cand {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Cand {}

/// Nearest-first wrapper for the candidate heap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Near(std::cmp::Reverse<Cand>);

/// Reusable per-query state: the visited set, both heaps and a neighbour buffer. Keep one per
/// thread (or per segment reader) and pass it to every search; it grows to the largest graph
/// searched and is never shrunk.
#[derive(Debug, Clone, Default)]
pub struct SearchScratch {
    pub(crate) visited: Visited,
    candidates: BinaryHeap<Near>,
    results: BinaryHeap<Cand>,
    pub(crate) links: Vec<u32>,
    hop: Vec<u32>,
    rejected: Vec<u32>,
    pub(crate) entries: Vec<Cand>,
    pub(crate) found: Vec<Cand>,
}

impl SearchScratch {
    /// An empty scratch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes held (the visited marks dominate: 4 per slot of the largest graph searched).
    pub fn bytes(&self) -> usize {
        self.visited.bytes()
            + self.candidates.capacity() * 8
            + self.results.capacity() * 8
            + (self.links.capacity() + 2 * self.entries.capacity() + 2 * self.found.capacity()) * 4
    }
}

/// Keys of a full-precision query against the slots' vectors.
pub(crate) struct F32Query<'a> {
    metric: Metric,
    query: &'a [f32],
    qnorm: f32,
    vectors: Dense<'a>,
    norms: &'a [f32],
}

impl<'a> F32Query<'a> {
    pub(crate) fn new(
        metric: Metric,
        query: &'a [f32],
        vectors: Dense<'a>,
        norms: &'a [f32],
    ) -> Self {
        let qnorm = if metric == Metric::Cosine {
            distance::norm(query)
        } else {
            0.0
        };
        F32Query {
            metric,
            query,
            qnorm,
            vectors,
            norms,
        }
    }

    /// The key of `slot` (lower is better); +inf for a slot beyond the arrays.
    #[inline]
    pub(crate) fn key(&self, slot: u32) -> f32 {
        let s = slot as usize;
        let Some(v) = self.vectors.get(s) else {
            return f32::INFINITY;
        };
        match self.metric {
            Metric::Euclidean => distance::l2sq(self.query, v),
            Metric::DotProduct => -distance::dot(self.query, v),
            Metric::Cosine => {
                let vn = self.norms.get(s).copied().unwrap_or(0.0);
                -cosine_from_dot(distance::dot(self.query, v), self.qnorm, vn)
            }
        }
    }
}

/// Greedy walk on `level` from `start`: moves to the best neighbour until none is better.
#[inline]
pub(crate) fn greedy(
    g: &HnswView<'_>,
    level: u8,
    mut cur: Cand,
    key: &mut impl FnMut(u32) -> f32,
    links: &mut Vec<u32>,
) -> Cand {
    loop {
        let mut moved = false;
        g.neighbors(cur.slot, level, links);
        for &u in links.iter() {
            let d = key(u);
            if d < cur.key {
                cur = Cand { key: d, slot: u };
                moved = true;
            }
        }
        if !moved {
            return cur;
        }
    }
}

/// Beam search of width `ef` on `level` from `entries`. Leaves the (at most `ef`) best accepted
/// nodes in `out`, nearest first.
///
/// With `two_hop` (for selective filters, after ACORN), a rejected neighbour is not scored or
/// queued; instead its own neighbours that pass the filter are, so the beam moves over the
/// accepted nodes only, through the rejected ones, and computes distances for accepted nodes
/// only. Without it (hnswlib's filtered search) rejected nodes are scored and expanded like any
/// other, just never returned.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn search_layer(
    g: &HnswView<'_>,
    level: u8,
    entries: &[Cand],
    ef: usize,
    key: &mut impl FnMut(u32) -> f32,
    accept: &impl Fn(u32) -> bool,
    two_hop: bool,
    s: &mut SearchScratch,
    out: &mut Vec<Cand>,
) {
    let ef = ef.max(1);
    s.visited.clear(g.len());
    s.candidates.clear();
    s.results.clear();
    let mut bound = f32::INFINITY;
    for &e in entries {
        if s.visited.insert(e.slot) {
            s.candidates.push(Near(std::cmp::Reverse(e)));
            if accept(e.slot) {
                s.results.push(e);
                if s.results.len() > ef {
                    s.results.pop();
                }
            }
        }
    }
    if s.results.len() >= ef {
        bound = s.results.peek().map_or(f32::INFINITY, |w| w.key);
    }
    let mut links = std::mem::take(&mut s.links);
    let mut hop = std::mem::take(&mut s.hop);
    while let Some(Near(std::cmp::Reverse(c))) = s.candidates.pop() {
        if c.key > bound {
            break;
        }
        g.neighbors(c.slot, level, &mut links);
        if two_hop {
            // Direct accepted neighbours are all scored; accepted neighbours of the rejected
            // ones (nearest lists first) only until a list's worth has been scored in this
            // expansion. Measured through segments (ef 64, natively), recall and latency over
            // the unfiltered query with half a list / a full list: wordnet-minilm384 (three
            // 50k graphs, 7-52 % filters) 0.975-0.993 at 1.0-1.8x / 0.992-0.997 at 1.8-2.1x;
            // glove50 (eight graphs, the 12 % tag filter) 0.86 at 1.9x / 0.92 at 2.8x.
            let mut budget = links.len();
            let mut rejected = std::mem::take(&mut s.rejected);
            rejected.clear();
            for &u in &links {
                if accept(u) {
                    if s.visited.insert(u) {
                        visit(
                            Cand {
                                key: key(u),
                                slot: u,
                            },
                            true,
                            ef,
                            &mut bound,
                            s,
                        );
                        budget = budget.saturating_sub(1);
                    }
                } else {
                    rejected.push(u);
                }
            }
            'hops: for &u in &rejected {
                if budget == 0 {
                    break;
                }
                // A rejected node is walked through once; until then it stays unmarked, so a
                // later expansion with budget left can still use it.
                if !s.visited.insert(u) {
                    continue;
                }
                g.neighbors(u, level, &mut hop);
                for &w in &hop {
                    if accept(w) && s.visited.insert(w) {
                        visit(
                            Cand {
                                key: key(w),
                                slot: w,
                            },
                            true,
                            ef,
                            &mut bound,
                            s,
                        );
                        budget -= 1;
                        if budget == 0 {
                            break 'hops;
                        }
                    }
                }
            }
            s.rejected = rejected;
        } else {
            for &u in &links {
                if s.visited.insert(u) {
                    visit(
                        Cand {
                            key: key(u),
                            slot: u,
                        },
                        accept(u),
                        ef,
                        &mut bound,
                        s,
                    );
                }
            }
        }
    }
    s.links = links;
    s.hop = hop;
    out.clear();
    out.extend(s.results.drain());
    out.small_sort();
}

/// Offers a scored node to the beam: a candidate if it may improve the results, and a result
/// too when accepted.
#[inline]
fn visit(cand: Cand, accepted: bool, ef: usize, bound: &mut f32, s: &mut SearchScratch) {
    if cand.key < *bound {
        s.candidates.push(Near(std::cmp::Reverse(cand)));
        if accepted {
            s.results.push(cand);
            if s.results.len() > ef {
                s.results.pop();
            }
            if s.results.len() >= ef {
                *bound = s.results.peek().map_or(f32::INFINITY, |w| w.key);
            }
        }
    }
}

/// The `k` best accepted nodes by `key`, nearest first, as `(key, slot)`.
pub(crate) fn knn(
    g: &HnswView<'_>,
    k: usize,
    ef: usize,
    mut key: impl FnMut(u32) -> f32,
    accept: &impl Fn(u32) -> bool,
    two_hop: bool,
    s: &mut SearchScratch,
) -> Vec<(f32, u32)> {
    if k == 0 || g.is_empty() {
        return Vec::new();
    }
    let mut cur = Cand {
        key: key(g.entry),
        slot: g.entry,
    };
    let mut links = std::mem::take(&mut s.links);
    for level in (1..=g.max_level).rev() {
        cur = greedy(g, level, cur, &mut key, &mut links);
    }
    s.links = links;
    let mut found = std::mem::take(&mut s.found);
    search_layer(
        g,
        0,
        &[cur],
        ef.max(k),
        &mut key,
        accept,
        two_hop,
        s,
        &mut found,
    );
    let out = found.iter().take(k).map(|c| (c.key, c.slot)).collect();
    s.found = found;
    out
}

/// How a filtered query is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilteredPlan {
    /// Exact scan of the accepted slots (very selective filter).
    Exact,
    /// Graph traversal scoring every node reached and returning accepted ones (broad filter).
    Graph,
    /// Graph traversal that scores accepted nodes only, reaching them through rejected ones
    /// (two hops); for filters between the two.
    TwoHop,
    /// The graph found fewer than `k` accepted slots; answered by the exact scan.
    GraphThenExact,
}

/// Chooses how to answer a query whose filter passes about `accepted_fraction` of the `n`
/// slots of a graph of `dim`-dimensional vectors, by comparing estimated costs:
///
/// - the exact scan of the accepted slots costs `accepted * (dim + EXACT_NODE_OVERHEAD)`
///   (units of one dimension of a distance): a segment larger than the caches is read from
///   memory, and accepted rows spread over it cost a memory round trip each; with at least
///   [`PLAIN_GRAPH_FRACTION`] accepted the scan reads the rows in sequence instead, at
///   `n * (SCAN_PER_DIM * dim + SCAN_PER_ROW)` (`calibrate.rs`; fitted to the exact scan of
///   100k × 384 in 5.2 ms natively, 5.4 ms in wasm, against an ef-64 beam of 0.21 / 0.35 ms);
/// - an unfiltered beam costs `scored * (dim + GRAPH_NODE_OVERHEAD)` for the `scored` nodes
///   it computes a distance for: measured by the graph's calibration when it has one
///   (`scored`, see [`super::Calibration::scored_at`]), else modelled as
///   `ef * GRAPH_NODES_PER_EF`; each node reached costs a random access to its vector and its
///   neighbour list plus heap and visited-set work;
/// - the plain filtered beam (at least [`PLAIN_GRAPH_FRACTION`] accepted) scores about
///   `1 / fraction` times the nodes of an unfiltered one; the two-hop beam (down to
///   [`MIN_TWO_HOP_FRACTION`]) about as many, paying [`TWO_HOP_FACTOR`] for the filter checks
///   and neighbour-list reads of the rejected nodes it walks through.
///
/// The exact scan wins ties (its answer is exact), answers whenever at most `max(k, 256)` are
/// accepted, and below [`MIN_TWO_HOP_FRACTION`], where accepted nodes are too sparse to stay
/// connected through two hops. The constants are fitted to per-segment costs measured natively
/// through `Namespace` on 50k-record segments: an exact scan of a 7-17 % filter costs 80 ns
/// per accepted row at 50 dimensions (glove50) and 180-190 ns at 384 (wordnet-minilm384), an
/// unfiltered ef-64 beam 0.15 ms and 0.21 ms.
pub fn search_filtered_plan(
    n: usize,
    dim: usize,
    k: usize,
    ef: usize,
    accepted_fraction: f32,
) -> FilteredPlan {
    search_filtered_plan_with(n, dim, k, ef, accepted_fraction, None, true)
}

/// [`search_filtered_plan`] with the nodes an unfiltered beam of `ef` scores, when measured
/// (`scored`, from the graph's [`super::Calibration`]). Without `sequential_scan` a broad
/// filter's scan is priced like a selective one's, per accepted row (the planner before
/// calibration, for `AnnConfig::auto_ef` off), which leaves small segments on their graph.
pub fn search_filtered_plan_with(
    n: usize,
    dim: usize,
    k: usize,
    ef: usize,
    accepted_fraction: f32,
    scored: Option<f32>,
    sequential_scan: bool,
) -> FilteredPlan {
    let f = if accepted_fraction.is_nan() {
        0.0
    } else {
        accepted_fraction.clamp(0.0, 1.0)
    };
    let accepted = f * n as f32;
    if accepted <= (k.max(256)) as f32 || f < MIN_TWO_HOP_FRACTION {
        return FilteredPlan::Exact;
    }
    let dim = dim as f32;
    let ef = ef.max(k) as f32;
    let scored = scored.unwrap_or(ef * GRAPH_NODES_PER_EF);
    let beam = scored * (dim + GRAPH_NODE_OVERHEAD);
    let (plan, graph_cost, exact_cost) = if f >= PLAIN_GRAPH_FRACTION {
        let scan = if sequential_scan {
            n as f32 * (SCAN_PER_DIM * dim + SCAN_PER_ROW)
        } else {
            accepted * (dim + EXACT_NODE_OVERHEAD)
        };
        (FilteredPlan::Graph, beam / f, scan)
    } else {
        let scan = accepted * (dim + EXACT_NODE_OVERHEAD);
        (FilteredPlan::TwoHop, beam * TWO_HOP_FACTOR, scan)
    };
    if exact_cost <= graph_cost {
        FilteredPlan::Exact
    } else {
        plan
    }
}

/// Graph nodes whose cost one unit of `ef` stands for (see [`search_filtered_plan`]).
pub(crate) const GRAPH_NODES_PER_EF: f32 = 9.1;
/// Cost of reaching a graph node beyond its distance, in dimensions of a distance.
pub(crate) const GRAPH_NODE_OVERHEAD: f32 = 740.0;
/// Cost of an exact-scan slot beyond its distance (bit test, heap bound check).
const EXACT_NODE_OVERHEAD: f32 = 190.0;
/// Two-hop beam cost relative to an unfiltered one.
const TWO_HOP_FACTOR: f32 = 2.0;

/// Smallest accepted fraction the plain filtered beam is used for: it scores at most
/// `1 / 0.6 ≈ 1.7` times the nodes of an unfiltered beam.
pub const PLAIN_GRAPH_FRACTION: f32 = 0.6;

/// Smallest accepted fraction the two-hop beam is used for (see [`search_filtered_plan`]).
pub const MIN_TWO_HOP_FRACTION: f32 = 0.02;
