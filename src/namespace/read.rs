//! Reads by id and by filter: lookups, listing in id order, counting.

use std::ops::Bound;

use super::{Loc, Namespace, Part};
use crate::filter::Filter;
use crate::record::SparseVector;
use crate::segment::columns::Columns;
use crate::sort::SmallSort;

impl Namespace {
    /// Where the live version of `id` is.
    pub fn locate(&self, id: &str) -> Option<Loc> {
        if let Some(slot) = self.memtable.slot_of(id) {
            return Some(Loc {
                part: Part::Memtable,
                slot,
            });
        }
        self.segments.iter().enumerate().find_map(|(i, s)| {
            let slot = s.segment.slot_of(id)?;
            (!s.tombstones.contains(slot)).then_some(Loc {
                part: Part::Segment(i as u32),
                slot,
            })
        })
    }

    /// The records of one part.
    pub(super) fn part(&self, part: Part) -> &Columns {
        match part {
            Part::Memtable => &self.memtable,
            Part::Segment(i) => &self.segments[i as usize].segment,
        }
    }

    /// The id at `loc`.
    pub fn id(&self, loc: Loc) -> &str {
        self.part(loc.part).id(loc.slot)
    }

    /// The sparse values at `loc`.
    pub fn sparse_values(&self, loc: Loc) -> Option<&SparseVector> {
        self.part(loc.part).sparse_values(loc.slot)
    }

    /// Live locations matching `filter`, memtable first; sealed segments answer from their
    /// metadata index.
    pub(super) fn matching(&self, filter: &Filter) -> Vec<Loc> {
        let mut out: Vec<Loc> = (0..self.memtable.len() as u32)
            .map(|slot| Loc {
                part: Part::Memtable,
                slot,
            })
            .filter(|&l| filter.matches(self.memtable.metadata(l.slot)))
            .collect();
        for (i, s) in self.segments.iter().enumerate() {
            let part = Part::Segment(i as u32);
            out.extend(s.select(filter).iter().map(|slot| Loc { part, slot }));
        }
        out
    }

    /// Number of records matching `filter` (all for `None`).
    pub fn count(&self, filter: Option<&Filter>) -> usize {
        match filter {
            Some(f) if !f.is_match_all() => self.matching(f).len(),
            _ => self.len(),
        }
    }

    /// Live ids from `start` on in byte order, across all parts, with their locations; at most
    /// `limit + 1` (so callers can tell whether more follow).
    pub(super) fn sorted_from(
        &self,
        start: Bound<&str>,
        limit: usize,
        keep: impl Fn(&str, Loc) -> bool,
    ) -> Vec<(String, Loc)> {
        let mut out: Vec<(String, Loc)> = self
            .memtable
            .ids_from(start)
            .map(|(id, slot)| {
                (
                    id,
                    Loc {
                        part: Part::Memtable,
                        slot,
                    },
                )
            })
            .filter(|(id, l)| keep(id, *l))
            .take(limit + 1)
            .map(|(id, l)| (id.to_string(), l))
            .collect();
        for (i, s) in self.segments.iter().enumerate() {
            let first = match start {
                Bound::Included(a) => s.segment.lower_bound(a, false),
                Bound::Excluded(a) => s.segment.lower_bound(a, true),
                Bound::Unbounded => 0,
            };
            let part = Part::Segment(i as u32);
            out.extend(
                (first..s.segment.len() as u32)
                    .filter(|&slot| !s.tombstones.contains(slot))
                    .map(|slot| (s.segment.id(slot), Loc { part, slot }))
                    .filter(|(id, l)| keep(id, *l))
                    .take(limit + 1)
                    .map(|(id, l)| (id.to_string(), l)),
            );
        }
        out.small_sort_by(|a, b| a.0.cmp(&b.0));
        out.truncate(limit + 1);
        out
    }

    /// Ids starting with `prefix`, in byte order, strictly after `after`, at most `limit`. The
    /// second value is true when more follow.
    pub fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> (Vec<String>, bool) {
        let start = match after {
            Some(a) if a >= prefix => Bound::Excluded(a),
            _ => Bound::Included(prefix),
        };
        // Ids with the prefix are contiguous in byte order; stop each run at the first miss.
        let mut ids: Vec<String> = self
            .sorted_from(start, limit, |_, _| true)
            .into_iter()
            .map(|(id, _)| id)
            .take_while(|id| id.starts_with(prefix))
            .collect();
        let more = ids.len() > limit;
        ids.truncate(limit);
        (ids, more)
    }

    /// Records matching `filter` in id order after `after`, at most `limit`.
    pub fn scan_where(
        &self,
        filter: &Filter,
        after: Option<&str>,
        limit: usize,
    ) -> (Vec<Loc>, bool) {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        // Sealed segments answer from their metadata index (paged ones hold no metadata).
        let selected: Vec<_> = self.segments.iter().map(|s| s.select(filter)).collect();
        let keep = |_: &str, l: Loc| match l.part {
            Part::Memtable => filter.matches(self.memtable.metadata(l.slot)),
            Part::Segment(i) => selected[i as usize].contains(l.slot),
        };
        let mut locs: Vec<Loc> = self
            .sorted_from(start, limit, keep)
            .into_iter()
            .map(|(_, l)| l)
            .collect();
        let more = locs.len() > limit;
        locs.truncate(limit);
        (locs, more)
    }
}
