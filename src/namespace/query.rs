//! Query planning and fan-out: each part (the memtable, every sealed segment) answers its
//! top-k exactly or on its graph, and the results are merged.

use super::sealed::Sealed;
use super::{Loc, Namespace, Part, QueryVector, Scored};
use crate::distance::{self, Metric};
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::index::dense::Dense;
use crate::index::hnsw::{FilteredPlan, HnswView, SearchScratch};
use crate::index::{flat, sparse};
use crate::record::SparseVector;
use crate::segment::postings::SlotSet;

#[cfg(doc)]
use super::AnnConfig;
use crate::sort::SmallSort;

/// Candidates of the segments a dense query searched on int8 codes, with their approximate
/// distances, rescored together (`Namespace::rescore_pool`).
#[derive(Debug, Default)]
pub(super) struct Pool {
    items: Vec<(f32, Part, u32)>,
    /// The largest beam of the segments pooled.
    size: usize,
    /// The query as a unit vector (cosine), computed once.
    unit: Option<Vec<f32>>,
}

/// A dense query's search between the `NotLoaded` rounds of one request: the results of the
/// parts answered without rows and the pooled candidates to rescore, so the round after the
/// host provides their row groups rescores them instead of searching every segment again
/// (which cost as much as the first round: BENCHMARKS.md, issue 11 "Warm queries"). Valid
/// only for the same query against the same state ([`Stamp`]); cleared at the end of each
/// request ([`Namespace::end_request`]). A clone starts empty.
#[derive(Debug, Default)]
pub(super) struct PendingSearch(std::sync::Mutex<Option<Pending>>);

impl Clone for PendingSearch {
    fn clone(&self) -> Self {
        PendingSearch::default()
    }
}

impl PendingSearch {
    /// Forgets any pending search.
    pub(super) fn clear(&mut self) {
        if let Ok(p) = self.0.get_mut() {
            *p = None;
        }
    }

    /// The pending search of exactly this query against this state, taken out.
    fn take(&self, key: &PendingKey) -> Option<Pending> {
        let mut cell = self.0.try_lock().ok()?;
        cell.take_if(|p| p.key == *key)
    }

    fn put(&self, pending: Pending) {
        if let Ok(mut cell) = self.0.try_lock() {
            *cell = Some(pending);
        }
    }
}

/// What a dense query's pooled search depends on: the query, and the namespace's state. Every
/// write bumps the LSN; a merge or a compaction swaps segments in and out, which changes the
/// segment count or the next segment id. Builds that finish between two rounds (a graph, int8
/// codes, paging out) change how a segment is searched, not which records it holds: the
/// pending answer is the one the first round's state gave.
#[derive(Debug, Clone, PartialEq)]
struct PendingKey {
    values: Vec<f32>,
    k: usize,
    filter: Option<Filter>,
    lsn: u64,
    next_segment: u64,
    segments: usize,
    memtable: usize,
}

#[derive(Debug)]
pub(super) struct Pending {
    key: PendingKey,
    /// Results of the parts searched without rows (the memtable, resident segments).
    merged: Vec<Scored>,
    /// The pool's best candidates (`Namespace::select_pool`), to rescore from their rows.
    selected: Vec<(f32, Part, u32)>,
}

impl Pool {
    /// The query as the codes compare it: a unit vector for cosine.
    fn unit<'a>(&'a mut self, metric: Metric, q: &'a [f32]) -> &'a [f32] {
        if metric != Metric::Cosine {
            return q;
        }
        self.unit.get_or_insert_with(|| {
            let n = distance::norm(q);
            let inv = if n > 0.0 { 1.0 / n } else { 0.0 };
            q.iter().map(|x| x * inv).collect()
        })
    }
}

impl Namespace {
    /// The `k` best live records for `query` among those matching `filter`, best first.
    ///
    /// Dense-only queries score with the metric. Queries with sparse values score
    /// `dense dot + sparse dot`; without dense values only records sharing a sparse index with
    /// the query are candidates.
    ///
    /// A paged segment searches on its codes and rescores its candidates from their rows:
    /// `NotLoaded` names the row groups missing (the same candidates come back on retry).
    pub fn query(
        &self,
        query: &QueryVector,
        k: usize,
        filter: Option<&Filter>,
    ) -> Result<Vec<Scored>> {
        let filter = filter.filter(|f| !f.is_match_all());
        let higher_is_better = self.metric.higher_is_better() || query.sparse_values.is_some();
        // A dense query whose rescoring asked for rows in the last round: rescore only.
        let key = match (&query.values, &query.sparse_values) {
            (Some(values), None) => Some(PendingKey {
                values: values.clone(),
                k,
                filter: filter.cloned(),
                lsn: self.lsn,
                next_segment: self.next_segment,
                segments: self.segments.len(),
                memtable: self.memtable.len(),
            }),
            _ => None,
        };
        if let Some((key, pending)) = key
            .as_ref()
            .and_then(|key| Some((key, self.pending.take(key)?)))
        {
            return match self.rescore_selected(&pending.selected, &key.values, k) {
                Ok(found) => {
                    let mut merged = pending.merged;
                    merged.extend(found);
                    Ok(self.best(merged, k, higher_is_better))
                }
                Err(e) => {
                    if matches!(e, Error::NotLoaded { .. }) {
                        self.pending.put(pending);
                    }
                    Err(e)
                }
            };
        }
        let mut merged: Vec<Scored> = Vec::new();
        // Row groups the paged segments' candidates need, over every segment: one round of
        // `NotLoaded` names them all (a segment missing rows does not stop the others).
        let mut missing: Vec<String> = Vec::new();
        // Candidates of segments searched on int8 codes, rescored together after the loop.
        let mut pool = Pool::default();
        // A query running concurrently with another (never in one wasm thread) gets its own.
        let mut own = None;
        let mut shared = None;
        let parts = std::iter::once((Part::Memtable, None)).chain(
            self.segments
                .iter()
                .enumerate()
                .map(|(i, s)| (Part::Segment(i as u32), Some(s))),
        );
        for (part, sealed) in parts {
            let tombs = sealed.map(|s: &Sealed| &s.tombstones);
            // A sealed segment answers the filter from its metadata index, once per query:
            // the exact set of live matching slots, one bit test per record reached.
            let selected = sealed.zip(filter).map(|(s, f)| s.select(f));
            if selected.as_ref().is_some_and(|set| set.count() == 0) {
                continue;
            }
            // Only the memtable is filtered record by record (sealed segments have `selected`).
            let accept = |slot: u32| match &selected {
                Some(set) => set.contains(slot),
                None => {
                    tombs.is_none_or(|t| !t.contains(slot))
                        && filter.is_none_or(|f| f.matches(self.memtable.metadata(slot)))
                }
            };
            let (vectors, norms) = (self.part(part).all_vectors(), self.part(part).norms());
            let graph = sealed.and_then(|s| Some((s, s.graph_view()?)));
            // Hybrid queries use the graph for their dense part only where it ranks by dot.
            let hybrid_graph = self.metric == Metric::DotProduct;
            let found = match (&query.values, &query.sparse_values, graph) {
                (Some(q), sq, Some((sealed, view))) if sq.is_none() || hybrid_graph => {
                    if shared.is_none() && own.is_none() {
                        match self.scratch.0.try_lock() {
                            Ok(guard) => shared = Some(guard),
                            Err(_) => own = Some(SearchScratch::new()),
                        }
                    }
                    let scratch: &mut SearchScratch = match shared.as_mut() {
                        Some(guard) => guard,
                        None => own.get_or_insert_with(SearchScratch::new),
                    };
                    let n = sealed.segment.len().max(1) as f32;
                    let accepted = selected.as_ref().map_or(sealed.live(), SlotSet::count);
                    let fraction = accepted as f32 / n;
                    match sq {
                        None => self.graph_search(
                            part,
                            sealed,
                            view,
                            q,
                            k,
                            &accept,
                            fraction,
                            scratch,
                            Some(&mut pool),
                        ),
                        Some(sq) => self.hybrid_graph_search(
                            part, sealed, view, q, sq, k, &accept, fraction, scratch,
                        ),
                    }
                }
                (Some(q), None, _) if sealed.is_none_or(|s| s.paged.is_none()) => {
                    Ok(flat::scan(self.metric, q, vectors, norms, k, accept))
                }
                (Some(_), None, _) => {
                    return Err(Error::Internal {
                        message: "a paged segment without a graph".into(),
                    });
                }
                (dense, Some(sq), _) => self.hybrid_scan(part, dense.as_deref(), sq, k, accept),
                (None, None, _) => Ok(Vec::new()),
            };
            let found = match found {
                Ok(found) => found,
                Err(Error::NotLoaded { keys }) => {
                    missing.extend(keys);
                    continue;
                }
                Err(e) => return Err(e),
            };
            merged.extend(found.into_iter().map(|(score, slot)| Scored {
                loc: Loc { part, slot },
                score,
            }));
        }
        if let Some(q) = &query.values {
            let selected = self.select_pool(pool, k);
            match self.rescore_selected(&selected, q, k) {
                Ok(found) => merged.extend(found),
                Err(Error::NotLoaded { keys }) => {
                    // Only the rescoring waits for rows: keep the search for the next round.
                    if let Some(key) = key.filter(|_| missing.is_empty()) {
                        self.pending.put(Pending {
                            key,
                            merged: merged.clone(),
                            selected,
                        });
                    }
                    missing.extend(keys);
                }
                Err(e) => return Err(e),
            }
        }
        if !missing.is_empty() {
            missing.small_sort();
            missing.dedup();
            return Err(Error::NotLoaded { keys: missing });
        }
        Ok(self.best(merged, k, higher_is_better))
    }

    /// The best `k` of the parts' results, best first.
    fn best(&self, mut merged: Vec<Scored>, k: usize, higher_is_better: bool) -> Vec<Scored> {
        // Each part returned at most k; the best k overall are among them. Ties go to the
        // lower id so results do not depend on where records happen to live.
        // A total order (ids are unique among live records), so the heapsort's answer is the
        // stable sort's.
        merged.small_sort_by(|a, b| {
            let o = if higher_is_better {
                b.score.total_cmp(&a.score)
            } else {
                a.score.total_cmp(&b.score)
            };
            o.then_with(|| self.id(a.loc).cmp(self.id(b.loc)))
        });
        merged.truncate(k);
        merged
    }

    /// Searches a segment's graph. `accept` (live and matching) is applied during the
    /// traversal; `fraction` estimates the share of slots it passes, and `search_filtered`
    /// falls back to the exact scan whenever the graph finds fewer than `min(k, accepted)`, so
    /// the answer is never short. With int8 codes ([`AnnConfig::int8`]) the graph is walked on
    /// them, candidates are rescored in f32 from their rows (read on demand when the segment
    /// is paged), and the same plan and fallback apply.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn graph_search(
        &self,
        part: Part,
        sealed: &Sealed,
        view: HnswView<'_>,
        q: &[f32],
        k: usize,
        accept: &dyn Fn(u32) -> bool,
        fraction: f32,
        scratch: &mut SearchScratch,
        pool: Option<&mut Pool>,
    ) -> Result<Vec<(f32, u32)>> {
        if k == 0 {
            return Ok(Vec::new());
        }
        self.note_graph_search();
        let (vectors, norms) = (sealed.segment.all_vectors(), sealed.segment.norms());
        // At least `ef_search`, raised to what the graph's calibration needs for this `k`.
        let auto = self.ann.auto_ef;
        let ef = view.beam(k, self.ann.hnsw.ef_search as usize, auto);
        if let Some(q8) = sealed.int8() {
            // The same plan as `search_filtered`, walking the graph on codes and rescoring in
            // f32; the exact plan, and a graph answer that came back short (fewer than k
            // accepted found), scan the accepted slots' codes and rescore the best `ef` in f32,
            // which returns min(k, accepted).
            let plan = view.plan(k, ef, fraction, auto);
            let found = match plan {
                FilteredPlan::Exact => None,
                p => {
                    let two_hop = p == FilteredPlan::TwoHop;
                    q8.candidates(&view, q, ef, &accept, two_hop, scratch).ok()
                }
            };
            let candidates = match found {
                Some(found) if found.len() >= k => found,
                _ => q8.scan_candidates(&view, q, ef, accept)?,
            };
            let Some(pool) = pool else {
                return self.rescore(part, sealed, &view, q, k, candidates);
            };
            // Pooled: ranked against the other segments' candidates by their codes first.
            let unit = pool.unit(self.metric, q);
            let approx = q8.approx_distances(unit, &candidates);
            let found = approx
                .into_iter()
                .zip(candidates)
                .map(|(d, s)| (d, part, s));
            pool.size = pool.size.max(ef);
            pool.items.extend(found);
            return Ok(Vec::new());
        }
        match view.search_filtered_with(q, vectors, norms, k, ef, accept, fraction, auto, scratch) {
            Ok((found, _plan)) => Ok(found),
            // Unreachable: the graph was checked against the segment at load or build.
            Err(_) => Ok(flat::scan(self.metric, q, vectors, norms, k, accept)),
        }
    }

    /// Rescores the pooled candidates of every segment searched on codes: the best
    /// `max(ef, k)` of all of them by approximate distance, scored exactly from their rows (one
    /// `NotLoaded` round names every row group they need), so a namespace of many segments
    /// reads about as many rows per query as one of a single segment.
    ///
    /// This picks them, in part and slot order (`rescore_selected` scores them).
    fn select_pool(&self, mut pool: Pool, k: usize) -> Vec<(f32, Part, u32)> {
        if k == 0 {
            return Vec::new();
        }
        pool.items
            .small_sort_by(|a, b| a.0.total_cmp(&b.0).then((a.1, a.2).cmp(&(b.1, b.2))));
        pool.items.truncate(pool.size.max(k));
        pool.items
            .small_sort_by_key(|&(_, part, slot)| (part, slot));
        pool.items
    }

    /// Scores the candidates `select_pool` picked from their rows, `k` best per segment.
    fn rescore_selected(
        &self,
        selected: &[(f32, Part, u32)],
        q: &[f32],
        k: usize,
    ) -> Result<Vec<Scored>> {
        if selected.is_empty() {
            return Ok(Vec::new());
        }
        self.require(selected.iter().map(|&(_, part, slot)| Loc { part, slot }))?;
        let mut out = Vec::new();
        for chunk in selected.chunk_by(|a, b| a.1 == b.1) {
            let part = chunk[0].1;
            let Part::Segment(i) = part else { continue };
            let sealed = &self.segments[i as usize];
            let Some(view) = sealed.graph_view() else {
                continue;
            };
            let slots = chunk.iter().map(|&(_, _, s)| s).collect();
            let found = self.rescore(part, sealed, &view, q, k, slots)?;
            out.extend(found.into_iter().map(|(score, slot)| Scored {
                loc: Loc { part, slot },
                score,
            }));
        }
        Ok(out)
    }

    /// Scores `candidates` of a segment exactly from their rows and keeps the best `k`;
    /// `NotLoaded` when some of their row groups are paged out.
    fn rescore(
        &self,
        part: Part,
        sealed: &Sealed,
        view: &HnswView<'_>,
        q: &[f32],
        k: usize,
        mut candidates: Vec<u32>,
    ) -> Result<Vec<(f32, u32)>> {
        // In slot order, so that ties go to the lower slot whichever way the rows are read.
        candidates.small_sort();
        if sealed.paged.is_none() {
            let (vectors, norms) = (sealed.segment.all_vectors(), sealed.segment.norms());
            return Ok(view.rescore(q, vectors, norms, k, candidates.into_iter()));
        }
        self.require_slots(part, &candidates)?;
        self.note_groups_touched(sealed, &candidates);
        let d = self.dimension;
        let mut rows = Vec::with_capacity(candidates.len() * d);
        let mut norms = Vec::with_capacity(candidates.len());
        for &slot in &candidates {
            rows.extend_from_slice(self.values(Loc { part, slot })?);
            norms.push(sealed.segment.norms()[slot as usize]);
        }
        let found = view.rescore(
            q,
            Dense::flat(&rows, d),
            &norms,
            k,
            0..candidates.len() as u32,
        );
        Ok(found
            .into_iter()
            .map(|(score, i)| (score, candidates[i as usize]))
            .collect())
    }

    pub(super) fn hybrid_scan(
        &self,
        part: Part,
        dense: Option<&[f32]>,
        sq: &SparseVector,
        k: usize,
        accept: impl Fn(u32) -> bool,
    ) -> Result<Vec<(f32, u32)>> {
        let slots: Vec<u32> = (0..self.part(part).len() as u32)
            .filter(|&s| accept(s))
            .collect();
        if dense.is_some() {
            self.require_slots(part, &slots)?;
        }
        let mut top = flat::TopK::new(k, true);
        for slot in slots {
            if let Some(score) = self.hybrid_score(Loc { part, slot }, dense, sq)? {
                top.push(score, slot);
            }
        }
        Ok(top.into_sorted())
    }

    /// A record's hybrid score, `dense dot + sparse dot`; without dense values, the sparse dot,
    /// and `None` when the record shares no sparse index with the query. The one formula of
    /// the exact and the graph paths, so both give the same bits.
    pub(super) fn hybrid_score(
        &self,
        loc: Loc,
        dense: Option<&[f32]>,
        sq: &SparseVector,
    ) -> Result<Option<f32>> {
        let sparse_score = self.sparse_values(loc).and_then(|sv| sparse::dot(sq, sv));
        Ok(match dense {
            Some(q) => Some(distance::dot(q, self.values(loc)?) + sparse_score.unwrap_or(0.0)),
            None => sparse_score,
        })
    }

    /// A hybrid (dense + sparse) query of a segment with a graph, on a dotproduct index. The
    /// candidates are the graph's best `max(ef, 4k)` accepted slots by the dense part, plus
    /// every accepted slot sharing a sparse index with the query (from the segment's inverted
    /// index, built on first use), so a record with a strong sparse match is never missed
    /// however poor its dense score. Each candidate is scored exactly like [`Self::hybrid_scan`].
    #[allow(clippy::too_many_arguments)]
    pub(super) fn hybrid_graph_search(
        &self,
        part: Part,
        sealed: &Sealed,
        view: HnswView<'_>,
        q: &[f32],
        sq: &SparseVector,
        k: usize,
        accept: &dyn Fn(u32) -> bool,
        fraction: f32,
        scratch: &mut SearchScratch,
    ) -> Result<Vec<(f32, u32)>> {
        if k == 0 {
            return Ok(Vec::new());
        }
        let ef = self.ann.hnsw.ef_search as usize;
        let dense_k = ef.max(k.saturating_mul(4));
        let dense = self.graph_search(
            part, sealed, view, q, dense_k, accept, fraction, scratch, None,
        )?;
        let index = sealed.sparse_index.get_or_init(|| {
            sparse::InvertedIndex::build(
                (0..sealed.segment.len() as u32).map(|slot| sealed.segment.sparse_values(slot)),
            )
        });
        let mut candidates = index.matching(sq);
        candidates.retain(|&slot| accept(slot));
        candidates.extend(dense.into_iter().map(|(_, slot)| slot));
        // Ascending slots, like the exact scan, so ties break the same way.
        candidates.small_sort();
        candidates.dedup();
        self.require_slots(part, &candidates)?;
        let mut top = flat::TopK::new(k, true);
        for slot in candidates {
            if let Some(score) = self.hybrid_score(Loc { part, slot }, Some(q), sq)? {
                top.push(score, slot);
            }
        }
        Ok(top.into_sorted())
    }
}
