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

/// Everything before the codes: the header, `lo` and the offsets.
pub(super) fn encode_head(q: &Int8Index) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + 4 * (q.lo.len() + q.offsets.len()));
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

/// Decodes the layout given in `pieces` (their concatenation is the layout; any split is
/// accepted). The head (header and parameters) is gathered first; then every piece that is
/// exactly one page of codes is kept as that page, and codes split otherwise are copied into
/// pages. Each piece is dropped once consumed.
pub(super) fn decode(pieces: Vec<Vec<u8>>) -> Result<Int8Index> {
    let total: u64 = pieces.iter().map(|p| p.len() as u64).sum();
    let mut pieces = pieces.into_iter();
    let mut head = Vec::new();
    let (mut want, mut known) = (HEADER, false);
    // A piece the head ended inside, and where its codes start.
    let mut split: Option<(Vec<u8>, usize)> = None;
    loop {
        if head.len() == want {
            if known {
                break;
            }
            want = head_len(&head)?;
            known = true;
            continue;
        }
        let (p, at) = match split.take() {
            Some(x) => x,
            None => match pieces.next() {
                Some(p) => (p, 0),
                None => break,
            },
        };
        let need = want - head.len();
        if p.len() - at <= need {
            head.extend_from_slice(&p[at..]);
        } else {
            head.extend_from_slice(&p[at..at + need]);
            split = Some((p, at + need));
        }
    }
    if head.len() < HEADER {
        return Err(corrupt(format!(
            "{total} bytes, shorter than the {HEADER}-byte header"
        )));
    }
    let (mut q, _) = decode_parts(&head, total)?;
    drop(head);
    let page_bytes = (1usize << q.shift) * q.dim;
    let code_bytes = q.n * q.dim;
    let mut pages: Vec<Vec<u8>> = Vec::with_capacity(code_bytes.div_ceil(page_bytes));
    let mut filled = 0;
    for (piece, at) in split.into_iter().chain(pieces.map(|p| (p, 0))) {
        let page_len = page_bytes.min(code_bytes - filled);
        let at_boundary = pages.last().is_none_or(|p| p.len() == page_bytes);
        if at == 0 && at_boundary && piece.len() == page_len {
            filled += page_len;
            pages.push(piece);
            continue;
        }
        let mut rest = &piece[at..];
        while !rest.is_empty() {
            if pages.last().is_none_or(|p| p.len() == page_bytes) {
                pages.push(Vec::with_capacity(page_bytes.min(code_bytes - filled)));
            }
            let Some(p) = pages.last_mut() else { break };
            let n = (page_bytes - p.len()).min(rest.len());
            p.extend_from_slice(&rest[..n]);
            filled += n;
            rest = &rest[n..];
        }
    }
    debug_assert_eq!(filled, code_bytes, "decode_parts checked the total length");
    q.pages = pages;
    Ok(q)
}

/// The length of the head that the fixed header `b` describes.
fn head_len(b: &[u8]) -> Result<usize> {
    check_prelude(b, HEADER, &MAGIC, VERSION).map_err(corrupt)?;
    let metric =
        Metric::from_code(b[8]).ok_or_else(|| corrupt(format!("unknown metric code {}", b[8])))?;
    let (dim, n) = (u64::from(u32_at(b, 12)), u64::from(u32_at(b, 16)));
    let offsets = if metric == Metric::Euclidean { 0 } else { n };
    usize::try_from(HEADER as u64 + 4 * (dim + offsets))
        .map_err(|_| corrupt("header describes more bytes than this target can hold"))
}

/// Everything but the codes, and where the codes start.
fn decode_parts(b: &[u8], total: u64) -> Result<(Int8Index, usize)> {
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
    if total != want || (b.len() as u64) < want - nn * d {
        return Err(corrupt(format!(
            "{total} bytes, but the header describes {want} ({n} vectors of {dim})"
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
        n: n as usize,
        shift: super::page_shift(dim as usize),
        pages: Vec::new(),
        offsets,
    };
    Ok((q, at))
}
