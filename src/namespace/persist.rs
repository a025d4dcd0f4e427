//! Persistence: [`Namespace::commit`] turns what changed into a [`WriteBatch`], and
//! [`Namespace::load`] rebuilds a namespace from its manifest and blobs (see `docs/format.md`).

use std::collections::{BTreeMap, BTreeSet};

use super::component::{self, SegmentComponent};
use super::{AnnConfig, Namespace, StorageConfig};
use crate::distance::Metric;
use crate::error::{Error, Result};
use crate::format::{self, BlobKind};
use crate::manifest::{LogEntry, LogOp, LogRef, Manifest};
#[cfg(feature = "legacy-formats")]
use crate::manifest::{ManifestV1, ManifestV2, ManifestV3};
use crate::sort::CollectTree;
use crate::storage::{WriteBatch, keys};

/// Persistence state of a namespace.
#[derive(Debug, Clone)]
pub(super) struct Persist {
    pub(super) prefix: String,
    pub(super) log: Vec<LogRef>,
    pub(super) next_seq: u64,
    /// Ops of the write being built, not yet committed.
    pub(super) ops: Vec<LogOp>,
    /// Writes since the last commit.
    pub(super) dirty: bool,
    pub(super) sealed_since_commit: bool,
    /// Blobs of segments merged or dropped since the last commit.
    pub(super) dropped: Vec<String>,
    /// Garbage named by the last commit, deleted again by the next one.
    pub(super) garbage: Vec<String>,
}

impl Namespace {
    /// The write batch for everything written since the last commit, or `None` when nothing
    /// changed (or the namespace is not persistent). The manifest is the last put.
    pub fn commit(&mut self) -> Option<WriteBatch> {
        let count = self.len() as u64;
        let int8 = self.ann.int8;
        let p = self.persist.as_mut()?;
        if !p.dirty {
            return None;
        }
        let mut batch = WriteBatch::default();
        let mut garbage = std::mem::take(&mut p.dropped);
        let sealed = p.sealed_since_commit;
        if sealed {
            // The log is folded into segments and persisted tombstones.
            for l in p.log.drain(..) {
                garbage.extend((0..l.chunks).map(|c| keys::log(&p.prefix, l.seq, c)));
            }
            p.ops.clear();
        } else if !p.ops.is_empty() {
            let entry = LogEntry {
                lsn: self.lsn,
                ops: std::mem::take(&mut p.ops),
            };
            let blobs = format::encode_chunked(BlobKind::Log, &entry);
            let seq = p.next_seq;
            for (c, blob) in blobs.iter().enumerate() {
                batch
                    .puts
                    .push((keys::log(&p.prefix, seq, c as u32), blob.clone()));
            }
            p.log.push(LogRef {
                seq,
                chunks: blobs.len() as u32,
            });
            p.next_seq += 1;
        }
        // New segments (sealed, merged or consolidated) are written whole; the tombstones of
        // older ones only when the log is folded (until then the log's replay recreates them).
        // A consolidation swaps in a segment without sealing: the log stays, and replaying it
        // over the new segment is idempotent. Graphs completed since the last commit follow,
        // then int8 codes: new ones once their graph is written, stored ones with int8 off
        // become garbage.
        let new: Vec<bool> = self
            .segments
            .iter()
            .map(|s| !s.blobs.is_written())
            .collect();
        for c in SegmentComponent::ALL {
            component::commit_component(
                c,
                &mut self.segments,
                &new,
                (sealed, int8),
                &p.prefix,
                &mut batch.puts,
                &mut garbage,
            );
        }
        // Segments whose rows, metadata index and codes the store now holds page their rows
        // out of memory.
        if int8 {
            for s in &mut self.segments {
                let stored = [
                    SegmentComponent::Codes,
                    SegmentComponent::Rows,
                    SegmentComponent::Postings,
                ]
                .iter()
                .all(|&c| s.blobs.named(c).is_some());
                if stored
                    && s.paged.is_none()
                    && s.int8().is_some()
                    && let Some(layout) = s.row_layout.take()
                {
                    s.page_out(layout);
                }
            }
        }
        // A batch never deletes what it writes: codes that an earlier commit dropped (int8
        // off) are written again under the same keys when int8 comes back on, while the
        // previous manifest may still list them as garbage.
        let written: BTreeSet<String> = batch.puts.iter().map(|(k, _)| k.clone()).collect_set();
        garbage.retain(|k| !written.contains(k));
        let manifest = Manifest {
            lsn: self.lsn,
            count,
            segments: self
                .segments
                .iter()
                .map(|s| s.blobs.to_ref(s.id, s.segment.len() as u64))
                .collect(),
            log: p.log.clone(),
            next_seq: p.next_seq,
            next_segment: self.next_segment,
            garbage: garbage.clone(),
        };
        let blob = format::encode_chunked(BlobKind::Manifest, &manifest);
        batch.puts.push((keys::manifest(&p.prefix), blob.concat()));
        batch.deletes = std::mem::replace(&mut p.garbage, garbage);
        batch.deletes.retain(|k| !written.contains(k));
        batch.deletes.extend(p.garbage.iter().cloned());
        p.dirty = false;
        p.sealed_since_commit = false;
        Some(batch)
    }

    /// Decodes a manifest blob, of format version 1, 2 or 3 (converted) or 4.
    pub fn decode_manifest(what: &str, bytes: &[u8]) -> Result<Manifest> {
        let (version, _) = format::open_blob_versioned(what, BlobKind::Manifest, bytes)?;
        match version {
            #[cfg(not(feature = "legacy-formats"))]
            1..=3 => Err(Error::ModuleRequired {
                feature: "legacy-formats",
                what: "Reading a namespace of format version 1, 2 or 3",
            }),
            #[cfg(feature = "legacy-formats")]
            1 => {
                let m: ManifestV1 = format::decode_chunked(what, BlobKind::Manifest, &[bytes])?;
                Ok(m.upgrade())
            }
            #[cfg(feature = "legacy-formats")]
            2 => {
                let m: ManifestV2 = format::decode_chunked(what, BlobKind::Manifest, &[bytes])?;
                Ok(m.upgrade())
            }
            #[cfg(feature = "legacy-formats")]
            3 => {
                let m: ManifestV3 = format::decode_chunked(what, BlobKind::Manifest, &[bytes])?;
                Ok(m.upgrade())
            }
            _ => format::decode_chunked(what, BlobKind::Manifest, &[bytes]),
        }
    }

    /// Every blob key [`Namespace::load`] needs to load a manifest with the configuration
    /// `ann`: everything it names, except int8 codes when [`AnnConfig::int8`] is off (they
    /// are not read then).
    pub fn required_keys(prefix: &str, m: &Manifest, ann: AnnConfig) -> Vec<String> {
        let mut out = Vec::new();
        for s in &m.segments {
            out.extend(component::required_keys(prefix, s, ann));
        }
        for l in &m.log {
            out.extend((0..l.chunks).map(|c| keys::log(prefix, l.seq, c)));
        }
        out
    }

    /// Rebuilds a namespace from its manifest and the blobs it names (keyed as
    /// [`Namespace::required_keys`] lists them for the same `ann`). Segments load as stored,
    /// with their graphs, and with their int8 codes when [`AnnConfig::int8`] is on; the write
    /// log is replayed into the memtable. Nothing is built here: segments that lack a graph or
    /// codes get pending work for [`Namespace::index_step`].
    pub fn load(
        dimension: usize,
        metric: Metric,
        config: StorageConfig,
        ann: AnnConfig,
        prefix: String,
        manifest: Manifest,
        mut blobs: BTreeMap<String, Vec<u8>>,
    ) -> Result<Self> {
        // Blobs are taken as they are decoded, so each is dropped once consumed.
        let mut take = |k: &str| -> Result<Vec<u8>> {
            blobs.remove(k).ok_or_else(|| Error::Corrupt {
                what: k.to_string(),
                reason: "blob named by the manifest is missing".into(),
            })
        };
        let mut ns = Namespace::new_persistent(dimension, metric, config, prefix.clone(), 0);
        ns.ann = ann;
        for s in &manifest.segments {
            let sealed = component::load_segment(&prefix, s, (dimension, metric, ann), &mut take)?;
            ns.segments.push(sealed);
            ns.schedule_graph(ns.segments.len() - 1);
        }
        for l in &manifest.log {
            let chunks: Vec<Vec<u8>> = (0..l.chunks)
                .map(|c| take(&keys::log(&prefix, l.seq, c)))
                .collect::<Result<_>>()?;
            let what = keys::log(&prefix, l.seq, 0);
            let entry: LogEntry = format::decode_chunks_owned(&what, BlobKind::Log, chunks)?;
            for op in entry.ops {
                match op {
                    LogOp::Put(records) => {
                        for r in records {
                            let r = r.into_record(&what)?;
                            if r.values.len() != dimension {
                                return Err(Error::Corrupt {
                                    what,
                                    reason: "logged record has the wrong dimension".into(),
                                });
                            }
                            ns.put(r);
                        }
                    }
                    LogOp::Delete(ids) => {
                        for id in &ids {
                            ns.remove(id);
                        }
                    }
                }
            }
        }
        if ns.len() as u64 != manifest.count {
            return Err(Error::Corrupt {
                what: keys::manifest(&prefix),
                reason: format!(
                    "manifest counts {} records, its blobs hold {}",
                    manifest.count,
                    ns.len()
                ),
            });
        }
        ns.lsn = manifest.lsn;
        ns.next_segment = manifest.next_segment;
        if let Some(p) = &mut ns.persist {
            p.log = manifest.log;
            p.next_seq = manifest.next_seq;
            p.garbage = manifest.garbage;
            p.dirty = false;
        }
        Ok(ns)
    }
}
