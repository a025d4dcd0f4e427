//! Sealing and merging: the memtable becomes a segment, and the [`MergePolicy`]'s merges
//! replace segments by one holding their live records — compaction at once at every seal,
//! consolidation in the background (started, swapped in or abandoned here, stepped by
//! `background.rs`).

use super::Namespace;
use super::component::SegmentComponent;
use super::consolidation::Consolidation;
use super::job::{Codes, Graph};
use super::merge_policy::{Merge, MergeKind, MergePolicy, SegmentStats};
use super::merger::{Merged, Merger};
use super::sealed::Sealed;
use crate::index::hnsw::HnswBuilder;
use crate::segment::{Segment, Tombstones};
use crate::sort::SmallSort;

impl Namespace {
    /// Seals the memtable into a segment and compacts.
    pub fn seal(&mut self) {
        if !self.memtable.is_empty() {
            // A memtable sealed full is likely to fill again: keep room for as many records
            // (the same blocks, freed just before). A smaller one starts empty.
            let full = self.memtable.len() >= self.config.seal_records;
            let reserve = if full { self.config.seal_records } else { 0 };
            let columns = self.memtable.seal_sorted(reserve);
            self.push_segment(Segment::from_sorted_columns(columns));
        }
        self.compact();
        if let Some(p) = &mut self.persist {
            p.sealed_since_commit = true;
            p.dirty = true;
        }
    }

    /// Appends a new segment (with no dead record) and schedules its graph.
    fn push_segment(&mut self, segment: Segment) {
        let tombstones = Tombstones::new(segment.len());
        self.segments
            .push(Sealed::new(self.next_segment, segment, tombstones));
        self.next_segment += 1;
        self.schedule_graph(self.segments.len() - 1);
    }

    /// The merge rules for this namespace's configuration.
    pub(super) fn merge_policy(&self) -> MergePolicy {
        MergePolicy::new(self.config, self.ann, self.dimension)
    }

    /// What the merge policy sees of the segments.
    pub(super) fn segment_stats(&self) -> Vec<SegmentStats> {
        self.segments
            .iter()
            .map(|s| SegmentStats {
                id: s.id,
                records: s.segment.len(),
                live: s.live(),
            })
            .collect()
    }

    /// Runs the synchronous merges the policy asks for until none is due: drops empty
    /// segments, rewrites mostly-dead ones, and merges the smallest when there are too many.
    /// A merge that must read rows of a paged segment not in memory waits: background work
    /// asks the host for them ([`Namespace::index_needs`]) and runs it then.
    pub(super) fn compact(&mut self) {
        let policy = self.merge_policy();
        loop {
            let due: Vec<Merge> = policy
                .candidates(&self.segment_stats())
                .into_iter()
                .filter(|m| !m.kind.is_background() && self.merge_runnable(m))
                .collect();
            if due.is_empty() {
                break;
            }
            for m in due {
                self.merge_now(&m.inputs);
            }
        }
    }

    /// True when `m` can run now: it drops a segment, or every row of its inputs is in memory.
    fn merge_runnable(&self, m: &Merge) -> bool {
        m.kind == MergeKind::DropEmpty || m.inputs.iter().all(|&id| self.rows_present(id))
    }

    /// The synchronous merges due that read rows of paged segments: they run in the
    /// background instead, one row group at a time (`index_step`).
    pub(super) fn blocked_merges(&self) -> Vec<Merge> {
        self.merge_policy()
            .candidates(&self.segment_stats())
            .into_iter()
            .filter(|m| !m.kind.is_background() && !self.merge_runnable(m))
            .collect()
    }

    /// Replaces the segments `inputs` by one holding their live records (none when they hold
    /// none), at once.
    fn merge_now(&mut self, inputs: &[u64]) {
        let picked = inputs
            .iter()
            .filter_map(|id| self.segments.iter().find(|s| s.id == *id));
        let segment = Merger::new(self.dimension, picked).merge_now(&self.segments);
        self.remove_segments(inputs);
        if !segment.is_empty() {
            self.push_segment(segment);
        }
    }

    /// Removes the segments `ids` (the last first), listing their blobs as garbage.
    fn remove_segments(&mut self, ids: &[u64]) {
        let mut positions: Vec<usize> = (0..self.segments.len())
            .filter(|&i| ids.contains(&self.segments[i].id))
            .collect();
        positions.small_sort_by(|a, b| b.cmp(a));
        for i in positions {
            let s = self.segments.remove(i);
            self.drop_blobs(&s);
        }
    }

    /// Lists the blobs of a segment that is merged away or dropped as garbage for the next
    /// commit.
    fn drop_blobs(&mut self, s: &Sealed) {
        let Some(p) = &mut self.persist else { return };
        p.dropped
            .extend(s.blobs.keys(&p.prefix, s.id, &SegmentComponent::ALL));
    }

    /// The consolidation the policy asks for, if it pays and none is running.
    pub(super) fn consolidation_due(&self) -> Option<Merge> {
        if self.consolidation.is_some() {
            return None;
        }
        let policy = self.merge_policy();
        let due = policy.candidates(&self.segment_stats());
        due.into_iter().find(|m| m.kind.is_background())
    }

    /// Starts merging the segments `m.inputs` in the background (a consolidation, or a
    /// compaction that reads paged rows): an empty copy and an empty graph builder. The
    /// inputs' graphs and codes still to build would be thrown away, so they are not built
    /// (those segments are scanned exactly until the swap).
    pub(super) fn start_consolidation(&mut self, m: &Merge) {
        for s in self
            .segments
            .iter_mut()
            .filter(|s| m.inputs.contains(&s.id))
        {
            if s.graph.is_building() {
                s.graph = Graph::None;
            }
            if s.codes.is_building() {
                s.codes = Codes::None;
            }
        }
        let Ok(builder) = HnswBuilder::new(self.ann.hnsw, self.metric, self.dimension) else {
            return;
        };
        let inputs = m
            .inputs
            .iter()
            .filter_map(|id| self.segments.iter().find(|s| s.id == *id));
        let merger = Merger::new(self.dimension, inputs);
        self.consolidation = Some(Consolidation::new(merger, builder));
    }

    /// Drops the consolidation because an input is gone (compaction merged or dropped it); the
    /// remaining segments get the graphs and codes skipped for it.
    pub(super) fn abandon_consolidation(&mut self) {
        self.consolidation = None;
        for i in 0..self.segments.len() {
            self.schedule_graph(i);
        }
    }

    /// Replaces the consolidation's inputs by its segment, tombstoning there every record
    /// deleted or overwritten in an input since the merge began. Drops the consolidation
    /// instead when an input is gone (merged or dropped by compaction meanwhile).
    pub(super) fn finish_consolidation(&mut self, merged: Merged, graph: Vec<u8>) {
        let Merged { segment, inputs } = merged;
        let mut positions = Vec::with_capacity(inputs.len());
        for (id, _) in &inputs {
            match self.segments.iter().position(|s| s.id == *id) {
                Some(i) => positions.push(i),
                None => return self.abandon_consolidation(),
            }
        }
        let mut tombstones = Tombstones::new(segment.len());
        for ((_, then), &i) in inputs.iter().zip(&positions) {
            let s = &self.segments[i];
            for (w, (&now, &before)) in s.tombstones.words().iter().zip(then.words()).enumerate() {
                let mut died = now & !before;
                while died != 0 {
                    let slot = (w * 64) as u32 + died.trailing_zeros();
                    died &= died - 1;
                    if let Some(new) = segment.slot_of(s.segment.id(slot)) {
                        tombstones.insert(new);
                    }
                }
            }
        }
        let ids: Vec<u64> = inputs.iter().map(|(id, _)| *id).collect();
        self.remove_segments(&ids);
        let dirty = tombstones.count() > 0;
        let mut sealed = Sealed {
            graph: Graph::Ready(graph),
            ..Sealed::new(self.next_segment, segment, tombstones)
        };
        if dirty {
            sealed.blobs.touch(SegmentComponent::Tombstones);
        }
        sealed.blobs.touch(SegmentComponent::Graph);
        self.segments.push(sealed);
        self.next_segment += 1;
        self.sync_int8(self.segments.len() - 1);
        if let Some(p) = &mut self.persist {
            // Not a seal: the memtable and its log stay as they are.
            p.dirty = true;
        }
    }
}
