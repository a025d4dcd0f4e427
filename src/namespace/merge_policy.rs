//! Which merges of sealed segments run, and when: one policy for compaction (synchronous, at
//! every seal) and consolidation (in the background, by [`Namespace::index_step`]). It sees
//! only per-segment counts, so the rules can be read and changed without the query code.
//!
//! - A segment without live records is dropped, and one more than half dead is rewritten with
//!   its live records (at sealing).
//! - While there are more than [`StorageConfig::max_segments`] segments, the smallest are merged
//!   into one (at sealing, once no segment is empty or mostly dead), as many as fit in
//!   [`AnnConfig::merge_bytes`] of rows (0: no limit): the limit on memory wins over the
//!   segment count, so a large namespace may keep more segments than `max_segments`.
//! - Every segment is consolidated into one when that pays ([`AnnConfig::merge_bytes`]): at
//!   least two segments, live vectors of at most `merge_bytes`, enough records for a graph,
//!   and the segments besides the largest holding at least half as many live records as it
//!   does, so each record is rebuilt a logarithmic number of times.
//!
//! Every merge copies the live records of its inputs with the same [`super::merger::Merger`].

use super::{AnnConfig, StorageConfig};
use crate::sort::SmallSort;

#[cfg(doc)]
use super::Namespace;

/// What the policy sees of one sealed segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SegmentStats {
    pub(super) id: u64,
    /// Records stored, live or dead.
    pub(super) records: usize,
    /// Live records.
    pub(super) live: usize,
}

/// Why a merge runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MergeKind {
    /// One segment without live records: dropped (the merge yields no segment).
    DropEmpty,
    /// One segment more than half dead: rewritten with its live records.
    RewriteDead,
    /// The smallest segments, while there are more than `max_segments`.
    MergeSmallest,
    /// Every segment, merged into one in the background.
    Consolidate,
}

impl MergeKind {
    /// True for merges that [`Namespace::index_step`] runs in bounded steps; the others run
    /// at once, at sealing.
    pub(super) fn is_background(self) -> bool {
        self == MergeKind::Consolidate
    }
}

/// One merge: its inputs, by segment id, replaced by one segment holding their live records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Merge {
    pub(super) kind: MergeKind,
    pub(super) inputs: Vec<u64>,
}

/// The merge rules (see the module documentation).
#[derive(Debug, Clone, Copy)]
pub(super) struct MergePolicy {
    max_segments: usize,
    merge_bytes: usize,
    min_records: usize,
    dimension: usize,
}

impl MergePolicy {
    pub(super) fn new(config: StorageConfig, ann: AnnConfig, dimension: usize) -> Self {
        MergePolicy {
            max_segments: config.max_segments.max(1),
            merge_bytes: ann.merge_bytes,
            min_records: ann.min_records,
            dimension,
        }
    }

    /// The merges due for `segments` (oldest first): the synchronous ones in the order they
    /// run, then the background one, if it pays. Merging the smallest segments waits until no
    /// segment is empty or mostly dead; applying the synchronous merges and asking again
    /// reaches a state with none due.
    pub(super) fn candidates(&self, segments: &[SegmentStats]) -> Vec<Merge> {
        let one = |kind, s: &SegmentStats| Merge {
            kind,
            inputs: vec![s.id],
        };
        let mut out: Vec<Merge> = segments
            .iter()
            .filter_map(|s| {
                if s.live == 0 {
                    Some(one(MergeKind::DropEmpty, s))
                } else if (s.records - s.live) * 2 > s.records {
                    Some(one(MergeKind::RewriteDead, s))
                } else {
                    None
                }
            })
            .collect();
        if out.is_empty() && segments.len() > self.max_segments {
            // Ties keep the segments' order (the position breaks them).
            let mut by_size: Vec<(usize, &SegmentStats)> = segments.iter().enumerate().collect();
            by_size.small_sort_by_key(|&(i, s)| (s.live, i));
            let by_size: Vec<&SegmentStats> = by_size.into_iter().map(|(_, s)| s).collect();
            let want = (segments.len() - self.max_segments + 1).max(2);
            // The merged segment's rows stay within `merge_bytes` (the memory a merge holds
            // until its output is indexed and paged out): the segment count yields to it.
            let cap = if self.merge_bytes == 0 {
                usize::MAX
            } else {
                self.merge_bytes
            };
            let mut rows = 0usize;
            let inputs: Vec<u64> = by_size
                .iter()
                .take(want)
                .take_while(|s| {
                    rows = rows.saturating_add(s.live.saturating_mul(self.dimension * 4));
                    rows <= cap
                })
                .map(|s| s.id)
                .collect();
            if inputs.len() >= 2 {
                out.push(Merge {
                    kind: MergeKind::MergeSmallest,
                    inputs,
                });
            }
        }
        out.extend(self.consolidation(segments));
        out
    }

    /// Consolidating every segment, when it pays.
    fn consolidation(&self, segments: &[SegmentStats]) -> Option<Merge> {
        let total: usize = segments.iter().map(|s| s.live).sum();
        let largest = segments.iter().map(|s| s.live).max().unwrap_or(0);
        let pays = segments.len() >= 2
            && self.dimension > 0
            && total.saturating_mul(self.dimension * 4) <= self.merge_bytes
            && total >= self.min_records
            && (total - largest) * 2 >= largest;
        pays.then(|| Merge {
            kind: MergeKind::Consolidate,
            inputs: segments.iter().map(|s| s.id).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(sizes: &[(usize, usize)]) -> Vec<SegmentStats> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &(records, live))| SegmentStats {
                id: i as u64,
                records,
                live,
            })
            .collect()
    }

    fn policy(max_segments: usize, merge_bytes: usize) -> MergePolicy {
        let config = StorageConfig {
            max_segments,
            ..StorageConfig::default()
        };
        let ann = AnnConfig {
            min_records: 100,
            merge_bytes,
            ..AnnConfig::default()
        };
        MergePolicy::new(config, ann, 4)
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn empty_and_mostly_dead_segments_go_first_and_alone() {
        let p = policy(2, 0);
        let due = p.candidates(&stats(&[(10, 10), (10, 0), (10, 4), (10, 5), (10, 9)]));
        let kinds: Vec<(MergeKind, Vec<u64>)> =
            due.into_iter().map(|m| (m.kind, m.inputs)).collect();
        assert_eq!(
            kinds,
            [
                (MergeKind::DropEmpty, vec![1]),
                (MergeKind::RewriteDead, vec![2])
            ]
        );
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn too_many_segments_merge_the_smallest_down_to_the_limit() {
        let p = policy(2, 0);
        let due = p.candidates(&stats(&[(50, 50), (10, 10), (30, 30), (10, 10)]));
        assert_eq!(
            due,
            [Merge {
                kind: MergeKind::MergeSmallest,
                inputs: vec![1, 3, 2]
            }]
        );
        assert!(p.candidates(&stats(&[(50, 50), (10, 10)])).is_empty());
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn merging_the_smallest_stays_within_merge_bytes() {
        // 16 bytes per record (dimension 4): 45 records fit in 720 bytes.
        let p = policy(2, 720);
        let due = p.candidates(&stats(&[(50, 50), (10, 10), (30, 30), (10, 10)]));
        assert_eq!(
            due,
            [Merge {
                kind: MergeKind::MergeSmallest,
                inputs: vec![1, 3]
            }],
            "the third smallest would pass the limit"
        );
        // Not even the two smallest fit: more segments than max_segments, and no merge.
        let p = policy(2, 300);
        assert!(
            p.candidates(&stats(&[(50, 50), (20, 20), (30, 30)]))
                .is_empty()
        );
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn consolidation_pays_when_the_rest_hold_half_the_largest() {
        let p = policy(8, 1 << 20);
        let due = |sizes: &[(usize, usize)]| {
            p.candidates(&stats(sizes))
                .into_iter()
                .any(|m| m.kind.is_background())
        };
        assert!(due(&[(100, 100), (50, 50)]));
        assert!(
            !due(&[(100, 100), (49, 49)]),
            "the rest hold less than half"
        );
        assert!(!due(&[(60, 60), (30, 30)]), "too few records for a graph");
        assert!(!due(&[(200, 200)]), "one segment");
        assert!(
            !policy(8, 150 * 16)
                .candidates(&stats(&[(100, 100), (60, 60)]))
                .iter()
                .any(|m| m.kind.is_background()),
            "over merge_bytes"
        );
    }
}
