//! The byte layout of an HNSW graph, and its validation.
//!
//! All integers little-endian, fixed width. Header of [`HEADER`] bytes:
//!
//! | offset | type | field |
//! |---|---|---|
//! | 0 | `[u8; 4]` | magic `LHNW` |
//! | 4 | u32 | format version, [`VERSION`] |
//! | 8 | u8 | metric: 0 cosine, 1 euclidean, 2 dotproduct |
//! | 9 | `[u8; 3]` | zero |
//! | 12 | u32 | dim |
//! | 16 | u32 | n, the node count |
//! | 20 | u32 | M (level 0 holds up to 2M) |
//! | 24 | u32 | ef_construction |
//! | 28 | u32 | ef_search (the default) |
//! | 32 | u64 | seed |
//! | 40 | u32 | entry node (0 when n = 0) |
//! | 44 | u32 | max level |
//! | 48 | u32 | U, the number of upper-level lists |
//! | 52 | u32 | zero |
//! | 56 | u32 | calibrated ef (0: not calibrated); from version 2 |
//! | 60 | u32 | nodes that beam scores, mean over the sample; from version 2 |
//!
//! Version 1 (before calibration, `calibrate.rs`) has the same layout with a 56-byte header
//! and still loads, uncalibrated.
//!
//! Then, back to back: `levels` (n bytes, zero-padded to a multiple of 4), `upper_off`
//! (n × u32), `level0` (n × (1 + 2M) × u32), `upper` (U × (1 + M) × u32). Each list is a count
//! followed by its capacity of slots; slots past the count are zero. Word arrays therefore
//! start at 4-byte offsets from the start of the blob, though [`decode`] does not require the
//! blob itself to be aligned. No checksum: the segment that holds the graph has its own.

use super::{Calibration, Hnsw, HnswConfig, HnswView, MAX_LEVEL, MAX_M, Words};
use crate::distance::Metric;
use crate::error::{Error, Result};
use crate::index::{check_prelude, u32_at};

/// Bytes before the arrays.
pub(crate) const HEADER: usize = 64;
/// Bytes before the arrays in version 1.
const HEADER_V1: usize = 56;
/// The current layout version.
pub(crate) const VERSION: u32 = 2;
const MAGIC: [u8; 4] = *b"LHNW";

pub(super) fn encode(g: &Hnsw) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + g.graph_bytes());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&[g.metric.code(), 0, 0, 0]);
    let upper_lists = g.upper.len() / (g.config.m as usize + 1);
    for w in [
        g.dim,
        g.levels.len() as u32,
        g.config.m,
        g.config.ef_construction,
        g.config.ef_search,
    ] {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out.extend_from_slice(&g.config.seed.to_le_bytes());
    for w in [
        g.entry,
        u32::from(g.max_level),
        upper_lists as u32,
        0,
        g.calibration.ef,
        g.calibration.scored,
    ] {
        out.extend_from_slice(&w.to_le_bytes());
    }
    debug_assert_eq!(out.len(), HEADER);
    out.extend_from_slice(&g.levels);
    out.resize(out.len().next_multiple_of(4), 0);
    for w in g.upper_off.iter().chain(&g.level0).chain(&g.upper) {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out
}

fn corrupt(reason: impl Into<String>) -> Error {
    Error::Corrupt {
        what: "HNSW graph".into(),
        reason: reason.into(),
    }
}

pub(super) fn decode(b: &[u8]) -> Result<HnswView<'_>> {
    let view = decode_header(b)?;
    validate(&view, b)?;
    Ok(view)
}

/// The view of bytes [`decode`] accepted before: reads the header only (O(1)). On bytes that
/// were never validated it cannot panic either (reads out of range yield no neighbours), but
/// searches may then return nonsense.
pub(super) fn decode_trusted(b: &[u8]) -> Result<HnswView<'_>> {
    decode_header(b)
}

fn decode_header(b: &[u8]) -> Result<HnswView<'_>> {
    let version = if u32_at(b, 4) == 1 { 1 } else { VERSION };
    let header = if version == 1 { HEADER_V1 } else { HEADER };
    check_prelude(b, header, &MAGIC, version).map_err(corrupt)?;
    let calibration = if version == 1 {
        Calibration::default()
    } else {
        Calibration {
            ef: u32_at(b, 56),
            scored: u32_at(b, 60),
        }
    };
    if (calibration.ef == 0) != (calibration.scored == 0) {
        return Err(corrupt("calibration with only one of ef and scored"));
    }
    let metric =
        Metric::from_code(b[8]).ok_or_else(|| corrupt(format!("unknown metric code {}", b[8])))?;
    if b[9..12] != [0, 0, 0] || u32_at(b, 52) != 0 {
        return Err(corrupt("reserved header bytes are not zero"));
    }
    let dim = u32_at(b, 12);
    let n = u32_at(b, 16);
    let config = HnswConfig {
        m: u32_at(b, 20),
        ef_construction: u32_at(b, 24),
        ef_search: u32_at(b, 28),
        seed: u64::from(u32_at(b, 32)) | (u64::from(u32_at(b, 36)) << 32),
    };
    let entry = u32_at(b, 40);
    let max_level = u32_at(b, 44);
    let upper_lists = u32_at(b, 48);
    if dim == 0 {
        return Err(corrupt("dimension 0"));
    }
    if !(2..=MAX_M).contains(&config.m) || config.ef_construction == 0 || config.ef_search == 0 {
        return Err(corrupt(format!(
            "parameters out of range: m {}, ef_construction {}, ef_search {}",
            config.m, config.ef_construction, config.ef_search
        )));
    }
    if max_level > u32::from(MAX_LEVEL) {
        return Err(corrupt(format!("max level {max_level} above {MAX_LEVEL}")));
    }
    let max_level = max_level as u8;
    let (m, m0) = (u64::from(config.m), u64::from(config.m0()));
    let nn = u64::from(n);
    // Sizes in u64: no product of two u32 values overflows it.
    let levels_len = nn.next_multiple_of(4);
    let level0_words = nn * (m0 + 1);
    let upper_words = u64::from(upper_lists) * (m + 1);
    let want = header as u64 + levels_len + 4 * (nn + level0_words + upper_words);
    if b.len() as u64 != want {
        return Err(corrupt(format!(
            "{} bytes, but the header describes {want} (n {n}, m {}, {upper_lists} upper lists)",
            b.len(),
            config.m
        )));
    }
    // `want` equals the real length, so every section below fits in usize.
    let mut at = header;
    let levels = &b[at..at + n as usize];
    at += levels_len as usize;
    let upper_off = Words::Le(&b[at..at + 4 * n as usize]);
    at += 4 * n as usize;
    let level0 = Words::Le(&b[at..at + 4 * level0_words as usize]);
    at += 4 * level0_words as usize;
    let upper = Words::Le(&b[at..]);

    if n == 0 {
        if entry != 0 || max_level != 0 || upper_lists != 0 {
            return Err(corrupt("an empty graph with an entry point or upper lists"));
        }
    } else {
        if entry >= n {
            return Err(corrupt(format!("entry point {entry} out of range (n {n})")));
        }
        if levels[entry as usize] != max_level {
            return Err(corrupt("the entry point is not on the top level"));
        }
    }
    if b[header + n as usize..header + levels_len as usize]
        .iter()
        .any(|&x| x != 0)
    {
        return Err(corrupt("level padding is not zero"));
    }
    Ok(HnswView {
        config,
        metric,
        dim,
        n,
        entry,
        max_level,
        upper_off,
        level0,
        upper,
        calibration,
    })
}

/// Checks every node's level, upper-list offset, counts and neighbour ids.
fn validate(view: &HnswView<'_>, b: &[u8]) -> Result<()> {
    let (n, max_level, config) = (view.n, view.max_level, view.config);
    let (upper_off, level0, upper) = (view.upper_off, view.level0, view.upper);
    let header = if u32_at(b, 4) == 1 { HEADER_V1 } else { HEADER };
    let levels = &b[header..header + n as usize];
    let (m, m0) = (u64::from(config.m), u64::from(config.m0()));
    let upper_lists = u32_at(b, 48);
    let upper_words = u64::from(upper_lists) * (m + 1);
    let mut links = Vec::with_capacity(m0 as usize);
    for node in 0..n {
        let level = levels[node as usize];
        if level > max_level {
            return Err(corrupt(format!(
                "node {node} has level {level} above the top {max_level}"
            )));
        }
        if level > 0 {
            let first = u64::from(upper_off.get(node as usize));
            if first + u64::from(level) > u64::from(upper_lists) {
                return Err(corrupt(format!("node {node}: upper lists past the end")));
            }
        }
        for l in 0..=level {
            let (words, base, cap) = if l == 0 {
                (&level0, node as usize * (m0 as usize + 1), m0)
            } else {
                let list = upper_off.get(node as usize) as usize + l as usize - 1;
                (&upper, list * (m as usize + 1), m)
            };
            let count = words.get(base);
            if u64::from(count) > cap {
                return Err(corrupt(format!(
                    "node {node} level {l}: {count} neighbours, capacity {cap}"
                )));
            }
            view.neighbors(node, l, &mut links);
            for &u in &links {
                if u >= n || levels[u as usize] < l {
                    return Err(corrupt(format!("node {node} level {l}: bad neighbour {u}")));
                }
            }
        }
    }
    debug_assert_eq!(upper.len() as u64, upper_words);
    Ok(())
}
