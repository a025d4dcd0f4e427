//! WebAssembly SIMD128 kernels (`f32x4`), compiled in when the build enables `simd128`.
//!
//! Each row keeps [`ACC`] independent `f32x4` sums, so one step covers 16 floats and the adds do
//! not wait on each other. The `*_rows` kernels score [`ROWS`] rows per pass and load each query
//! chunk once for all of them. A row's arithmetic is the same whether it is scored alone or in a
//! group, so `dot` and `dot_rows` return bit-identical scores (the exact scan relies on this to
//! give filtered and unfiltered queries the same scores). The twin in `scalar.rs` is the oracle.
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
/// Rows scored together by the `*_rows` kernels.
const ROWS: usize = 2;

/// Dot product; a longer slice's extra elements are ignored.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    kernel::<false, 1>(&a[..n], [&b[..n]])[0]
}

/// Squared Euclidean distance; a longer slice's extra elements are ignored.
pub fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    kernel::<true, 1>(&a[..n], [&b[..n]])[0]
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
#[inline(always)]
fn kernel<const L2: bool, const R: usize>(q: &[f32], rows: [&[f32]; R]) -> [f32; R] {
    let n = q.len();
    // Bounds are checked here, once; the loads below rely on every slice holding `n` floats.
    let rows = rows.map(|r| &r[..n]);
    let mut acc = [[f32x4_splat(0.0); ACC]; R];
    let mut i = 0;
    while i + STEP <= n {
        for a in 0..ACC {
            // SAFETY: i + STEP <= n, so [i + 4a, i + 4a + 4) is inside q and every row.
            let qv = unsafe { load(q, i + 4 * a) };
            for r in 0..R {
                // SAFETY: as above.
                let rv = unsafe { load(rows[r], i + 4 * a) };
                acc[r][a] = f32x4_add(acc[r][a], term::<L2>(qv, rv));
            }
        }
        i += STEP;
    }
    while i + 4 <= n {
        // SAFETY: i + 4 <= n.
        let qv = unsafe { load(q, i) };
        for r in 0..R {
            // SAFETY: i + 4 <= n.
            let rv = unsafe { load(rows[r], i) };
            acc[r][0] = f32x4_add(acc[r][0], term::<L2>(qv, rv));
        }
        i += 4;
    }
    let mut out = [0.0f32; R];
    for r in 0..R {
        let [a0, a1, a2, a3] = acc[r];
        let mut sum = hsum(f32x4_add(f32x4_add(a0, a1), f32x4_add(a2, a3)));
        for (x, y) in q[i..].iter().zip(&rows[r][i..]) {
            sum += scalar_term::<L2>(*x, *y);
        }
        out[r] = sum;
    }
    out
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
