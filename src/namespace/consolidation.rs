//! Consolidation: the background merge of every sealed segment into one
//! ([`AnnConfig::merge_bytes`]).

use super::Namespace;
use super::component::SegmentComponent;
use super::sealed::{Graph, Sealed};
use crate::index::hnsw::HnswBuilder;
use crate::segment::columns::Columns;
use crate::segment::{Segment, Tombstones};

#[cfg(doc)]
use super::AnnConfig;

/// A background merge of sealed segments into one ([`AnnConfig::merge_bytes`]).
#[derive(Debug, Clone)]
pub(super) struct Consolidation {
    /// The input segments' ids, with their tombstones when the merge began.
    inputs: Vec<(u64, Tombstones)>,
    /// Copy phase: the next slot of each input (same order as `inputs`) and the records live
    /// when the merge began copied so far, merged in id order.
    cursors: Vec<u32>,
    copied: Columns,
    /// The merged segment, once every record is copied.
    segment: Option<Segment>,
    /// The new segment's graph, being built.
    builder: Box<HnswBuilder>,
}

/// Records copied into a consolidation per node of an [`Namespace::index_step`] budget: a
/// copy costs ~1-2 µs at 384 dimensions (wasm), a graph insertion ~100-460 µs.
pub(super) const COPY_ROWS_PER_NODE: usize = 128;

impl Namespace {
    /// True when [`AnnConfig::merge_bytes`] allows consolidating the sealed segments and it
    /// pays: at least two segments, live vectors of at most `merge_bytes`, enough records for
    /// a graph, and the segments besides the largest holding at least half as many as it does.
    pub(super) fn consolidation_pays(&self) -> bool {
        let live: Vec<usize> = self.segments.iter().map(Sealed::live).collect();
        let total: usize = live.iter().sum();
        let largest = live.iter().copied().max().unwrap_or(0);
        self.segments.len() >= 2
            && self.dimension > 0
            && total.saturating_mul(self.dimension * 4) <= self.ann.merge_bytes
            && total >= self.ann.min_records
            && (total - largest) * 2 >= largest
    }

    /// A consolidation of every sealed segment: their live records copied, id-sorted, into
    /// a new segment, and an empty builder for its graph.
    pub(super) fn plan_consolidation(&self) -> Option<Consolidation> {
        let builder = HnswBuilder::new(self.ann.hnsw, self.metric, self.dimension).ok()?;
        Some(Consolidation {
            inputs: self
                .segments
                .iter()
                .map(|s| (s.id, s.tombstones.clone()))
                .collect(),
            cursors: vec![0; self.segments.len()],
            copied: Columns::new(self.dimension),
            segment: None,
            builder: Box::new(builder),
        })
    }

    /// Copies up to `rows` more records into the consolidation, merging its inputs in id
    /// order and skipping the records dead when it began. Returns the records copied, or
    /// `None` when an input is gone. Builds the segment after the last record.
    pub(super) fn consolidation_copy(&mut self, rows: usize) -> Option<usize> {
        let c = self.consolidation.as_mut()?;
        let inputs: Vec<&Sealed> = c
            .inputs
            .iter()
            .map(|(id, _)| self.segments.iter().find(|s| s.id == *id))
            .collect::<Option<_>>()?;
        let mut copied = 0;
        while copied < rows {
            // Skip to each input's next record that was live when the merge began.
            for (i, s) in inputs.iter().enumerate() {
                let then = &c.inputs[i].1;
                while (c.cursors[i] as usize) < s.segment.len() && then.contains(c.cursors[i]) {
                    c.cursors[i] += 1;
                }
            }
            let next = (0..inputs.len())
                .filter(|&i| (c.cursors[i] as usize) < inputs[i].segment.len())
                .min_by(|&a, &b| {
                    let id = |i: usize| inputs[i].segment.id(c.cursors[i]);
                    id(a).cmp(id(b))
                });
            let Some(i) = next else {
                let columns = std::mem::take(&mut c.copied);
                c.segment = Some(Segment::from_columns(columns));
                break;
            };
            c.copied.push(inputs[i].segment.record(c.cursors[i]));
            c.cursors[i] += 1;
            copied += 1;
        }
        Some(copied)
    }

    /// Inserts up to `budget` nodes into the consolidation's graph; on completion swaps the
    /// new segment in for its inputs. Returns the nodes inserted.
    pub(super) fn consolidate_step(&mut self, budget: usize) -> usize {
        let mut used = 0;
        if self
            .consolidation
            .as_ref()
            .is_some_and(|c| c.segment.is_none())
        {
            let Some(rows) = self.consolidation_copy(budget.saturating_mul(COPY_ROWS_PER_NODE))
            else {
                self.abandon_consolidation();
                return 0;
            };
            used = rows.div_ceil(COPY_ROWS_PER_NODE).min(budget);
        }
        let budget = budget - used;
        let Some(c) = self.consolidation.as_mut() else {
            return used;
        };
        let Some(segment) = c.segment.as_ref() else {
            return used;
        };
        let n = segment.len();
        let target = (c.builder.len() + budget).min(n);
        let done = target - c.builder.len();
        if c.builder
            .insert_until(target, segment.all_vectors(), segment.norms())
            .is_err()
        {
            // Unreachable (the builder was made for this dimension).
            self.consolidation = None;
            return done;
        }
        if target == n {
            let c = self.consolidation.take().expect("present");
            self.finish_consolidation(c);
        }
        used + done
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
    pub(super) fn finish_consolidation(&mut self, c: Consolidation) {
        let Consolidation {
            inputs,
            segment,
            builder,
            ..
        } = c;
        let Some(segment) = segment else {
            return;
        };
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
        positions.sort_unstable_by(|a, b| b.cmp(a));
        for i in positions {
            let s = self.segments.remove(i);
            self.drop_blobs(&s);
        }
        let dirty = tombstones.count() > 0;
        let mut merged = Sealed {
            graph: Graph::Ready(builder.finish().to_bytes()),
            ..Sealed::new(self.next_segment, segment, tombstones)
        };
        if dirty {
            merged.blobs.touch(SegmentComponent::Tombstones);
        }
        merged.blobs.touch(SegmentComponent::Graph);
        self.segments.push(merged);
        self.next_segment += 1;
        self.sync_int8(self.segments.len() - 1);
        if let Some(p) = &mut self.persist {
            // Not a seal: the memtable and its log stay as they are.
            p.dirty = true;
        }
    }
}
