//! Paged rows: a sealed segment's dense values and metadata stored in row groups, so that
//! they need not stay in memory once the segment has a search representation (its graph and
//! int8 codes). A query reads the groups of its candidates on demand, through the engine's
//! `NotLoaded`/`provide` protocol, and the namespace keeps recently used groups in a bounded
//! cache.
//!
//! Rows are laid out in *graph order* (a breadth-first walk of the segment's HNSW graph from its
//! entry point, level 0): the candidates of one query are near each other in the graph, so they
//! fall into few groups. Slots stay in id order (ids are binary-searched); the layout maps a
//! slot to its position, and consecutive positions form groups.
//!
//! Stored as one blob series (`r/{seg}/{chunk}`): chunk 0 is the directory
//! ([`StoredRowDirectory`]: the slot at each position and where each group starts), chunk
//! `g + 1` is group `g` ([`StoredRowGroup`]: its rows' values, `dimension` floats each, and
//! metadata). Both are rkyv archives, validated on decode.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use rkyv::{Archive, Deserialize, Serialize};

use super::Segment;
use super::stored::{self, StoredValue};
use crate::error::{Error, Result};
use crate::format::{self, BlobKind};
use crate::heap;
use crate::index::dense::DenseRows;
use crate::index::hnsw::HnswView;
use crate::metadata::Metadata;

/// Bytes of a group's payload a writer aims at (values and metadata); a group holds at least
/// one row. A query reads the whole group of each candidate, so small groups read less (16 KiB:
/// about 10 rows of 384 dimensions; 48 KiB read 2.3 MiB per query and segment in the Worker);
/// readers take any size.
pub const GROUP_TARGET_BYTES: usize = 16 << 10;
/// Most rows in one group.
pub const MAX_GROUP_ROWS: usize = 1024;

/// The directory of a segment's row groups.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StoredRowDirectory {
    /// The slot at each position (a permutation of the segment's slots).
    pub order: Vec<u32>,
    /// The first position of each group, ascending, starting at 0.
    pub starts: Vec<u32>,
    /// Each slot's norm (in slot order): rescoring needs them without the rows.
    pub norms: Vec<f32>,
}

/// One group of rows, in position order.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StoredRowGroup {
    pub values: Vec<f32>,
    pub metadata: Vec<Option<Vec<(String, StoredValue)>>>,
}

/// Where each slot's row is: what stays in memory of a paged segment's rows.
#[derive(Debug, Clone, Default)]
pub struct RowLayout {
    /// The position of each slot.
    position: Vec<u32>,
    /// The first position of each group.
    starts: Vec<u32>,
}

impl RowLayout {
    /// The group holding `slot`'s row, and the row's index in it.
    pub fn locate(&self, slot: u32) -> (u32, usize) {
        let pos = self.position[slot as usize];
        let g = self.starts.partition_point(|&s| s <= pos) - 1;
        (g as u32, (pos - self.starts[g]) as usize)
    }

    /// The slot at each position (the inverse of the layout).
    pub fn order(&self) -> Vec<u32> {
        let mut order = vec![0u32; self.position.len()];
        for (slot, &pos) in self.position.iter().enumerate() {
            order[pos as usize] = slot as u32;
        }
        order
    }

    /// The first position of group `g`.
    pub fn group_start(&self, g: u32) -> usize {
        self.starts[g as usize] as usize
    }

    /// Number of groups.
    pub fn groups(&self) -> usize {
        self.starts.len()
    }

    /// Rows in group `g`.
    pub fn group_len(&self, g: u32) -> usize {
        let g = g as usize;
        let end = self
            .starts
            .get(g + 1)
            .copied()
            .unwrap_or(self.position.len() as u32);
        (end - self.starts[g]) as usize
    }

    /// Bytes held.
    pub fn heap_bytes(&self) -> usize {
        heap::vec(&self.position) + heap::vec(&self.starts)
    }
}

/// One group of rows in memory.
#[derive(Debug)]
pub struct RowGroup {
    values: Vec<f32>,
    metadata: Vec<Option<Metadata>>,
    bytes: usize,
    /// When it was last read (a namespace-wide counter), for eviction.
    last_used: AtomicU64,
}

impl Clone for RowGroup {
    fn clone(&self) -> Self {
        RowGroup {
            values: self.values.clone(),
            metadata: self.metadata.clone(),
            bytes: self.bytes,
            last_used: AtomicU64::new(self.last_used.load(Ordering::Relaxed)),
        }
    }
}

impl RowGroup {
    /// The values of row `i`.
    pub fn values(&self, i: usize, dimension: usize) -> &[f32] {
        &self.values[i * dimension..(i + 1) * dimension]
    }

    /// The metadata of row `i`.
    pub fn metadata(&self, i: usize) -> Option<&Metadata> {
        self.metadata[i].as_ref()
    }

    /// Bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.bytes
    }

    /// Marks the group used at `tick`.
    pub fn touch(&self, tick: u64) {
        self.last_used.store(tick, Ordering::Relaxed);
    }

    /// When it was last used.
    pub fn last_used(&self) -> u64 {
        self.last_used.load(Ordering::Relaxed)
    }
}

/// The rows of a paged segment: the layout, and the groups read so far.
#[derive(Debug, Clone, Default)]
pub struct PagedRows {
    pub layout: RowLayout,
    pub groups: BTreeMap<u32, RowGroup>,
}

impl PagedRows {
    /// Bytes held: the layout and the cached groups.
    pub fn heap_bytes(&self) -> usize {
        self.layout.heap_bytes()
            + self
                .groups
                .values()
                .map(|g| g.heap_bytes() + 32)
                .sum::<usize>()
    }

    /// Bytes of the cached groups.
    pub fn cached_bytes(&self) -> usize {
        self.groups.values().map(RowGroup::heap_bytes).sum()
    }
}

/// The graph order of a segment's slots: breadth first over level 0 from the entry point,
/// neighbours in list order; slots the walk does not reach follow in slot order.
pub fn graph_order(view: &HnswView<'_>) -> Vec<u32> {
    let n = view.len();
    let mut seen = vec![false; n];
    let mut order = Vec::with_capacity(n);
    let mut nbrs = Vec::new();
    let mut start = 0u32;
    let mut roots = std::iter::once(view.entry).chain(0..n as u32);
    while order.len() < n {
        let Some(root) = roots.next() else { break };
        if root as usize >= n || seen[root as usize] {
            continue;
        }
        seen[root as usize] = true;
        order.push(root);
        while (start as usize) < order.len() {
            let node = order[start as usize];
            start += 1;
            view.neighbors(node, 0, &mut nbrs);
            for &m in &nbrs {
                if (m as usize) < n && !seen[m as usize] {
                    seen[m as usize] = true;
                    order.push(m);
                }
            }
        }
    }
    order
}

/// Splits positions into groups of about [`GROUP_TARGET_BYTES`].
fn group_starts(segment: &Segment, order: &[u32]) -> Vec<u32> {
    let row_bytes = segment.dimension * 4;
    let mut starts = Vec::new();
    let (mut rows, mut bytes) = (0usize, 0usize);
    for (pos, &slot) in order.iter().enumerate() {
        let md = segment.metadata(slot).map_or(1, Metadata::json_size);
        let b = row_bytes + md + 8;
        if pos == 0 || rows >= MAX_GROUP_ROWS || (rows > 0 && bytes + b > GROUP_TARGET_BYTES) {
            starts.push(pos as u32);
            rows = 0;
            bytes = 0;
        }
        rows += 1;
        bytes += b;
    }
    starts
}

/// The blobs of a segment's rows in `order` (chunk 0 the directory, then one per group), and
/// the layout a paged segment keeps.
pub fn encode(segment: &Segment, order: Vec<u32>) -> (Vec<Vec<u8>>, RowLayout) {
    let starts = group_starts(segment, &order);
    let d = segment.dimension;
    let mut blobs = Vec::with_capacity(starts.len() + 1);
    let dir = StoredRowDirectory {
        order: order.clone(),
        starts: starts.clone(),
        norms: segment.norms().to_vec(),
    };
    blobs.push(format::seal_blob(
        BlobKind::RowsChunk,
        &format::to_rkyv(&dir),
    ));
    for (g, &s) in starts.iter().enumerate() {
        let end = starts.get(g + 1).copied().unwrap_or(order.len() as u32);
        let slots = &order[s as usize..end as usize];
        let mut values = Vec::with_capacity(slots.len() * d);
        for &slot in slots {
            values.extend_from_slice(segment.values(slot));
        }
        let group = StoredRowGroup {
            values,
            metadata: slots
                .iter()
                .map(|&slot| segment.metadata(slot).map(stored::metadata_to_stored))
                .collect(),
        };
        blobs.push(format::seal_blob(
            BlobKind::RowsChunk,
            &format::to_rkyv(&group),
        ));
    }
    (blobs, layout_of(&order, starts))
}

fn layout_of(order: &[u32], starts: Vec<u32>) -> RowLayout {
    let mut position = vec![0u32; order.len()];
    for (pos, &slot) in order.iter().enumerate() {
        position[slot as usize] = pos as u32;
    }
    RowLayout { position, starts }
}

fn corrupt(what: &str, reason: impl Into<String>) -> Error {
    Error::Corrupt {
        what: what.to_string(),
        reason: reason.into(),
    }
}

/// Decodes the directory (chunk 0) of a segment of `n` slots: the layout and the norms.
pub fn decode_directory(what: &str, blob: &[u8], n: usize) -> Result<(RowLayout, Vec<f32>)> {
    let payload = format::open_blob(what, BlobKind::RowsChunk, blob)?;
    let dir: StoredRowDirectory = format::from_rkyv(what, payload)?;
    if dir.order.len() != n || dir.norms.len() != n {
        return Err(corrupt(
            what,
            format!("row directory of {} slots, segment of {n}", dir.order.len()),
        ));
    }
    let mut seen = vec![false; n];
    for &slot in &dir.order {
        match seen.get_mut(slot as usize) {
            Some(s) if !*s => *s = true,
            _ => return Err(corrupt(what, "row order is not a permutation of the slots")),
        }
    }
    let ascending = dir.starts.windows(2).all(|w| w[0] < w[1]);
    let in_range = dir.starts.last().is_none_or(|&s| (s as usize) < n.max(1));
    if (n > 0 && dir.starts.first() != Some(&0)) || !ascending || !in_range {
        return Err(corrupt(what, "row group starts are not ascending from 0"));
    }
    Ok((layout_of(&dir.order, dir.starts), dir.norms))
}

/// Decodes group `g` of `layout`, whose rows have `dimension` floats.
pub fn decode_group(
    what: &str,
    blob: &[u8],
    layout: &RowLayout,
    g: u32,
    dimension: usize,
) -> Result<RowGroup> {
    if g as usize >= layout.groups() {
        return Err(corrupt(what, format!("no row group {g}")));
    }
    let rows = layout.group_len(g);
    let payload = format::open_blob(what, BlobKind::RowsChunk, blob)?;
    let group: StoredRowGroup = format::from_rkyv(what, payload)?;
    if group.values.len() != rows * dimension || group.metadata.len() != rows {
        return Err(corrupt(
            what,
            format!(
                "row group of {} floats and {} metadata, expected {rows} rows of {dimension}",
                group.values.len(),
                group.metadata.len()
            ),
        ));
    }
    let metadata: Vec<Option<Metadata>> = group
        .metadata
        .into_iter()
        .map(|m| m.map(stored::metadata_from_stored))
        .collect();
    let bytes = size_of::<RowGroup>()
        + heap::vec(&group.values)
        + heap::vec(&metadata)
        + metadata
            .iter()
            .flatten()
            .map(Metadata::heap_bytes)
            .sum::<usize>();
    Ok(RowGroup {
        values: group.values,
        metadata,
        bytes,
        last_used: AtomicU64::new(0),
    })
}

/// Decodes every group into the columns of a resident segment: the values (`dimension` per
/// slot, in slot order), the metadata, and the layout they were stored in.
/// Each group's blob is dropped once decoded, so the load holds about one copy of the rows.
pub fn decode_all(
    what: &str,
    blobs: Vec<Vec<u8>>,
    n: usize,
    dimension: usize,
) -> Result<(DenseRows, Vec<Option<Metadata>>, RowLayout)> {
    let mut blobs = blobs.into_iter();
    let Some(dir) = blobs.next() else {
        return Err(corrupt(what, "no row directory"));
    };
    let (layout, _) = decode_directory(what, &dir, n)?;
    drop(dir);
    let groups = blobs;
    if groups.len() != layout.groups() {
        return Err(corrupt(
            what,
            format!(
                "{} row groups, directory names {}",
                groups.len(),
                layout.groups()
            ),
        ));
    }
    // Rows are read in stored order (groups are consecutive positions), then put in slot
    // order in place: the values are never held twice.
    let mut values = DenseRows::new(dimension);
    let mut metadata: Vec<Option<Metadata>> = vec![None; n];
    let order = layout.order();
    for (g, blob) in groups.enumerate() {
        let group = decode_group(what, &blob, &layout, g as u32, dimension)?;
        drop(blob);
        let start = layout.starts[g] as usize;
        values.extend_flat(&group.values);
        for (i, md) in group.metadata.into_iter().enumerate() {
            metadata[order[start + i] as usize] = md;
        }
    }
    values.permute(&layout.position);
    Ok((values, metadata, layout))
}
