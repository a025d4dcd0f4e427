//! WebAssembly SIMD128 kernels on `u8` codes.
//!
//! Per 16 codes: one `v128` load per side, zero-extension to two `u16x8` halves, and
//! `i32x4.dot_i16x8_s` (pairwise multiply-add into `i32x4`). Codes are at most 255, so the
//! extended values, their differences (±255) and each pairwise sum (≤ 130,050) fit the signed
//! lanes; two accumulators per kernel keep the adds independent. The scalar twin is the oracle.

use core::arch::wasm32::{
    i16x8_sub, i32x4_add, i32x4_dot_i16x8, i32x4_extract_lane, i32x4_splat,
    u16x8_extend_high_u8x16, u16x8_extend_low_u8x16, v128, v128_load,
};

/// `Σ a[i] * b[i]` over the shorter length.
pub fn dot_u8(a: &[u8], b: &[u8]) -> u32 {
    kernel::<false>(a, b)
}

/// `Σ (a[i] - b[i])²` over the shorter length.
pub fn l2sq_u8(a: &[u8], b: &[u8]) -> u32 {
    kernel::<true>(a, b)
}

#[inline(always)]
fn kernel<const L2: bool>(a: &[u8], b: &[u8]) -> u32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let (mut lo, mut hi) = (i32x4_splat(0), i32x4_splat(0));
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n, so the 16 bytes at i are inside both slices.
        let (va, vb) = unsafe { (load(a, i), load(b, i)) };
        let (al, ah) = (u16x8_extend_low_u8x16(va), u16x8_extend_high_u8x16(va));
        let (bl, bh) = (u16x8_extend_low_u8x16(vb), u16x8_extend_high_u8x16(vb));
        if L2 {
            let (dl, dh) = (i16x8_sub(al, bl), i16x8_sub(ah, bh));
            lo = i32x4_add(lo, i32x4_dot_i16x8(dl, dl));
            hi = i32x4_add(hi, i32x4_dot_i16x8(dh, dh));
        } else {
            lo = i32x4_add(lo, i32x4_dot_i16x8(al, bl));
            hi = i32x4_add(hi, i32x4_dot_i16x8(ah, bh));
        }
        i += 16;
    }
    let t = i32x4_add(lo, hi);
    // Lanes are non-negative and their total fits in u32 (see the module docs).
    let mut sum = (i32x4_extract_lane::<0>(t) as u32)
        .wrapping_add(i32x4_extract_lane::<1>(t) as u32)
        .wrapping_add(i32x4_extract_lane::<2>(t) as u32)
        .wrapping_add(i32x4_extract_lane::<3>(t) as u32);
    for (x, y) in a[i..].iter().zip(&b[i..]) {
        let (x, y) = (i32::from(*x), i32::from(*y));
        sum = sum.wrapping_add(if L2 {
            ((x - y) * (x - y)) as u32
        } else {
            (x * y) as u32
        });
    }
    sum
}

/// Loads 16 bytes starting at `s[i]`.
///
/// # Safety
/// `i + 16 <= s.len()`.
#[inline(always)]
unsafe fn load(s: &[u8], i: usize) -> v128 {
    debug_assert!(i + 16 <= s.len());
    // SAFETY: the caller keeps the 16 bytes inside `s`; v128.load has no alignment requirement.
    unsafe { v128_load(s.as_ptr().add(i).cast::<v128>()) }
}
