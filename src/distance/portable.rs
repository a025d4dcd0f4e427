//! Kernels in plain safe Rust, shaped so the compiler vectorises them.
//!
//! Sixteen independent partial sums break the add dependency chain; with any SIMD the target
//! offers (SSE2 on baseline x86_64, NEON on aarch64, SIMD128 on wasm) LLVM turns each step into
//! a few vector multiply-adds. Used where no hand-written kernel applies, e.g. x86_64 without
//! AVX2+FMA.

const LANES: usize = 16;

/// Dot product; a longer slice's extra elements are ignored.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let (mut ca, mut cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let mut sum = reduce(acc);
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        sum += x * y;
    }
    sum
}

/// Squared Euclidean distance; a longer slice's extra elements are ignored.
pub fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let (mut ca, mut cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..LANES {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    let mut sum = reduce(acc);
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        let d = x - y;
        sum += d * d;
    }
    sum
}

/// `out[i] = dot(query, row i)`; `rows` holds `out.len()` rows of `query.len()` floats.
pub fn dot_rows(query: &[f32], rows: &[f32], out: &mut [f32]) {
    for_each_row(query, rows, out, dot);
}

/// `out[i] = l2sq(query, row i)`; `rows` holds `out.len()` rows of `query.len()` floats.
pub fn l2sq_rows(query: &[f32], rows: &[f32], out: &mut [f32]) {
    for_each_row(query, rows, out, l2sq);
}

fn for_each_row(query: &[f32], rows: &[f32], out: &mut [f32], f: fn(&[f32], &[f32]) -> f32) {
    let dim = query.len();
    if dim == 0 {
        out.fill(0.0);
        return;
    }
    for (o, row) in out.iter_mut().zip(rows.chunks_exact(dim)) {
        *o = f(query, row);
    }
}

/// Pairwise sum of the lanes (a tree, so it vectorises too).
fn reduce(mut acc: [f32; LANES]) -> f32 {
    let mut width = LANES / 2;
    while width > 0 {
        for i in 0..width {
            acc[i] += acc[i + width];
        }
        width /= 2;
    }
    acc[0]
}
