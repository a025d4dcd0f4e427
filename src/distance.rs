//! Similarity metrics and their kernels.
//!
//! The public functions pick the fastest kernel for the build and the CPU:
//!
//! | build | kernel |
//! |---|---|
//! | wasm32 with `simd128` | `simd128.rs` (`f32x4`) |
//! | x86_64 whose CPU has AVX2 + FMA (checked at run time) | `avx2.rs` |
//! | anything else | `portable.rs` (safe Rust the compiler vectorises) |
//!
//! `scalar.rs` holds the plain-loop twins that every kernel is tested against. Kernels differ
//! from each other (and from `scalar`) in rounding only: they sum in another order, and AVX2
//! fuses multiply and add. Within one build, [`dot`] and [`dot_rows`] (and [`l2sq`] and
//! [`l2sq_rows`]) agree bit for bit, so the exact scan scores a record the same whichever path
//! reaches it.

use serde::{Deserialize, Serialize};

#[cfg(target_arch = "x86_64")]
mod avx2;
pub mod int8;
#[cfg(any(test, not(all(target_arch = "wasm32", target_feature = "simd128"))))]
mod portable;
#[cfg_attr(not(test), allow(dead_code))]
mod scalar;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128;

/// How records are compared with a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Cosine similarity, higher is better.
    Cosine,
    /// Squared Euclidean distance, lower is better.
    Euclidean,
    /// Dot product, higher is better.
    #[serde(rename = "dotproduct")]
    DotProduct,
}

impl Metric {
    /// Pinecone's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::Euclidean => "euclidean",
            Metric::DotProduct => "dotproduct",
        }
    }

    /// True when a higher score is a better match.
    pub fn higher_is_better(self) -> bool {
        !matches!(self, Metric::Euclidean)
    }

    /// The metric's byte in stored data (the root, graphs, int8 codes).
    pub(crate) fn code(self) -> u8 {
        match self {
            Metric::Cosine => 0,
            Metric::Euclidean => 1,
            Metric::DotProduct => 2,
        }
    }

    /// The metric a stored byte names, if any.
    pub(crate) fn from_code(code: u8) -> Option<Metric> {
        match code {
            0 => Some(Metric::Cosine),
            1 => Some(Metric::Euclidean),
            2 => Some(Metric::DotProduct),
            _ => None,
        }
    }
}

/// The name of the kernels this build and CPU use: `"avx2+fma"` (x86_64, detected at run time),
/// `"simd128"` (wasm32 built with it) or `"portable"`. Hosts print it at start.
pub fn kernel_name() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    if avx2::Avx2Fma::detect().is_some() {
        return "avx2+fma";
    }
    if cfg!(all(target_arch = "wasm32", target_feature = "simd128")) {
        "simd128"
    } else {
        "portable"
    }
}

/// Calls `$f` of the kernel module chosen for this build (and, on x86_64, this CPU).
macro_rules! dispatch {
    ($f:ident($($arg:expr),*)) => {{
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        let r = simd128::$f($($arg),*);
        #[cfg(target_arch = "x86_64")]
        let r = match avx2::Avx2Fma::detect() {
            Some(k) => k.$f($($arg),*),
            None => portable::$f($($arg),*),
        };
        #[cfg(not(any(
            target_arch = "x86_64",
            all(target_arch = "wasm32", target_feature = "simd128")
        )))]
        let r = portable::$f($($arg),*);
        r
    }};
}

/// Dot product of two equal-length slices (a longer slice's extra elements are ignored).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    dispatch!(dot(a, b))
}

/// Squared Euclidean distance of two equal-length slices (a longer slice's extra elements are
/// ignored).
#[inline]
pub fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    dispatch!(l2sq(a, b))
}

/// Euclidean norm.
#[inline]
pub fn norm(a: &[f32]) -> f32 {
    dot(a, a).sqrt()
}

/// `out[i] = dot(query, row i)` for `out.len()` rows of `query.len()` floats stored back to back
/// in `rows`. Bit-identical to calling [`dot`] per row; one call per block of rows picks the
/// kernel once and reads the rows as one sequential stream.
///
/// # Panics
/// If `rows.len() != query.len() * out.len()`.
#[inline]
pub fn dot_rows(query: &[f32], rows: &[f32], out: &mut [f32]) {
    assert_eq!(
        rows.len(),
        query.len() * out.len(),
        "dot_rows: rows must hold out.len() rows"
    );
    dispatch!(dot_rows(query, rows, out))
}

/// `out[i] = l2sq(query, row i)`, the squared-distance twin of [`dot_rows`].
///
/// # Panics
/// If `rows.len() != query.len() * out.len()`.
#[inline]
pub fn l2sq_rows(query: &[f32], rows: &[f32], out: &mut [f32]) {
    assert_eq!(
        rows.len(),
        query.len() * out.len(),
        "l2sq_rows: rows must hold out.len() rows"
    );
    dispatch!(l2sq_rows(query, rows, out))
}

/// A tiny deterministic generator for tests (xorshift64*).
#[cfg(test)]
pub(crate) struct TestRng(u64);

#[cfg(test)]
impl TestRng {
    pub(crate) fn new(seed: u64) -> Self {
        TestRng(seed.max(1))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `[-1, 1)`.
    pub(crate) fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    pub(crate) fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.unit()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Pair = fn(&[f32], &[f32]) -> f32;
    type Rows = fn(&[f32], &[f32], &mut [f32]);

    /// Every kernel this build has, by name: (dot, l2sq, dot_rows, l2sq_rows).
    fn kernels() -> Vec<(&'static str, Pair, Pair, Rows, Rows)> {
        let mut ks: Vec<(&'static str, Pair, Pair, Rows, Rows)> = vec![
            ("dispatch", dot, l2sq, dot_rows, l2sq_rows),
            (
                "portable",
                portable::dot,
                portable::l2sq,
                portable::dot_rows,
                portable::l2sq_rows,
            ),
        ];
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        ks.push((
            "simd128",
            simd128::dot,
            simd128::l2sq,
            simd128::dot_rows,
            simd128::l2sq_rows,
        ));
        #[cfg(target_arch = "x86_64")]
        if avx2::Avx2Fma::detect().is_some() {
            fn d(a: &[f32], b: &[f32]) -> f32 {
                avx2::Avx2Fma::detect().unwrap().dot(a, b)
            }
            fn l(a: &[f32], b: &[f32]) -> f32 {
                avx2::Avx2Fma::detect().unwrap().l2sq(a, b)
            }
            fn dr(q: &[f32], r: &[f32], o: &mut [f32]) {
                avx2::Avx2Fma::detect().unwrap().dot_rows(q, r, o)
            }
            fn lr(q: &[f32], r: &[f32], o: &mut [f32]) {
                avx2::Avx2Fma::detect().unwrap().l2sq_rows(q, r, o)
            }
            ks.push(("avx2", d, l, dr, lr));
        }
        ks
    }

    /// Kernels sum in other orders than the scalar loop; allow a rounding error relative to the
    /// sum of the absolute terms (cancellation can make the result itself tiny).
    fn assert_close(what: &str, n: usize, got: f32, want: f32, scale: f32) {
        let tol = 1e-5 * scale + f32::MIN_POSITIVE;
        assert!(
            (got - want).abs() <= tol,
            "{what} n={n}: got {got}, scalar says {want} (tolerance {tol})"
        );
    }

    /// Lengths 0..=64 (every tail) and random ones up to 1100.
    fn lengths(rng: &mut TestRng) -> Vec<usize> {
        let mut ns: Vec<usize> = (0..=64).collect();
        ns.extend([127, 128, 129, 383, 384, 385, 767, 768, 1024, 1100]);
        ns.extend((0..60).map(|_| rng.below(1101)));
        ns
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn every_kernel_matches_scalar_on_pairs() {
        let mut rng = TestRng::new(7);
        for n in lengths(&mut rng) {
            let (a, b) = (rng.vec(n), rng.vec(n));
            let dot_scale: f32 = a.iter().zip(&b).map(|(x, y)| (x * y).abs()).sum();
            let (want_dot, want_l2) = (scalar::dot(&a, &b), scalar::l2sq(&a, &b));
            for (name, d, l, _, _) in kernels() {
                assert_close(&format!("{name} dot"), n, d(&a, &b), want_dot, dot_scale);
                assert_close(&format!("{name} l2sq"), n, l(&a, &b), want_l2, want_l2);
            }
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn every_rows_kernel_matches_scalar_and_its_pair_kernel() {
        let mut rng = TestRng::new(11);
        for dim in lengths(&mut rng).into_iter().step_by(3) {
            for rows in [0, 1, 2, 3, 4, 5, 8, 13] {
                let q = rng.vec(dim);
                let data = rng.vec(dim * rows);
                let mut want_dot = vec![0.0; rows];
                let mut want_l2 = vec![0.0; rows];
                scalar::dot_rows(&q, &data, &mut want_dot);
                scalar::l2sq_rows(&q, &data, &mut want_l2);
                for (name, d, l, dr, lr) in kernels() {
                    let mut got_dot = vec![f32::NAN; rows];
                    let mut got_l2 = vec![f32::NAN; rows];
                    dr(&q, &data, &mut got_dot);
                    lr(&q, &data, &mut got_l2);
                    for i in 0..rows {
                        let row = &data[i * dim..(i + 1) * dim];
                        let scale: f32 = q.iter().zip(row).map(|(x, y)| (x * y).abs()).sum();
                        assert_close(
                            &format!("{name} dot_rows"),
                            dim,
                            got_dot[i],
                            want_dot[i],
                            scale,
                        );
                        assert_close(
                            &format!("{name} l2sq_rows"),
                            dim,
                            got_l2[i],
                            want_l2[i],
                            want_l2[i],
                        );
                        // One row alone and the same row in a group score the same bits.
                        assert_eq!(
                            got_dot[i].to_bits(),
                            d(&q, row).to_bits(),
                            "{name} dim={dim}"
                        );
                        assert_eq!(
                            got_l2[i].to_bits(),
                            l(&q, row).to_bits(),
                            "{name} dim={dim}"
                        );
                    }
                }
            }
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn kernels_handle_empty_and_uneven_input() {
        for (name, d, l, dr, lr) in kernels() {
            assert_eq!(d(&[], &[]), 0.0, "{name}");
            assert_eq!(l(&[], &[]), 0.0, "{name}");
            // The longer slice's extra elements are ignored.
            assert_eq!(d(&[1.0, 2.0, 3.0], &[4.0, 5.0]), 14.0, "{name}");
            assert_eq!(l(&[1.0; 20], &[0.0; 17]), 17.0, "{name}");
            let mut out = [f32::NAN; 3];
            dr(&[], &[], &mut out);
            assert_eq!(out, [0.0; 3], "{name}");
            lr(&[1.0], &[1.0, 2.0, 4.0], &mut out);
            assert_eq!(out, [0.0, 1.0, 9.0], "{name}");
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn norm_is_the_length() {
        assert_eq!(norm(&[3.0, 4.0]), 5.0);
        assert_eq!(norm(&[]), 0.0);
        let v: Vec<f32> = (0..100).map(|_| 2.0).collect();
        assert_eq!(norm(&v), 20.0);
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn metric_names_and_directions() {
        for (m, s) in [
            (Metric::Cosine, "cosine"),
            (Metric::Euclidean, "euclidean"),
            (Metric::DotProduct, "dotproduct"),
        ] {
            assert_eq!(m.as_str(), s);
            assert_eq!(serde_json::to_string(&m).unwrap(), format!("\"{s}\""));
            assert_eq!(
                serde_json::from_str::<Metric>(&format!("\"{s}\"")).unwrap(),
                m
            );
        }
        assert!(Metric::Cosine.higher_is_better());
        assert!(Metric::DotProduct.higher_is_better());
        assert!(!Metric::Euclidean.higher_is_better());
    }

    #[cfg(target_arch = "wasm32")]
    #[wasm_bindgen_test::wasm_bindgen_test]
    #[allow(
        clippy::assertions_on_constants,
        reason = "a failing test names the problem; a const assert would stop the whole build"
    )]
    fn wasm_build_has_simd128() {
        assert!(
            cfg!(target_feature = "simd128"),
            "build wasm32 with -C target-feature=+simd128"
        );
    }
}
