//! Paged rows, the namespace's side: reading a record's dense values and metadata wherever they
//! are (the memtable, a resident segment, or a row group of a paged segment), naming the row
//! groups an operation needs before it runs ([`Namespace::require`], answered through
//! `NotLoaded`/`provide` like every other blob), taking the groups the host provided, and the
//! bounded row-group cache: groups read during a request stay until the request ends
//! ([`Namespace::end_request`]), then the least recently used are dropped down to
//! [`StorageConfig::row_cache_bytes`].
//!
//! Merges copy rows too: a merge with a paged input runs in the background and copies it one
//! row group at a time ([`Namespace::index_needs`] names the next groups for the host's
//! background loop), so it never needs all of the input's rows in memory.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};

use super::sealed::Sealed;
use super::{Loc, Namespace, Part};
use crate::error::{Error, Result};
use crate::metadata::Metadata;
use crate::record::Record;
use crate::segment::rows;
use crate::sort::CollectTree;
use crate::storage::keys;

#[cfg(doc)]
use super::StorageConfig;
use crate::sort::SmallSort;

/// How many row groups the rescoring of paged segments touched: per segment searched, the
/// distinct groups holding its candidates. Counted across requests (a clone starts at 0).
#[derive(Debug, Default)]
pub struct RowStats {
    searches: AtomicU64,
    groups: AtomicU64,
    candidates: AtomicU64,
    graph_searches: AtomicU64,
}

impl Clone for RowStats {
    fn clone(&self) -> Self {
        RowStats::default()
    }
}

/// [`RowStats`] read out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RowsTouched {
    /// Paged segments searched (one per segment per query).
    pub searches: u64,
    /// Row groups holding their candidates, summed.
    pub groups: u64,
    /// Candidates rescored, summed.
    pub candidates: u64,
    /// Segments' graphs walked by dense queries, each round of a query counted (a query's second
    /// round after its rows are provided only rescores).
    pub graph_searches: u64,
}

impl Namespace {
    /// Row groups touched by rescoring since the namespace was loaded.
    pub fn rows_touched(&self) -> RowsTouched {
        let s = &self.row_stats;
        RowsTouched {
            searches: s.searches.load(Ordering::Relaxed),
            groups: s.groups.load(Ordering::Relaxed),
            candidates: s.candidates.load(Ordering::Relaxed),
            graph_searches: s.graph_searches.load(Ordering::Relaxed),
        }
    }

    pub(super) fn note_graph_search(&self) {
        self.row_stats
            .graph_searches
            .fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn note_groups_touched(&self, sealed: &Sealed, slots: &[u32]) {
        let Some(p) = &sealed.paged else { return };
        let groups: BTreeSet<u32> = slots.iter().map(|&s| p.layout.locate(s).0).collect_set();
        let s = &self.row_stats;
        s.searches.fetch_add(1, Ordering::Relaxed);
        s.groups.fetch_add(groups.len() as u64, Ordering::Relaxed);
        s.candidates
            .fetch_add(slots.len() as u64, Ordering::Relaxed);
    }

    /// The dense values at `loc`; `NotLoaded` when its row group is paged out.
    pub fn values(&self, loc: Loc) -> Result<&[f32]> {
        match loc.part {
            Part::Memtable => Ok(self.memtable.values(loc.slot)),
            Part::Segment(i) => {
                let s = &self.segments[i as usize];
                s.values(loc.slot, self.rows_tick)
                    .ok_or_else(|| self.missing(s, [loc.slot]))
            }
        }
    }

    /// The metadata at `loc`; `NotLoaded` when its row group is paged out.
    pub fn metadata(&self, loc: Loc) -> Result<Option<&Metadata>> {
        match loc.part {
            Part::Memtable => Ok(self.memtable.metadata(loc.slot)),
            Part::Segment(i) => {
                let s = &self.segments[i as usize];
                s.metadata(loc.slot, self.rows_tick)
                    .ok_or_else(|| self.missing(s, [loc.slot]))
            }
        }
    }

    /// The whole record at `loc`, copied out; `NotLoaded` when its row group is paged out.
    pub fn record(&self, loc: Loc) -> Result<Record> {
        Ok(Record {
            id: self.id(loc).to_string(),
            values: self.values(loc)?.to_vec(),
            sparse_values: self.sparse_values(loc).cloned(),
            metadata: self.metadata(loc)?.cloned(),
        })
    }

    /// Succeeds when the rows at `locs` are in memory, else `NotLoaded` naming every row group
    /// they need, so an operation asks for all of them in one round.
    pub fn require(&self, locs: impl IntoIterator<Item = Loc>) -> Result<()> {
        let mut missing: BTreeSet<(usize, u32)> = BTreeSet::new();
        for loc in locs {
            if let Part::Segment(i) = loc.part
                && let Some(g) = self.segments[i as usize].missing_group(loc.slot)
            {
                missing.insert((i as usize, g));
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        Err(Error::NotLoaded {
            keys: missing
                .into_iter()
                .map(|(i, g)| self.group_key(&self.segments[i], g))
                .collect(),
        })
    }

    /// [`Namespace::require`] for slots of one part.
    pub(super) fn require_slots(&self, part: Part, slots: &[u32]) -> Result<()> {
        self.require(slots.iter().map(|&slot| Loc { part, slot }))
    }

    /// The key of row group `g` of `s`.
    fn group_key(&self, s: &Sealed, g: u32) -> String {
        let prefix = self.persist.as_ref().map_or("", |p| p.prefix.as_str());
        keys::rows(prefix, s.id, g + 1)
    }

    fn missing(&self, s: &Sealed, slots: impl IntoIterator<Item = u32>) -> Error {
        let keys = slots
            .into_iter()
            .filter_map(|slot| s.missing_group(slot))
            .map(|g| self.group_key(s, g))
            .collect();
        Error::NotLoaded { keys }
    }

    /// True when `key` names a row group of this namespace (what [`Namespace::provide_rows`]
    /// takes).
    pub fn is_row_key(&self, key: &str) -> bool {
        self.persist
            .as_ref()
            .and_then(|p| key.strip_prefix(p.prefix.as_str()))
            .is_some_and(|rest| rest.starts_with("r/"))
    }

    /// Takes a row group the host fetched. Groups of segments gone meanwhile are ignored; a
    /// group the store lacks, or damaged bytes, are an error.
    pub fn provide_rows(&mut self, key: &str, bytes: Option<Vec<u8>>) -> Result<()> {
        let Some(rest) = self
            .persist
            .as_ref()
            .and_then(|p| key.strip_prefix(p.prefix.as_str()))
            .and_then(|r| r.strip_prefix("r/"))
        else {
            return Ok(());
        };
        let parsed = rest.split_once('/').and_then(|(seg, chunk)| {
            Some((
                u64::from_str_radix(seg, 16).ok()?,
                u32::from_str_radix(chunk, 16).ok()?,
            ))
        });
        let Some((seg, chunk)) = parsed.filter(|&(_, c)| c > 0) else {
            return Ok(());
        };
        let dimension = self.dimension;
        let Some(s) = self.segments.iter_mut().find(|s| s.id == seg) else {
            return Ok(());
        };
        let Some(paged) = s.paged.as_mut() else {
            return Ok(());
        };
        let g = chunk - 1;
        if paged.groups.contains_key(&g) {
            return Ok(());
        }
        let Some(bytes) = bytes else {
            return Err(Error::Corrupt {
                what: key.to_string(),
                reason: "row group named by the manifest is missing".into(),
            });
        };
        let group = rows::decode_group(key, &bytes, &paged.layout, g, dimension)?;
        group.touch(self.rows_tick);
        paged.groups.insert(g, group);
        Ok(())
    }

    /// Ends a request: a query's search kept for its next round is forgotten, the row groups
    /// it read become evictable, and the least recently used are dropped until the cache
    /// holds at most [`StorageConfig::row_cache_bytes`].
    pub fn end_request(&mut self) {
        self.pending.clear();
        self.rows_tick += 1;
        self.trim_rows();
    }

    /// Drops the least recently used row groups until the cache holds at most
    /// [`StorageConfig::row_cache_bytes`].
    pub(super) fn trim_rows(&mut self) {
        let budget = self.config.row_cache_bytes;
        let mut cached: Vec<(u64, usize, u32, usize)> = Vec::new();
        let mut total = 0;
        for (i, s) in self.segments.iter().enumerate() {
            let Some(p) = &s.paged else { continue };
            for (&g, group) in &p.groups {
                total += group.heap_bytes();
                cached.push((group.last_used(), i, g, group.heap_bytes()));
            }
        }
        if total <= budget {
            return;
        }
        cached.small_sort();
        for (_, i, g, bytes) in cached {
            if total <= budget {
                break;
            }
            if let Some(p) = self.segments[i].paged.as_mut() {
                p.groups.remove(&g);
                total -= bytes;
            }
        }
    }

    /// Bytes of the row groups in memory.
    pub fn cached_row_bytes(&self) -> usize {
        self.segments
            .iter()
            .filter_map(|s| s.paged.as_ref())
            .map(|p| p.cached_bytes())
            .sum()
    }

    /// Row groups of paged segments in memory, and in all.
    pub fn row_groups(&self) -> (usize, usize) {
        self.segments
            .iter()
            .filter_map(|s| s.paged.as_ref())
            .fold((0, 0), |(c, t), p| {
                (c + p.groups.len(), t + p.layout.groups())
            })
    }

    /// True when every row of segment `id` is in memory (resident, or all its groups cached).
    pub(super) fn rows_present(&self, id: u64) -> bool {
        self.segments.iter().find(|s| s.id == id).is_none_or(|s| {
            s.paged
                .as_ref()
                .is_none_or(|p| p.groups.len() == p.layout.groups())
        })
    }

    /// The row groups background work waits for: the next groups of the paged input a
    /// background merge is copying. The host provides them (like any blob) before its next
    /// [`Namespace::index_step`].
    pub fn index_needs(&self) -> Vec<String> {
        let Some(c) = &self.consolidation else {
            return Vec::new();
        };
        c.needs(&self.segments)
            .into_iter()
            .filter_map(|(id, g)| {
                let s = self.segments.iter().find(|s| s.id == id)?;
                Some(self.group_key(s, g))
            })
            .collect()
    }
}
