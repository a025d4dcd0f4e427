//! Writes: upserts, updates and deletes change the memtable and tombstones, and, when the
//! namespace is persistent, record their physical effect for the write log.

use super::Namespace;
use super::component::SegmentComponent;
use crate::error::Result;
use crate::filter::Filter;
use crate::manifest::LogOp;
use crate::metadata::Metadata;
use crate::record::{Record, SparseVector};
use crate::segment::stored::StoredRecord;

impl Namespace {
    /// Physically puts a record: tombstones an older segment version, writes the memtable.
    pub(super) fn put(&mut self, r: Record) {
        if self.memtable.slot_of(&r.id).is_none() {
            self.tombstone(&r.id);
        }
        self.memtable.put(r);
    }

    /// Physically removes a record; false when absent.
    pub(super) fn remove(&mut self, id: &str) -> bool {
        self.memtable.remove(id) || self.tombstone(id)
    }

    pub(super) fn tombstone(&mut self, id: &str) -> bool {
        for s in &mut self.segments {
            if let Some(slot) = s.segment.slot_of(id)
                && s.tombstones.insert(slot)
            {
                s.blobs.touch(SegmentComponent::Tombstones);
                return true;
            }
        }
        false
    }

    pub(super) fn log(&mut self, op: LogOp) {
        if let Some(p) = &mut self.persist {
            p.ops.push(op);
        }
    }

    pub(super) fn put_logged(&mut self, records: Vec<Record>) {
        if self.persist.is_some() {
            let stored = records.iter().map(StoredRecord::from_record).collect();
            self.log(LogOp::Put(stored));
        }
        for r in records {
            self.put(r);
        }
    }

    /// Ends a write: bumps the LSN, and seals and compacts when a threshold is reached.
    pub(super) fn finish_write(&mut self) -> u64 {
        self.lsn += 1;
        let log_len = match &mut self.persist {
            Some(p) => {
                p.dirty = true;
                p.log.len() + 1
            }
            None => 0,
        };
        if self.memtable.len() >= self.config.seal_records || log_len > self.config.max_log_entries
        {
            self.seal();
        }
        self.lsn
    }

    /// Inserts or replaces whole records. Returns the new LSN.
    pub fn upsert(&mut self, records: Vec<Record>) -> u64 {
        self.put_logged(records);
        self.finish_write()
    }

    /// Overwrites parts of one record. Returns false when `id` is absent.
    pub fn update(
        &mut self,
        id: &str,
        values: Option<Vec<f32>>,
        sparse_values: Option<SparseVector>,
        set_metadata: Option<&Metadata>,
    ) -> Result<bool> {
        let Some(loc) = self.locate(id) else {
            return Ok(false);
        };
        let mut r = self.record(loc)?;
        if let Some(v) = values {
            r.values = v;
        }
        if let Some(sv) = sparse_values {
            r.sparse_values = Some(sv);
        }
        if let Some(md) = set_metadata {
            r.metadata.get_or_insert_with(Metadata::new).merge(md);
        }
        self.put_logged(vec![r]);
        self.finish_write();
        Ok(true)
    }

    /// Merges `set_metadata` into every record matching `filter`. Returns how many matched.
    /// `NotLoaded`, with nothing changed, while their rows are paged out.
    pub fn update_where(&mut self, filter: &Filter, set_metadata: &Metadata) -> Result<usize> {
        let locs = self.matching(filter);
        self.require(locs.iter().copied())?;
        let records: Vec<Record> = locs
            .into_iter()
            .map(|l| {
                let mut r = self.record(l)?;
                r.metadata
                    .get_or_insert_with(Metadata::new)
                    .merge(set_metadata);
                Ok(r)
            })
            .collect::<Result<_>>()?;
        let n = records.len();
        self.put_logged(records);
        self.finish_write();
        Ok(n)
    }

    /// Deletes ids; unknown ids are ignored. Returns how many were deleted.
    pub fn delete_ids<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>) -> usize {
        let ids: Vec<String> = ids.into_iter().map(str::to_string).collect();
        let n = ids.iter().filter(|id| self.remove(id)).count();
        self.log(LogOp::Delete(ids));
        self.finish_write();
        n
    }

    /// Deletes every record matching `filter`. Returns how many were deleted.
    pub fn delete_where(&mut self, filter: &Filter) -> usize {
        let ids: Vec<String> = self
            .matching(filter)
            .into_iter()
            .map(|l| self.id(l).to_string())
            .collect();
        self.delete_ids(ids.iter().map(String::as_str))
    }
}
