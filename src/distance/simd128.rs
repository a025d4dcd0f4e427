//! WebAssembly SIMD128 kernels (`f32x4`), compiled in when the build enables `simd128`.
//!
//! Each row keeps [`ACC`] independent `f32x4` sums, so one step covers 16 floats and the adds do
//! not wait on each other; a 4-float loop and a scalar loop take the tail. The `*_rows` kernels
//! score one row after the other: a single sequential stream is what the hardware prefetcher
//! follows best. (Scoring two rows per pass to share the query loads measured 2x *slower* on
//! data that does not fit in the cache, natively and in V8.) A row's arithmetic does not depend
//! on how it is reached, so `dot` and `dot_rows` return bit-identical scores. The twin in
//! `scalar.rs` is the oracle.
//!
//! SIMD128 has no fused multiply-add (that is in relaxed-simd), so each step is a mul then an add.

use core::arch::wasm32::{
    f32x4_add, f32x4_extract_lane, f32x4_mul, f32x4_splat, f32x4_sub, i32x4_shuffle, v128,
    v128_load,
};

/// Independent accumulators per row.
const ACC: usize = 4;
/// Floats consumed per row by one step of the main loop.
const STEP: usize = 4 * ACC;

/// Dot product; a longer slice's extra elements are ignored.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    kernel::<false>(&a[..n], &b[..n])
}

/// Squared Euclidean distance; a longer slice's extra elements are ignored.
pub fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    kernel::<true>(&a[..n], &b[..n])
}

/// `out[i] = dot(query, row i)`; `rows` holds `out.len()` rows of `query.len()` floats.
pub fn dot_rows(query: &[f32], rows: &[f32], out: &mut [f32]) {
    for_rows::<false>(query, rows, out);
}

/// `out[i] = l2sq(query, row i)`; `rows` holds `out.len()` rows of `query.len()` floats.
pub fn l2sq_rows(query: &[f32], rows: &[f32], out: &mut [f32]) {
    for_rows::<true>(query, rows, out);
}

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
#[inline(always)]
fn kernel<const L2: bool>(q: &[f32], r: &[f32]) -> f32 {
    let n = q.len();
    // Bounds are checked here, once; the loads below rely on both slices holding `n` floats.
    let r = &r[..n];
    let mut acc = [f32x4_splat(0.0); ACC];
    let mut i = 0;
    while i + STEP <= n {
        for (a, acc) in acc.iter_mut().enumerate() {
            // SAFETY: i + STEP <= n, so [i + 4a, i + 4a + 4) is inside q and r.
            let (qv, rv) = unsafe { (load(q, i + 4 * a), load(r, i + 4 * a)) };
            *acc = f32x4_add(*acc, term::<L2>(qv, rv));
        }
        i += STEP;
    }
    while i + 4 <= n {
        // SAFETY: i + 4 <= n.
        let (qv, rv) = unsafe { (load(q, i), load(r, i)) };
        acc[0] = f32x4_add(acc[0], term::<L2>(qv, rv));
        i += 4;
    }
    let mut width = ACC;
    while width > 1 {
        width /= 2;
        for j in 0..width {
            acc[j] = f32x4_add(acc[j], acc[j + width]);
        }
    }
    let mut sum = hsum(acc[0]);
    for (x, y) in q[i..].iter().zip(&r[i..]) {
        sum += scalar_term::<L2>(*x, *y);
    }
    sum
}

/// Loads 4 floats starting at `s[i]`.
///
/// # Safety
/// `i + 4 <= s.len()`.
#[inline(always)]
unsafe fn load(s: &[f32], i: usize) -> v128 {
    debug_assert!(i + 4 <= s.len());
    // SAFETY: the caller keeps the 16 bytes inside `s`; v128.load has no alignment requirement.
    unsafe { v128_load(s.as_ptr().add(i).cast::<v128>()) }
}

#[inline(always)]
fn term<const L2: bool>(q: v128, r: v128) -> v128 {
    if L2 {
        let d = f32x4_sub(q, r);
        f32x4_mul(d, d)
    } else {
        f32x4_mul(q, r)
    }
}

#[inline(always)]
fn scalar_term<const L2: bool>(q: f32, r: f32) -> f32 {
    if L2 { (q - r) * (q - r) } else { q * r }
}

/// `(v0 + v2) + (v1 + v3)`.
#[inline(always)]
fn hsum(v: v128) -> f32 {
    let t = f32x4_add(v, i32x4_shuffle::<2, 3, 0, 1>(v, v));
    let t = f32x4_add(t, i32x4_shuffle::<1, 0, 3, 2>(t, t));
    f32x4_extract_lane::<0>(t)
}
