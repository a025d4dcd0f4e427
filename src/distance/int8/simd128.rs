//! WebAssembly SIMD128 kernels on `u8` codes.
//!
//! Per 16 codes: one `v128` load per side, zero-extension to two `u16x8` halves, and
//! `i32x4.dot_i16x8_s` (pairwise multiply-add into `i32x4`). Codes are at most 255, so the
//! extended values, their differences (±255) and each pairwise sum (≤ 130,050) fit the signed
//! lanes; two accumulators per kernel keep the adds independent. The scalar twin is the oracle.

use core::arch::wasm32::{
    f32x4_add, f32x4_convert_u32x4, f32x4_extract_lane, f32x4_mul, f32x4_splat, i16x8_sub,
    i32x4_add, i32x4_dot_i16x8, i32x4_extract_lane, i32x4_splat, u16x8_extend_high_u8x16,
    u16x8_extend_low_u8x16, u32x4_extend_high_u16x8, u32x4_extend_low_u16x8, v128, v128_load,
};

/// `Σ a[i] * b[i]` of floats against codes over the shorter length: per 16 codes, one load
/// widened to four `f32x4` (u8 → u16 → u32 → f32, exact) against four float loads, into four
/// accumulators.
pub fn dot_f32_u8(a: &[f32], b: &[u8]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [f32x4_splat(0.0); 4];
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n, so the 16 codes and the 16 floats at i are inside the slices.
        let (vb, fa) = unsafe {
            (
                load(b, i),
                [
                    load_f32(a, i),
                    load_f32(a, i + 4),
                    load_f32(a, i + 8),
                    load_f32(a, i + 12),
                ],
            )
        };
        let (lo, hi) = (u16x8_extend_low_u8x16(vb), u16x8_extend_high_u8x16(vb));
        let codes = [
            u32x4_extend_low_u16x8(lo),
            u32x4_extend_high_u16x8(lo),
            u32x4_extend_low_u16x8(hi),
            u32x4_extend_high_u16x8(hi),
        ];
        for j in 0..4 {
            acc[j] = f32x4_add(acc[j], f32x4_mul(fa[j], f32x4_convert_u32x4(codes[j])));
        }
        i += 16;
    }
    let t = f32x4_add(f32x4_add(acc[0], acc[1]), f32x4_add(acc[2], acc[3]));
    let mut sum = (f32x4_extract_lane::<0>(t) + f32x4_extract_lane::<1>(t))
        + (f32x4_extract_lane::<2>(t) + f32x4_extract_lane::<3>(t));
    for (x, y) in a[i..].iter().zip(&b[i..]) {
        sum += x * f32::from(*y);
    }
    sum
}

/// Loads 4 floats starting at `s[i]`.
///
/// # Safety
/// `i + 4 <= s.len()`.
#[inline(always)]
unsafe fn load_f32(s: &[f32], i: usize) -> v128 {
    debug_assert!(i + 4 <= s.len());
    // SAFETY: the caller keeps the 4 floats inside `s`; v128.load has no alignment requirement.
    unsafe { v128_load(s.as_ptr().add(i).cast::<v128>()) }
}

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
