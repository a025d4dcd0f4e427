//! Indexes, their namespaces, and the root that ties them to storage.
//!
//! [`Db`] is the control plane (create / describe / list / configure / delete indexes) and
//! owns the root blob; [`Index`] is the data plane of one index; its namespaces live in a
//! lazily loaded catalog. A `Db` is either ephemeral ([`Db::new`]: memory only) or persistent
//! ([`Db::open`]): then every mutation yields write batches ([`Db::take_writes`]) and reads
//! may ask for blobs first ([`Error::NotLoaded`], answered with [`Db::provide`]).

mod catalog;
mod index;

use std::collections::BTreeMap;

use crate::config::{DeletionProtection, IndexConfig, ReadCapacity, VectorType};
use crate::distance::Metric;
use crate::error::{Error, Result};
use crate::format::{self, BlobKind};
use crate::manifest::{Root, StoredConfig, StoredIndex};
use crate::namespace::{AnnConfig, StorageConfig};
use crate::record;
use crate::sort::CollectTree;
use crate::storage::{ROOT_KEY, WriteBatch, keys};

pub use index::{
    DeleteSelector, Index, IndexStats, Match, Needs, Page, Query, QuerySource, name_page,
    page_start,
};

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

/// Maps `""` and `"__default__"` to the one default namespace and checks the name: Pinecone's
/// rule (at most [`MAX_NAMESPACE_LEN`] ASCII characters without NUL), and not `.` or `..`,
/// which clients and runtimes remove from URL paths (also as `%2e`), so that
/// `/namespaces/{namespace}` could never describe or delete such a namespace. Every other
/// name is addressable: `/` and the rest travel percent-encoded in a path segment.
pub fn canonical_namespace(name: &str) -> Result<&str> {
    if name.is_empty() {
        return Ok(DEFAULT_NAMESPACE);
    }
    let reason = if name.len() > MAX_NAMESPACE_LEN || !name.is_ascii() || name.contains('\0') {
        format!(
            "namespaces must be at most {MAX_NAMESPACE_LEN} ASCII characters without the null \
             character"
        )
    } else if name == "." || name == ".." {
        "'.' and '..' are not allowed, as URL paths cannot carry them (clients and runtimes \
         remove them), so /namespaces/{namespace} could never reach such a namespace"
            .to_string()
    } else {
        return Ok(name);
    };
    Err(Error::InvalidNamespace {
        name: record::truncate_for_message(name),
        reason,
    })
}

/// All indexes.
#[derive(Debug, Default)]
pub struct Db {
    indexes: BTreeMap<String, Index>,
    storage: StorageConfig,
    ann: AnnConfig,
    /// Most resident bytes one namespace may grow to (see [`Db::set_namespace_budget`]).
    namespace_budget: Option<usize>,
    persistent: bool,
    /// False until the host provided the root (persistent only).
    root_loaded: bool,
    root_bytes: Option<Option<Vec<u8>>>,
    next_index: u64,
    root_dirty: bool,
    /// Prefixes named for reclaiming by the last root commit.
    reclaim: Vec<String>,
    outbox: Vec<WriteBatch>,
}

/// A change to an index's configuration (`configure_index`). `None` leaves a field as is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigureIndex {
    pub deletion_protection: Option<DeletionProtection>,
    /// Merged into the existing tags; a key set to `""` is removed.
    pub tags: Option<BTreeMap<String, String>>,
    pub read_capacity: Option<ReadCapacity>,
    /// Integrated embedding, set or updated (the API checks it against the model).
    pub embed: Option<crate::config::EmbedConfig>,
}

impl Db {
    /// An empty in-memory database (nothing is persisted).
    pub fn new() -> Self {
        Db {
            root_loaded: true,
            ..Db::default()
        }
    }

    /// An empty in-memory database whose namespaces seal and merge at `storage`'s thresholds
    /// (nothing is persisted, so every row stays resident): the all-resident twin of a
    /// persistent database in tests and benchmarks.
    pub fn in_memory(storage: StorageConfig) -> Self {
        Db {
            storage,
            ..Db::new()
        }
    }

    /// A persistent database whose blobs live in a host store. Nothing is read yet: the first
    /// operation asks for the root with [`Error::NotLoaded`].
    pub fn open(storage: StorageConfig) -> Self {
        Db {
            storage,
            persistent: true,
            ..Db::default()
        }
    }

    /// Sets the approximate-search configuration of every index and namespace (default:
    /// [`AnnConfig::default`]).
    pub fn set_ann_config(&mut self, ann: AnnConfig) {
        self.ann = ann;
        for ix in self.indexes.values_mut() {
            ix.catalog.set_ann(ann);
        }
    }

    /// Caps every namespace's resident bytes (vectors, metadata, ids, graphs, codes and the
    /// other in-memory structures): an upsert that would take a namespace beyond `bytes` fails
    /// with [`Error::LimitExceeded`] before anything changes. Writes that do not grow a
    /// namespace (deletes, overwrites no larger than what they replace) always succeed. Hosts
    /// with a hard memory ceiling set it (the Worker: one Durable Object's share of 128 MB).
    pub fn set_namespace_budget(&mut self, bytes: Option<usize>) {
        self.namespace_budget = bytes;
        for ix in self.indexes.values_mut() {
            ix.namespace_budget = bytes;
        }
    }

    /// Builds approximate indexes in the background: advances pending graph builds of loaded
    /// namespaces by at most `budget` inserted nodes in all. Hosts call it between requests
    /// (a node costs roughly `ef_construction` distance computations); completed graphs are
    /// written by the next [`Db::take_writes`]. Until a segment's graph is ready it is
    /// searched exactly. Returns true while more work is pending.
    pub fn index_step(&mut self, budget: usize) -> bool {
        let mut used = 0;
        let mut pending = false;
        for ix in self.indexes.values_mut() {
            let (n, more) = ix.index_step_counted(budget - used);
            used += n;
            pending |= more;
        }
        pending
    }

    /// Resident bytes of every loaded namespace (what [`Db::set_namespace_budget`] counts).
    pub fn resident_bytes(&self) -> usize {
        self.indexes
            .values()
            .map(|ix| ix.catalog.resident_bytes())
            .sum()
    }

    /// [`Db::resident_bytes`] of the loaded namespaces by part, summed
    /// ([`crate::namespace::Namespace::memory_report`]).
    pub fn memory_report(&self) -> crate::namespace::MemoryReport {
        let mut sum = crate::namespace::MemoryReport::default();
        for ix in self.indexes.values() {
            sum += ix.catalog.memory_report();
        }
        sum
    }

    /// Row groups touched by rescoring in every loaded namespace since it was loaded, summed
    /// ([`crate::namespace::Namespace::rows_touched`]; a namespace dropped from memory takes
    /// its counts with it).
    pub fn rows_touched(&self) -> crate::namespace::RowsTouched {
        let mut sum = crate::namespace::RowsTouched::default();
        for t in self.indexes.values().map(|ix| ix.catalog.rows_touched()) {
            sum.searches += t.searches;
            sum.groups += t.groups;
            sum.candidates += t.candidates;
            sum.graph_searches += t.graph_searches;
        }
        sum
    }

    /// True when [`Db::index_step`] has work to do. A pure probe: it plans nothing and keeps
    /// every build in progress, so hosts may call it after every request.
    pub fn indexing_pending(&self) -> bool {
        self.indexes.values().any(Index::indexing_pending)
    }

    /// The blobs background work waits for (row groups of paged segments that merges read):
    /// the host provides them before the next [`Db::index_step`].
    pub fn index_needs(&self) -> Vec<String> {
        self.indexes
            .values()
            .flat_map(|ix| ix.catalog.index_needs())
            .collect()
    }

    /// Ends a request: row groups it read on demand may be dropped from now on (each
    /// namespace keeps at most `StorageConfig::row_cache_bytes` of them between requests).
    pub fn end_request(&mut self) {
        for ix in self.indexes.values_mut() {
            ix.catalog.end_request();
        }
    }

    /// The graph builds in progress of every loaded namespace, as (nodes inserted, nodes to
    /// insert in all), for progress reports; `(0, 0)` when none is running. A pure probe.
    pub fn graph_build_progress(&self) -> (usize, usize) {
        self.indexes
            .values()
            .map(Index::graph_build_progress)
            .fold((0, 0), |(d, t), (a, b)| (d + a, t + b))
    }

    /// Hands over a blob the host fetched (`None`: the store has no such key).
    pub fn provide(&mut self, key: String, bytes: Option<Vec<u8>>) {
        if key == ROOT_KEY {
            self.root_bytes = Some(bytes);
            return;
        }
        let id = keys::index_of(&key);
        if let Some(ix) = self.indexes.values_mut().find(|ix| Some(ix.id) == id) {
            ix.provide(key, bytes);
        }
    }

    /// Loads the root (the list of indexes) if needed.
    pub fn prepare(&mut self) -> Result<()> {
        if self.root_loaded {
            return Ok(());
        }
        let Some(bytes) = self.root_bytes.take() else {
            return Err(Error::NotLoaded {
                keys: vec![ROOT_KEY.to_string()],
            });
        };
        let root: Root = match bytes {
            None => Root::default(),
            Some(b) => format::decode_chunked(ROOT_KEY, BlobKind::Root, &[&b])?,
        };
        let mut indexes = BTreeMap::new();
        for stored in root.indexes {
            let config = config_from_stored(&stored.config)?;
            let dim = config.vector_type.dimension().unwrap_or(0) as usize;
            let mut catalog = catalog::Catalog::stored(
                stored.id,
                dim,
                config.metric,
                self.storage,
                stored.catalog,
            );
            catalog.set_ann(self.ann);
            indexes.insert(
                config.name.clone(),
                Index {
                    id: stored.id,
                    config,
                    catalog,
                    namespace_budget: self.namespace_budget,
                },
            );
        }
        self.indexes = indexes;
        self.next_index = root.next_index;
        self.reclaim = root.reclaim;
        self.root_loaded = true;
        Ok(())
    }

    /// Creates an index. Fails when the name is taken or the configuration is invalid.
    pub fn create_index(&mut self, config: IndexConfig) -> Result<&IndexConfig> {
        config.validate()?;
        self.prepare()?;
        if self.indexes.contains_key(&config.name) {
            return Err(Error::IndexAlreadyExists { name: config.name });
        }
        let id = self.next_index;
        self.next_index += 1;
        self.root_dirty = true;
        let name = config.name.clone();
        let mut index = Index::new(id, config, self.storage, self.persistent);
        index.catalog.set_ann(self.ann);
        index.namespace_budget = self.namespace_budget;
        let index = self.indexes.entry(name).or_insert(index);
        Ok(&index.config)
    }

    /// The configuration of every index, by name.
    pub fn list_indexes(&mut self) -> Result<impl Iterator<Item = &IndexConfig>> {
        self.prepare()?;
        Ok(self.indexes.values().map(|i| &i.config))
    }

    /// One index.
    pub fn index(&self, name: &str) -> Result<&Index> {
        if !self.root_loaded {
            return Err(Error::NotLoaded {
                keys: vec![ROOT_KEY.to_string()],
            });
        }
        self.indexes.get(name).ok_or_else(|| Error::IndexNotFound {
            name: name.to_string(),
        })
    }

    /// One index, mutably.
    pub fn index_mut(&mut self, name: &str) -> Result<&mut Index> {
        self.prepare()?;
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
        if let Some(embed) = change.embed {
            config.embed = Some(embed);
        }
        config.validate()?;
        index.config = config;
        self.root_dirty = true;
        Ok(&self.index(name)?.config)
    }

    /// Deletes an index and all its data; refused while deletion protection is enabled.
    pub fn delete_index(&mut self, name: &str) -> Result<()> {
        let index = self.index_mut(name)?;
        if index.config.deletion_protection == DeletionProtection::Enabled {
            return Err(Error::DeletionProtected {
                name: name.to_string(),
            });
        }
        let id = index.id;
        self.indexes.remove(name);
        if self.persistent {
            self.reclaim.push(keys::catalog_prefix(id));
            self.reclaim.push(keys::index_namespaces_prefix(id));
        }
        self.root_dirty = true;
        Ok(())
    }

    /// Evicts the least recently used namespaces of every index until at most `keep` per
    /// index stay in memory (all of them committed). Returns how many were evicted.
    pub fn evict_idle(&mut self, keep: usize) -> usize {
        self.indexes
            .values_mut()
            .map(|ix| ix.evict_idle(keep))
            .sum()
    }

    /// Drops the state of every namespace of every index from memory, manifests included:
    /// the next use of a namespace reads its manifest (and records) from the host again. For
    /// hosts that keep each namespace in an engine of its own beside this one, whose copies of
    /// those namespaces would otherwise go stale. Call it after applying the writes; returns
    /// false when some index kept its namespaces because writes were pending.
    pub fn forget_namespaces(&mut self) -> bool {
        let mut all = true;
        for ix in self.indexes.values_mut() {
            all &= ix.forget_namespaces();
        }
        all
    }

    /// Everything written since the last call, as batches to apply in order, each in one
    /// atomic step. Empty for an in-memory database.
    pub fn take_writes(&mut self) -> Vec<WriteBatch> {
        if !self.persistent {
            self.root_dirty = false;
            return Vec::new();
        }
        let mut out = std::mem::take(&mut self.outbox);
        // Blobs of dropped namespaces and indexes named by the previous root commit.
        if !self.reclaim.is_empty() && !self.root_dirty {
            let prefixes = std::mem::take(&mut self.reclaim);
            out.push(WriteBatch {
                delete_prefixes: prefixes.clone(),
                ..WriteBatch::default()
            });
            self.root_dirty = true;
        }
        let mut batch = WriteBatch::default();
        for ix in self.indexes.values_mut() {
            let (b, changed, reclaim) = ix.catalog.take_pending();
            batch.puts.extend(b.puts);
            batch.deletes.extend(b.deletes);
            self.reclaim.extend(reclaim);
            self.root_dirty |= changed;
        }
        if self.root_dirty {
            let root = Root {
                next_index: self.next_index,
                indexes: self
                    .indexes
                    .values()
                    .map(|ix| StoredIndex {
                        id: ix.id,
                        config: config_to_stored(&ix.config),
                        catalog: ix.catalog.reference().clone(),
                    })
                    .collect(),
                reclaim: self.reclaim.clone(),
                reserved: Vec::new(),
            };
            batch.puts.push((
                ROOT_KEY.to_string(),
                format::encode_chunked(BlobKind::Root, &root).concat(),
            ));
            self.root_dirty = false;
        }
        if !batch.is_empty() {
            out.push(batch);
        }
        out
    }
}

/// The stored tag that carries an index's integrated-embedding configuration (as JSON), so
/// the root keeps its archived layout: no user tag can have this key (tag keys are
/// alphanumeric, `_` and `-`), and descriptions never show it.
const EMBED_TAG: &str = "larch.embed";

fn embed_to_tag(e: &crate::config::EmbedConfig) -> (String, String) {
    let json = serde_json::json!({
        "model": e.model,
        "field": e.field,
        "read_parameters": e.read_parameters,
        "write_parameters": e.write_parameters,
    });
    (EMBED_TAG.to_string(), json.to_string())
}

fn embed_from_tags(tags: &[(String, String)]) -> Result<Option<crate::config::EmbedConfig>> {
    let Some((_, json)) = tags.iter().find(|(k, _)| k == EMBED_TAG) else {
        return Ok(None);
    };
    let corrupt = |reason: String| Error::Corrupt {
        what: ROOT_KEY.into(),
        reason,
    };
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| corrupt(format!("embed config: {e}")))?;
    let text = |k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| corrupt(format!("embed config lacks {k}")))
    };
    let map = |k: &str| match v.get(k) {
        Some(serde_json::Value::Object(m)) => Ok(m.clone()),
        _ => Err(corrupt(format!("embed config lacks {k}"))),
    };
    Ok(Some(crate::config::EmbedConfig {
        model: text("model")?,
        field: text("field")?,
        read_parameters: map("read_parameters")?,
        write_parameters: map("write_parameters")?,
    }))
}

fn config_to_stored(c: &IndexConfig) -> StoredConfig {
    StoredConfig {
        name: c.name.clone(),
        vector_type: u8::from(c.vector_type == VectorType::Sparse),
        dimension: c.vector_type.dimension().unwrap_or(0),
        metric: c.metric.code(),
        deletion_protection: c.deletion_protection == DeletionProtection::Enabled,
        tags: c
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .chain(c.embed.as_ref().map(embed_to_tag))
            .collect(),
        cloud: c.cloud.clone(),
        region: c.region.clone(),
        dedicated: match &c.read_capacity {
            ReadCapacity::OnDemand => None,
            ReadCapacity::Dedicated {
                node_type,
                replicas,
                shards,
            } => Some((node_type.clone(), *replicas, *shards)),
        },
    }
}

fn config_from_stored(s: &StoredConfig) -> Result<IndexConfig> {
    let metric = Metric::from_code(s.metric).ok_or_else(|| Error::Corrupt {
        what: ROOT_KEY.into(),
        reason: format!("unknown metric code {}", s.metric),
    })?;
    let vector_type = match s.vector_type {
        0 => VectorType::Dense {
            dimension: s.dimension,
        },
        _ => VectorType::Sparse,
    };
    let config = IndexConfig {
        name: s.name.clone(),
        vector_type,
        metric,
        deletion_protection: if s.deletion_protection {
            DeletionProtection::Enabled
        } else {
            DeletionProtection::Disabled
        },
        tags: s
            .tags
            .iter()
            .filter(|(k, _)| k != EMBED_TAG)
            .cloned()
            .collect_map(),
        cloud: s.cloud.clone(),
        region: s.region.clone(),
        read_capacity: match &s.dedicated {
            None => ReadCapacity::OnDemand,
            Some((node_type, replicas, shards)) => ReadCapacity::Dedicated {
                node_type: node_type.clone(),
                replicas: *replicas,
                shards: *shards,
            },
        },
        embed: embed_from_tags(&s.tags)?,
    };
    config.validate().map_err(|e| Error::Corrupt {
        what: ROOT_KEY.into(),
        reason: format!("stored index configuration is invalid: {e}"),
    })?;
    Ok(config)
}

/// Opens a database over an in-memory store and reads every record of every namespace of
/// every index, with [`AnnConfig::int8`] on so stored int8 codes are decoded too (the fuzz
/// targets and corruption tests use it). Returns the number of records.
pub fn read_everything(store: &crate::storage::MemoryStore) -> Result<usize> {
    use crate::host::with_store;
    let mut db = Db::open(StorageConfig::default());
    db.set_ann_config(AnnConfig {
        int8: true,
        ..AnnConfig::default()
    });
    let names: Vec<String> = with_store(&mut db, store, |db| {
        Ok(db.list_indexes()?.map(|c| c.name.clone()).collect())
    })?;
    let mut total = 0;
    for name in names {
        total += with_store(&mut db, store, |db| {
            let ix = db.index_mut(&name)?;
            ix.load(Needs::Everything)?;
            let mut n = 0;
            for (ns, _) in ix.stats(None)?.namespaces {
                let ids = ix.list(&ns, "", None, usize::MAX - 1)?.items;
                for chunk in ids.chunks(MAX_IDS_PER_REQUEST) {
                    n += ix.fetch(&ns, chunk)?.len();
                }
            }
            Ok(n)
        })?;
    }
    Ok(total)
}

impl crate::host::Provide for Db {
    fn provide(&mut self, key: String, bytes: Option<Vec<u8>>) {
        Db::provide(self, key, bytes);
    }

    fn end_request(&mut self) {
        Db::end_request(self);
    }
}
