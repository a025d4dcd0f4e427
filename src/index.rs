//! Search structures over one namespace's records.
//!
//! `flat` is the exact scan (memtable, small segments, selective filters and the recall oracle);
//! `hnsw` is the approximate graph index of sealed segments (searched in place from bytes);
//! `quant` is its int8 representation; `sparse` scores sparse vectors.

pub mod dense;
pub mod flat;
pub mod hnsw;
pub mod quant;
pub mod sparse;

/// A little-endian `u32` of a stored layout (0 past the end: callers check lengths first).
pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

/// Checks the prelude the stored layouts of `hnsw` and `quant` share: at least `header` bytes,
/// `magic` at 0, `version` at 4. Returns why not.
pub(crate) fn check_prelude(
    b: &[u8],
    header: usize,
    magic: &[u8; 4],
    version: u32,
) -> std::result::Result<(), String> {
    if b.len() < header {
        return Err(format!(
            "{} bytes, shorter than the {header}-byte header",
            b.len()
        ));
    }
    if b[..4] != magic[..] {
        return Err("bad magic".into());
    }
    match u32_at(b, 4) {
        v if v == version => Ok(()),
        v => Err(format!("unknown version {v} (this build reads {version})")),
    }
}
