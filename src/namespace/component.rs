//! The stored components of a sealed segment, modelled on tantivy's `SegmentComponent`: every
//! kind of blob series a segment keeps in the store, its keys, the field of [`SegmentRef`] that
//! counts its chunks, when a commit writes or forgets it, and its encoding and decoding.
//!
//! Dropping a segment's blobs, [`Namespace::commit`] (puts and garbage),
//! [`Namespace::required_keys`] and [`Namespace::load`] iterate [`SegmentComponent::ALL`], so a
//! new stored kind is one new variant here (the compiler then asks for its key, its
//! [`SegmentRef`] field, its commit rule, its encoding and its decoding).

use super::AnnConfig;
use super::job::{Codes, Graph};
use super::sealed::Sealed;
use crate::distance::Metric;
use crate::error::{Error, Result};
use crate::format::{self, BlobKind};
use crate::index::hnsw::HnswView;
use crate::index::quant::Int8Index;
use crate::manifest::SegmentRef;
use crate::segment::postings::Postings;
use crate::segment::rows::{self, PagedRows, RowLayout};
use crate::segment::stored::StoredSegment;
use crate::segment::{Segment, Tombstones};
use crate::storage::keys;

#[cfg(doc)]
use super::Namespace;

/// One kind of blob series a sealed segment stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SegmentComponent {
    /// Ids (sorted), sparse values and metadata: an rkyv archive (`s/{seg}/{chunk}`).
    Structured,
    /// The deletion bitmap. Versioned: a new version replaces the old one
    /// (`t/{seg}/{version}/{chunk}`).
    Tombstones,
    /// The HNSW graph's bytes, once built (`g/{seg}/{chunk}`).
    Graph,
    /// The int8 codes' bytes, once quantized and while [`AnnConfig::int8`] is on
    /// (`q/{seg}/{chunk}`). Only a segment with a graph has codes.
    Codes,
    /// The paged rows (`r/{seg}/{chunk}`): a directory, then the dense values and metadata in
    /// row groups, in graph order (`segment/rows.rs`). Written once the codes are, replacing
    /// [`SegmentComponent::Vectors`]; the segment then pages its rows out of memory.
    Rows,
    /// The metadata index (`p/{seg}/{chunk}`), written with the rows, so a paged segment
    /// answers filters without its metadata.
    Postings,
    /// Dense vectors in slot order, raw little-endian `f32`s (`v/{seg}/{chunk}`), until the
    /// rows replace them.
    Vectors,
}

use SegmentComponent as C;

/// Number of [`SegmentComponent`]s. Per-component arrays are indexed by `c as usize`, so
/// [`SegmentComponent::ALL`] lists the variants in declaration order.
const COUNT: usize = SegmentComponent::ALL.len();
const _: () = {
    let mut i = 0;
    while i < COUNT {
        assert!(SegmentComponent::ALL[i] as usize == i);
        i += 1;
    }
};

/// The chunks of one stored component: its version (0 for unversioned components) and count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Chunks {
    pub(super) version: u32,
    pub(super) count: u32,
}

/// What a commit does with one component of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Keep,
    /// Write it (a versioned component as a new version, its old one becoming garbage).
    Write,
    /// Stop naming it: its chunks become garbage.
    Forget,
}

impl SegmentComponent {
    /// Every component, in the order a commit writes them (for all segments, one component
    /// after the other: a segment's graph is written after its records, its codes after its
    /// graph, its rows and metadata index after its codes, and its id-order vectors last, so
    /// that a commit writing the rows forgets them) and a load reads them.
    pub(super) const ALL: [SegmentComponent; 7] = [
        C::Structured,
        C::Tombstones,
        C::Graph,
        C::Codes,
        C::Rows,
        C::Postings,
        C::Vectors,
    ];

    /// The key of chunk `chunk` of this component of segment `seg` (`version` only matters
    /// for versioned components).
    fn key(self, prefix: &str, seg: u64, version: u32, chunk: u32) -> String {
        match self {
            C::Structured => keys::segment(prefix, seg, chunk),
            C::Vectors => keys::vectors(prefix, seg, chunk),
            C::Tombstones => keys::tombstones(prefix, seg, version, chunk),
            C::Graph => keys::graph(prefix, seg, chunk),
            C::Codes => keys::codes(prefix, seg, chunk),
            C::Rows => keys::rows(prefix, seg, chunk),
            C::Postings => keys::postings(prefix, seg, chunk),
        }
    }

    /// A new version replaces the old one under new keys (the old becomes garbage); an
    /// unversioned component is written once per segment.
    fn is_versioned(self) -> bool {
        self == C::Tombstones
    }

    /// What a manifest's segment reference names of this component.
    fn named_in(self, r: &SegmentRef) -> Option<Chunks> {
        let unversioned = |count: u32| Chunks { version: 0, count };
        match self {
            C::Structured => Some(unversioned(r.structured_chunks)),
            C::Vectors => Some(unversioned(r.vector_chunks)),
            C::Tombstones => r
                .tombstones
                .map(|(version, count)| Chunks { version, count }),
            C::Graph => (r.graph_chunks > 0).then(|| unversioned(r.graph_chunks)),
            C::Codes => (r.codes_chunks > 0).then(|| unversioned(r.codes_chunks)),
            C::Rows => (r.rows_chunks > 0).then(|| unversioned(r.rows_chunks)),
            C::Postings => (r.postings_chunks > 0).then(|| unversioned(r.postings_chunks)),
        }
    }

    /// Records `named` in a manifest's segment reference (0 chunks when not named).
    fn name_in(self, r: &mut SegmentRef, named: Option<Chunks>) {
        let count = named.map_or(0, |c| c.count);
        match self {
            C::Structured => r.structured_chunks = count,
            C::Vectors => r.vector_chunks = count,
            C::Tombstones => r.tombstones = named.map(|c| (c.version, c.count)),
            C::Graph => r.graph_chunks = count,
            C::Codes => r.codes_chunks = count,
            C::Rows => r.rows_chunks = count,
            C::Postings => r.postings_chunks = count,
        }
    }

    /// What a commit does with this component of `s`. `new`: the segment's records are
    /// written by this commit; `sealed`: the write log is folded into segments by it.
    fn change(self, s: &Sealed, new: bool, sealed: bool, int8: bool) -> Change {
        let write = match self {
            C::Structured => new,
            // Rows replace the id-order vectors (written just before, by this commit or an
            // earlier one).
            C::Vectors if s.blobs.named(C::Rows).is_some() => {
                return match s.blobs.named(C::Vectors) {
                    Some(_) => Change::Forget,
                    None => Change::Keep,
                };
            }
            C::Vectors => new,
            // Once the codes are stored (the segment can search without its rows), its rows
            // in graph order; never for a paged segment (it wrote them already).
            C::Rows => {
                int8 && s.paged.is_none()
                    && s.blobs.named(C::Rows).is_none()
                    && s.blobs.named(C::Codes).is_some()
                    && s.graph.is_ready()
            }
            C::Postings => s.blobs.named(C::Rows).is_some() && s.blobs.named(C::Postings).is_none(),
            // Until the log is folded, its replay recreates the tombstones of older segments.
            C::Tombstones => s.blobs.is_dirty(self) && (sealed || new),
            C::Graph => s.blobs.is_dirty(self) && s.graph.is_ready(),
            // Codes the manifest already names (quantized again after a load with int8 off)
            // are not rewritten; stored ones become garbage with int8 off.
            C::Codes => match (&s.codes, s.blobs.named(self)) {
                (Codes::Ready(_), None) if s.blobs.named(C::Graph).is_some() => true,
                (_, Some(_)) if !int8 => return Change::Forget,
                _ => false,
            },
        };
        if write { Change::Write } else { Change::Keep }
    }

    /// The blobs of this component of `s` (writing the rows keeps their layout in `s`, for
    /// paging out after the commit).
    fn encode(self, s: &mut Sealed) -> Vec<Vec<u8>> {
        let chunked = |kind: BlobKind, bytes: &[u8]| -> Vec<Vec<u8>> {
            format::split_chunks(bytes)
                .iter()
                .map(|chunk| format::seal_blob(kind, chunk))
                .collect()
        };
        match self {
            C::Structured => s.segment.encode_structured(),
            C::Vectors => s.segment.encode_vectors(),
            C::Tombstones => s.tombstones.encode(),
            C::Graph => match &s.graph {
                Graph::Ready(bytes) => chunked(BlobKind::GraphChunk, bytes),
                _ => Vec::new(),
            },
            C::Codes => match &s.codes {
                Codes::Ready(q) => q.blobs(format::MAX_PAYLOAD, |p| {
                    format::seal_blob(BlobKind::CodesChunk, p)
                }),
                _ => Vec::new(),
            },
            C::Rows => {
                let order = match s.graph_view() {
                    Some(view) => rows::graph_order(&view),
                    None => (0..s.segment.len() as u32).collect(),
                };
                let (blobs, layout) = rows::encode(&s.segment, order);
                s.row_layout = Some(layout);
                blobs
            }
            C::Postings => chunked(BlobKind::PostingsChunk, &s.postings().to_bytes()),
        }
    }
}

/// What the store holds of one segment, mirroring its [`SegmentRef`]: the chunks of each
/// component the last commit named (or the manifest it was loaded from), and which components
/// changed in memory since they were written.
#[derive(Debug, Clone, Default)]
pub(super) struct SegmentBlobs {
    named: [Option<Chunks>; COUNT],
    dirty: [bool; COUNT],
}

impl SegmentBlobs {
    /// What a manifest's segment reference names.
    pub(super) fn from_ref(r: &SegmentRef) -> Self {
        SegmentBlobs {
            named: SegmentComponent::ALL.map(|c| c.named_in(r)),
            dirty: [false; COUNT],
        }
    }

    /// The segment reference a manifest stores for segment `id` of `records` records.
    pub(super) fn to_ref(&self, id: u64, records: u64) -> SegmentRef {
        let mut r = SegmentRef {
            id,
            records,
            structured_chunks: 0,
            vector_chunks: 0,
            tombstones: None,
            graph_chunks: 0,
            codes_chunks: 0,
            rows_chunks: 0,
            postings_chunks: 0,
        };
        for c in SegmentComponent::ALL {
            c.name_in(&mut r, self.named(c));
        }
        r
    }

    /// The chunks of `c` the store holds, if any.
    pub(super) fn named(&self, c: SegmentComponent) -> Option<Chunks> {
        self.named[c as usize]
    }

    /// True once the segment's records are written.
    pub(super) fn is_written(&self) -> bool {
        self.named(C::Structured).is_some()
    }

    /// Marks `c` changed in memory since it was written.
    pub(super) fn touch(&mut self, c: SegmentComponent) {
        self.dirty[c as usize] = true;
    }

    fn is_dirty(&self, c: SegmentComponent) -> bool {
        self.dirty[c as usize]
    }

    /// Every key of segment `seg` the store holds, of the components `which`.
    pub(super) fn keys(&self, prefix: &str, seg: u64, which: &[SegmentComponent]) -> Vec<String> {
        let mut out = Vec::new();
        for &c in which {
            if let Some(ch) = self.named(c) {
                out.extend((0..ch.count).map(|i| c.key(prefix, seg, ch.version, i)));
            }
        }
        out
    }
}

/// True when a namespace configured with `ann` loads a segment whose store holds `blobs`
/// paged: it searches on its codes, and its rows and metadata index are stored.
fn loads_paged(blobs: &SegmentBlobs, ann: AnnConfig) -> bool {
    ann.int8
        && [C::Codes, C::Rows, C::Postings]
            .iter()
            .all(|&c| blobs.named(c).is_some())
}

/// The keys a namespace configured with `ann` reads to load segment `r`: everything stored,
/// except int8 codes with [`AnnConfig::int8`] off, and for a segment that loads paged, its
/// row groups (only the rows' directory); the metadata index only then.
pub(super) fn required_keys(prefix: &str, r: &SegmentRef, ann: AnnConfig) -> Vec<String> {
    let blobs = SegmentBlobs::from_ref(r);
    let paged = loads_paged(&blobs, ann);
    let mut out = Vec::new();
    for c in C::ALL {
        match c {
            C::Codes if !ann.int8 => {}
            C::Postings if !paged => {}
            C::Rows if paged => out.push(c.key(prefix, r.id, 0, 0)),
            _ => out.extend(blobs.keys(prefix, r.id, &[c])),
        }
    }
    out
}

/// Writes what changed of component `c` of every segment into `puts`, and the keys it
/// replaces or forgets into `garbage`.
pub(super) fn commit_component(
    c: SegmentComponent,
    segments: &mut [Sealed],
    new: &[bool],
    (sealed, int8): (bool, bool),
    prefix: &str,
    puts: &mut Vec<(String, Vec<u8>)>,
    garbage: &mut Vec<String>,
) {
    for (s, &new) in segments.iter_mut().zip(new) {
        let old = s.blobs.named(c);
        match c.change(s, new, sealed, int8) {
            Change::Keep => {}
            Change::Forget => {
                garbage.extend(s.blobs.keys(prefix, s.id, &[c]));
                s.blobs.named[c as usize] = None;
            }
            Change::Write => {
                let version = match old {
                    Some(o) if c.is_versioned() => {
                        garbage.extend(s.blobs.keys(prefix, s.id, &[c]));
                        o.version + 1
                    }
                    _ => 0,
                };
                let blobs = c.encode(s);
                let count = blobs.len() as u32;
                for (i, blob) in blobs.into_iter().enumerate() {
                    puts.push((c.key(prefix, s.id, version, i as u32), blob));
                }
                s.blobs.named[c as usize] = Some(Chunks { version, count });
                s.blobs.dirty[c as usize] = false;
            }
        }
    }
}

/// Decodes a stored segment and its components: the chunks `r` names, fetched with `get`
/// (keyed as [`required_keys`] lists them for the same `ann`). Codes are decoded only with
/// [`AnnConfig::int8`] on; a segment lacking a graph or codes gets them from
/// [`Namespace::index_step`], never here. A segment whose rows are stored loads paged when it
/// searches on codes (its rows' directory and metadata index only), else with every row.
pub(super) fn load_segment(
    prefix: &str,
    r: &SegmentRef,
    (dimension, metric, ann): (usize, Metric, AnnConfig),
    take: &mut impl FnMut(&str) -> Result<Vec<u8>>,
) -> Result<Sealed> {
    let blobs = SegmentBlobs::from_ref(r);
    // Each blob is taken from the host's provided set as it is decoded and dropped right
    // after, so a load holds little more than what it builds.
    let mut fetch = |c: SegmentComponent, all: bool| -> Result<Vec<Vec<u8>>> {
        let mut keys = blobs.keys(prefix, r.id, &[c]);
        if !all {
            keys.truncate(1);
        }
        keys.iter().map(|k| take(k)).collect()
    };
    let what = keys::segment(prefix, r.id, 0);
    let stored: StoredSegment =
        format::decode_chunks_owned(&what, BlobKind::SegmentChunk, fetch(C::Structured, true)?)?;
    let n = stored.records.len();
    let rows_what = keys::rows(prefix, r.id, 0);
    let paged = loads_paged(&blobs, ann);
    let (segment, layout) = if paged {
        // Only the directory: the row groups are read on demand.
        let dir = fetch(C::Rows, false)?
            .into_iter()
            .next()
            .unwrap_or_default();
        let (layout, norms) = rows::decode_directory(&rows_what, &dir, n)?;
        drop(dir);
        let approximate = n * (dimension * 4 + 4);
        (
            Segment::decode_paged(&what, stored, norms, approximate)?,
            layout,
        )
    } else if blobs.named(C::Rows).is_some() {
        let chunks = fetch(C::Rows, true)?;
        let (values, metadata, layout) = rows::decode_all(&rows_what, chunks, n, dimension)?;
        (
            Segment::decode_with(&what, stored, values, Some(metadata))?,
            layout,
        )
    } else {
        let rows = crate::segment::decode_dense(&what, dimension, fetch(C::Vectors, true)?)?;
        let segment = Segment::decode_with(&what, stored, rows, None)?;
        (segment, RowLayout::default())
    };
    if segment.len() as u64 != r.records
        || (!paged && !segment.is_empty() && segment.all_vectors().len() != n)
    {
        return Err(Error::Corrupt {
            what,
            reason: "segment size disagrees with its manifest or the index dimension".into(),
        });
    }
    let tombstones = match blobs.named(C::Tombstones) {
        Some(_) => {
            let chunks = fetch(C::Tombstones, true)?;
            let refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
            Tombstones::decode(&what, &refs, segment.len())?
        }
        None => Tombstones::new(segment.len()),
    };
    let graph = match blobs.named(C::Graph) {
        None => Graph::None,
        Some(_) => {
            let gkey = keys::graph(prefix, r.id, 0);
            let bytes = format::take_payloads(&gkey, BlobKind::GraphChunk, fetch(C::Graph, true)?)?;
            let bad = corrupt(gkey);
            let view = HnswView::from_bytes(&bytes).map_err(|e| bad(reason(e)))?;
            if view.len() != segment.len() || view.dim() != dimension || view.metric() != metric {
                return Err(bad(
                    "graph size, dimension or metric disagrees with its segment".into(),
                ));
            }
            Graph::Ready(bytes)
        }
    };
    let bad = corrupt(keys::codes(prefix, r.id, 0));
    if blobs.named(C::Codes).is_some() && !graph.is_ready() {
        return Err(bad("int8 codes of a segment without a graph".into()));
    }
    let codes = match blobs.named(C::Codes) {
        Some(_) if ann.int8 => {
            let ckey = keys::codes(prefix, r.id, 0);
            let pieces =
                format::into_payloads(&ckey, BlobKind::CodesChunk, fetch(C::Codes, true)?)?;
            let q = Int8Index::from_payloads(pieces).map_err(|e| bad(reason(e)))?;
            if q.len() != segment.len() || q.dim() != dimension || q.metric() != metric {
                return Err(bad(
                    "int8 codes' size, dimension or metric disagree with their segment".into(),
                ));
            }
            Codes::Ready(Box::new(q))
        }
        _ => Codes::None,
    };
    let postings = if paged {
        let pkey = keys::postings(prefix, r.id, 0);
        let bytes =
            format::take_payloads(&pkey, BlobKind::PostingsChunk, fetch(C::Postings, true)?)?;
        let p = Postings::from_bytes(&bytes, n)
            .map_err(|e| corrupt(keys::postings(prefix, r.id, 0))(reason(e)))?;
        Some(p)
    } else {
        None
    };
    let mut sealed = Sealed {
        blobs,
        graph,
        codes,
        ..Sealed::new(r.id, segment, tombstones)
    };
    if let Some(p) = postings {
        let _ = sealed.postings.set(p);
        sealed.paged = Some(PagedRows {
            layout,
            groups: Default::default(),
        });
    } else if sealed.blobs.named(C::Rows).is_some() {
        sealed.row_layout = Some(layout);
    }
    Ok(sealed)
}

/// A `Corrupt` error naming `what`.
fn corrupt(what: String) -> impl Fn(String) -> Error {
    move |reason| Error::Corrupt {
        what: what.clone(),
        reason,
    }
}

/// The reason of a decoding error, to be reported under another key.
fn reason(e: Error) -> String {
    match e {
        Error::Corrupt { reason, .. } => reason,
        other => other.to_string(),
    }
}
