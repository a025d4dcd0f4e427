//! The data plane of one index: validated operations on its namespaces.
//!
//! Every operation validates its whole input before changing anything, so a rejected request
//! leaves the index exactly as it was. Each operation declares what it needs in memory
//! ([`Needs`]) and loads it through [`Index::load`], failing with [`Error::NotLoaded`] when the
//! host has not provided the blobs yet; callers never prepare anything.

use std::collections::HashMap;
use std::ops::Bound;

use super::catalog::Catalog;
use super::{MAX_IDS_PER_REQUEST, MAX_TOP_K, MAX_UPSERT_RECORDS, canonical_namespace};
use crate::config::{IndexConfig, VectorType};
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::metadata::Metadata;
use crate::namespace::{Namespace, QueryVector, StorageConfig};
use crate::record::{self, Record, SparseVector};

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

impl<T> Page<T> {
    /// A page of `items`; when `more`, it continues after the key of its last item.
    pub fn of(items: Vec<T>, more: bool, key: impl Fn(&T) -> String) -> Self {
        let next_after = if more { items.last().map(key) } else { None };
        Page { items, next_after }
    }
}

/// Where a page of names in byte order starts: after `after` if it is within `prefix`'s
/// range, else at `prefix`.
pub fn page_start<'a>(prefix: &'a str, after: Option<&'a str>) -> Bound<&'a str> {
    match after {
        Some(a) if a >= prefix => Bound::Excluded(a),
        _ => Bound::Included(prefix),
    }
}

/// The first `limit` names starting with `prefix` of `names` (in byte order, from the page
/// start), and whether more follow.
pub fn name_page<'a>(
    names: impl Iterator<Item = &'a str>,
    prefix: &str,
    limit: usize,
) -> (Vec<&'a str>, bool) {
    let mut page: Vec<&str> = names
        .take_while(|name| name.starts_with(prefix))
        .take(limit.saturating_add(1))
        .collect();
    let more = page.len() > limit;
    page.truncate(limit);
    (page, more)
}

/// What an operation needs in memory before it runs (see [`Index::load`]).
#[derive(Debug, Clone, Copy)]
pub enum Needs<'a> {
    /// One namespace's records (and the catalog and its manifest).
    Namespace(&'a str),
    /// The manifests (record counts, LSNs) of these canonical namespace names.
    Manifests(&'a [String]),
    /// Every namespace's manifest.
    AllManifests,
    /// Every namespace's records.
    Everything,
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
    pub(super) id: u64,
    pub(super) config: IndexConfig,
    pub(super) catalog: Catalog,
    pub(super) namespace_budget: Option<usize>,
}

impl Index {
    pub(super) fn new(
        id: u64,
        config: IndexConfig,
        storage: StorageConfig,
        persistent: bool,
    ) -> Self {
        let dim = config.vector_type.dimension().unwrap_or(0) as usize;
        let catalog = Catalog::new(id, dim, config.metric, storage, persistent);
        Index {
            id,
            config,
            catalog,
            namespace_budget: None,
        }
    }

    /// Advances pending graph builds of this index's loaded namespaces by at most `budget`
    /// inserted nodes in all (see [`Namespace::index_step`]); completed graphs are committed
    /// into the next write batch. Returns true while more work is pending.
    pub fn index_step(&mut self, budget: usize) -> bool {
        self.catalog.index_step(budget).1
    }

    /// True when [`Index::index_step`] has work to do (a pure probe).
    pub fn indexing_pending(&self) -> bool {
        self.catalog.indexing_pending()
    }

    /// Graph builds in progress: (nodes inserted, nodes in all) (a pure probe).
    pub fn graph_build_progress(&self) -> (usize, usize) {
        self.catalog.graph_build_progress()
    }

    pub(super) fn index_step_counted(&mut self, budget: usize) -> (usize, bool) {
        self.catalog.index_step(budget)
    }

    /// The index configuration.
    pub fn config(&self) -> &IndexConfig {
        &self.config
    }

    fn dimension(&self) -> usize {
        self.config.vector_type.dimension().unwrap_or(0) as usize
    }

    /// Loads what an operation needs, or fails with [`Error::NotLoaded`] naming every blob
    /// the host must provide first. This is the data plane's one loading entry point: each
    /// operation below declares its [`Needs`] and calls it before reading, so no caller has to
    /// prepare anything (hosts may call it to warm a namespace up).
    pub fn load(&mut self, needs: Needs<'_>) -> Result<()> {
        match needs {
            Needs::Namespace(name) => {
                let canon = canonical_namespace(name)?;
                self.catalog.load_namespace(canon).map(|_| ())
            }
            Needs::Manifests(names) => self
                .catalog
                .load_manifests(names.iter().map(String::as_str)),
            Needs::AllManifests => {
                self.catalog.load()?;
                let names: Vec<String> = self.catalog.names()?.map(str::to_string).collect();
                self.catalog
                    .load_manifests(names.iter().map(String::as_str))
            }
            Needs::Everything => {
                self.catalog.load()?;
                let names: Vec<String> = self.catalog.names()?.map(str::to_string).collect();
                self.catalog
                    .load_namespaces(names.iter().map(String::as_str))
            }
        }
    }

    /// Drops a namespace's records from memory; they reload on next use.
    pub fn evict(&mut self, namespace: &str) -> Result<bool> {
        Ok(self.catalog.evict(canonical_namespace(namespace)?))
    }

    /// Evicts the least recently used namespaces until at most `keep` stay in memory.
    pub fn evict_idle(&mut self, keep: usize) -> usize {
        self.catalog.evict_lru(keep)
    }

    /// Drops every namespace's state, manifests included ([`Db::forget_namespaces`]).
    pub fn forget_namespaces(&mut self) -> bool {
        self.catalog.forget_all()
    }

    /// Number of namespaces whose records are in memory.
    pub fn loaded_namespaces(&self) -> usize {
        self.catalog.loaded_count()
    }

    /// Hands over a blob the host fetched.
    pub fn provide(&mut self, key: String, bytes: Option<Vec<u8>>) {
        self.catalog.provide(key, bytes);
    }

    /// A namespace, if it exists (it must be prepared).
    pub fn namespace(&self, name: &str) -> Result<Option<&Namespace>> {
        self.catalog.get(canonical_namespace(name)?)
    }

    fn namespace_mut(&mut self, canon: &str) -> Result<Option<&mut Namespace>> {
        self.catalog.get_mut(canon)
    }

    fn require_namespace_mut(&mut self, name: &str) -> Result<&mut Namespace> {
        let canon = canonical_namespace(name)?;
        self.catalog
            .get_mut(canon)?
            .ok_or_else(|| Error::NamespaceNotFound {
                name: canon.to_string(),
            })
    }

    /// Inserts or replaces records; creates the namespace on first use. Returns how many
    /// records the request carried. Nothing changes unless every record is valid. An id given
    /// more than once is written once, with its last occurrence, as if the records were
    /// upserted one after another (Pinecone's behaviour).
    pub fn upsert(&mut self, namespace: &str, records: Vec<Record>) -> Result<usize> {
        let (canon, records, n) = self.check_upsert(namespace, records)?;
        let ns = match self.namespace_mut(&canon)? {
            Some(ns) => ns,
            None => self.catalog.create(&canon)?,
        };
        ns.upsert(records);
        self.catalog.commit(&canon);
        Ok(n)
    }

    /// Checks an upsert exactly as [`Index::upsert`] does and returns the count it would
    /// report, changing nothing (it may load the namespace).
    pub fn validate_upsert(&mut self, namespace: &str, records: Vec<Record>) -> Result<usize> {
        self.check_upsert(namespace, records).map(|(_, _, n)| n)
    }

    /// An upsert's checks: the canonical namespace, the records that would be applied (the
    /// last occurrence of each id) and the count to report.
    fn check_upsert(
        &mut self,
        namespace: &str,
        records: Vec<Record>,
    ) -> Result<(String, Vec<Record>, usize)> {
        let canon = canonical_namespace(namespace)?.to_string();
        if records.is_empty() || records.len() > MAX_UPSERT_RECORDS {
            return Err(Error::invalid(format!(
                "An upsert must carry between 1 and {MAX_UPSERT_RECORDS} vectors, got {}",
                records.len()
            )));
        }
        for r in &records {
            self.validate_record(r)?;
        }
        let n = records.len();
        let records = last_occurrences(records);
        if let Some(budget) = self.namespace_budget {
            self.check_budget(&canon, &records, budget)?;
        }
        Ok((canon, records, n))
    }

    /// Refuses an upsert that would take namespace `canon` beyond `budget` resident bytes:
    /// the records' bytes, less those of the live versions they replace, on top of what the
    /// namespace holds now.
    fn check_budget(&mut self, canon: &str, records: &[Record], budget: usize) -> Result<()> {
        let (now, replaced) = match self.namespace_mut(canon)? {
            Some(ns) => {
                let replaced: usize = records
                    .iter()
                    .filter_map(|r| ns.locate(&r.id))
                    .map(|loc| ns.record_bytes(loc))
                    .sum();
                (ns.resident_bytes(), replaced)
            }
            None => (0, 0),
        };
        let added: usize = records.iter().map(Namespace::estimate_record_bytes).sum();
        let after = now.saturating_add(added).saturating_sub(replaced);
        if added > replaced && after > budget {
            return Err(Error::LimitExceeded {
                message: format!(
                    "Namespace '{canon}' of index '{}' would grow to {after} bytes in memory, \
                     above this deployment's limit of {budget} bytes per namespace ({} MiB). \
                     Spread the records over more namespaces; nothing was written.",
                    self.config.name,
                    budget >> 20
                ),
            });
        }
        Ok(())
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
        let canon = canonical_namespace(namespace)?.to_string();
        let Some(ns) = self.namespace_mut(&canon)? else {
            return Ok(0);
        };
        // The record is rewritten whole: its row must be in memory.
        if let Some(loc) = ns.locate(id) {
            ns.require([loc])?;
        }
        // The merged metadata must respect the size limit too.
        if let (Some(md), Some(loc)) = (&set_metadata, ns.locate(id)) {
            let mut merged = ns.metadata(loc)?.cloned().unwrap_or_default();
            merged.merge(md);
            merged.check_size()?;
        }
        let matched = ns.update(id, values, sparse_values, set_metadata.as_ref())?;
        self.catalog.commit(&canon);
        Ok(usize::from(matched))
    }

    /// Merges metadata into every record matching `filter`; with `dry_run` only counts.
    pub fn update_where(
        &mut self,
        namespace: &str,
        filter: &Filter,
        set_metadata: &Metadata,
        dry_run: bool,
    ) -> Result<usize> {
        let canon = canonical_namespace(namespace)?.to_string();
        let Some(ns) = self.namespace_mut(&canon)? else {
            return Ok(0);
        };
        if dry_run {
            return Ok(ns.count(Some(filter)));
        }
        // Every merged record must respect the metadata size limit.
        let (locs, _) = ns.scan_where(filter, None, usize::MAX - 1);
        ns.require(locs.iter().copied())?;
        for loc in locs {
            let mut merged = ns.metadata(loc)?.cloned().unwrap_or_default();
            merged.merge(set_metadata);
            merged.check_size()?;
        }
        let n = ns.update_where(filter, set_metadata)?;
        self.catalog.commit(&canon);
        Ok(n)
    }

    /// Fetches records by id; unknown ids are omitted.
    pub fn fetch(&mut self, namespace: &str, ids: &[String]) -> Result<Vec<Record>> {
        if ids.is_empty() || ids.len() > MAX_IDS_PER_REQUEST {
            return Err(Error::invalid(format!(
                "A fetch must name between 1 and {MAX_IDS_PER_REQUEST} ids, got {}",
                ids.len()
            )));
        }
        for id in ids {
            record::validate_id(id)?;
        }
        self.load(Needs::Namespace(namespace))?;
        let Some(ns) = self.namespace(namespace)? else {
            return Ok(Vec::new());
        };
        let locs: Vec<_> = ids.iter().filter_map(|id| ns.locate(id)).collect();
        ns.require(locs.iter().copied())?;
        locs.into_iter().map(|loc| ns.record(loc)).collect()
    }

    /// Records matching `filter`, in id order, at most `limit`, after id `after`.
    pub fn fetch_where(
        &mut self,
        namespace: &str,
        filter: &Filter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Record>> {
        self.load(Needs::Namespace(namespace))?;
        let Some(ns) = self.namespace(namespace)? else {
            return Ok(Page {
                items: Vec::new(),
                next_after: None,
            });
        };
        let (locs, more) = ns.scan_where(filter, after, limit);
        ns.require(locs.iter().copied())?;
        let items: Vec<Record> = locs
            .into_iter()
            .map(|l| ns.record(l))
            .collect::<Result<_>>()?;
        Ok(Page::of(items, more, |r| r.id.clone()))
    }

    /// Ids with `prefix` in lexicographic order, `limit` per page, after id `after`.
    pub fn list(
        &mut self,
        namespace: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<String>> {
        self.load(Needs::Namespace(namespace))?;
        let Some(ns) = self.namespace(namespace)? else {
            return Ok(Page {
                items: Vec::new(),
                next_after: None,
            });
        };
        let (ids, more) = ns.list(prefix, after, limit);
        Ok(Page::of(ids, more, String::clone))
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
        let canon = canonical_namespace(namespace)?.to_string();
        let ns = self.require_namespace_mut(namespace)?;
        let n = match selector {
            DeleteSelector::Ids(ids) => ns.delete_ids(ids.iter().map(String::as_str)),
            DeleteSelector::Filter(f) => ns.delete_where(f),
            DeleteSelector::All => {
                let n = ns.len();
                self.catalog.drop_namespace(&canon)?;
                return Ok(n);
            }
        };
        self.catalog.commit(&canon);
        Ok(n)
    }

    /// Runs a query. A missing namespace, or a query id that is not stored, yields no matches.
    pub fn query(&mut self, namespace: &str, query: &Query) -> Result<Vec<Match>> {
        if !(1..=MAX_TOP_K).contains(&query.top_k) {
            return Err(Error::invalid(format!(
                "Invalid value for topK: {}. topK must be between 1 and {MAX_TOP_K}",
                query.top_k
            )));
        }
        if let QuerySource::Vector(v) = &query.vector {
            self.validate_query_vector(v)?;
        }
        self.load(Needs::Namespace(namespace))?;
        let Some(ns) = self.namespace(namespace)? else {
            return Ok(Vec::new());
        };
        let owned;
        let qv = match &query.vector {
            QuerySource::Vector(v) => v,
            QuerySource::Id(id) => {
                record::validate_id(id)?;
                let Some(slot) = ns.locate(id) else {
                    return Ok(Vec::new());
                };
                owned = match self.config.vector_type {
                    VectorType::Dense { .. } => QueryVector {
                        values: Some(ns.values(slot)?.to_vec()),
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
        let scored = ns.query(qv, query.top_k, query.filter.as_ref())?;
        if query.include_values || query.include_metadata {
            ns.require(scored.iter().map(|s| s.loc))?;
        }
        scored
            .into_iter()
            .map(|s| {
                Ok(Match {
                    id: ns.id(s.loc).to_string(),
                    score: s.score,
                    values: match query.include_values {
                        true => Some(ns.values(s.loc)?.to_vec()),
                        false => None,
                    },
                    sparse_values: if query.include_values {
                        ns.sparse_values(s.loc).cloned()
                    } else {
                        None
                    },
                    metadata: if query.include_metadata {
                        ns.metadata(s.loc)?.cloned()
                    } else {
                        None
                    },
                })
            })
            .collect()
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

    /// Record counts per namespace (matching `filter`, if given): reads every manifest, and
    /// with a filter every namespace.
    pub fn stats(&mut self, filter: Option<&Filter>) -> Result<IndexStats> {
        let filter = filter.filter(|f| !f.is_match_all());
        self.load(if filter.is_some() {
            Needs::Everything
        } else {
            Needs::AllManifests
        })?;
        let mut namespaces = Vec::new();
        for name in self.catalog.names()? {
            let n = match filter {
                None => self.catalog.count_and_lsn(name)?.map_or(0, |(n, _)| n),
                Some(f) => self.catalog.get(name)?.map_or(0, |ns| ns.count(Some(f))),
            };
            if filter.is_none() || n > 0 {
                namespaces.push((name.to_string(), n));
            }
        }
        let total = namespaces.iter().map(|(_, n)| n).sum();
        Ok(IndexStats { namespaces, total })
    }

    /// Namespaces whose names start with `prefix`, in byte order, after `after`, with their
    /// record counts.
    pub fn list_namespaces(
        &mut self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<(String, usize)>> {
        self.catalog.load()?;
        let (names, more) = name_page(
            self.catalog.names_from(page_start(prefix, after))?,
            prefix,
            limit,
        );
        let names: Vec<String> = names.into_iter().map(str::to_string).collect();
        self.load(Needs::Manifests(&names))?;
        let mut items = Vec::with_capacity(names.len());
        for name in names {
            let n = self.catalog.count_and_lsn(&name)?.map_or(0, |(n, _)| n);
            items.push((name, n));
        }
        Ok(Page::of(items, more, |(n, _)| n.clone()))
    }

    /// Names of at most `limit` namespaces starting with `prefix`, in byte order (reads only
    /// the catalog).
    pub fn namespace_names(&mut self, prefix: &str, limit: usize) -> Result<Vec<String>> {
        self.catalog.load()?;
        let (names, _) = name_page(
            self.catalog.names_from(Bound::Included(prefix))?,
            prefix,
            limit,
        );
        Ok(names.into_iter().map(str::to_string).collect())
    }

    /// Number of namespaces whose names start with `prefix`.
    pub fn count_namespaces(&mut self, prefix: &str) -> Result<usize> {
        self.catalog.load()?;
        Ok(self
            .catalog
            .names_from(Bound::Included(prefix))?
            .take_while(|name| name.starts_with(prefix))
            .count())
    }

    /// Record count of one namespace.
    pub fn describe_namespace(&mut self, namespace: &str) -> Result<(String, usize)> {
        let canon = canonical_namespace(namespace)?.to_string();
        self.load(Needs::Manifests(std::slice::from_ref(&canon)))?;
        match self.catalog.count_and_lsn(&canon)? {
            Some((n, _)) => Ok((canon, n)),
            None => Err(Error::NamespaceNotFound { name: canon }),
        }
    }

    /// Size of one namespace in bytes: the memory it holds resident
    /// ([`Namespace::resident_bytes`], what [`crate::Db::set_namespace_budget`] counts), 0 for
    /// a namespace that does not exist. Loads the namespace.
    pub fn namespace_size_bytes(&mut self, namespace: &str) -> Result<u64> {
        self.load(Needs::Namespace(namespace))?;
        Ok(self
            .namespace(namespace)?
            .map_or(0, |ns| ns.resident_bytes() as u64))
    }

    /// Creates an empty namespace explicitly.
    pub fn create_namespace(&mut self, namespace: &str) -> Result<String> {
        let canon = canonical_namespace(namespace)?.to_string();
        self.catalog.load()?;
        if self.catalog.contains(&canon)? {
            return Err(Error::NamespaceAlreadyExists { name: canon });
        }
        self.catalog.create(&canon)?;
        self.catalog.commit(&canon);
        Ok(canon)
    }

    /// Drops a namespace and all its records at once: one catalog change, whatever its size.
    pub fn delete_namespace(&mut self, namespace: &str) -> Result<()> {
        let canon = canonical_namespace(namespace)?.to_string();
        if self.catalog.drop_namespace(&canon)? {
            Ok(())
        } else {
            Err(Error::NamespaceNotFound { name: canon })
        }
    }

    /// The LSN of a namespace's last write. For a namespace that does not exist (or was just
    /// dropped) it is the index's LSN floor, so LSNs a client sees never go backwards.
    pub fn namespace_lsn(&self, namespace: &str) -> u64 {
        canonical_namespace(namespace)
            .ok()
            .and_then(|n| self.catalog.count_and_lsn(n).ok().flatten())
            .map_or(self.catalog.lsn_floor(), |(_, lsn)| lsn)
    }

    /// Approximate bytes held by a namespace (0 if it does not exist or is not loaded).
    pub fn namespace_bytes(&self, namespace: &str) -> usize {
        canonical_namespace(namespace)
            .ok()
            .and_then(|n| self.catalog.get(n).ok().flatten())
            .map_or(0, Namespace::approximate_bytes)
    }
}

/// The records with each id's earlier occurrences dropped, in request order.
fn last_occurrences(records: Vec<Record>) -> Vec<Record> {
    let mut last: HashMap<&str, usize> = HashMap::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        last.insert(r.id.as_str(), i);
    }
    if last.len() == records.len() {
        return records;
    }
    let keep: Vec<bool> = records
        .iter()
        .enumerate()
        .map(|(i, r)| last[r.id.as_str()] == i)
        .collect();
    records
        .into_iter()
        .zip(keep)
        .filter_map(|(r, k)| k.then_some(r))
        .collect()
}
