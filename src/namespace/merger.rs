//! The one copy path of every merge: the live records of some sealed segments, merged in id
//! order (a k-way merge of their sorted runs) into a new segment, at once (compaction) or in
//! bounded steps (consolidation).

use super::job::Job;
use super::sealed::Sealed;
use crate::heap;
use crate::segment::columns::Columns;
use crate::segment::{Segment, Tombstones};

/// Copies the records of its inputs that were live when it began (their tombstones then are
/// kept, so deletes made meanwhile do not disturb it), merged in id order.
#[derive(Debug, Clone)]
pub(super) struct Merger {
    /// The inputs' segment ids, with their tombstones when the merge began.
    inputs: Vec<(u64, Tombstones)>,
    /// The next slot of each input (same order as `inputs`).
    cursors: Vec<u32>,
    /// The records copied so far.
    copied: Columns,
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
        let inputs: Vec<(u64, Tombstones)> = inputs
            .into_iter()
            .map(|s| (s.id, s.tombstones.clone()))
            .collect();
        Merger {
            cursors: vec![0; inputs.len()],
            inputs,
            copied: Columns::new(dimension),
            done: false,
        }
    }

    /// Bytes held: the records copied so far and the inputs' tombstones.
    pub(super) fn heap_bytes(&self) -> usize {
        self.copied.resident_bytes() + heap::vec(&self.cursors) + inputs_bytes(&self.inputs)
    }

    /// The inputs' segment ids.
    pub(super) fn input_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.inputs.iter().map(|(id, _)| *id)
    }

    /// Runs the whole merge at once and returns the new segment.
    pub(super) fn merge_now(mut self, segments: &[Sealed]) -> Segment {
        // Unbounded: copies every record of the inputs, which are among `segments`.
        let _ = self.step(segments, usize::MAX);
        debug_assert!(self.done, "an input of a synchronous merge is missing");
        Segment::from_columns(self.copied)
    }
}

/// Records copied; 128 cost one node of budget: a copy costs ~1-2 µs at 384 dimensions
/// (wasm), a graph insertion ~100-460 µs.
impl Job for Merger {
    type Input<'a> = &'a [Sealed];
    type Output = Merged;
    const UNITS_PER_NODE: usize = 128;

    /// Copies up to `rows` more records from `segments` (which hold the inputs); `None` when
    /// an input is gone (merged or dropped meanwhile). After the last record the merge is done.
    fn step(&mut self, segments: &[Sealed], rows: usize) -> Option<usize> {
        let inputs: Vec<&Sealed> = self
            .inputs
            .iter()
            .map(|(id, _)| segments.iter().find(|s| s.id == *id))
            .collect::<Option<_>>()?;
        let mut copied = 0;
        while copied < rows && !self.done {
            // Skip to each input's next record that was live when the merge began.
            for (i, s) in inputs.iter().enumerate() {
                let then = &self.inputs[i].1;
                let cursor = &mut self.cursors[i];
                while (*cursor as usize) < s.segment.len() && then.contains(*cursor) {
                    *cursor += 1;
                }
            }
            let cursors = &self.cursors;
            let next = (0..inputs.len())
                .filter(|&i| (cursors[i] as usize) < inputs[i].segment.len())
                .min_by(|&a, &b| {
                    let id = |i: usize| inputs[i].segment.id(cursors[i]);
                    id(a).cmp(id(b))
                });
            let Some(i) = next else {
                self.done = true;
                break;
            };
            // A paged input's rows are all in memory while it is merged (`paging.rs`).
            self.copied.push(inputs[i].record(self.cursors[i])?);
            self.cursors[i] += 1;
            copied += 1;
        }
        Some(copied)
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
