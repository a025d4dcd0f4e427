//! Exact (brute-force) top-k search: the memtable, small segments, selective filters, and the
//! recall oracle for the approximate indexes.
//!
//! [`scan`] walks the slots in blocks of [`BLOCK`]. It asks `accept` about a whole block first;
//! when most of the block is accepted (always, without a filter) it scores the whole block with
//! one kernel call ([`distance::dot_rows`]) that streams through the contiguous vectors,
//! otherwise it scores only the accepted slots one by one. Both give the same bits, so a filter
//! never changes a record's score. [`TopK`] keeps the best `k` in a bounded heap and rejects most
//! candidates with one float comparison against the worst score kept.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::distance::{self, Metric};
use crate::index::dense::Dense;

/// Slots per block: the kernel batch and the width of the acceptance mask.
const BLOCK: usize = 64;

/// Bounded top-k collector. Keeps the `k` best `(score, slot)` pairs.
#[derive(Debug)]
pub struct TopK {
    k: usize,
    higher_is_better: bool,
    /// The kept candidates; the top of the heap is the worst of them.
    heap: BinaryHeap<Kept>,
    /// The worst kept key once `k` candidates are kept, +inf before: a candidate whose key is
    /// greater cannot get in, which one comparison settles.
    bound: f32,
}

/// A kept candidate. `key` is the score turned so that lower is better (negated when higher
/// scores are better, which is exact and reversible). Ordered by key (IEEE total order), then
/// slot, so the greatest element is the worst candidate.
#[derive(Debug, Clone, Copy)]
struct Kept {
    key: f32,
    slot: u32,
}

impl Ord for Kept {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key
            .total_cmp(&other.key)
            .then(self.slot.cmp(&other.slot))
    }
}

impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Kept {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Kept {}

impl TopK {
    /// A collector for the `k` best scores; `higher_is_better` picks the direction.
    pub fn new(k: usize, higher_is_better: bool) -> Self {
        TopK {
            k,
            higher_is_better,
            heap: BinaryHeap::with_capacity(k.min(4096)),
            bound: f32::INFINITY,
        }
    }

    /// Offers a candidate.
    #[inline]
    pub fn push(&mut self, score: f32, slot: u32) {
        let key = if self.higher_is_better { -score } else { score };
        // Strictly worse than the worst kept: out. (Equal keys and NaNs go on to the exact test.)
        if key > self.bound {
            return;
        }
        self.offer(Kept { key, slot });
    }

    fn offer(&mut self, candidate: Kept) {
        if self.heap.len() < self.k {
            self.heap.push(candidate);
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if candidate < *worst {
                *worst = candidate; // PeekMut restores the heap order when dropped.
            } else {
                return;
            }
        }
        if self.heap.len() == self.k {
            self.bound = self.heap.peek().map_or(f32::INFINITY, |w| w.key);
        }
    }

    /// The kept candidates, best first; ties broken by ascending slot.
    pub fn into_sorted(self) -> Vec<(f32, u32)> {
        let hib = self.higher_is_better;
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|c| (if hib { -c.key } else { c.key }, c.slot))
            .collect()
    }
}

/// Scores every slot for which `accept(slot)` holds and returns the best `k`, best first.
///
/// `vectors` holds `dim` floats per slot; `norms[slot]` is each vector's Euclidean norm (used by
/// cosine). Cosine scores are `dot / (|q| |v|)`, euclidean scores are squared distances.
pub fn scan(
    metric: Metric,
    query: &[f32],
    vectors: Dense<'_>,
    norms: &[f32],
    k: usize,
    accept: impl Fn(u32) -> bool,
) -> Vec<(f32, u32)> {
    let dim = query.len();
    if k == 0 || dim == 0 {
        return Vec::new();
    }
    let mut top = TopK::new(k, metric.higher_is_better());
    let qnorm = if metric == Metric::Cosine {
        distance::norm(query)
    } else {
        0.0
    };
    let finish = |raw: f32, slot: usize| match metric {
        Metric::Cosine => cosine_from_dot(raw, qnorm, norms[slot]),
        Metric::Euclidean | Metric::DotProduct => raw,
    };
    let n = vectors.len();
    let mut raw = [0.0f32; BLOCK];
    for start in (0..n).step_by(BLOCK) {
        let len = BLOCK.min(n - start);
        let mut mask = 0u64;
        for i in 0..len {
            mask |= u64::from(accept((start + i) as u32)) << i;
        }
        let rows = vectors.rows(start, len);
        if mask.count_ones() as usize * 2 >= len {
            // Mostly accepted: one streaming pass over the block, then drop the rejected.
            let raw = &mut raw[..len];
            match metric {
                Metric::Euclidean => distance::l2sq_rows(query, rows, raw),
                Metric::Cosine | Metric::DotProduct => distance::dot_rows(query, rows, raw),
            }
            for (i, &r) in raw.iter().enumerate() {
                if mask >> i & 1 != 0 {
                    top.push(finish(r, start + i), (start + i) as u32);
                }
            }
        } else {
            // Mostly rejected: score only the accepted rows.
            let mut rest = mask;
            while rest != 0 {
                let i = rest.trailing_zeros() as usize;
                rest &= rest - 1;
                let row = &rows[i * dim..(i + 1) * dim];
                let r = match metric {
                    Metric::Euclidean => distance::l2sq(query, row),
                    Metric::Cosine | Metric::DotProduct => distance::dot(query, row),
                };
                top.push(finish(r, start + i), (start + i) as u32);
            }
        }
    }
    top.into_sorted()
}

/// Cosine similarity from a dot product and the two norms (0 when either norm is 0).
#[inline]
pub fn cosine_from_dot(dot: f32, qnorm: f32, vnorm: f32) -> f32 {
    let d = qnorm * vnorm;
    if d > 0.0 { dot / d } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distance::TestRng;

    const METRICS: [Metric; 3] = [Metric::Cosine, Metric::Euclidean, Metric::DotProduct];

    /// Best first, ties by ascending slot: the order `TopK` promises.
    fn oracle_order(hib: bool, a: &(f32, u32), b: &(f32, u32)) -> Ordering {
        let o = if hib {
            b.0.total_cmp(&a.0)
        } else {
            a.0.total_cmp(&b.0)
        };
        o.then(a.1.cmp(&b.1))
    }

    /// Scores every accepted slot with the single-row kernels, sorts everything, keeps `k`.
    fn naive_scan(
        metric: Metric,
        query: &[f32],
        vectors: &[f32],
        norms: &[f32],
        k: usize,
        accept: impl Fn(u32) -> bool,
    ) -> Vec<(f32, u32)> {
        let qnorm = distance::norm(query);
        let mut all: Vec<(f32, u32)> = vectors
            .chunks_exact(query.len())
            .enumerate()
            .filter(|&(slot, _)| accept(slot as u32))
            .map(|(slot, v)| {
                let score = match metric {
                    Metric::Cosine => cosine_from_dot(distance::dot(query, v), qnorm, norms[slot]),
                    Metric::Euclidean => distance::l2sq(query, v),
                    Metric::DotProduct => distance::dot(query, v),
                };
                (score, slot as u32)
            })
            .collect();
        all.sort_by(|a, b| oracle_order(metric.higher_is_better(), a, b));
        all.truncate(k);
        all
    }

    /// `n` random vectors; some are copies of earlier ones (exact ties) and some are zero.
    fn dataset(rng: &mut TestRng, n: usize, dim: usize) -> (Vec<f32>, Vec<f32>) {
        let mut vectors = Vec::with_capacity(n * dim);
        for slot in 0..n {
            match rng.below(10) {
                0 if slot > 0 => {
                    let from = rng.below(slot) * dim;
                    vectors.extend_from_within(from..from + dim);
                }
                1 => vectors.extend(std::iter::repeat_n(0.0, dim)),
                _ => vectors.extend(rng.vec(dim)),
            }
        }
        let norms = vectors.chunks_exact(dim).map(distance::norm).collect();
        (vectors, norms)
    }

    fn bits(v: &[(f32, u32)]) -> Vec<(u32, u32)> {
        v.iter().map(|&(s, slot)| (s.to_bits(), slot)).collect()
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn scan_matches_sorting_everything() {
        let mut rng = TestRng::new(42);
        for (n, dim) in [
            (0, 8),
            (1, 1),
            (5, 3),
            (63, 17),
            (64, 16),
            (65, 33),
            (300, 100),
            (1000, 24),
        ] {
            let (vectors, norms) = dataset(&mut rng, n, dim);
            let query = rng.vec(dim);
            let keep: Vec<bool> = (0..n).map(|_| rng.below(10) == 0).collect();
            let drop: Vec<bool> = (0..n).map(|_| rng.below(10) != 0).collect();
            for metric in METRICS {
                for k in [1, 2, 10, n, n + 7] {
                    let filters: [(&str, &dyn Fn(u32) -> bool); 5] = [
                        ("all", &|_| true),
                        ("none", &|_| false),
                        ("every third", &|s| s % 3 == 0),
                        ("sparse random", &|s| keep[s as usize]),
                        ("dense random", &|s| drop[s as usize]),
                    ];
                    for (name, accept) in filters {
                        let got = scan(
                            metric,
                            &query,
                            Dense::flat(&vectors, query.len()),
                            &norms,
                            k,
                            accept,
                        );
                        let want = naive_scan(metric, &query, &vectors, &norms, k, accept);
                        assert_eq!(
                            bits(&got),
                            bits(&want),
                            "{metric:?} n={n} dim={dim} k={k} {name}"
                        );
                    }
                }
            }
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn scan_scores_follow_each_metric() {
        let vectors = [1.0, 0.0, 0.0, 2.0, 3.0, 4.0, 0.0, 0.0];
        let norms = [1.0, 2.0, 5.0, 0.0];
        let q = [3.0, 4.0];
        let cos = scan(
            Metric::Cosine,
            &q,
            Dense::flat(&vectors, q.len()),
            &norms,
            10,
            |_| true,
        );
        assert_eq!(cos, vec![(1.0, 2), (0.8, 1), (0.6, 0), (0.0, 3)]);
        let l2 = scan(
            Metric::Euclidean,
            &q,
            Dense::flat(&vectors, q.len()),
            &norms,
            2,
            |_| true,
        );
        assert_eq!(l2, vec![(0.0, 2), (13.0, 1)]);
        let dp = scan(
            Metric::DotProduct,
            &q,
            Dense::flat(&vectors, q.len()),
            &norms,
            1,
            |s| s != 2,
        );
        assert_eq!(dp, vec![(8.0, 1)]);
        assert!(
            scan(
                Metric::DotProduct,
                &q,
                Dense::flat(&vectors, q.len()),
                &norms,
                0,
                |_| true
            )
            .is_empty()
        );
        assert!(
            scan(Metric::DotProduct, &[], Dense::flat(&[], 0), &[], 3, |_| {
                true
            })
            .is_empty()
        );
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn topk_matches_sorting_in_any_push_order() {
        let mut rng = TestRng::new(3);
        for round in 0..200 {
            let n = rng.below(300);
            let k = rng.below(20);
            let hib = round % 2 == 0;
            // Few distinct scores, so ties are common; slots arrive in random order.
            let mut items: Vec<(f32, u32)> = (0..n)
                .map(|slot| (rng.below(12) as f32 - 6.0, slot as u32))
                .collect();
            for i in (1..items.len()).rev() {
                items.swap(i, rng.below(i + 1));
            }
            if n > 3 {
                items[0].0 = -0.0;
                items[1].0 = 0.0;
            }
            let mut top = TopK::new(k, hib);
            for &(score, slot) in &items {
                top.push(score, slot);
                assert!(top.heap.len() <= k, "the heap stays bounded by k");
            }
            items.sort_by(|a, b| oracle_order(hib, a, b));
            items.truncate(k);
            assert_eq!(bits(&top.into_sorted()), bits(&items), "round {round}");
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn cosine_of_a_zero_vector_is_zero() {
        assert_eq!(cosine_from_dot(0.0, 0.0, 3.0), 0.0);
        assert_eq!(cosine_from_dot(1.0, 2.0, 0.0), 0.0);
        assert_eq!(cosine_from_dot(3.0, 1.0, 2.0), 1.5);
    }
}
