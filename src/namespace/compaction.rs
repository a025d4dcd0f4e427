//! Sealing the memtable into a segment, and compaction: the synchronous merges that run at
//! every seal.

use super::Namespace;
use super::sealed::Sealed;
use crate::record::Record;
use crate::segment::{Segment, Tombstones};

impl Namespace {
    /// Seals the memtable into a segment and compacts.
    pub fn seal(&mut self) {
        if !self.memtable.is_empty() {
            let records = self.memtable.drain_sorted();
            self.push_segment(records);
        }
        self.compact();
        if let Some(p) = &mut self.persist {
            p.sealed_since_commit = true;
            p.dirty = true;
        }
    }

    pub(super) fn push_segment(&mut self, records: Vec<Record>) {
        let segment = Segment::from_sorted(self.dimension, records);
        let tombstones = Tombstones::new(segment.len());
        self.segments
            .push(Sealed::new(self.next_segment, segment, tombstones));
        self.next_segment += 1;
        self.schedule_graph(self.segments.len() - 1);
    }

    /// Drops empty segments, rewrites mostly-dead ones, and merges the smallest when there are
    /// too many.
    pub(super) fn compact(&mut self) {
        let mut i = 0;
        while i < self.segments.len() {
            let s = &self.segments[i];
            if s.live() == 0 {
                let s = self.segments.remove(i);
                self.drop_blobs(&s);
            } else if s.tombstones.count() * 2 > s.segment.len() {
                self.merge(&[i]);
                i = 0;
            } else {
                i += 1;
            }
        }
        while self.segments.len() > self.config.max_segments.max(1) {
            let mut by_size: Vec<usize> = (0..self.segments.len()).collect();
            by_size.sort_by_key(|&i| self.segments[i].live());
            let take = (self.segments.len() - self.config.max_segments.max(1) + 1).max(2);
            by_size.truncate(take.min(self.segments.len()));
            self.merge(&by_size);
        }
    }

    /// Replaces the given segments by one holding their live records.
    pub(super) fn merge(&mut self, which: &[usize]) {
        let mut sorted = which.to_vec();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        let mut records = Vec::new();
        for i in sorted {
            let s = self.segments.remove(i);
            records.extend(
                (0..s.segment.len() as u32)
                    .filter(|&slot| !s.tombstones.contains(slot))
                    .map(|slot| s.segment.record(slot)),
            );
            self.drop_blobs(&s);
        }
        records.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        if !records.is_empty() {
            self.push_segment(records);
        }
    }

    /// Lists the blobs of a segment that is merged away or dropped as garbage for the next
    /// commit.
    pub(super) fn drop_blobs(&mut self, s: &Sealed) {
        let Some(p) = &mut self.persist else { return };
        p.dropped.extend(s.blobs.keys(&p.prefix, s.id, |_| true));
    }
}
