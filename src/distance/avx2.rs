//! x86_64 AVX2 + FMA kernels, chosen at run time.
//!
//! [`Avx2Fma::detect`] returns a token only when the CPU has both features; the token's methods
//! are the safe entry points. Same shape as `simd128.rs`: [`ACC`] independent 8-lane sums per
//! row, one row after the other, so `dot` and `dot_rows` agree bit for bit. The twin in
//! `scalar.rs` is the oracle.

use core::arch::x86_64::{
    __m128, __m256, _mm_add_ps, _mm_add_ss, _mm_cvtss_f32, _mm_movehl_ps, _mm_shuffle_ps,
    _mm256_add_ps, _mm256_castps256_ps128, _mm256_extractf128_ps, _mm256_fmadd_ps, _mm256_loadu_ps,
    _mm256_setzero_ps, _mm256_sub_ps,
};

/// Independent accumulators per row.
const ACC: usize = 4;
/// Floats consumed per row by one step of the main loop.
const STEP: usize = 8 * ACC;

/// Proof that the running CPU supports AVX2 and FMA.
#[derive(Debug, Clone, Copy)]
pub struct Avx2Fma(());

impl Avx2Fma {
    /// The token, if this CPU has AVX2 and FMA (the answer is cached by std).
    #[inline]
    pub fn detect() -> Option<Self> {
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            Some(Avx2Fma(()))
        } else {
            None
        }
    }

    /// Dot product; a longer slice's extra elements are ignored.
    #[inline]
    pub fn dot(self, a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        // SAFETY: the token exists only on CPUs with AVX2 and FMA.
        unsafe { kernel::<false>(&a[..n], &b[..n]) }
    }

    /// Squared Euclidean distance; a longer slice's extra elements are ignored.
    #[inline]
    pub fn l2sq(self, a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        // SAFETY: the token exists only on CPUs with AVX2 and FMA.
        unsafe { kernel::<true>(&a[..n], &b[..n]) }
    }

    /// `out[i] = dot(query, row i)`; `rows` holds `out.len()` rows of `query.len()` floats.
    #[inline]
    pub fn dot_rows(self, query: &[f32], rows: &[f32], out: &mut [f32]) {
        // SAFETY: the token exists only on CPUs with AVX2 and FMA.
        unsafe { for_rows::<false>(query, rows, out) }
    }

    /// `out[i] = l2sq(query, row i)`; `rows` holds `out.len()` rows of `query.len()` floats.
    #[inline]
    pub fn l2sq_rows(self, query: &[f32], rows: &[f32], out: &mut [f32]) {
        // SAFETY: the token exists only on CPUs with AVX2 and FMA.
        unsafe { for_rows::<true>(query, rows, out) }
    }
}

#[target_feature(enable = "avx2,fma")]
fn for_rows<const L2: bool>(query: &[f32], rows: &[f32], out: &mut [f32]) {
    let dim = query.len();
    if dim == 0 {
        out.fill(0.0);
        return;
    }
    for (o, row) in out.iter_mut().zip(rows.chunks_exact(dim)) {
        *o = kernel::<L2>(query, row);
    }
}

/// `dot(q, r)` or, with `L2`, the squared distance. `r` must hold at least `q.len()` floats.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn kernel<const L2: bool>(q: &[f32], r: &[f32]) -> f32 {
    let n = q.len();
    // Bounds are checked here, once; the loads below rely on both slices holding `n` floats.
    let r = &r[..n];
    let mut acc = [_mm256_setzero_ps(); ACC];
    let mut i = 0;
    while i + STEP <= n {
        for (a, acc) in acc.iter_mut().enumerate() {
            // SAFETY: i + STEP <= n, so [i + 8a, i + 8a + 8) is inside q and r.
            let (qv, rv) = unsafe { (load(q, i + 8 * a), load(r, i + 8 * a)) };
            *acc = step::<L2>(*acc, qv, rv);
        }
        i += STEP;
    }
    while i + 8 <= n {
        // SAFETY: i + 8 <= n.
        let (qv, rv) = unsafe { (load(q, i), load(r, i)) };
        acc[0] = step::<L2>(acc[0], qv, rv);
        i += 8;
    }
    let mut width = ACC;
    while width > 1 {
        width /= 2;
        for j in 0..width {
            acc[j] = _mm256_add_ps(acc[j], acc[j + width]);
        }
    }
    let mut sum = hsum(acc[0]);
    for (x, y) in q[i..].iter().zip(&r[i..]) {
        sum += if L2 { (x - y) * (x - y) } else { x * y };
    }
    sum
}

/// Loads 8 floats starting at `s[i]`.
///
/// # Safety
/// `i + 8 <= s.len()`, and the CPU has AVX.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn load(s: &[f32], i: usize) -> __m256 {
    debug_assert!(i + 8 <= s.len());
    // SAFETY: the caller keeps the 32 bytes inside `s`; loadu has no alignment requirement.
    unsafe { _mm256_loadu_ps(s.as_ptr().add(i)) }
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn step<const L2: bool>(acc: __m256, q: __m256, r: __m256) -> __m256 {
    if L2 {
        let d = _mm256_sub_ps(q, r);
        _mm256_fmadd_ps(d, d, acc)
    } else {
        _mm256_fmadd_ps(q, r, acc)
    }
}

/// Sum of the 8 lanes: the two halves first, then within the 128-bit sum.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn hsum(v: __m256) -> f32 {
    let s: __m128 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
    _mm_cvtss_f32(s)
}
