//! Persistence: [`Namespace::commit`] turns what changed into a [`WriteBatch`], and
//! [`Namespace::load`] rebuilds a namespace from its manifest and blobs (see `docs/format.md`).

use std::collections::{BTreeMap, BTreeSet};

use super::sealed::{Codes, Graph, Sealed};
use super::{AnnConfig, Namespace, StorageConfig};
use crate::distance::Metric;
use crate::error::{Error, Result};
use crate::format::{self, BlobKind};
use crate::index::hnsw::HnswView;
use crate::index::quant::Int8Index;
use crate::manifest::{LogEntry, LogOp, LogRef, Manifest, ManifestV1, ManifestV2, SegmentRef};
use crate::segment::{Segment, Tombstones};
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
        // over the new segment is idempotent.
        for s in &mut self.segments {
            let new = s.chunks.is_none();
            if new {
                let (structured, vectors) = s.segment.encode();
                for (c, blob) in structured.iter().enumerate() {
                    batch
                        .puts
                        .push((keys::segment(&p.prefix, s.id, c as u32), blob.clone()));
                }
                for (c, blob) in vectors.iter().enumerate() {
                    batch
                        .puts
                        .push((keys::vectors(&p.prefix, s.id, c as u32), blob.clone()));
                }
                s.chunks = Some((structured.len() as u32, vectors.len() as u32));
            }
            if s.tombstones_dirty && (sealed || new) {
                let version = s.persisted_tombstones.map_or(0, |(v, _)| v + 1);
                if let Some((old, chunks)) = s.persisted_tombstones {
                    garbage.extend((0..chunks).map(|c| keys::tombstones(&p.prefix, s.id, old, c)));
                }
                let blobs = s.tombstones.encode();
                for (c, blob) in blobs.iter().enumerate() {
                    batch.puts.push((
                        keys::tombstones(&p.prefix, s.id, version, c as u32),
                        blob.clone(),
                    ));
                }
                s.persisted_tombstones = Some((version, blobs.len() as u32));
                s.tombstones_dirty = false;
            }
        }
        // Graphs completed since the last commit (their segments' blobs are written by now),
        // then int8 codes: new ones once their graph is written, stored ones with int8 off
        // become garbage.
        for s in &mut self.segments {
            if s.graph_dirty && s.chunks.is_some() {
                if let Graph::Ready(bytes) = &s.graph {
                    let chunks = format::split_chunks(bytes);
                    for (c, chunk) in chunks.iter().enumerate() {
                        batch.puts.push((
                            keys::graph(&p.prefix, s.id, c as u32),
                            format::seal_blob(BlobKind::GraphChunk, chunk),
                        ));
                    }
                    s.graph_chunks = Some(chunks.len() as u32);
                }
                s.graph_dirty = false;
            }
            match (&s.codes, s.codes_chunks) {
                (Codes::Ready(q), None) if s.graph_chunks.is_some() => {
                    let bytes = q.to_bytes();
                    let chunks = format::split_chunks(&bytes);
                    for (c, chunk) in chunks.iter().enumerate() {
                        batch.puts.push((
                            keys::codes(&p.prefix, s.id, c as u32),
                            format::seal_blob(BlobKind::CodesChunk, chunk),
                        ));
                    }
                    s.codes_chunks = Some(chunks.len() as u32);
                }
                (_, Some(chunks)) if !int8 => {
                    garbage.extend((0..chunks).map(|c| keys::codes(&p.prefix, s.id, c)));
                    s.codes_chunks = None;
                }
                _ => {}
            }
        }
        // A batch never deletes what it writes: codes that an earlier commit dropped (int8
        // off) are written again under the same keys when int8 comes back on, while the
        // previous manifest may still list them as garbage.
        let written: BTreeSet<String> = batch.puts.iter().map(|(k, _)| k.clone()).collect();
        garbage.retain(|k| !written.contains(k));
        let manifest = Manifest {
            lsn: self.lsn,
            count,
            segments: self
                .segments
                .iter()
                .map(|s| {
                    let (structured_chunks, vector_chunks) = s.chunks.unwrap_or((0, 0));
                    SegmentRef {
                        id: s.id,
                        records: s.segment.len() as u64,
                        structured_chunks,
                        vector_chunks,
                        tombstones: s.persisted_tombstones,
                        graph_chunks: s.graph_chunks.unwrap_or(0),
                        codes_chunks: s.codes_chunks.unwrap_or(0),
                    }
                })
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

    /// Decodes a manifest blob, of format version 1 or 2 (converted) or 3.
    pub fn decode_manifest(what: &str, bytes: &[u8]) -> Result<Manifest> {
        let (version, _) = format::open_blob_versioned(what, BlobKind::Manifest, bytes)?;
        match version {
            1 => {
                let m: ManifestV1 = format::decode_chunked(what, BlobKind::Manifest, &[bytes])?;
                Ok(m.upgrade())
            }
            2 => {
                let m: ManifestV2 = format::decode_chunked(what, BlobKind::Manifest, &[bytes])?;
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
            out.extend((0..s.structured_chunks).map(|c| keys::segment(prefix, s.id, c)));
            out.extend((0..s.vector_chunks).map(|c| keys::vectors(prefix, s.id, c)));
            if let Some((v, n)) = s.tombstones {
                out.extend((0..n).map(|c| keys::tombstones(prefix, s.id, v, c)));
            }
            out.extend((0..s.graph_chunks).map(|c| keys::graph(prefix, s.id, c)));
            if ann.int8 {
                out.extend((0..s.codes_chunks).map(|c| keys::codes(prefix, s.id, c)));
            }
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
        blobs: &BTreeMap<String, Vec<u8>>,
    ) -> Result<Self> {
        let get = |k: &str| -> Result<&[u8]> {
            blobs
                .get(k)
                .map(Vec::as_slice)
                .ok_or_else(|| Error::Corrupt {
                    what: k.to_string(),
                    reason: "blob named by the manifest is missing".into(),
                })
        };
        let mut ns = Namespace::new_persistent(dimension, metric, config, prefix.clone(), 0);
        ns.ann = ann;
        for s in &manifest.segments {
            let structured: Vec<&[u8]> = (0..s.structured_chunks)
                .map(|c| get(&keys::segment(&prefix, s.id, c)))
                .collect::<Result<_>>()?;
            let vectors: Vec<&[u8]> = (0..s.vector_chunks)
                .map(|c| get(&keys::vectors(&prefix, s.id, c)))
                .collect::<Result<_>>()?;
            let what = keys::segment(&prefix, s.id, 0);
            let segment = Segment::decode(&what, &structured, &vectors)?;
            if segment.len() as u64 != s.records
                || (!segment.is_empty() && segment.all_vectors().len() != segment.len() * dimension)
            {
                return Err(Error::Corrupt {
                    what,
                    reason: "segment size disagrees with its manifest or the index dimension"
                        .into(),
                });
            }
            let tombstones = match s.tombstones {
                Some((v, n)) => {
                    let chunks: Vec<&[u8]> = (0..n)
                        .map(|c| get(&keys::tombstones(&prefix, s.id, v, c)))
                        .collect::<Result<_>>()?;
                    Tombstones::decode(&what, &chunks, segment.len())?
                }
                None => Tombstones::new(segment.len()),
            };
            let graph = if s.graph_chunks == 0 {
                Graph::None
            } else {
                let gwhat = keys::graph(&prefix, s.id, 0);
                let mut bytes = Vec::new();
                for c in 0..s.graph_chunks {
                    let key = keys::graph(&prefix, s.id, c);
                    bytes.extend_from_slice(format::open_blob(
                        &key,
                        BlobKind::GraphChunk,
                        get(&key)?,
                    )?);
                }
                let bad = |reason: String| Error::Corrupt {
                    what: gwhat.clone(),
                    reason,
                };
                let view = HnswView::from_bytes(&bytes).map_err(|e| match e {
                    Error::Corrupt { reason, .. } => bad(reason),
                    other => bad(other.to_string()),
                })?;
                if view.len() != segment.len() || view.dim() != dimension || view.metric() != metric
                {
                    return Err(bad(
                        "graph size, dimension or metric disagrees with its segment".into(),
                    ));
                }
                Graph::Ready(bytes)
            };
            let codes = ns.load_codes(&prefix, s, &segment, &graph, &get)?;
            ns.segments.push(Sealed {
                chunks: Some((s.structured_chunks, s.vector_chunks)),
                persisted_tombstones: s.tombstones,
                graph_chunks: matches!(graph, Graph::Ready(_)).then_some(s.graph_chunks),
                graph,
                codes,
                codes_chunks: (s.codes_chunks > 0).then_some(s.codes_chunks),
                ..Sealed::new(s.id, segment, tombstones)
            });
            ns.schedule_graph(ns.segments.len() - 1);
        }
        for l in &manifest.log {
            let chunks: Vec<&[u8]> = (0..l.chunks)
                .map(|c| get(&keys::log(&prefix, l.seq, c)))
                .collect::<Result<_>>()?;
            let what = keys::log(&prefix, l.seq, 0);
            let entry: LogEntry = format::decode_chunked(&what, BlobKind::Log, &chunks)?;
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

    /// A loaded segment's int8 codes: decoded and checked against the segment when stored and
    /// [`AnnConfig::int8`] is on, else none (a segment whose graph is ready gets them from
    /// [`Namespace::index_step`]). Codes without a graph are corrupt: nothing writes them.
    pub(super) fn load_codes<'b>(
        &self,
        prefix: &str,
        s: &SegmentRef,
        segment: &Segment,
        graph: &Graph,
        get: &impl Fn(&str) -> Result<&'b [u8]>,
    ) -> Result<Codes> {
        let what = keys::codes(prefix, s.id, 0);
        let bad = |reason: String| Error::Corrupt {
            what: what.clone(),
            reason,
        };
        if s.codes_chunks > 0 && !matches!(graph, Graph::Ready(_)) {
            return Err(bad("int8 codes of a segment without a graph".into()));
        }
        if s.codes_chunks == 0 || !self.ann.int8 {
            return Ok(Codes::None);
        }
        let mut bytes = Vec::new();
        for c in 0..s.codes_chunks {
            let key = keys::codes(prefix, s.id, c);
            bytes.extend_from_slice(format::open_blob(&key, BlobKind::CodesChunk, get(&key)?)?);
        }
        let q = Int8Index::from_bytes(&bytes).map_err(|e| match e {
            Error::Corrupt { reason, .. } => bad(reason),
            other => bad(other.to_string()),
        })?;
        if q.len() != segment.len() || q.dim() != self.dimension || q.metric() != self.metric {
            return Err(bad(
                "int8 codes' size, dimension or metric disagree with their segment".into(),
            ));
        }
        Ok(Codes::Ready(Box::new(q)))
    }
}
