//! The one copy path of every merge: the live records of some sealed segments, merged in id
//! order into a new segment, at once (compaction) or in bounded steps (background merges).
//!
//! The new segment's slots are the inputs' live ids in order (they are in memory, so the order
//! is known at the start, with ids, norms and sparse values copied then). Rows — dense values
//! and metadata — are copied input by input in the order they are stored: slot order for a
//! resident input, row group by row group for a paged one, so a merge of paged segments needs
//! one group in memory at a time ([`Merger::needs`] names the next ones) rather than all of
//! their rows.

use super::job::Job;
use super::sealed::Sealed;
use crate::heap;
use crate::index::dense::DenseRows;
use crate::segment::columns::Columns;
use crate::segment::{Segment, Tombstones};
use crate::sort::SmallSort;

/// Slot of an input that is not copied (dead when the merge began).
const DEAD: u32 = u32::MAX;

/// Row groups [`Merger::needs`] asks for ahead of the copy.
const GROUPS_AHEAD: usize = 8;

/// Copies the records of its inputs that were live when it began (their tombstones then are
/// kept, so deletes made meanwhile do not disturb it), merged in id order.
#[derive(Debug, Clone)]
pub(super) struct Merger {
    /// The inputs' segment ids, with their tombstones when the merge began.
    inputs: Vec<(u64, Tombstones)>,
    /// For each input, the new slot of each of its slots (`DEAD`: not copied).
    targets: Vec<Vec<u32>>,
    /// For each paged input, the slot at each stored position (to copy group by group).
    orders: Vec<Option<Vec<u32>>>,
    /// The new segment: ids, norms and sparse values from the start, rows as copied.
    copied: Columns,
    /// The input being copied, and its next slot (resident) or row group (paged).
    input: usize,
    next: u32,
    done: bool,
}

/// A finished merge: the new segment, and the inputs with their tombstones when it began.
#[derive(Debug, Clone)]
pub(super) struct Merged {
    pub(super) segment: Segment,
    pub(super) inputs: Vec<(u64, Tombstones)>,
}

impl Merged {
    /// Bytes held: the new segment and the inputs' tombstones.
    pub(super) fn heap_bytes(&self) -> usize {
        self.segment.resident_bytes() + inputs_bytes(&self.inputs)
    }
}

fn inputs_bytes(inputs: &Vec<(u64, Tombstones)>) -> usize {
    heap::vec(inputs) + inputs.iter().map(|(_, t)| t.heap_bytes()).sum::<usize>()
}

impl Merger {
    /// A merge of `inputs` (in this order) into a segment of `dimension`-float vectors.
    pub(super) fn new<'a>(dimension: usize, inputs: impl IntoIterator<Item = &'a Sealed>) -> Self {
        let inputs: Vec<&Sealed> = inputs.into_iter().collect();
        let mut live: Vec<(&str, u32, u32)> = Vec::new();
        for (i, s) in inputs.iter().enumerate() {
            for slot in 0..s.segment.len() as u32 {
                if !s.tombstones.contains(slot) {
                    live.push((s.segment.id(slot), i as u32, slot));
                }
            }
        }
        // Each live id is in exactly one input.
        live.small_sort_by(|a, b| a.0.cmp(b.0));
        let mut targets: Vec<Vec<u32>> =
            inputs.iter().map(|s| vec![DEAD; s.segment.len()]).collect();
        let n = live.len();
        let mut copied = Columns::new(dimension);
        copied.vectors = DenseRows::zeroed(dimension, n);
        copied.metadata = vec![None; n];
        copied.ids.reserve(n);
        copied.norms.reserve(n);
        copied.sparse.reserve(n);
        for (new, &(id, i, slot)) in live.iter().enumerate() {
            let s = inputs[i as usize];
            targets[i as usize][slot as usize] = new as u32;
            let sparse = s.segment.sparse_values(slot).cloned();
            let id = id.to_string();
            copied.heap += Columns::entry_heap(&id, &sparse, &None);
            copied.ids.push(id);
            copied.norms.push(s.segment.norms()[slot as usize]);
            copied.sparse.push(sparse);
        }
        let orders = inputs
            .iter()
            .map(|s| s.paged.as_ref().map(|p| p.layout.order()))
            .collect();
        Merger {
            inputs: inputs
                .iter()
                .map(|s| (s.id, s.tombstones.clone()))
                .collect(),
            targets,
            orders,
            copied,
            input: 0,
            next: 0,
            done: n == 0,
        }
    }

    /// Bytes held: the new segment so far, the slot maps and the inputs' tombstones.
    pub(super) fn heap_bytes(&self) -> usize {
        let maps: usize = self.targets.iter().map(heap::vec).sum::<usize>()
            + self.orders.iter().flatten().map(heap::vec).sum::<usize>();
        self.copied.resident_bytes() + maps + inputs_bytes(&self.inputs)
    }

    /// The row groups of paged inputs the copy needs next and that are not in memory, as
    /// (segment id, group): the current group and a few after it.
    pub(super) fn needs(&self, segments: &[Sealed]) -> Vec<(u64, u32)> {
        let Some((id, _)) = self.inputs.get(self.input).filter(|_| !self.done) else {
            return Vec::new();
        };
        let Some(p) = segments
            .iter()
            .find(|s| s.id == *id)
            .and_then(|s| s.paged.as_ref())
        else {
            return Vec::new();
        };
        (self.next..p.layout.groups() as u32)
            .take(GROUPS_AHEAD)
            .filter(|g| !p.groups.contains_key(g))
            .map(|g| (*id, g))
            .collect()
    }

    /// Runs the whole merge at once and returns the new segment (every row of the inputs
    /// must be in memory).
    pub(super) fn merge_now(mut self, segments: &[Sealed]) -> Segment {
        let _ = self.step(segments, usize::MAX);
        debug_assert!(self.done, "a synchronous merge lacks an input or its rows");
        Segment::from_columns(self.copied)
    }
}

/// Copies the row of an input's `slot` into its new slot (`targets`: that input's map).
fn put(
    copied: &mut Columns,
    targets: &[u32],
    slot: u32,
    values: &[f32],
    metadata: Option<&crate::metadata::Metadata>,
) {
    let new = targets[slot as usize];
    if new == DEAD {
        return;
    }
    let new = new as usize;
    copied.vectors.row_mut(new).copy_from_slice(values);
    if let Some(m) = metadata {
        copied.heap += m.heap_bytes();
        copied.metadata[new] = Some(m.clone());
    }
}

/// Rows copied (or slots passed over); 128 cost one node of budget: a copy costs ~1-2 µs at
/// 384 dimensions (wasm), a graph insertion ~100-460 µs.
impl Job for Merger {
    type Input<'a> = &'a [Sealed];
    type Output = Merged;
    const UNITS_PER_NODE: usize = 128;

    /// Copies up to about `rows` more rows from `segments` (which hold the inputs); `None`
    /// when an input is gone (merged or dropped meanwhile). It stops early at a row group of
    /// a paged input that is not in memory ([`Merger::needs`]). After the last row the merge
    /// is done.
    fn step(&mut self, segments: &[Sealed], rows: usize) -> Option<usize> {
        let inputs: Vec<&Sealed> = self
            .inputs
            .iter()
            .map(|(id, _)| segments.iter().find(|s| s.id == *id))
            .collect::<Option<_>>()?;
        let mut used = 0;
        while used < rows && !self.done {
            let s = inputs[self.input];
            let len = match &s.paged {
                None => s.segment.len() as u32,
                Some(p) => p.layout.groups() as u32,
            };
            if self.next >= len {
                self.input += 1;
                self.next = 0;
                self.done = self.input == inputs.len();
                continue;
            }
            match (&s.paged, &self.orders[self.input]) {
                (Some(p), Some(order)) => {
                    let g = self.next;
                    let Some(group) = p.groups.get(&g) else {
                        break; // waits for the host to provide it
                    };
                    let start = p.layout.group_start(g);
                    let d = self.copied.dimension;
                    let targets = &self.targets[self.input];
                    for i in 0..p.layout.group_len(g) {
                        let slot = order[start + i];
                        put(
                            &mut self.copied,
                            targets,
                            slot,
                            group.values(i, d),
                            group.metadata(i),
                        );
                    }
                    used += p.layout.group_len(g).max(1);
                }
                _ => {
                    let slot = self.next;
                    let targets = &self.targets[self.input];
                    let (values, metadata) = (s.segment.values(slot), s.segment.metadata(slot));
                    put(&mut self.copied, targets, slot, values, metadata);
                    used += 1;
                }
            }
            self.next += 1;
        }
        Some(used)
    }

    fn is_done(&self, _: &[Sealed]) -> bool {
        self.done
    }

    fn finish(self) -> Option<Merged> {
        self.done.then(|| Merged {
            segment: Segment::from_columns(self.copied),
            inputs: self.inputs,
        })
    }
}
