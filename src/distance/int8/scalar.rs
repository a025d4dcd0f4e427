//! Plain-loop twins of the `u8` code kernels: the test oracle.

/// `Σ a[i] * b[i]` over the shorter length.
pub fn dot_u8(a: &[u8], b: &[u8]) -> u32 {
    let mut sum = 0u32;
    for (x, y) in a.iter().zip(b) {
        sum += u32::from(*x) * u32::from(*y);
    }
    sum
}

/// `Σ a[i] * b[i]` of floats against codes, over the shorter length.
pub fn dot_f32_u8(a: &[f32], b: &[u8]) -> f32 {
    let mut sum = 0f32;
    for (x, y) in a.iter().zip(b) {
        sum += x * f32::from(*y);
    }
    sum
}

/// `Σ (a[i] - b[i])²` over the shorter length.
pub fn l2sq_u8(a: &[u8], b: &[u8]) -> u32 {
    let mut sum = 0u32;
    for (x, y) in a.iter().zip(b) {
        let d = i32::from(*x) - i32::from(*y);
        sum += (d * d) as u32;
    }
    sum
}
