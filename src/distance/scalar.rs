//! Plain-loop kernels: the reference every SIMD kernel is tested against.
//!
//! One sequential accumulator, no unrolling, no `unsafe`. Slower than the other kernels but
//! obviously right, so it serves as the test oracle (and as the code path nothing else covers).

/// Dot product of two equal-length slices.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut sum = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        sum += x * y;
    }
    sum
}

/// Squared Euclidean distance of two equal-length slices.
pub fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut sum = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        let d = x - y;
        sum += d * d;
    }
    sum
}

/// `out[i] = dot(query, row i)` for the rows stored back to back in `rows`.
pub fn dot_rows(query: &[f32], rows: &[f32], out: &mut [f32]) {
    debug_assert_eq!(rows.len(), query.len() * out.len());
    for (i, o) in out.iter_mut().enumerate() {
        *o = dot(query, &rows[i * query.len()..(i + 1) * query.len()]);
    }
}

/// `out[i] = l2sq(query, row i)` for the rows stored back to back in `rows`.
pub fn l2sq_rows(query: &[f32], rows: &[f32], out: &mut [f32]) {
    debug_assert_eq!(rows.len(), query.len() * out.len());
    for (i, o) in out.iter_mut().enumerate() {
        *o = l2sq(query, &rows[i * query.len()..(i + 1) * query.len()]);
    }
}
