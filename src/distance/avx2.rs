//! x86_64 AVX2 + FMA kernels, chosen at run time.
//!
//! [`Avx2Fma::detect`] returns a token only when the CPU has both features; the token's methods
//! are the safe entry points. Same shape as `simd128.rs`: [`ACC`] independent 8-lane sums per
//! row, [`ROWS`] rows per pass sharing query loads, and a row's arithmetic independent of how it
//! is grouped, so `dot` and `dot_rows` agree bit for bit. The twin in `scalar.rs` is the oracle.

use core::arch::x86_64::{
    __m128, __m256, _mm_add_ps, _mm_add_ss, _mm_cvtss_f32, _mm_movehl_ps, _mm_shuffle_ps,
    _mm256_add_ps, _mm256_castps256_ps128, _mm256_extractf128_ps, _mm256_fmadd_ps,
    _mm256_loadu_ps, _mm256_setzero_ps, _mm256_sub_ps,
};

/// Independent accumulators per row.
const ACC: usize = 4;
/// Floats consumed per row by one step of the main loop.
const STEP: usize = 8 * ACC;
/// Rows scored together by the `*_rows` kernels.
const ROWS: usize = 2;

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
        unsafe { kernel::<false, 1>(&a[..n], [&b[..n]])[0] }
    }

    /// Squared Euclidean distance; a longer slice's extra elements are ignored.
    #[inline]
    pub fn l2sq(self, a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        // SAFETY: the token exists only on CPUs with AVX2 and FMA.
        unsafe { kernel::<true, 1>(&a[..n], [&b[..n]])[0] }
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
    let rows = &rows[..dim * out.len()];
    let mut outs = out.chunks_exact_mut(ROWS);
    let mut groups = rows.chunks_exact(dim * ROWS);
    for (o, g) in (&mut outs).zip(&mut groups) {
        let group: [&[f32]; ROWS] = core::array::from_fn(|r| &g[r * dim..(r + 1) * dim]);
        o.copy_from_slice(&kernel::<L2, ROWS>(query, group));
    }
    for (o, row) in outs.into_remainder().iter_mut().zip(groups.remainder().chunks_exact(dim)) {
        *o = kernel::<L2, 1>(query, [row])[0];
    }
}

/// Scores `R` rows against `q`: `dot` or, with `L2`, the squared distance. Every row must hold
/// at least `q.len()` floats.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn kernel<const L2: bool, const R: usize>(q: &[f32], rows: [&[f32]; R]) -> [f32; R] {
    let n = q.len();
    // Bounds are checked here, once; the loads below rely on every slice holding `n` floats.
    let rows = rows.map(|r| &r[..n]);
    let mut acc = [[_mm256_setzero_ps(); ACC]; R];
    let mut i = 0;
    while i + STEP <= n {
        for a in 0..ACC {
            // SAFETY: i + STEP <= n, so [i + 8a, i + 8a + 8) is inside q and every row.
            let qv = unsafe { load(q, i + 8 * a) };
            for r in 0..R {
                // SAFETY: as above.
                let rv = unsafe { load(rows[r], i + 8 * a) };
                acc[r][a] = step::<L2>(acc[r][a], qv, rv);
            }
        }
        i += STEP;
    }
    while i + 8 <= n {
        // SAFETY: i + 8 <= n.
        let qv = unsafe { load(q, i) };
        for r in 0..R {
            // SAFETY: i + 8 <= n.
            let rv = unsafe { load(rows[r], i) };
            acc[r][0] = step::<L2>(acc[r][0], qv, rv);
        }
        i += 8;
    }
    let mut out = [0.0f32; R];
    for r in 0..R {
        let [a0, a1, a2, a3] = acc[r];
        let mut sum = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
        for (x, y) in q[i..].iter().zip(&rows[r][i..]) {
            sum += if L2 { (x - y) * (x - y) } else { x * y };
        }
        out[r] = sum;
    }
    out
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
