//! Graph tests: recall against the exact scan, filters, the byte view, corrupt input.

use super::*;
use crate::distance::{self, TestRng};

pub(crate) fn dataset(seed: u64, n: usize, dim: usize) -> (Vec<f32>, Vec<f32>) {
    let mut rng = TestRng::new(seed);
    let vectors = rng.vec(n * dim);
    let norms = vectors.chunks_exact(dim).map(distance::norm).collect();
    (vectors, norms)
}

fn small_config() -> HnswConfig {
    HnswConfig {
        m: 8,
        ef_construction: 64,
        ef_search: 32,
        seed: 7,
    }
}

/// Mean recall@k of the graph against `flat::scan` over `queries` random queries.
fn recall(
    g: &HnswView<'_>,
    vectors: &[f32],
    norms: &[f32],
    k: usize,
    ef: usize,
    queries: usize,
) -> f64 {
    let mut rng = TestRng::new(99);
    let mut scratch = SearchScratch::new();
    let mut hit = 0usize;
    for _ in 0..queries {
        let q = rng.vec(g.dim());
        let want = flat::scan(
            g.metric(),
            &q,
            Dense::flat(vectors, q.len()),
            norms,
            k,
            |_| true,
        );
        let got = g
            .search(
                &q,
                Dense::flat(vectors, q.len()),
                norms,
                k,
                ef,
                |_| true,
                &mut scratch,
            )
            .unwrap();
        assert_eq!(got.len(), k.min(g.len()));
        hit += got
            .iter()
            .filter(|(_, s)| want.iter().any(|(_, w)| w == s))
            .count();
    }
    hit as f64 / (queries * k) as f64
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn graph_recall_matches_exact_scan_on_random_data() {
    let (n, dim) = (2000, 32);
    let (vectors, norms) = dataset(1, n, dim);
    for metric in [Metric::Cosine, Metric::Euclidean, Metric::DotProduct] {
        let g = Hnsw::build(
            HnswConfig::default(),
            metric,
            dim,
            Dense::flat(&vectors, dim),
            &norms,
        )
        .unwrap();
        assert_eq!(g.len(), n);
        let r = recall(&g.view(), &vectors, &norms, 10, 64, 100);
        // Random uniform data is the hard case; real embeddings do much better.
        let floor = if metric == Metric::DotProduct {
            0.85
        } else {
            0.9
        };
        assert!(r >= floor, "{metric:?}: recall@10 {r} < {floor}");
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn scores_are_the_exact_scans_scores() {
    let (vectors, norms) = dataset(2, 300, 16);
    let mut rng = TestRng::new(5);
    let mut scratch = SearchScratch::new();
    for metric in [Metric::Cosine, Metric::Euclidean, Metric::DotProduct] {
        let g = Hnsw::build(
            small_config(),
            metric,
            16,
            Dense::flat(&vectors, 16),
            &norms,
        )
        .unwrap();
        let q = rng.vec(16);
        // ef = n: the beam sees everything, so the answer is exact, scores bit for bit.
        let got = g
            .search(
                &q,
                Dense::flat(&vectors, q.len()),
                &norms,
                5,
                300,
                |_| true,
                &mut scratch,
            )
            .unwrap();
        let want = flat::scan(
            metric,
            &q,
            Dense::flat(&vectors, q.len()),
            &norms,
            5,
            |_| true,
        );
        let bits = |v: &[(f32, u32)]| v.iter().map(|&(s, i)| (s.to_bits(), i)).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&want), "{metric:?}");
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn build_is_deterministic_and_resumable() {
    let (vectors, norms) = dataset(3, 500, 8);
    let a = Hnsw::build(
        small_config(),
        Metric::Euclidean,
        8,
        Dense::flat(&vectors, 8),
        &norms,
    )
    .unwrap();
    let b = Hnsw::build(
        small_config(),
        Metric::Euclidean,
        8,
        Dense::flat(&vectors, 8),
        &norms,
    )
    .unwrap();
    assert_eq!(a.to_bytes(), b.to_bytes());
    let mut builder = HnswBuilder::new(small_config(), Metric::Euclidean, 8).unwrap();
    for target in [0, 1, 2, 77, 300, 500] {
        builder
            .insert_until(target, Dense::flat(&vectors, 8), &norms)
            .unwrap();
        assert_eq!(builder.len(), target);
    }
    assert_eq!(
        builder.finish().to_bytes(),
        a.to_bytes(),
        "inserting in slices gives the same graph"
    );
    let other = HnswConfig {
        seed: 8,
        ..small_config()
    };
    let c = Hnsw::build(
        other,
        Metric::Euclidean,
        8,
        Dense::flat(&vectors, 8),
        &norms,
    )
    .unwrap();
    assert_ne!(c.to_bytes(), a.to_bytes(), "the seed matters");
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn byte_view_searches_exactly_like_the_owned_graph() {
    let (vectors, norms) = dataset(4, 1500, 24);
    let g = Hnsw::build(
        small_config(),
        Metric::Cosine,
        24,
        Dense::flat(&vectors, 24),
        &norms,
    )
    .unwrap();
    let bytes = g.to_bytes();
    // Also at an odd address: the view must not need alignment.
    let mut shifted = vec![0u8; 1];
    shifted.extend_from_slice(&bytes);
    for buf in [&bytes[..], &shifted[1..]] {
        let view = HnswView::from_bytes(buf).unwrap();
        assert_eq!(
            (view.len(), view.dim(), view.metric(), view.config()),
            (1500, 24, Metric::Cosine, small_config())
        );
        let mut rng = TestRng::new(6);
        let (mut s1, mut s2) = (SearchScratch::new(), SearchScratch::new());
        for i in 0..50 {
            let q = rng.vec(24);
            let accept = |s: u32| s % 3 != i % 3;
            let a = g
                .search(
                    &q,
                    Dense::flat(&vectors, q.len()),
                    &norms,
                    10,
                    40,
                    accept,
                    &mut s1,
                )
                .unwrap();
            let b = view
                .search(
                    &q,
                    Dense::flat(&vectors, q.len()),
                    &norms,
                    10,
                    40,
                    accept,
                    &mut s2,
                )
                .unwrap();
            assert_eq!(a, b);
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn filtered_search_never_returns_rejected_and_fills_k() {
    let (n, dim) = (2000, 16);
    let (vectors, norms) = dataset(5, n, dim);
    let g = Hnsw::build(
        small_config(),
        Metric::Euclidean,
        dim,
        Dense::flat(&vectors, dim),
        &norms,
    )
    .unwrap();
    let view = g.view();
    let mut rng = TestRng::new(8);
    let mut scratch = SearchScratch::new();
    // Accept every `step`-th slot (a deleted/filtered mix), from 100% down to 0.1%.
    for step in [1usize, 2, 5, 20, 100, 500, 1000, 5000] {
        let accepted = n.div_ceil(step);
        let accept = |s: u32| (s as usize).is_multiple_of(step);
        for _ in 0..10 {
            let q = rng.vec(dim);
            let k = 10;
            let frac = accepted as f32 / n as f32;
            // Also a lying estimate: the fallback must still fill k.
            for est in [frac, 1.0] {
                let (got, _plan) = view
                    .search_filtered(
                        &q,
                        Dense::flat(&vectors, q.len()),
                        &norms,
                        k,
                        32,
                        accept,
                        est,
                        &mut scratch,
                    )
                    .unwrap();
                assert!(
                    got.iter().all(|&(_, s)| accept(s)),
                    "step {step}: a rejected slot came back"
                );
                assert_eq!(got.len(), k.min(accepted), "step {step} est {est}");
            }
            for two_hop in [false, true] {
                let found = view
                    .search_mode(
                        &q,
                        Dense::flat(&vectors, q.len()),
                        &norms,
                        k,
                        32,
                        &accept,
                        two_hop,
                        &mut scratch,
                    )
                    .unwrap();
                assert!(found.iter().all(|&(_, s)| accept(s)), "two_hop {two_hop}");
                if step <= 5 {
                    let want = flat::scan(
                        Metric::Euclidean,
                        &q,
                        Dense::flat(&vectors, q.len()),
                        &norms,
                        k,
                        accept,
                    );
                    let hits = found.iter().filter(|f| want.contains(f)).count();
                    assert!(
                        hits >= 6,
                        "step {step} two_hop {two_hop}: {hits}/10 of the exact answer"
                    );
                }
            }
        }
    }
    let plan = search_filtered_plan;
    assert_eq!(plan(100_000, 384, 10, 64, 0.001), FilteredPlan::Exact);
    assert_eq!(plan(1_000_000, 384, 10, 64, 0.7), FilteredPlan::Graph);
    assert_eq!(plan(1_000_000, 384, 10, 64, 0.1), FilteredPlan::TwoHop);
    assert_eq!(plan(10_000_000, 384, 10, 64, 0.01), FilteredPlan::Exact);
    assert_eq!(plan(100_000, 384, 10, 64, f32::NAN), FilteredPlan::Exact);
    // Where a graph node costs mostly its random access (few dimensions), the exact scan of
    // the same accepted share is relatively cheaper and answers more of them.
    assert_eq!(plan(100_000, 768, 10, 64, 0.03), FilteredPlan::TwoHop);
    assert_eq!(plan(100_000, 50, 10, 64, 0.03), FilteredPlan::Exact);
    // A small segment is scanned even unfiltered; a large one is not.
    assert_eq!(plan(1_000, 384, 10, 64, 1.0), FilteredPlan::Exact);
    assert_eq!(plan(100_000, 384, 10, 64, 1.0), FilteredPlan::Graph);
    // A segment whose graph needs a beam about as costly as reading it is scanned: 20k × 64
    // with the ef-64 beam's modelled 582 nodes stays on the graph, with the 3,000 a beam scores
    // on uniform random vectors at the ef that keeps recall it is scanned.
    let with = |n, dim, ef, scored| search_filtered_plan_with(n, dim, 10, ef, 1.0, scored, true);
    assert_eq!(with(20_000, 64, 64, None), FilteredPlan::Graph);
    assert_eq!(with(20_000, 64, 384, Some(3000.0)), FilteredPlan::Exact);
    assert_eq!(with(100_000, 384, 64, Some(600.0)), FilteredPlan::Graph);
    // Priced per accepted row (the planner before calibration) small segments keep the graph.
    assert_eq!(with(10_000, 24, 64, None), FilteredPlan::Exact);
    let legacy = search_filtered_plan_with(10_000, 24, 10, 64, 1.0, None, false);
    assert_eq!(legacy, FilteredPlan::Graph);
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn empty_and_tiny_graphs_and_bad_inputs() {
    let g = Hnsw::build(small_config(), Metric::Cosine, 4, Dense::flat(&[], 4), &[]).unwrap();
    assert!(g.is_empty());
    let bytes = g.to_bytes();
    let view = HnswView::from_bytes(&bytes).unwrap();
    let mut s = SearchScratch::new();
    assert!(
        view.search(
            &[1.0; 4],
            Dense::flat(&[], 4),
            &[],
            10,
            10,
            |_| true,
            &mut s
        )
        .unwrap()
        .is_empty()
    );
    let one = Hnsw::build(
        small_config(),
        Metric::Euclidean,
        2,
        Dense::flat(&[1.0, 2.0], 2),
        &[0.0],
    )
    .unwrap();
    assert_eq!(
        one.search(
            &[1.0, 2.0],
            Dense::flat(&[1.0, 2.0], 2),
            &[],
            3,
            1,
            |_| true,
            &mut s
        )
        .unwrap(),
        vec![(0.0, 0)]
    );
    assert!(matches!(
        one.search(
            &[1.0],
            Dense::flat(&[1.0, 2.0], 2),
            &[],
            3,
            1,
            |_| true,
            &mut s
        ),
        Err(Error::DimensionMismatch {
            expected: 2,
            got: 1
        })
    ));
    assert!(
        one.search(
            &[1.0, 2.0],
            Dense::flat(&[1.0], 2),
            &[],
            3,
            1,
            |_| true,
            &mut s
        )
        .is_err()
    );
    assert!(
        HnswBuilder::new(
            HnswConfig {
                m: 1,
                ..small_config()
            },
            Metric::Cosine,
            4
        )
        .is_err()
    );
    assert!(HnswBuilder::new(small_config(), Metric::Cosine, 0).is_err());
    let mut b = HnswBuilder::new(small_config(), Metric::Cosine, 2).unwrap();
    assert!(
        b.insert_until(2, Dense::flat(&[1.0, 2.0, 3.0, 4.0], 2), &[1.0])
            .is_err(),
        "cosine needs norms"
    );
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn corrupt_bytes_are_errors() {
    let (vectors, norms) = dataset(9, 200, 4);
    let g = Hnsw::build(
        small_config(),
        Metric::Cosine,
        4,
        Dense::flat(&vectors, 4),
        &norms,
    )
    .unwrap();
    let bytes = g.to_bytes();
    for len in 0..bytes.len() {
        assert!(
            HnswView::from_bytes(&bytes[..len]).is_err(),
            "truncated to {len}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(HnswView::from_bytes(&longer).is_err());
    // A neighbour id out of range, at the start of level 0.
    let level0 = format::HEADER + 200usize.next_multiple_of(4) + 4 * 200;
    let mut bad = bytes.clone();
    bad[level0 + 4..level0 + 8].copy_from_slice(&500u32.to_le_bytes());
    let err = HnswView::from_bytes(&bad).unwrap_err();
    assert_eq!(err.code(), crate::ErrorCode::DataLoss, "{err}");
    // A count above capacity.
    let mut bad = bytes.clone();
    bad[level0..level0 + 4].copy_from_slice(&17u32.to_le_bytes());
    assert!(HnswView::from_bytes(&bad).is_err());
    let mut bad = bytes;
    bad[4] = 9;
    assert!(HnswView::from_bytes(&bad).is_err());
}

#[cfg(not(target_arch = "wasm32"))]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn graph_bytes() -> Vec<u8> {
        let (vectors, norms) = dataset(10, 120, 3);
        Hnsw::build(
            HnswConfig {
                m: 4,
                ef_construction: 16,
                ef_search: 8,
                seed: 1,
            },
            Metric::DotProduct,
            3,
            Dense::flat(&vectors, 3),
            &norms,
        )
        .unwrap()
        .to_bytes()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// Flipped bits and truncations: decoding never panics, and whatever decodes searches
        /// without panicking and returns only slots in range.
        #[test]
        fn corrupt_graphs_never_panic(flips in prop::collection::vec((any::<usize>(), 0u8..8), 1..6), cut in any::<usize>(), truncate in any::<bool>()) {
            let mut bytes = graph_bytes();
            for (at, bit) in flips {
                let i = at % bytes.len();
                bytes[i] ^= 1 << bit;
            }
            if truncate {
                bytes.truncate(cut % (bytes.len() + 1));
            }
            if let Ok(view) = HnswView::from_bytes(&bytes) {
                let (vectors, norms) = dataset(11, view.len(), view.dim().min(64));
                if view.dim() <= 64 {
                    let q = vec![0.5; view.dim()];
                    let mut s = SearchScratch::new();
                    if let Ok(found) = view.search(&q, Dense::flat(&vectors, q.len()), &norms, 5, 10, |_| true, &mut s) {
                        prop_assert!(found.iter().all(|&(_, slot)| (slot as usize) < view.len()));
                    }
                }
            }
        }
    }
}

/// A graph built by the builder and calibrated, the way `index_step` does it.
fn calibrated(
    config: HnswConfig,
    metric: Metric,
    dim: usize,
    vectors: &[f32],
    norms: &[f32],
) -> Hnsw {
    let mut b = HnswBuilder::new(config, metric, dim).unwrap();
    let vectors = Dense::flat(vectors, dim);
    b.insert_until(vectors.len(), vectors, norms).unwrap();
    let mut steps = 0;
    while !b.is_calibrated() {
        assert_eq!(b.calibrate_step(vectors, norms, 1), 1);
        steps += 1;
    }
    assert!(steps > 1, "the calibration is spread over bounded steps");
    b.finish()
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn calibrated_beam_keeps_recall_on_hard_data_where_a_fixed_one_does_not() {
    let (n, dim) = (3000, 48);
    let (vectors, norms) = dataset(21, n, dim);
    let config = HnswConfig {
        ef_search: 16,
        ..HnswConfig::default()
    };
    let g = calibrated(config, Metric::Cosine, dim, &vectors, &norms);
    let cal = g.calibration();
    assert!(cal.is_known() && cal.ef > 16, "{cal:?}");
    assert!(cal.scored > 0);
    let view = g.view();
    // The configured beam alone misses the target on uniform random vectors.
    let fixed = recall(&view, &vectors, &norms, 10, 16, 100);
    assert!(fixed < 0.95, "ef 16 recall {fixed}");
    // The calibrated beam (or the exact scan the planner prefers to it) keeps it.
    let ef = view.beam(10, 16, true);
    assert!(ef >= cal.ef as usize);
    let mut rng = TestRng::new(99);
    let mut scratch = SearchScratch::new();
    let mut hit = 0;
    for _ in 0..100 {
        let q = rng.vec(dim);
        let want = flat::scan(
            Metric::Cosine,
            &q,
            Dense::flat(&vectors, q.len()),
            &norms,
            10,
            |_| true,
        );
        let (got, _plan) = view
            .search_filtered(
                &q,
                Dense::flat(&vectors, q.len()),
                &norms,
                10,
                ef,
                |_| true,
                1.0,
                &mut scratch,
            )
            .unwrap();
        hit += got.iter().filter(|f| want.contains(f)).count();
    }
    let r = hit as f64 / 1000.0;
    assert!(r >= 0.95, "calibrated ef {ef}: recall {r} ({cal:?})");
    // More results need a wider beam.
    assert!(view.beam(100, 16, true) > ef);
    assert_eq!(view.beam(10, 16, false), 16);
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn calibration_is_stored_and_version_1_graphs_still_load() {
    let (vectors, norms) = dataset(22, 400, 8);
    let g = calibrated(small_config(), Metric::Euclidean, 8, &vectors, &norms);
    assert!(g.calibration().is_known());
    let bytes = g.to_bytes();
    let view = HnswView::from_bytes(&bytes).unwrap();
    assert_eq!(view.calibration(), g.calibration());
    // The same graph as version 1 wrote it: a 56-byte header without the calibration.
    let mut v1 = bytes.clone();
    v1[4..8].copy_from_slice(&1u32.to_le_bytes());
    v1.drain(56..64);
    let old = HnswView::from_bytes(&v1).unwrap();
    assert!(!old.calibration().is_known());
    assert_eq!(old.beam(10, 32, true), 32);
    let q = vec![0.25; 8];
    let mut s = SearchScratch::new();
    assert_eq!(
        old.search(
            &q,
            Dense::flat(&vectors, q.len()),
            &norms,
            10,
            32,
            |_| true,
            &mut s
        )
        .unwrap(),
        view.search(
            &q,
            Dense::flat(&vectors, q.len()),
            &norms,
            10,
            32,
            |_| true,
            &mut s
        )
        .unwrap()
    );
    // Half a calibration is corrupt.
    let mut bad = bytes;
    bad[60..64].copy_from_slice(&0u32.to_le_bytes());
    assert!(HnswView::from_bytes(&bad).is_err());
}
