//! Index configuration: what `create_index` sets and `describe_index` reports.

use std::collections::BTreeMap;

use crate::distance::Metric;
use crate::error::{Error, Result};

/// Largest dense dimension Pinecone accepts.
pub const MAX_DIMENSION: u32 = 20_000;
/// Longest index name.
pub const MAX_INDEX_NAME_LEN: usize = 45;

/// Dense (fixed dimension) or sparse (dotproduct only, no dimension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorType {
    Dense { dimension: u32 },
    Sparse,
}

impl VectorType {
    /// Pinecone's spelling of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            VectorType::Dense { .. } => "dense",
            VectorType::Sparse => "sparse",
        }
    }

    /// The dense dimension, if any.
    pub fn dimension(self) -> Option<u32> {
        match self {
            VectorType::Dense { dimension } => Some(dimension),
            VectorType::Sparse => None,
        }
    }
}

/// Whether `delete_index` is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeletionProtection {
    #[default]
    Disabled,
    Enabled,
}

impl DeletionProtection {
    /// Pinecone's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DeletionProtection::Disabled => "disabled",
            DeletionProtection::Enabled => "enabled",
        }
    }

    /// Parses `enabled` / `disabled`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "disabled" => Ok(DeletionProtection::Disabled),
            "enabled" => Ok(DeletionProtection::Enabled),
            other => Err(Error::invalid(format!(
                "Invalid value for deletion_protection: '{other}'. Expected 'enabled' or 'disabled'."
            ))),
        }
    }
}

/// Read capacity of a serverless index (Pinecone's dedicated read nodes). Larch records and
/// reports the setting; a later issue gives it behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ReadCapacity {
    #[default]
    OnDemand,
    Dedicated {
        node_type: String,
        replicas: u32,
        shards: u32,
    },
}

/// Everything that describes an index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexConfig {
    pub name: String,
    pub vector_type: VectorType,
    pub metric: Metric,
    pub deletion_protection: DeletionProtection,
    pub tags: BTreeMap<String, String>,
    pub cloud: String,
    pub region: String,
    pub read_capacity: ReadCapacity,
}

impl IndexConfig {
    /// A dense serverless index on aws/us-east-1 with default settings.
    pub fn dense(name: impl Into<String>, dimension: u32, metric: Metric) -> Self {
        IndexConfig {
            name: name.into(),
            vector_type: VectorType::Dense { dimension },
            metric,
            deletion_protection: DeletionProtection::Disabled,
            tags: BTreeMap::new(),
            cloud: "aws".into(),
            region: "us-east-1".into(),
            read_capacity: ReadCapacity::OnDemand,
        }
    }

    /// A sparse serverless index (dotproduct).
    pub fn sparse(name: impl Into<String>) -> Self {
        IndexConfig {
            vector_type: VectorType::Sparse,
            metric: Metric::DotProduct,
            ..IndexConfig::dense(name, 1, Metric::DotProduct)
        }
    }

    /// Checks every rule Pinecone applies at creation.
    pub fn validate(&self) -> Result<()> {
        validate_index_name(&self.name)?;
        match self.vector_type {
            VectorType::Dense { dimension } => {
                if !(1..=MAX_DIMENSION).contains(&dimension) {
                    return Err(Error::invalid(format!(
                        "Dimension must be between 1 and {MAX_DIMENSION}, got {dimension}"
                    )));
                }
            }
            VectorType::Sparse => {
                if self.metric != Metric::DotProduct {
                    return Err(Error::invalid(format!(
                        "Sparse vector indexes must use the metric dotproduct, got {}",
                        self.metric.as_str()
                    )));
                }
            }
        }
        validate_cloud(&self.cloud, &self.region)?;
        if self.region.is_empty() {
            return Err(Error::invalid("region must not be empty"));
        }
        validate_tags(&self.tags)
    }
}

/// Pinecone's index name rules: 1–45 characters of `a-z0-9-`, alphanumeric at both ends.
pub fn validate_index_name(name: &str) -> Result<()> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let ends_ok = !name.starts_with('-') && !name.ends_with('-');
    if name.is_empty() || name.len() > MAX_INDEX_NAME_LEN || !ok_chars || !ends_ok {
        return Err(Error::invalid(format!(
            "Invalid index name '{name}': name must be 1-45 characters long, consist of lower \
             case alphanumeric characters or '-', and start and end with an alphanumeric character"
        )));
    }
    Ok(())
}

/// Pinecone's clouds; an unknown one is a 404 "Resource cloud: … region: … not found.", as
/// the control-plane OpenAPI documents. Any region name is accepted: Larch runs wherever its
/// host runs, and the region is only echoed back.
fn validate_cloud(cloud: &str, region: &str) -> Result<()> {
    match cloud {
        "aws" | "gcp" | "azure" => Ok(()),
        other => Err(Error::CloudRegionNotFound {
            cloud: other.to_string(),
            region: region.to_string(),
        }),
    }
}

/// Tag rules: keys up to 80 characters of `A-Za-z0-9_-`; values up to 120 characters of
/// alphanumerics, space and `;@_-.+`.
pub fn validate_tags(tags: &BTreeMap<String, String>) -> Result<()> {
    for (k, v) in tags {
        let key_ok = !k.is_empty()
            && k.len() <= 80
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !key_ok {
            return Err(Error::invalid(format!(
                "Invalid tag key '{k}': keys must be 1-80 characters of letters, digits, '_' or '-'"
            )));
        }
        let value_ok = v.len() <= 120
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b" ;@_-.+".contains(&b));
        if !value_ok {
            return Err(Error::invalid(format!(
                "Invalid tag value '{v}' for key '{k}': values must be at most 120 characters of \
                 letters, digits, spaces or ';@_-.+'"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_names() {
        for ok in ["a", "movies-2024", &"a".repeat(45)] {
            assert!(validate_index_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "Movies", "a_b", &"a".repeat(46)] {
            assert!(validate_index_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dimension_bounds_and_sparse_metric() {
        assert!(
            IndexConfig::dense("a", 0, Metric::Cosine)
                .validate()
                .is_err()
        );
        assert!(
            IndexConfig::dense("a", 20_001, Metric::Cosine)
                .validate()
                .is_err()
        );
        assert!(
            IndexConfig::dense("a", 20_000, Metric::Cosine)
                .validate()
                .is_ok()
        );
        let mut s = IndexConfig::sparse("s");
        assert!(s.validate().is_ok());
        s.metric = Metric::Cosine;
        assert!(s.validate().is_err());
    }
}
