//! int8 quantization tests: rescoring against the exact scan, sliced builds, corrupt codes.

use super::*;
use crate::distance::TestRng;
use crate::index::flat;
use crate::index::hnsw::{Hnsw, HnswConfig};

fn dataset(seed: u64, n: usize, dim: usize) -> (Vec<f32>, Vec<f32>) {
    let mut rng = TestRng::new(seed);
    let vectors = rng.vec(n * dim);
    let norms = vectors.chunks_exact(dim).map(distance::norm).collect();
    (vectors, norms)
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn int8_search_with_rescoring_matches_the_exact_scan() {
    let (n, dim) = (2000, 32);
    let (vectors, norms) = dataset(21, n, dim);
    let config = HnswConfig::default();
    let mut rng = TestRng::new(22);
    let mut scratch = SearchScratch::new();
    for metric in [Metric::Cosine, Metric::Euclidean, Metric::DotProduct] {
        let q8 = Int8Index::new(metric, dim, Dense::flat(&vectors, dim), &norms).unwrap();
        assert_eq!((q8.len(), q8.dim(), q8.metric()), (n, dim, metric));
        let on_f32 = Hnsw::build(config, metric, dim, Dense::flat(&vectors, dim), &norms).unwrap();
        let on_codes = Hnsw::build_on_codes(config, &q8).unwrap();
        for g in [&on_f32, &on_codes] {
            let mut hits = 0;
            for _ in 0..50 {
                let q = rng.vec(dim);
                let want = flat::scan(
                    metric,
                    &q,
                    Dense::flat(&vectors, q.len()),
                    &norms,
                    10,
                    |_| true,
                );
                let got = q8
                    .search(
                        &g.view(),
                        &q,
                        Dense::flat(&vectors, q.len()),
                        &norms,
                        10,
                        64,
                        |_| true,
                        &mut scratch,
                    )
                    .unwrap();
                assert_eq!(got.len(), 10);
                // Rescored: every returned score is the exact one, bit for bit.
                let exact = flat::scan(
                    metric,
                    &q,
                    Dense::flat(&vectors, q.len()),
                    &norms,
                    n,
                    |_| true,
                );
                for (score, slot) in &got {
                    let e = exact.iter().find(|e| e.1 == *slot).unwrap();
                    assert_eq!(score.to_bits(), e.0.to_bits(), "{metric:?} slot {slot}");
                }
                hits += got.iter().filter(|r| want.contains(r)).count();
            }
            let recall = hits as f64 / 500.0;
            let floor = if metric == Metric::DotProduct {
                0.8
            } else {
                0.85
            };
            assert!(recall >= floor, "{metric:?}: recall@10 {recall}");
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn code_scan_returns_min_k_accepted_with_exact_scores_and_high_recall() {
    let (n, dim) = (1500, 24);
    let (vectors, norms) = dataset(31, n, dim);
    let mut rng = TestRng::new(32);
    for metric in [Metric::Cosine, Metric::Euclidean, Metric::DotProduct] {
        let q8 = Int8Index::new(metric, dim, Dense::flat(&vectors, dim), &norms).unwrap();
        let g = Hnsw::build(
            HnswConfig::default(),
            metric,
            dim,
            Dense::flat(&vectors, dim),
            &norms,
        )
        .unwrap();
        let exact_all = |q: &[f32]| {
            flat::scan(metric, q, Dense::flat(&vectors, q.len()), &norms, n, |_| {
                true
            })
        };
        let (mut hits, mut wanted) = (0, 0);
        // Every 3rd slot, every 97th (15 accepted: fewer than the pool), and just 4.
        for (step, k) in [(3u32, 10usize), (97, 10), (400, 10), (1, 1)] {
            let accept = |s: u32| s.is_multiple_of(step);
            let accepted = (0..n as u32).filter(|&s| accept(s)).count();
            for _ in 0..20 {
                let q = rng.vec(dim);
                let got = q8
                    .scan(
                        &g.view(),
                        &q,
                        Dense::flat(&vectors, q.len()),
                        &norms,
                        k,
                        64,
                        accept,
                    )
                    .unwrap();
                assert_eq!(got.len(), k.min(accepted), "{metric:?} step {step}");
                assert!(
                    got.iter().all(|&(_, s)| accept(s)),
                    "{metric:?}: rejected slot"
                );
                let exact = exact_all(&q);
                for (score, slot) in &got {
                    let e = exact.iter().find(|e| e.1 == *slot).unwrap();
                    assert_eq!(score.to_bits(), e.0.to_bits(), "{metric:?} slot {slot}");
                }
                let want = flat::scan(
                    metric,
                    &q,
                    Dense::flat(&vectors, q.len()),
                    &norms,
                    k,
                    accept,
                );
                hits += got.iter().filter(|r| want.contains(r)).count();
                wanted += want.len();
            }
        }
        let recall = hits as f64 / wanted as f64;
        assert!(recall >= 0.97, "{metric:?}: recall {recall}");
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn codes_cover_the_range_and_are_small() {
    // Both dimensions span 2.0: one shared scale of 2/255.
    let vectors = [0.0, -1.0, 2.0, 1.0, 1.0, 0.0];
    let q8 = Int8Index::new(Metric::Euclidean, 2, Dense::flat(&vectors, 2), &[]).unwrap();
    assert_eq!(q8.code(0), &[0, 0]);
    assert_eq!(q8.code(1), &[255, 255]);
    assert!(
        q8.code(2).iter().all(|c| (127..=128).contains(c)),
        "{:?}",
        q8.code(2)
    );
    assert_eq!(q8.code(9), &[] as &[u8], "out of range");
    assert_eq!(q8.bytes_per_vector(), 2);
    let cos = Int8Index::new(
        Metric::Cosine,
        384,
        Dense::flat(&vec![0.1; 384 * 3], 384),
        &[1.96; 3],
    )
    .unwrap();
    assert_eq!(cos.bytes_per_vector(), 388, "codes plus one f32 offset");
    assert!(
        Int8Index::new(Metric::Cosine, 2, Dense::flat(&vectors, 2), &[1.0]).is_err(),
        "missing norms"
    );
    assert!(Int8Index::new(Metric::Cosine, 0, Dense::flat(&[], 0), &[]).is_err());
    // Non-finite input never panics and encodes to something in range.
    let odd = Int8Index::new(
        Metric::DotProduct,
        2,
        Dense::flat(&[f32::NAN, f32::INFINITY, 1.0, 2.0], 2),
        &[],
    )
    .unwrap();
    assert_eq!(odd.len(), 2);
}
#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn sliced_quantization_gives_the_same_codes() {
    let (n, dim) = (301, 7);
    let (vectors, norms) = dataset(23, n, dim);
    for metric in [Metric::Cosine, Metric::Euclidean, Metric::DotProduct] {
        let whole = Int8Index::new(metric, dim, Dense::flat(&vectors, dim), &norms).unwrap();
        for slice in [1, 2, 64, 300, 301, 302, 1000] {
            let mut b = Int8Builder::new(metric, dim, n).unwrap();
            assert_eq!(b.work(), 2 * n);
            let mut calls = 0;
            while !b.is_done() {
                let did = b.step(Dense::flat(&vectors, dim), &norms, slice).unwrap();
                assert!(did <= slice && did > 0, "{did} of {slice}");
                calls += 1;
            }
            assert_eq!(calls, (2 * n).div_ceil(slice));
            assert_eq!(
                b.step(Dense::flat(&vectors, dim), &norms, slice).unwrap(),
                0
            );
            assert_eq!(
                b.finish().unwrap(),
                whole,
                "{metric:?} in slices of {slice}"
            );
        }
        let mut b = Int8Builder::new(metric, dim, n).unwrap();
        b.step(Dense::flat(&vectors, dim), &norms, n).unwrap();
        assert!(b.finish().is_err(), "half done");
    }
    let empty = Int8Builder::new(Metric::Cosine, 4, 0).unwrap();
    assert!(empty.is_done());
    assert!(empty.finish().unwrap().is_empty());
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn codes_round_trip_through_bytes() {
    let (n, dim) = (50, 9);
    let (vectors, norms) = dataset(24, n, dim);
    for metric in [Metric::Cosine, Metric::Euclidean, Metric::DotProduct] {
        let q = Int8Index::new(metric, dim, Dense::flat(&vectors, dim), &norms).unwrap();
        let bytes = q.to_bytes();
        let offsets = if metric == Metric::Euclidean { 0 } else { n };
        assert_eq!(bytes.len(), format::HEADER + 4 * (dim + offsets) + n * dim);
        assert_eq!(Int8Index::from_bytes(&bytes).unwrap(), q);
    }
    // Extreme but finite input still encodes to parameters the decoder accepts.
    for metric in [Metric::Cosine, Metric::Euclidean, Metric::DotProduct] {
        let odd = [f32::MAX, -f32::MAX, f32::NAN, 1e-44, -1e-44, f32::INFINITY];
        let norms = [f32::INFINITY, 1e-44, 0.0];
        let q = Int8Index::new(metric, 2, Dense::flat(&odd, 2), &norms).unwrap();
        let back = Int8Index::from_bytes(&q.to_bytes()).unwrap();
        assert_eq!(back.to_bytes(), q.to_bytes(), "{metric:?}");
    }
    let empty = Int8Index::new(Metric::DotProduct, 3, Dense::flat(&[], 3), &[]).unwrap();
    assert_eq!(Int8Index::from_bytes(&empty.to_bytes()).unwrap(), empty);
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn damaged_code_bytes_are_corrupt_never_a_panic() {
    let (n, dim) = (20, 5);
    let (vectors, norms) = dataset(25, n, dim);
    let good = Int8Index::new(Metric::Cosine, dim, Dense::flat(&vectors, dim), &norms)
        .unwrap()
        .to_bytes();
    let corrupt = |b: &[u8]| matches!(Int8Index::from_bytes(b), Err(Error::Corrupt { .. }));
    // Every truncation and extension.
    for len in 0..good.len() {
        assert!(corrupt(&good[..len]), "truncated to {len}");
    }
    let mut longer = good.clone();
    longer.push(0);
    assert!(corrupt(&longer));
    // Every flip of a header byte is refused, except the ones that only move the scale
    // to another finite positive value.
    for i in 0..format::HEADER {
        for mask in [0x01u8, 0x80] {
            let mut b = good.clone();
            b[i] ^= mask;
            if (20..24).contains(&i) {
                let scale = f32::from_le_bytes([b[20], b[21], b[22], b[23]]);
                assert_eq!(corrupt(&b), !(scale.is_finite() && scale > 0.0), "byte {i}");
            } else {
                assert!(corrupt(&b), "flip {mask:#x} at header byte {i}");
            }
        }
    }
    // Non-finite parameters: the scale, a dimension offset, a vector offset.
    for (at, x) in [
        (20, f32::NAN),
        (20, 0.0),
        (20, -1.0),
        (24, f32::INFINITY),
        (24 + 4 * dim, f32::NAN),
    ] {
        let mut b = good.clone();
        b[at..at + 4].copy_from_slice(&x.to_le_bytes());
        assert!(corrupt(&b), "{x} at {at}");
    }
    // Any code byte is a valid code.
    let mut b = good.clone();
    let last = b.len() - 1;
    b[last] ^= 0xff;
    assert!(Int8Index::from_bytes(&b).is_ok());
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn codes_in_pages_load_without_copying_and_any_split_decodes() {
    // 4096 dimensions: 256 slots per page, so 600 slots make three pages (the last short).
    let (n, dim) = (600, 4096);
    let (vectors, norms) = dataset(26, n, dim);
    for metric in [Metric::Cosine, Metric::Euclidean] {
        let q = Int8Index::new(metric, dim, Dense::flat(&vectors, dim), &norms).unwrap();
        assert_eq!(q.pages.len(), 3);
        // Small enough for one blob: one piece.
        assert_eq!(q.blobs(usize::MAX, <[u8]>::to_vec), vec![q.to_bytes()]);
        // As stored: head pieces of at most `max` bytes, then one piece per page.
        let max = 1000;
        let pieces = q.blobs(max, <[u8]>::to_vec);
        let head = format::HEADER
            + 4 * dim
            + if metric == Metric::Euclidean {
                0
            } else {
                4 * n
            };
        assert_eq!(pieces.len(), head.div_ceil(max) + 3);
        let at: Vec<*const u8> = pieces[pieces.len() - 3..]
            .iter()
            .map(|p| p.as_ptr())
            .collect();
        let back = Int8Index::from_payloads(pieces).unwrap();
        assert_eq!(back, q);
        let kept: Vec<*const u8> = back.pages.iter().map(|p| p.as_ptr()).collect();
        assert_eq!(kept, at, "pages are the given pieces, not copies");
        // Any other split of the same bytes decodes to the same codes.
        let bytes = q.to_bytes();
        for size in [1000, 4099, 100_000, bytes.len()] {
            let pieces: Vec<Vec<u8>> = bytes.chunks(size).map(<[u8]>::to_vec).collect();
            assert_eq!(
                Int8Index::from_payloads(pieces).unwrap(),
                q,
                "pieces of {size}"
            );
        }
        // A piece missing is corrupt, never a panic.
        let mut pieces = q.blobs(max, <[u8]>::to_vec);
        pieces.remove(pieces.len() - 2);
        assert!(matches!(
            Int8Index::from_payloads(pieces),
            Err(Error::Corrupt { .. })
        ));
        for s in [0, 255, 256, 599] {
            assert_eq!(back.code(s), &bytes[head + s as usize * dim..][..dim]);
        }
    }
}

/// The expanded form against the query compared with each decoded code, term by term.
#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn approx_distances_equal_the_decoded_form() {
    let (n, dim) = (300, 45);
    let (vectors, norms) = dataset(31, n, dim);
    let mut rng = TestRng::new(32);
    for metric in [Metric::Cosine, Metric::Euclidean, Metric::DotProduct] {
        let q8 = Int8Index::new(metric, dim, Dense::flat(&vectors, dim), &norms).unwrap();
        let slots: Vec<u32> = (0..n as u32).step_by(7).collect();
        for _ in 0..10 {
            let mut q = rng.vec(dim);
            if metric == Metric::Cosine {
                let inv = 1.0 / distance::norm(&q);
                q.iter_mut().for_each(|x| *x *= inv);
            }
            let got = q8.approx_distances(&q, &slots);
            for (&slot, got) in slots.iter().zip(got) {
                let decoded: Vec<f32> = q8
                    .code(slot)
                    .iter()
                    .zip(&q8.lo)
                    .map(|(&c, &l)| l + q8.scale * f32::from(c))
                    .collect();
                let (want, size) = match metric {
                    Metric::Euclidean => {
                        let d: f32 = q.iter().zip(&decoded).map(|(a, b)| (a - b) * (a - b)).sum();
                        (d, d.max(1.0))
                    }
                    _ => {
                        let d: f32 = q.iter().zip(&decoded).map(|(a, b)| a * b).sum();
                        let size: f32 = q.iter().zip(&decoded).map(|(a, b)| (a * b).abs()).sum();
                        (-d, size.max(1.0))
                    }
                };
                assert!(
                    (got - want).abs() <= 1e-4 * size,
                    "{metric:?} slot {slot}: {got} vs {want}"
                );
            }
        }
        assert_eq!(
            q8.approx_distances(&q8.lo[..3], &slots[..2]),
            [f32::INFINITY; 2],
            "a query of another dimension"
        );
    }
}
