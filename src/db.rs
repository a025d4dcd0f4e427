//! Indexes, their namespaces, and the validated operations on them.
//!
//! [`Db`] is the control plane (create / describe / list / configure / delete indexes);
//! [`Index`] is the data plane of one index. Every operation validates its whole input before
//! changing anything, so a rejected request leaves the index exactly as it was.

use std::collections::{BTreeMap, HashSet};
use std::ops::Bound;

use crate::config::{DeletionProtection, IndexConfig, ReadCapacity, VectorType};
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::metadata::Metadata;
use crate::namespace::{Namespace, QueryVector};
use crate::record::{self, Record, SparseVector};

/// Most records one upsert may carry.
pub const MAX_UPSERT_RECORDS: usize = 1000;
/// Most ids one fetch or delete may name.
pub const MAX_IDS_PER_REQUEST: usize = 1000;
/// Largest `topK`.
pub const MAX_TOP_K: usize = 10_000;
/// Longest namespace name.
pub const MAX_NAMESPACE_LEN: usize = 512;
/// The name the default namespace is stored and reported under.
pub const DEFAULT_NAMESPACE: &str = "__default__";

/// Maps `""` and `"__default__"` to the one default namespace and checks the name.
pub fn canonical_namespace(name: &str) -> Result<&str> {
    if name.is_empty() {
        return Ok(DEFAULT_NAMESPACE);
    }
    if name.len() > MAX_NAMESPACE_LEN || !name.is_ascii() || name.contains('\0') {
        return Err(Error::invalid(format!(
            "Invalid namespace name '{}': namespaces must be at most {MAX_NAMESPACE_LEN} ASCII \
             characters without the null character",
            record::truncate_for_message(name)
        )));
    }
    Ok(name)
}

/// All indexes.
#[derive(Debug, Default)]
pub struct Db {
    indexes: BTreeMap<String, Index>,
}

/// A change to an index's configuration (`configure_index`). `None` leaves a field as is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigureIndex {
    pub deletion_protection: Option<DeletionProtection>,
    /// Merged into the existing tags; a key set to `""` is removed.
    pub tags: Option<BTreeMap<String, String>>,
    pub read_capacity: Option<ReadCapacity>,
}

impl Db {
    /// An empty database.
    pub fn new() -> Self {
        Db::default()
    }

    /// Creates an index. Fails when the name is taken or the configuration is invalid.
    pub fn create_index(&mut self, config: IndexConfig) -> Result<&IndexConfig> {
        config.validate()?;
        if self.indexes.contains_key(&config.name) {
            return Err(Error::IndexAlreadyExists { name: config.name });
        }
        let name = config.name.clone();
        let index = self.indexes.entry(name).or_insert(Index::new(config));
        Ok(&index.config)
    }

    /// The configuration of every index, by name.
    pub fn list_indexes(&self) -> impl Iterator<Item = &IndexConfig> {
        self.indexes.values().map(|i| &i.config)
    }

    /// One index.
    pub fn index(&self, name: &str) -> Result<&Index> {
        self.indexes.get(name).ok_or_else(|| Error::IndexNotFound {
            name: name.to_string(),
        })
    }

    /// One index, mutably.
    pub fn index_mut(&mut self, name: &str) -> Result<&mut Index> {
        self.indexes
            .get_mut(name)
            .ok_or_else(|| Error::IndexNotFound {
                name: name.to_string(),
            })
    }

    /// Applies a configuration change.
    pub fn configure_index(&mut self, name: &str, change: ConfigureIndex) -> Result<&IndexConfig> {
        let index = self.index_mut(name)?;
        let mut config = index.config.clone();
        if let Some(dp) = change.deletion_protection {
            config.deletion_protection = dp;
        }
        if let Some(tags) = change.tags {
            for (k, v) in tags {
                if v.is_empty() {
                    config.tags.remove(&k);
                } else {
                    config.tags.insert(k, v);
                }
            }
        }
        if let Some(rc) = change.read_capacity {
            config.read_capacity = rc;
        }
        config.validate()?;
        index.config = config;
        Ok(&index.config)
    }

    /// Deletes an index and all its data; refused while deletion protection is enabled.
    pub fn delete_index(&mut self, name: &str) -> Result<()> {
        let index = self.index(name)?;
        if index.config.deletion_protection == DeletionProtection::Enabled {
            return Err(Error::DeletionProtected {
                name: name.to_string(),
            });
        }
        self.indexes.remove(name);
        Ok(())
    }
}

/// A record as an upsert carries it, before validation against the index.
pub type UpsertRecord = Record;

/// What `delete` removes.
#[derive(Debug, Clone, PartialEq)]
pub enum DeleteSelector {
    Ids(Vec<String>),
    All,
    Filter(Filter),
}

/// A query against one namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub vector: QuerySource,
    pub top_k: usize,
    pub filter: Option<Filter>,
    pub include_values: bool,
    pub include_metadata: bool,
}

/// Where a query's vector comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum QuerySource {
    Vector(QueryVector),
    Id(String),
}

/// One query result.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub id: String,
    pub score: f32,
    pub values: Option<Vec<f32>>,
    pub sparse_values: Option<SparseVector>,
    pub metadata: Option<Metadata>,
}

/// A page of ids (or records) and the id to continue after.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_after: Option<String>,
}

/// Per-namespace record counts and index facts.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexStats {
    pub namespaces: Vec<(String, usize)>,
    pub total: usize,
}

/// One index: its configuration and its namespaces.
#[derive(Debug, Clone)]
pub struct Index {
    config: IndexConfig,
    namespaces: BTreeMap<String, Namespace>,
}

impl Index {
    fn new(config: IndexConfig) -> Self {
        Index {
            config,
            namespaces: BTreeMap::new(),
        }
    }

    /// The index configuration.
    pub fn config(&self) -> &IndexConfig {
        &self.config
    }

    fn dimension(&self) -> usize {
        self.config.vector_type.dimension().unwrap_or(0) as usize
    }

    /// A namespace, if it exists.
    pub fn namespace(&self, name: &str) -> Result<Option<&Namespace>> {
        Ok(self.namespaces.get(canonical_namespace(name)?))
    }

    fn require_namespace(&self, name: &str) -> Result<&Namespace> {
        let canon = canonical_namespace(name)?;
        self.namespaces
            .get(canon)
            .ok_or_else(|| Error::NamespaceNotFound {
                name: canon.to_string(),
            })
    }

    fn require_namespace_mut(&mut self, name: &str) -> Result<&mut Namespace> {
        let canon = canonical_namespace(name)?;
        self.namespaces
            .get_mut(canon)
            .ok_or_else(|| Error::NamespaceNotFound {
                name: canon.to_string(),
            })
    }

    /// Inserts or replaces records; creates the namespace on first use. Returns how many
    /// records were upserted. Nothing changes unless every record is valid.
    pub fn upsert(&mut self, namespace: &str, records: Vec<UpsertRecord>) -> Result<usize> {
        let canon = canonical_namespace(namespace)?.to_string();
        if records.is_empty() || records.len() > MAX_UPSERT_RECORDS {
            return Err(Error::invalid(format!(
                "An upsert must carry between 1 and {MAX_UPSERT_RECORDS} vectors, got {}",
                records.len()
            )));
        }
        let mut seen = HashSet::with_capacity(records.len());
        for r in &records {
            self.validate_record(r)?;
            if !seen.insert(r.id.as_str()) {
                return Err(Error::DuplicateId { id: r.id.clone() });
            }
        }
        let n = records.len();
        let (dim, metric) = (self.dimension(), self.config.metric);
        self.namespaces
            .entry(canon)
            .or_insert_with(|| Namespace::new(dim, metric))
            .upsert(records);
        Ok(n)
    }

    fn validate_record(&self, r: &Record) -> Result<()> {
        record::validate_id(&r.id)?;
        match self.config.vector_type {
            VectorType::Dense { dimension } => {
                if r.values.len() != dimension as usize {
                    return Err(Error::DimensionMismatch {
                        expected: dimension,
                        got: r.values.len(),
                    });
                }
                record::validate_values(&r.id, &r.values)?;
                if r.sparse_values.is_some() && !self.supports_hybrid() {
                    return Err(Error::invalid(format!(
                        "Sparse values are supported only for dense indexes with the dotproduct \
                         metric; this index uses {}",
                        self.config.metric.as_str()
                    )));
                }
            }
            VectorType::Sparse => {
                if !r.values.is_empty() {
                    return Err(Error::invalid(
                        "Upserting dense vectors is not supported for sparse indexes",
                    ));
                }
                match &r.sparse_values {
                    Some(sv) if !sv.is_empty() => {}
                    _ => {
                        return Err(Error::invalid(format!(
                            "Sparse vector for id '{}' must have at least one non-zero value",
                            record::truncate_for_message(&r.id)
                        )));
                    }
                }
            }
        }
        if let Some(md) = &r.metadata {
            md.check_size()?;
        }
        Ok(())
    }

    fn supports_hybrid(&self) -> bool {
        self.config.metric == crate::distance::Metric::DotProduct
    }

    /// Overwrites values, sparse values and/or merges metadata of one record. Returns the
    /// number of records matched (0 or 1); a missing namespace or id matches nothing.
    pub fn update(
        &mut self,
        namespace: &str,
        id: &str,
        values: Option<Vec<f32>>,
        sparse_values: Option<SparseVector>,
        set_metadata: Option<Metadata>,
    ) -> Result<usize> {
        record::validate_id(id)?;
        let probe = Record {
            id: id.to_string(),
            values: values.clone().unwrap_or_default(),
            sparse_values: sparse_values.clone(),
            metadata: None,
        };
        match self.config.vector_type {
            VectorType::Dense { .. } if values.is_some() || sparse_values.is_some() => {
                let mut probe = probe;
                if values.is_none() {
                    probe.values = vec![1.0; self.dimension()];
                }
                self.validate_record(&probe)?;
            }
            VectorType::Sparse if values.is_some() || sparse_values.is_some() => {
                self.validate_record(&probe)?;
            }
            _ => {}
        }
        let canon = canonical_namespace(namespace)?;
        let Some(ns) = self.namespaces.get_mut(canon) else {
            return Ok(0);
        };
        // The merged metadata must respect the size limit too.
        if let (Some(md), Some(slot)) = (&set_metadata, ns.slot_of(id)) {
            let mut merged = ns.metadata(slot).cloned().unwrap_or_default();
            merged.merge(md);
            merged.check_size()?;
        }
        Ok(usize::from(ns.update(id, values, sparse_values, set_metadata.as_ref())))
    }

    /// Merges metadata into every record matching `filter`; with `dry_run` only counts.
    pub fn update_where(
        &mut self,
        namespace: &str,
        filter: &Filter,
        set_metadata: &Metadata,
        dry_run: bool,
    ) -> Result<usize> {
        let canon = canonical_namespace(namespace)?;
        let Some(ns) = self.namespaces.get_mut(canon) else {
            return Ok(0);
        };
        if dry_run {
            return Ok(ns.count(Some(filter)));
        }
        Ok(ns.update_where(filter, set_metadata))
    }

    /// Fetches records by id; unknown ids are omitted.
    pub fn fetch(&self, namespace: &str, ids: &[String]) -> Result<Vec<Record>> {
        if ids.is_empty() || ids.len() > MAX_IDS_PER_REQUEST {
            return Err(Error::invalid(format!(
                "A fetch must name between 1 and {MAX_IDS_PER_REQUEST} ids, got {}",
                ids.len()
            )));
        }
        for id in ids {
            record::validate_id(id)?;
        }
        let Some(ns) = self.namespace(namespace)? else {
            return Ok(Vec::new());
        };
        Ok(ids
            .iter()
            .filter_map(|id| ns.slot_of(id))
            .map(|slot| ns.record(slot))
            .collect())
    }

    /// Records matching `filter`, in id order, at most `limit`, after id `after`.
    pub fn fetch_where(
        &self,
        namespace: &str,
        filter: &Filter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Record>> {
        let Some(ns) = self.namespace(namespace)? else {
            return Ok(Page {
                items: Vec::new(),
                next_after: None,
            });
        };
        let (slots, more) = ns.scan_ids_where(filter, after, limit);
        let items: Vec<Record> = slots.into_iter().map(|s| ns.record(s)).collect();
        let next_after = if more {
            items.last().map(|r| r.id.clone())
        } else {
            None
        };
        Ok(Page { items, next_after })
    }

    /// Ids with `prefix` in lexicographic order, `limit` per page, after id `after`.
    pub fn list(
        &self,
        namespace: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<String>> {
        let Some(ns) = self.namespace(namespace)? else {
            return Ok(Page {
                items: Vec::new(),
                next_after: None,
            });
        };
        let (ids, more) = ns.list(prefix, after, limit);
        let items: Vec<String> = ids.into_iter().map(str::to_string).collect();
        let next_after = if more { items.last().cloned() } else { None };
        Ok(Page { items, next_after })
    }

    /// Deletes records. Deleting everything drops the namespace. A missing namespace is an
    /// error, as in Pinecone's serverless indexes. Returns the number of records deleted.
    pub fn delete(&mut self, namespace: &str, selector: &DeleteSelector) -> Result<usize> {
        if let DeleteSelector::Ids(ids) = selector {
            if ids.is_empty() || ids.len() > MAX_IDS_PER_REQUEST {
                return Err(Error::invalid(format!(
                    "A delete must name between 1 and {MAX_IDS_PER_REQUEST} ids, got {}",
                    ids.len()
                )));
            }
            for id in ids {
                record::validate_id(id)?;
            }
        }
        let ns = self.require_namespace_mut(namespace)?;
        Ok(match selector {
            DeleteSelector::Ids(ids) => ns.delete_ids(ids.iter().map(String::as_str)),
            DeleteSelector::Filter(f) => ns.delete_where(f),
            DeleteSelector::All => {
                let n = ns.len();
                let canon = canonical_namespace(namespace)?.to_string();
                self.namespaces.remove(&canon);
                n
            }
        })
    }

    /// Runs a query. A missing namespace, or a query id that is not stored, yields no matches.
    pub fn query(&self, namespace: &str, query: &Query) -> Result<Vec<Match>> {
        if !(1..=MAX_TOP_K).contains(&query.top_k) {
            return Err(Error::invalid(format!(
                "Invalid value for topK: {}. topK must be between 1 and {MAX_TOP_K}",
                query.top_k
            )));
        }
        if let QuerySource::Vector(v) = &query.vector {
            self.validate_query_vector(v)?;
        }
        let Some(ns) = self.namespace(namespace)? else {
            return Ok(Vec::new());
        };
        let owned;
        let qv = match &query.vector {
            QuerySource::Vector(v) => v,
            QuerySource::Id(id) => {
                record::validate_id(id)?;
                let Some(slot) = ns.slot_of(id) else {
                    return Ok(Vec::new());
                };
                owned = match self.config.vector_type {
                    VectorType::Dense { .. } => QueryVector {
                        values: Some(ns.values(slot).to_vec()),
                        sparse_values: None,
                    },
                    VectorType::Sparse => QueryVector {
                        values: None,
                        sparse_values: ns.sparse_values(slot).cloned(),
                    },
                };
                &owned
            }
        };
        let scored = ns.query(qv, query.top_k, query.filter.as_ref());
        Ok(scored
            .into_iter()
            .map(|s| Match {
                id: ns.id(s.slot).to_string(),
                score: s.score,
                values: query.include_values.then(|| ns.values(s.slot).to_vec()),
                sparse_values: if query.include_values {
                    ns.sparse_values(s.slot).cloned()
                } else {
                    None
                },
                metadata: if query.include_metadata {
                    ns.metadata(s.slot).cloned()
                } else {
                    None
                },
            })
            .collect())
    }

    fn validate_query_vector(&self, v: &QueryVector) -> Result<()> {
        match (self.config.vector_type, &v.values, &v.sparse_values) {
            (_, None, None) => Err(Error::invalid(
                "A query must specify exactly one of 'vector', 'sparseVector' or 'id'",
            )),
            (VectorType::Dense { dimension }, Some(values), sv) => {
                if values.len() != dimension as usize {
                    return Err(Error::DimensionMismatch {
                        expected: dimension,
                        got: values.len(),
                    });
                }
                if let Some(x) = values.iter().find(|x| !x.is_finite()) {
                    return Err(Error::invalid(format!(
                        "Query vector values must be finite numbers, got {x}"
                    )));
                }
                if sv.is_some() && !self.supports_hybrid() {
                    return Err(Error::invalid(format!(
                        "Sparse vectors are supported in queries only for indexes with the \
                         dotproduct metric; this index uses {}",
                        self.config.metric.as_str()
                    )));
                }
                Ok(())
            }
            (VectorType::Dense { .. }, None, Some(_)) => Err(Error::invalid(
                "A query on a dense index must include a dense 'vector' (or an 'id')",
            )),
            (VectorType::Sparse, Some(_), _) => Err(Error::invalid(
                "Querying with dense vectors is not supported for sparse indexes",
            )),
            (VectorType::Sparse, None, Some(_)) => Ok(()),
        }
    }

    /// Record counts per namespace (matching `filter`, if given).
    pub fn stats(&self, filter: Option<&Filter>) -> IndexStats {
        let namespaces: Vec<(String, usize)> = self
            .namespaces
            .iter()
            .map(|(name, ns)| (name.clone(), ns.count(filter)))
            .filter(|(_, n)| filter.is_none() || *n > 0)
            .collect();
        let total = namespaces.iter().map(|(_, n)| n).sum();
        IndexStats { namespaces, total }
    }

    /// Namespaces whose names start with `prefix`, in byte order, after `after`.
    pub fn list_namespaces(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Page<(String, usize)> {
        let start = match after {
            Some(a) if a >= prefix => Bound::Excluded(a),
            _ => Bound::Included(prefix),
        };
        let mut iter = self
            .namespaces
            .range::<str, _>((start, Bound::Unbounded))
            .take_while(|(name, _)| name.starts_with(prefix))
            .map(|(name, ns)| (name.clone(), ns.len()));
        let items: Vec<(String, usize)> = iter.by_ref().take(limit).collect();
        let more = iter.next().is_some();
        let next_after = if more {
            items.last().map(|(n, _)| n.clone())
        } else {
            None
        };
        Page { items, next_after }
    }

    /// Number of namespaces whose names start with `prefix`.
    pub fn count_namespaces(&self, prefix: &str) -> usize {
        self.namespaces
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|(name, _)| name.starts_with(prefix))
            .count()
    }

    /// Record count of one namespace.
    pub fn describe_namespace(&self, namespace: &str) -> Result<(String, usize)> {
        let ns = self.require_namespace(namespace)?;
        Ok((canonical_namespace(namespace)?.to_string(), ns.len()))
    }

    /// Creates an empty namespace explicitly.
    pub fn create_namespace(&mut self, namespace: &str) -> Result<String> {
        let canon = canonical_namespace(namespace)?.to_string();
        if self.namespaces.contains_key(&canon) {
            return Err(Error::NamespaceAlreadyExists { name: canon });
        }
        let ns = Namespace::new(self.dimension(), self.config.metric);
        self.namespaces.insert(canon.clone(), ns);
        Ok(canon)
    }

    /// Drops a namespace and all its records at once.
    pub fn delete_namespace(&mut self, namespace: &str) -> Result<()> {
        let canon = canonical_namespace(namespace)?.to_string();
        self.namespaces
            .remove(&canon)
            .map(|_| ())
            .ok_or(Error::NamespaceNotFound { name: canon })
    }

    /// The LSN of a namespace's last write (0 if it does not exist).
    pub fn namespace_lsn(&self, namespace: &str) -> u64 {
        canonical_namespace(namespace)
            .ok()
            .and_then(|n| self.namespaces.get(n))
            .map_or(0, Namespace::lsn)
    }

    /// Approximate bytes stored in a namespace.
    pub fn namespace_bytes(&self, namespace: &str) -> usize {
        canonical_namespace(namespace)
            .ok()
            .and_then(|n| self.namespaces.get(n))
            .map_or(0, Namespace::approximate_bytes)
    }
}
