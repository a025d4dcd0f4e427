//! An index's namespace catalog: names, ids and lazily loaded namespaces.
//!
//! The catalog is a base snapshot plus small delta blobs, so creating or dropping a namespace
//! writes O(1) bytes whatever the number of namespaces; after [`MAX_DELTAS`] deltas the base is
//! rewritten. Opening an index reads only the catalog; a namespace's manifest is read when its
//! record count is needed, and its segments and log when its records are. Loaded namespaces
//! can be evicted again once committed.

use std::collections::BTreeMap;

use crate::distance::Metric;
use crate::error::{Error, Result};
use crate::format::{self, BlobKind};
use crate::manifest::{CatalogBase, CatalogDelta, CatalogRef, Manifest};
use crate::namespace::{AnnConfig, Namespace, StorageConfig};
use crate::sort::{CollectTree, SmallSort};
use crate::storage::{Provided, WriteBatch, keys};

/// Deltas kept before the base snapshot is rewritten (at least; see `delta_budget`).
pub const MAX_DELTAS: usize = 64;

/// How much of a namespace is in memory.
#[derive(Debug, Clone)]
enum NsState {
    Unloaded,
    Manifest(Box<Manifest>),
    Loaded(Box<Namespace>),
}

#[derive(Debug, Clone)]
struct Entry {
    id: u64,
    state: NsState,
    /// Logical time of the last use (for evicting the least recently used).
    last_used: u64,
}

/// The namespaces of one index.
#[derive(Debug, Clone)]
pub(crate) struct Catalog {
    index_id: u64,
    dimension: usize,
    metric: Metric,
    storage: StorageConfig,
    ann: AnnConfig,
    persistent: bool,
    reference: CatalogRef,
    entries: Option<BTreeMap<String, Entry>>,
    provided: Provided,
    /// A row group the host provided that failed to decode, reported by the next load.
    row_error: Option<Error>,
    pending: WriteBatch,
    changed: bool,
    reclaim: Vec<String>,
    /// Logical clock: bumped on every namespace use.
    tick: u64,
}

impl Catalog {
    /// A new, empty catalog.
    pub fn new(
        index_id: u64,
        dimension: usize,
        metric: Metric,
        storage: StorageConfig,
        persistent: bool,
    ) -> Self {
        Catalog {
            index_id,
            dimension,
            metric,
            storage,
            ann: AnnConfig::default(),
            persistent,
            reference: CatalogRef::default(),
            entries: Some(BTreeMap::new()),
            provided: Provided::default(),
            row_error: None,
            pending: WriteBatch::default(),
            changed: persistent,
            reclaim: Vec::new(),
            tick: 0,
        }
    }

    /// A stored catalog, not loaded yet.
    pub fn stored(
        index_id: u64,
        dimension: usize,
        metric: Metric,
        storage: StorageConfig,
        reference: CatalogRef,
    ) -> Self {
        Catalog {
            entries: None,
            reference,
            changed: false,
            ..Catalog::new(index_id, dimension, metric, storage, true)
        }
    }

    /// Sets the approximate-search configuration of every namespace, loaded now or later.
    pub fn set_ann(&mut self, ann: AnnConfig) {
        self.ann = ann;
        for e in self.entries.iter_mut().flat_map(|e| e.values_mut()) {
            if let NsState::Loaded(ns) = &mut e.state {
                ns.set_ann_config(ann);
            }
        }
    }

    /// True when a loaded namespace has index work pending ([`Namespace::indexing_pending`]).
    pub fn indexing_pending(&self) -> bool {
        let mut loaded = self.entries.iter().flat_map(|e| e.values());
        loaded.any(|e| matches!(&e.state, NsState::Loaded(ns) if ns.indexing_pending()))
    }

    /// [`Namespace::graph_build_progress`] summed over the loaded namespaces.
    pub fn graph_build_progress(&self) -> (usize, usize) {
        let loaded = self.entries.iter().flat_map(|e| e.values());
        loaded.fold((0, 0), |(d, t), e| match &e.state {
            NsState::Loaded(ns) => {
                let (a, b) = ns.graph_build_progress();
                (d + a, t + b)
            }
            _ => (d, t),
        })
    }

    /// Resident bytes of the loaded namespaces.
    pub fn resident_bytes(&self) -> usize {
        self.entries
            .iter()
            .flat_map(|e| e.values())
            .map(|e| match &e.state {
                NsState::Loaded(ns) => ns.resident_bytes(),
                _ => 0,
            })
            .sum()
    }

    /// [`Catalog::resident_bytes`] by part.
    pub fn memory_report(&self) -> crate::namespace::MemoryReport {
        let mut sum = crate::namespace::MemoryReport::default();
        for e in self.entries.iter().flat_map(|e| e.values()) {
            if let NsState::Loaded(ns) = &e.state {
                sum += ns.memory_report();
            }
        }
        sum
    }

    /// Row groups touched by rescoring in every loaded namespace since it was loaded.
    pub fn rows_touched(&self) -> crate::namespace::RowsTouched {
        let mut sum = crate::namespace::RowsTouched::default();
        for e in self.entries.iter().flat_map(|e| e.values()) {
            if let NsState::Loaded(ns) = &e.state {
                let t = ns.rows_touched();
                sum.searches += t.searches;
                sum.groups += t.groups;
                sum.candidates += t.candidates;
                sum.graph_searches += t.graph_searches;
            }
        }
        sum
    }

    /// Advances the graph builds of loaded namespaces by at most `budget` nodes in all and
    /// commits the namespaces whose graphs completed. Returns (nodes inserted, more pending).
    pub fn index_step(&mut self, budget: usize) -> (usize, bool) {
        let mut used = 0;
        let mut pending = false;
        let mut touched = Vec::new();
        for (name, e) in self.entries.iter_mut().flat_map(|e| e.iter_mut()) {
            if let NsState::Loaded(ns) = &mut e.state {
                let (n, more) = ns.index_step_counted(budget - used);
                used += n;
                pending |= more;
                // A merge that waited for rows may have run without using budget; a commit
                // of an unchanged namespace writes nothing.
                touched.push(name.clone());
            }
        }
        if self.persistent {
            for name in touched {
                self.commit(&name);
            }
        }
        (used, pending)
    }

    /// The reference the root stores.
    pub fn reference(&self) -> &CatalogRef {
        &self.reference
    }

    /// Hands over a blob the host fetched. A row group of a loaded namespace goes straight
    /// to it (a damaged one fails the namespace's next operation).
    pub fn provide(&mut self, key: String, bytes: Option<Vec<u8>>) {
        let loaded = self
            .entries
            .iter_mut()
            .flat_map(|e| e.values_mut())
            .find_map(|e| match &mut e.state {
                NsState::Loaded(ns) if ns.is_row_key(&key) => Some(ns),
                _ => None,
            });
        match loaded {
            Some(ns) => {
                if let Err(e) = ns.provide_rows(&key, bytes) {
                    self.row_error = Some(e);
                }
            }
            None => self.provided.insert(key, bytes),
        }
    }

    /// The row groups the loaded namespaces' background work waits for.
    pub fn index_needs(&self) -> Vec<String> {
        self.entries
            .iter()
            .flat_map(|e| e.values())
            .flat_map(|e| match &e.state {
                NsState::Loaded(ns) => ns.index_needs(),
                _ => Vec::new(),
            })
            .collect()
    }

    /// Ends a request in every loaded namespace ([`Namespace::end_request`]).
    pub fn end_request(&mut self) {
        self.row_error = None;
        for e in self.entries.iter_mut().flat_map(|e| e.values_mut()) {
            if let NsState::Loaded(ns) = &mut e.state {
                ns.end_request();
            }
        }
    }

    fn prefix(&self, ns_id: u64) -> String {
        keys::namespace_prefix(self.index_id, ns_id)
    }

    /// Loads the catalog itself (names and ids).
    pub fn load(&mut self) -> Result<()> {
        if self.entries.is_some() {
            return Ok(());
        }
        let r = &self.reference;
        let mut wanted: Vec<String> = (0..r.base_chunks)
            .map(|c| keys::catalog_base(self.index_id, r.base_gen, c))
            .collect();
        wanted.extend(
            r.deltas
                .iter()
                .map(|&d| keys::catalog_delta(self.index_id, d)),
        );
        let blobs = self.provided.take_all(&wanted)?;
        let (base_blobs, delta_blobs) = blobs.split_at(r.base_chunks as usize);
        let what = keys::catalog_prefix(self.index_id);
        let base: CatalogBase = if base_blobs.is_empty() {
            CatalogBase::default()
        } else {
            let refs: Vec<&[u8]> = base_blobs.iter().map(Vec::as_slice).collect();
            format::decode_chunked(&what, BlobKind::Catalog, &refs)?
        };
        let mut entries: BTreeMap<String, Entry> = base
            .entries
            .into_iter()
            .map(|(name, id)| {
                (
                    name,
                    Entry {
                        id,
                        state: NsState::Unloaded,
                        last_used: 0,
                    },
                )
            })
            .collect_map();
        for blob in delta_blobs {
            match format::decode_chunked::<CatalogDelta>(&what, BlobKind::Catalog, &[blob])? {
                CatalogDelta::Added(name, id) => {
                    entries.insert(
                        name,
                        Entry {
                            id,
                            state: NsState::Unloaded,
                            last_used: 0,
                        },
                    );
                }
                CatalogDelta::Removed(name) => {
                    entries.remove(&name);
                }
            }
        }
        self.entries = Some(entries);
        Ok(())
    }

    fn entries(&self) -> Result<&BTreeMap<String, Entry>> {
        self.entries
            .as_ref()
            .ok_or_else(|| self.catalog_keys_error())
    }

    fn catalog_keys_error(&self) -> Error {
        let r = &self.reference;
        let mut k: Vec<String> = (0..r.base_chunks)
            .map(|c| keys::catalog_base(self.index_id, r.base_gen, c))
            .collect();
        k.extend(
            r.deltas
                .iter()
                .map(|&d| keys::catalog_delta(self.index_id, d)),
        );
        Error::NotLoaded { keys: k }
    }

    /// Loads a namespace fully, if it exists. Returns whether it exists.
    pub fn load_namespace(&mut self, name: &str) -> Result<bool> {
        if let Some(e) = self.row_error.take() {
            return Err(e);
        }
        self.load()?;
        self.load_manifest(name)?;
        self.tick += 1;
        let tick = self.tick;
        if let Some(e) = self.entries.as_mut().and_then(|e| e.get_mut(name)) {
            e.last_used = tick;
        }
        let (dimension, metric, storage, ann) =
            (self.dimension, self.metric, self.storage, self.ann);
        let Some(entry) = self.entries.as_ref().and_then(|e| e.get(name)) else {
            return Ok(false);
        };
        let NsState::Manifest(m) = &entry.state else {
            return Ok(true);
        };
        let prefix = self.prefix(entry.id);
        let wanted = Namespace::required_keys(&prefix, m, ann);
        let blobs = self.provided.take_all(&wanted)?;
        let blobs: BTreeMap<String, Vec<u8>> = wanted.into_iter().zip(blobs).collect_map();
        let Some(entry) = self.entries.as_mut().and_then(|e| e.get_mut(name)) else {
            return Ok(false);
        };
        let NsState::Manifest(m) = std::mem::replace(&mut entry.state, NsState::Unloaded) else {
            return Ok(true);
        };
        match Namespace::load(dimension, metric, storage, ann, prefix, *m.clone(), blobs) {
            Ok(ns) => {
                entry.state = NsState::Loaded(Box::new(ns));
                Ok(true)
            }
            Err(e) => {
                entry.state = NsState::Manifest(m);
                Err(e)
            }
        }
    }

    /// Reads a namespace's manifest (for its record count), if it exists and is not loaded.
    pub fn load_manifest(&mut self, name: &str) -> Result<()> {
        self.load()?;
        let Some(entry) = self.entries.as_ref().and_then(|e| e.get(name)) else {
            return Ok(());
        };
        if !matches!(entry.state, NsState::Unloaded) {
            return Ok(());
        }
        let key = keys::manifest(&self.prefix(entry.id));
        let blob = self.provided.take_all(std::slice::from_ref(&key))?;
        let m = Namespace::decode_manifest(&key, &blob[0])?;
        if let Some(entry) = self.entries.as_mut().and_then(|e| e.get_mut(name)) {
            entry.state = NsState::Manifest(Box::new(m));
        }
        Ok(())
    }

    /// Reads the manifests of every namespace whose name is in `names`, in one round.
    pub fn load_manifests<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) -> Result<()> {
        self.load()?;
        let names: Vec<&str> = names.into_iter().collect();
        all_or_missing(names.iter().map(|name| self.load_manifest(name)))
    }

    /// Loads the named namespaces fully (with [`Catalog::load_namespace`]), asking for the
    /// blobs of all of them at once.
    pub fn load_namespaces<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) -> Result<()> {
        self.load()?;
        let names: Vec<&str> = names.into_iter().collect();
        all_or_missing(
            names
                .iter()
                .map(|name| self.load_namespace(name).map(|_| ())),
        )
    }

    /// Names of every namespace (catalog must be loaded).
    pub fn names(&self) -> Result<impl Iterator<Item = &str>> {
        Ok(self.entries()?.keys().map(String::as_str))
    }

    /// Names from `start` (inclusive or exclusive) in byte order.
    pub fn names_from<'a>(
        &'a self,
        start: std::ops::Bound<&'a str>,
    ) -> Result<impl Iterator<Item = &'a str>> {
        Ok(self
            .entries()?
            .range::<str, _>((start, std::ops::Bound::Unbounded))
            .map(|(k, _)| k.as_str()))
    }

    /// True when a namespace of this name exists.
    pub fn contains(&self, name: &str) -> Result<bool> {
        Ok(self.entries()?.contains_key(name))
    }

    /// A loaded namespace (call [`Catalog::load_namespace`] first).
    pub fn get(&self, name: &str) -> Result<Option<&Namespace>> {
        match self.entries()?.get(name) {
            None => Ok(None),
            Some(Entry {
                state: NsState::Loaded(ns),
                ..
            }) => Ok(Some(ns)),
            Some(e) => Err(self.not_loaded(e)),
        }
    }

    /// A loaded namespace, mutably.
    pub fn get_mut(&mut self, name: &str) -> Result<Option<&mut Namespace>> {
        self.load_namespace(name)?;
        match self.entries.as_mut().and_then(|e| e.get_mut(name)) {
            Some(Entry {
                state: NsState::Loaded(ns),
                ..
            }) => Ok(Some(ns)),
            _ => Ok(None),
        }
    }

    fn not_loaded(&self, e: &Entry) -> Error {
        let prefix = self.prefix(e.id);
        let keys = match &e.state {
            NsState::Unloaded => vec![keys::manifest(&prefix)],
            NsState::Manifest(m) => Namespace::required_keys(&prefix, m, self.ann),
            NsState::Loaded(_) => Vec::new(),
        };
        Error::NotLoaded { keys }
    }

    /// Record count and LSN of a namespace whose manifest (at least) is loaded.
    pub fn count_and_lsn(&self, name: &str) -> Result<Option<(usize, u64)>> {
        match self.entries()?.get(name) {
            None => Ok(None),
            Some(Entry {
                state: NsState::Loaded(ns),
                ..
            }) => Ok(Some((ns.len(), ns.lsn()))),
            Some(Entry {
                state: NsState::Manifest(m),
                ..
            }) => Ok(Some((m.count as usize, m.lsn))),
            Some(e) => Err(self.not_loaded(e)),
        }
    }

    /// Creates a namespace (it must not exist) and returns it.
    pub fn create(&mut self, name: &str) -> Result<&mut Namespace> {
        self.load()?;
        let id = self.reference.next_namespace;
        let ns = if self.persistent {
            self.reference.next_namespace += 1;
            let prefix = self.prefix(id);
            self.push_delta(CatalogDelta::Added(name.to_string(), id));
            Namespace::new_persistent(
                self.dimension,
                self.metric,
                self.storage,
                prefix,
                self.reference.lsn_floor,
            )
        } else {
            let mut ns = Namespace::with_config(self.dimension, self.metric, self.storage);
            ns.start_lsn_after(self.reference.lsn_floor);
            ns
        };
        let mut ns = ns;
        ns.set_ann_config(self.ann);
        let entries = self.entries.as_mut().ok_or_else(|| Error::Internal {
            message: "catalog not loaded after load()".into(),
        })?;
        self.tick += 1;
        entries.insert(
            name.to_string(),
            Entry {
                id,
                state: NsState::Loaded(Box::new(ns)),
                last_used: self.tick,
            },
        );
        match entries.get_mut(name) {
            Some(Entry {
                state: NsState::Loaded(ns),
                ..
            }) => Ok(ns),
            _ => Err(Error::Internal {
                message: "namespace vanished after insert".into(),
            }),
        }
    }

    /// Drops a namespace: one catalog change; its blobs are reclaimed later.
    pub fn drop_namespace(&mut self, name: &str) -> Result<bool> {
        self.load_manifest(name)?;
        let Some(entry) = self.entries.as_mut().and_then(|e| e.remove(name)) else {
            return Ok(false);
        };
        let lsn = match &entry.state {
            NsState::Loaded(ns) => ns.lsn(),
            NsState::Manifest(m) => m.lsn,
            NsState::Unloaded => self.reference.lsn_floor,
        };
        // The drop is a write too: it gets the next LSN.
        self.reference.lsn_floor = self.reference.lsn_floor.max(lsn + 1);
        if self.persistent {
            self.push_delta(CatalogDelta::Removed(name.to_string()));
            self.reclaim.push(self.prefix(entry.id));
        }
        Ok(true)
    }

    fn push_delta(&mut self, delta: CatalogDelta) {
        let seq = self.reference.next_delta;
        self.reference.next_delta += 1;
        let blob = format::encode_chunked(BlobKind::Catalog, &delta).concat();
        self.pending
            .puts
            .push((keys::catalog_delta(self.index_id, seq), blob));
        self.reference.deltas.push(seq);
        self.changed = true;
    }

    /// Deltas allowed before the base is rewritten: at least [`MAX_DELTAS`], and a fraction of
    /// the namespace count so the rewrite's cost stays O(1) per change on average.
    fn delta_budget(&self) -> usize {
        let n = self.entries.as_ref().map_or(0, BTreeMap::len);
        MAX_DELTAS.max(n / MAX_DELTAS)
    }

    fn rewrite_base(&mut self) {
        let Some(entries) = &self.entries else { return };
        let old = self.reference.clone();
        let base = CatalogBase {
            entries: entries.iter().map(|(k, e)| (k.clone(), e.id)).collect(),
        };
        let generation = old.base_gen + 1;
        let blobs = format::encode_chunked(BlobKind::Catalog, &base);
        for (c, b) in blobs.iter().enumerate() {
            self.pending.puts.push((
                keys::catalog_base(self.index_id, generation, c as u32),
                b.clone(),
            ));
        }
        self.pending.deletes.extend(
            (0..old.base_chunks).map(|c| keys::catalog_base(self.index_id, old.base_gen, c)),
        );
        self.pending.deletes.extend(
            old.deltas
                .iter()
                .map(|&d| keys::catalog_delta(self.index_id, d)),
        );
        self.reference.base_gen = generation;
        self.reference.base_chunks = blobs.len() as u32;
        self.reference.deltas.clear();
    }

    /// Commits a namespace's pending writes into the catalog's pending batch.
    pub fn commit(&mut self, name: &str) {
        let Some(Entry {
            state: NsState::Loaded(ns),
            ..
        }) = self.entries.as_mut().and_then(|e| e.get_mut(name))
        else {
            return;
        };
        if let Some(b) = ns.commit() {
            self.pending.puts.extend(b.puts);
            self.pending.deletes.extend(b.deletes);
        }
    }

    /// Takes everything written since the last call: the blobs, whether the root must be
    /// rewritten, and prefixes to reclaim.
    pub fn take_pending(&mut self) -> (WriteBatch, bool, Vec<String>) {
        // Rewritten here, after every entry change of the operation, so the new base holds
        // exactly the committed entries.
        if self.reference.deltas.len() > self.delta_budget() {
            self.rewrite_base();
        }
        let changed = std::mem::take(&mut self.changed);
        (
            std::mem::take(&mut self.pending),
            changed,
            std::mem::take(&mut self.reclaim),
        )
    }

    /// Drops a committed namespace from memory (it reloads on next use).
    pub fn evict(&mut self, name: &str) -> bool {
        let Some(entry) = self.entries.as_mut().and_then(|e| e.get_mut(name)) else {
            return false;
        };
        if !self.persistent || !self.pending.is_empty() {
            return false;
        }
        entry.state = NsState::Unloaded;
        true
    }

    /// Evicts the least recently used loaded namespaces until at most `keep` remain loaded.
    /// Returns how many were evicted. In-memory catalogs keep everything.
    pub fn evict_lru(&mut self, keep: usize) -> usize {
        // Writes not yet taken by the host would be lost to a reload: keep everything.
        if !self.persistent || !self.pending.is_empty() {
            return 0;
        }
        let Some(entries) = self.entries.as_mut() else {
            return 0;
        };
        let mut loaded: Vec<(u64, String)> = entries
            .iter()
            .filter(|(_, e)| matches!(e.state, NsState::Loaded(_)))
            .map(|(k, e)| (e.last_used, k.clone()))
            .collect();
        if loaded.len() <= keep {
            return 0;
        }
        loaded.small_sort();
        let n = loaded.len() - keep;
        for (_, name) in loaded.into_iter().take(n) {
            if let Some(e) = entries.get_mut(&name) {
                e.state = NsState::Unloaded;
            }
        }
        n
    }

    /// Drops every committed namespace's state from memory, manifests included, so the next
    /// use reads each from the host again; the catalog's own entries stay. For hosts whose
    /// other engines write these namespaces (`larch serve` keeps a catalog engine beside one
    /// engine per namespace). Returns false, dropping nothing, while writes are pending.
    pub fn forget_all(&mut self) -> bool {
        if !self.persistent || !self.pending.is_empty() {
            return false;
        }
        if let Some(entries) = self.entries.as_mut() {
            for e in entries.values_mut() {
                e.state = NsState::Unloaded;
            }
        }
        true
    }

    /// LSNs of dropped namespaces are all below this.
    pub fn lsn_floor(&self) -> u64 {
        self.reference.lsn_floor
    }

    /// Number of namespaces whose records are in memory.
    pub fn loaded_count(&self) -> usize {
        self.entries.as_ref().map_or(0, |e| {
            e.values()
                .filter(|e| matches!(e.state, NsState::Loaded(_)))
                .count()
        })
    }
}

/// Runs every load, then fails once with the blobs all of them still need (so the host fetches
/// them in one round), or with the first other error.
fn all_or_missing(loads: impl Iterator<Item = Result<()>>) -> Result<()> {
    let mut missing = Vec::new();
    for r in loads {
        match r {
            Ok(()) => {}
            Err(Error::NotLoaded { keys }) => missing.extend(keys),
            Err(e) => return Err(e),
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::NotLoaded { keys: missing })
    }
}
