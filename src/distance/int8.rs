//! Kernels on `u8` codes (the int8 scalar quantization of `index/quant.rs`).
//!
//! Same scheme as the float kernels: [`dot_u8`] and [`l2sq_u8`] pick the SIMD128 kernel on
//! wasm32 with `simd128` (`int8/simd128.rs`) and the portable one elsewhere (plain Rust that
//! LLVM vectorises); `int8/scalar.rs` holds the plain-loop twins the tests compare against.
//! Integer sums are exact, so every kernel returns the same value as its twin, bit for bit.
//!
//! Sums are `u32`: a product is at most 255² = 65,025, so any length up to 66,000 codes fits
//! (Pinecone's largest dimension is 20,000).

#[cfg_attr(not(test), allow(dead_code))]
mod scalar;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128;

/// `Σ a[i] * b[i]` over the shorter length.
#[inline]
pub fn dot_u8(a: &[u8], b: &[u8]) -> u32 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let r = simd128::dot_u8(a, b);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    let r = portable::dot_u8(a, b);
    r
}

/// `Σ (a[i] - b[i])²` over the shorter length.
#[inline]
pub fn l2sq_u8(a: &[u8], b: &[u8]) -> u32 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let r = simd128::l2sq_u8(a, b);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    let r = portable::l2sq_u8(a, b);
    r
}

/// `Σ a[i] * b[i]` of floats against codes, over the shorter length (the pooled ranking of
/// `Int8Index::approx_distances`). Float sums depend on their order: each kernel agrees with
/// its scalar twin to rounding, not bit for bit.
#[inline]
pub fn dot_f32_u8(a: &[f32], b: &[u8]) -> f32 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let r = simd128::dot_f32_u8(a, b);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    let r = portable::dot_f32_u8(a, b);
    r
}

/// Safe Rust shaped for auto-vectorisation: 16 independent `u32` lanes.
#[cfg_attr(
    all(target_arch = "wasm32", target_feature = "simd128", not(test)),
    allow(dead_code)
)]
mod portable {
    const LANES: usize = 16;

    pub fn dot_u8(a: &[u8], b: &[u8]) -> u32 {
        let n = a.len().min(b.len());
        let (a, b) = (&a[..n], &b[..n]);
        let mut acc = [0u32; LANES];
        let (mut ca, mut cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
        for (x, y) in (&mut ca).zip(&mut cb) {
            for i in 0..LANES {
                acc[i] += u32::from(x[i]) * u32::from(y[i]);
            }
        }
        let mut sum: u32 = acc.iter().sum();
        for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
            sum += u32::from(*x) * u32::from(*y);
        }
        sum
    }

    pub fn dot_f32_u8(a: &[f32], b: &[u8]) -> f32 {
        const W: usize = 8;
        let n = a.len().min(b.len());
        let (a, b) = (&a[..n], &b[..n]);
        let mut acc = [0f32; W];
        let (mut ca, mut cb) = (a.chunks_exact(W), b.chunks_exact(W));
        for (x, y) in (&mut ca).zip(&mut cb) {
            for i in 0..W {
                acc[i] += x[i] * f32::from(y[i]);
            }
        }
        let mut sum: f32 = acc.iter().sum();
        for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
            sum += x * f32::from(*y);
        }
        sum
    }

    pub fn l2sq_u8(a: &[u8], b: &[u8]) -> u32 {
        let n = a.len().min(b.len());
        let (a, b) = (&a[..n], &b[..n]);
        let mut acc = [0u32; LANES];
        let (mut ca, mut cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
        for (x, y) in (&mut ca).zip(&mut cb) {
            for i in 0..LANES {
                let d = i32::from(x[i]) - i32::from(y[i]);
                acc[i] += (d * d) as u32;
            }
        }
        let mut sum: u32 = acc.iter().sum();
        for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
            let d = i32::from(*x) - i32::from(*y);
            sum += (d * d) as u32;
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distance::TestRng;

    type Kernel = fn(&[u8], &[u8]) -> u32;

    fn kernels() -> Vec<(&'static str, Kernel, Kernel)> {
        #[allow(unused_mut)]
        let mut ks: Vec<(&'static str, Kernel, Kernel)> = vec![
            ("dispatch", dot_u8, l2sq_u8),
            ("portable", portable::dot_u8, portable::l2sq_u8),
        ];
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        ks.push(("simd128", simd128::dot_u8, simd128::l2sq_u8));
        ks
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn every_u8_kernel_equals_its_scalar_twin() {
        let mut rng = TestRng::new(17);
        let mut lens: Vec<usize> = (0..=70).collect();
        lens.extend([127, 128, 129, 383, 384, 385, 1536, 20_000]);
        for n in lens {
            let a: Vec<u8> = (0..n).map(|_| rng.below(256) as u8).collect();
            let b: Vec<u8> = (0..n).map(|_| rng.below(256) as u8).collect();
            for (name, d, l) in kernels() {
                assert_eq!(d(&a, &b), scalar::dot_u8(&a, &b), "{name} dot n={n}");
                assert_eq!(l(&a, &b), scalar::l2sq_u8(&a, &b), "{name} l2 n={n}");
            }
        }
        // Floats against codes: equal to rounding (the sums' order differs).
        type FloatKernel = fn(&[f32], &[u8]) -> f32;
        #[allow(unused_mut)]
        let mut fks: Vec<(&str, FloatKernel)> =
            vec![("dispatch", dot_f32_u8), ("portable", portable::dot_f32_u8)];
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        fks.push(("simd128", simd128::dot_f32_u8));
        for n in (0..=70).chain([127, 128, 129, 383, 384, 385, 1536, 20_000]) {
            let a: Vec<f32> = (0..n)
                .map(|_| rng.below(2001) as f32 / 1000.0 - 1.0)
                .collect();
            let b: Vec<u8> = (0..n).map(|_| rng.below(256) as u8).collect();
            let want = scalar::dot_f32_u8(&a, &b);
            let magnitude: f32 = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (x * f32::from(*y)).abs())
                .sum();
            for (name, k) in &fks {
                let got = k(&a, &b);
                assert!(
                    (got - want).abs() <= 1e-5 * magnitude + 1e-6,
                    "{name} n={n}: {got} vs {want}"
                );
            }
        }
        for (name, k) in &fks {
            assert_eq!(
                k(&[0.5, 2.0, 1.0], &[4, 255]),
                512.0,
                "{name}: the shorter length"
            );
            assert_eq!(k(&[], &[]), 0.0, "{name}");
        }
        // Extremes: every product at its maximum, every difference at its maximum.
        let (hi, lo) = (vec![255u8; 20_000], vec![0u8; 20_000]);
        for (name, d, l) in kernels() {
            assert_eq!(d(&hi, &hi), 65_025 * 20_000, "{name}");
            assert_eq!(l(&hi, &lo), 65_025 * 20_000, "{name}");
            assert_eq!(d(&[1, 2, 3], &[4, 5]), 14, "{name}: the shorter length");
            assert_eq!(l(&[], &[]), 0, "{name}");
        }
    }
}
