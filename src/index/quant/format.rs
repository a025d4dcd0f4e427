//! The byte layout of int8 codes ([`Int8Index::to_bytes`]), and its validation.
//!
//! All integers and floats little-endian, fixed width. Header of [`HEADER`] bytes:
//!
//! | offset | type | field |
//! |---|---|---|
//! | 0 | `[u8; 4]` | magic `LQ8C` |
//! | 4 | u32 | layout version, [`VERSION`] |
//! | 8 | u8 | metric: 0 cosine, 1 euclidean, 2 dotproduct |
//! | 9 | `[u8; 3]` | zero |
//! | 12 | u32 | dim (at least 1) |
//! | 16 | u32 | n, the number of quantized vectors |
//! | 20 | f32 | scale (finite, positive) |
//!
//! Then, back to back: `lo` (dim × f32, finite), `offsets` (n × f32, finite; cosine and
//! dotproduct only, absent for euclidean) and the codes (n × dim bytes, slot after slot). `Σ lo²`
//! is recomputed on decode. No checksum: the blobs that hold the codes have their own. Codes are
//! derived data, so a decoder cannot tell codes that were quantized badly from good ones;
//! queries rescore their candidates with the f32 vectors, so such codes could only cost recall.

use super::Int8Index;
use crate::distance::Metric;
use crate::error::{Error, Result};
use crate::index::{check_prelude, u32_at};

/// Bytes before the arrays.
pub(super) const HEADER: usize = 24;
/// The current layout version.
pub(super) const VERSION: u32 = 1;
const MAGIC: [u8; 4] = *b"LQ8C";

pub(super) fn encode(q: &Int8Index) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + q.bytes());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&[q.metric.code(), 0, 0, 0]);
    out.extend_from_slice(&(q.dim as u32).to_le_bytes());
    out.extend_from_slice(&(q.len() as u32).to_le_bytes());
    out.extend_from_slice(&q.scale.to_le_bytes());
    debug_assert_eq!(out.len(), HEADER);
    for x in q.lo.iter().chain(&q.offsets) {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.extend_from_slice(&q.codes);
    out
}

fn corrupt(reason: impl Into<String>) -> Error {
    Error::Corrupt {
        what: "int8 codes".into(),
        reason: reason.into(),
    }
}

/// Little-endian f32s, each checked finite.
fn finite_floats(b: &[u8], what: &str) -> Result<Vec<f32>> {
    b.chunks_exact(4)
        .enumerate()
        .map(|(i, c)| {
            let x = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            if x.is_finite() {
                Ok(x)
            } else {
                Err(corrupt(format!(
                    "{what} {i} is {}, not finite",
                    zmij::Buffer::new().format(x)
                )))
            }
        })
        .collect()
}

pub(super) fn decode(b: &[u8]) -> Result<Int8Index> {
    decode_parts(b).map(|(mut q, at)| {
        q.codes = b[at..].to_vec();
        q
    })
}

/// [`decode`] of owned bytes: the codes stay in their buffer (the parameters before them are
/// moved out), so decoding needs no second copy of them.
pub(super) fn decode_vec(mut b: Vec<u8>) -> Result<Int8Index> {
    let (mut q, at) = decode_parts(&b)?;
    b.drain(..at);
    q.codes = b;
    Ok(q)
}

/// Everything but the codes, and where the codes start.
fn decode_parts(b: &[u8]) -> Result<(Int8Index, usize)> {
    check_prelude(b, HEADER, &MAGIC, VERSION).map_err(corrupt)?;
    let metric =
        Metric::from_code(b[8]).ok_or_else(|| corrupt(format!("unknown metric code {}", b[8])))?;
    if b[9..12] != [0, 0, 0] {
        return Err(corrupt("reserved header bytes are not zero"));
    }
    let dim = u32_at(b, 12);
    let n = u32_at(b, 16);
    let scale = f32::from_bits(u32_at(b, 20));
    if dim == 0 {
        return Err(corrupt("dimension 0"));
    }
    if !(scale.is_finite() && scale > 0.0) {
        return Err(corrupt(format!("scale {scale} is not finite and positive")));
    }
    // Sizes in u64: no product of two u32 values overflows it.
    let (d, nn) = (u64::from(dim), u64::from(n));
    let offsets = if metric == Metric::Euclidean { 0 } else { nn };
    let want = HEADER as u64 + 4 * (d + offsets) + nn * d;
    if b.len() as u64 != want {
        return Err(corrupt(format!(
            "{} bytes, but the header describes {want} ({n} vectors of {dim})",
            b.len()
        )));
    }
    // `want` equals the real length, so every section below fits in usize.
    let mut at = HEADER;
    let lo = finite_floats(&b[at..at + 4 * dim as usize], "offset of dimension")?;
    at += 4 * dim as usize;
    let offsets = finite_floats(&b[at..at + 4 * offsets as usize], "offset of vector")?;
    at += 4 * offsets.len();
    let q = Int8Index {
        metric,
        dim: dim as usize,
        lo_sq: lo.iter().map(|l| l * l).sum(),
        lo,
        scale,
        codes: Vec::new(),
        offsets,
    };
    Ok((q, at))
}
