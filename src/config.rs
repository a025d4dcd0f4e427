//! Index configuration: what `create_index` sets and `describe_index` reports, and the
//! user-tunable namespace settings ([`StorageConfig`]: sealing and compaction; [`AnnConfig`]:
//! approximate search and background work), re-exported from [`crate::namespace`].

use std::collections::BTreeMap;

use crate::distance::Metric;
use crate::error::{Error, Result};
use crate::index::hnsw::HnswConfig;

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

/// Read capacity of a serverless index (Pinecone's dedicated read nodes). `replicas: 0`
/// pauses the index (every data-plane request is refused); the Worker spreads each namespace
/// of a `Dedicated` index over `shards` objects (`api::shard_step`).
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

impl ReadCapacity {
    /// The shards a namespace of the index spreads over: 1 on demand.
    pub fn shards(&self) -> u32 {
        match self {
            ReadCapacity::OnDemand => 1,
            ReadCapacity::Dedicated { shards, .. } => (*shards).max(1),
        }
    }

    /// True when the index is paused (`Dedicated` with 0 replicas).
    pub fn paused(&self) -> bool {
        matches!(self, ReadCapacity::Dedicated { replicas: 0, .. })
    }
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
    /// Integrated embedding: the model that embeds the records' text (`create-for-model`,
    /// or `configure_index` with `embed`); `None` for a vectors-only index.
    pub embed: Option<EmbedConfig>,
}

/// An index's integrated embedding (Pinecone's `embed`): the model, the record field whose
/// text it embeds (`field_map.text`), and the parameters used when upserting (`write`) and
/// searching (`read`), e.g. `{"input_type": "passage", "truncate": "END"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbedConfig {
    pub model: String,
    pub field: String,
    pub read_parameters: serde_json::Map<String, serde_json::Value>,
    pub write_parameters: serde_json::Map<String, serde_json::Value>,
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
            embed: None,
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

/// When to seal and compact. User-tunable; the defaults suit browsers and Workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageConfig {
    /// Seal the memtable into a segment at this many records.
    pub seal_records: usize,
    /// Seal at this many unsealed write-log entries (bounds replay work at load).
    pub max_log_entries: usize,
    /// Merge the smallest segments when there are more than this many.
    pub max_segments: usize,
    /// Bytes of row groups of paged segments a namespace keeps in memory between requests
    /// (least recently used dropped first; a request may read more, dropped when it ends).
    pub row_cache_bytes: usize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            seal_records: 10_000,
            max_log_entries: 64,
            max_segments: 8,
            row_cache_bytes: 16 << 20,
        }
    }
}

/// Approximate search of sealed segments. User-tunable; kept apart from [`StorageConfig`] so
/// code that spells that struct out keeps compiling.
///
/// A segment of at least `min_records` records gets an HNSW graph, built in bounded steps by
/// [`Namespace::index_step`] (never during a write), persisted with the segment by the next
/// [`Namespace::commit`] and loaded with it (no rebuild). Until its graph is ready a segment is
/// searched exactly, so results are correct at every moment. The same holds for int8 codes
/// ([`AnnConfig::int8`]): quantized by `index_step` once the graph is ready, persisted, loaded.
///
/// [`Namespace::index_step`]: crate::namespace::Namespace::index_step
/// [`Namespace::commit`]: crate::namespace::Namespace::commit
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnConfig {
    /// Segments smaller than this stay exact-scan (`usize::MAX`: never build graphs).
    pub min_records: usize,
    /// Graph parameters; `hnsw.ef_search` is the query beam (raised to `k`).
    pub hnsw: HnswConfig,
    /// Also keep int8 codes ([`Int8Index`]) of every segment whose graph is ready, and search
    /// dense queries on them with f32 rescoring, so scores stay exact. The codes are quantized
    /// by [`Namespace::index_step`] (never at load), stored with the segment by the next
    /// [`Namespace::commit`] and read back by [`Namespace::load`]; until they are ready a
    /// segment searches its graph on f32. Off, codes are neither read nor kept, and stored
    /// ones become garbage at the next commit.
    ///
    /// [`Int8Index`]: crate::index::quant::Int8Index
    /// [`Namespace::index_step`]: crate::namespace::Namespace::index_step
    /// [`Namespace::commit`]: crate::namespace::Namespace::commit
    /// [`Namespace::load`]: crate::namespace::Namespace::load
    pub int8: bool,
    /// Consolidate the sealed segments into one while their live records' vectors take at most
    /// this many bytes, 4 per dimension per record (0: never; the default, 256 MiB, is 174k
    /// records at 384 dimensions, 1.3M at 50). A query searches every segment's graph, so
    /// fewer, larger segments answer faster at the same recall. [`Namespace::index_step`]
    /// starts a consolidation when no other index work is pending and the segments other than
    /// the largest hold at least half as many live records as it does (so each record is
    /// rebuilt a logarithmic number of times); it copies their live records into a new segment and builds its graph in bounded
    /// steps while the old segments keep answering, then swaps it in, carrying over the
    /// deletes and overwrites made meanwhile. Memory peaks at about twice the segments' size.
    /// The same limit caps the merges that keep the segment count at
    /// [`StorageConfig::max_segments`] (0 leaves those uncapped): no merge makes a segment
    /// whose rows take more than `merge_bytes`, so a large namespace may keep more segments.
    ///
    /// [`Namespace::index_step`]: crate::namespace::Namespace::index_step
    pub merge_bytes: usize,
    /// Let each graph's calibration choose the query beam and the plan (on by default):
    /// `hnsw.ef_search` is then a floor, raised to the beam the graph's build measured for a
    /// sample recall@10 of 0.97 (scaled with `k`), and a segment whose graph needs a beam that
    /// costs more than scanning it is scanned ([`Calibration`]). Off, queries use
    /// `max(ef_search, k)` and the planner's cost model alone (tests and benchmarks that
    /// sweep `ef`).
    ///
    /// [`Calibration`]: crate::index::hnsw::Calibration
    pub auto_ef: bool,
}

impl Default for AnnConfig {
    fn default() -> Self {
        AnnConfig {
            min_records: 2048,
            hnsw: HnswConfig::default(),
            int8: false,
            merge_bytes: 256 << 20,
            auto_ef: true,
        }
    }
}

impl AnnConfig {
    /// Never build graphs: every query is an exact scan.
    pub fn disabled() -> Self {
        AnnConfig {
            min_records: usize::MAX,
            ..AnnConfig::default()
        }
    }
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
