//! Records: an id, dense values, optional sparse values and optional metadata.

use crate::error::{Error, Result};
pub use crate::index::sparse::SparseVector;
use crate::metadata::Metadata;

/// Longest record id Pinecone accepts, in bytes (ids are ASCII, so bytes = characters).
pub const MAX_ID_LEN: usize = 512;

/// Smallest magnitude a dense vector must reach in at least one component.
const MIN_MAGNITUDE: f32 = 1e-8;

/// One record as stored and returned. Sparse indexes keep `values` empty.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Record {
    pub id: String,
    pub values: Vec<f32>,
    pub sparse_values: Option<SparseVector>,
    pub metadata: Option<Metadata>,
}

/// Checks a record id: non-empty, at most [`MAX_ID_LEN`] characters, ASCII without NUL.
pub fn validate_id(id: &str) -> Result<()> {
    let reason = if id.is_empty() {
        "ids must be non-empty strings"
    } else if id.len() > MAX_ID_LEN {
        "ids must be at most 512 characters long"
    } else if !id.is_ascii() {
        "ids must contain only ASCII characters"
    } else if id.contains('\0') {
        "ids must not contain the null character"
    } else {
        return Ok(());
    };
    Err(Error::InvalidId {
        id: truncate_for_message(id),
        reason: reason.into(),
    })
}

/// Checks a dense vector: finite values and at least one non-zero component.
pub fn validate_values(id: &str, values: &[f32]) -> Result<()> {
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        return Err(Error::InvalidVector {
            id: truncate_for_message(id),
            reason: format!(
                "dense vector values must be finite numbers, got {}",
                zmij::Buffer::new().format(*v)
            ),
        });
    }
    if !values.is_empty() && values.iter().all(|v| v.abs() < MIN_MAGNITUDE) {
        return Err(Error::InvalidVector {
            id: truncate_for_message(id),
            reason: "dense vectors must contain at least one non-zero value".into(),
        });
    }
    Ok(())
}

/// Long ids are cut in messages so error bodies stay small.
pub(crate) fn truncate_for_message(s: &str) -> String {
    const KEEP: usize = 64;
    if s.len() <= KEEP {
        return s.to_string();
    }
    let mut end = KEEP;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_rules() {
        assert!(validate_id("a").is_ok());
        assert!(validate_id(&"a".repeat(512)).is_ok());
        assert!(validate_id("").is_err());
        assert!(validate_id(&"a".repeat(513)).is_err());
        assert!(validate_id("é").is_err());
        assert!(validate_id("a\0b").is_err());
    }

    #[test]
    fn value_rules() {
        assert!(validate_values("x", &[0.0, 1.0]).is_ok());
        assert!(validate_values("x", &[0.0, 0.0]).is_err());
        assert!(validate_values("x", &[f32::NAN, 1.0]).is_err());
        assert!(validate_values("x", &[f32::INFINITY]).is_err());
    }
}
