//! Dense f32 rows in pages: [`DenseRows`] owns them, [`Dense`] is the view the search
//! structures read.
//!
//! A page holds `2^shift` rows (about 1 MiB, and at least [`MIN_PAGE_ROWS`] rows, so the
//! exact scan's blocks never cross a page). A column of a million rows is then a thousand
//! blocks of one size instead of one block of hundreds of MiB: a growing memtable adds a page
//! instead of copying everything into a larger block, and a page freed by one segment is
//! reused by the next. wasm's allocator cannot hand back memory, and it cannot place a large
//! block in the holes that smaller ones leave, so one contiguous column per segment made the
//! wasm memory grow far past what the engine held. Every page but the last is full; the last
//! grows like a `Vec`, so a small namespace holds no more than its rows.

use crate::heap;

/// The fewest rows in a page: a multiple of the exact scan's block.
pub const MIN_PAGE_ROWS: usize = 64;

/// The bytes a page aims at.
const PAGE_BYTES: usize = 1 << 20;

/// `log2` of the rows per page for `dim` floats per row.
fn page_shift(dim: usize) -> u32 {
    let rows = (PAGE_BYTES / (4 * dim.max(1))).max(MIN_PAGE_ROWS);
    // The largest power of two that fits.
    usize::BITS - 1 - rows.leading_zeros()
}

/// Rows of `dim` floats, in pages.
#[derive(Debug, Clone, Default)]
pub struct DenseRows {
    dim: usize,
    shift: u32,
    len: usize,
    pages: Vec<Vec<f32>>,
}

impl DenseRows {
    /// No rows of `dim` floats.
    pub fn new(dim: usize) -> Self {
        DenseRows {
            dim,
            shift: page_shift(dim),
            len: 0,
            pages: Vec::new(),
        }
    }

    /// `rows` rows of zeros, to be written with [`DenseRows::row_mut`].
    pub fn zeroed(dim: usize, rows: usize) -> Self {
        let mut d = DenseRows::new(dim);
        if dim > 0 {
            let per = d.page_rows();
            let mut left = rows;
            while left > 0 {
                let n = left.min(per);
                d.pages.push(vec![0.0; n * dim]);
                left -= n;
            }
        }
        d.len = rows;
        d
    }

    /// The rows of `flat`, `dim` floats each (copied into pages).
    pub fn from_flat(dim: usize, flat: &[f32]) -> Self {
        let mut d = DenseRows::new(dim);
        d.extend_flat(flat);
        d
    }

    fn page_rows(&self) -> usize {
        1 << self.shift
    }

    /// The page holding row `i`, and where the row starts in it.
    #[inline]
    fn locate(&self, i: usize) -> (usize, usize) {
        (i >> self.shift, (i & (self.page_rows() - 1)) * self.dim)
    }

    /// Floats per row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Row `i`.
    #[inline]
    pub fn row(&self, i: usize) -> &[f32] {
        self.view().row(i)
    }

    /// Row `i`, to overwrite.
    pub fn row_mut(&mut self, i: usize) -> &mut [f32] {
        debug_assert!(i < self.len);
        if self.dim == 0 {
            // Sparse indexes store no dense rows (and so no pages).
            return &mut [];
        }
        let (p, at) = self.locate(i);
        &mut self.pages[p][at..at + self.dim]
    }

    /// Appends one row of `dim` floats.
    pub fn push(&mut self, row: &[f32]) {
        debug_assert_eq!(row.len(), self.dim);
        if self.dim > 0 {
            let full = self.page_rows() * self.dim;
            match self.pages.last_mut() {
                Some(p) if p.len() < full => {
                    if p.len() == p.capacity() {
                        // Double the last page, up to a full one.
                        let want = (p.len() * 2).clamp(self.dim * 16, full);
                        p.reserve_exact(want - p.len());
                    }
                    p.extend_from_slice(row);
                }
                _ => {
                    let mut p = Vec::with_capacity(if self.pages.is_empty() {
                        (self.dim * 16).min(full)
                    } else {
                        full
                    });
                    p.extend_from_slice(row);
                    self.pages.push(p);
                }
            }
        }
        self.len += 1;
    }

    /// Appends the rows of `flat`, `dim` floats each.
    pub fn extend_flat(&mut self, flat: &[f32]) {
        if self.dim == 0 {
            return;
        }
        for row in flat.chunks_exact(self.dim) {
            self.push(row);
        }
    }

    /// Keeps the first `n` rows.
    pub fn truncate(&mut self, n: usize) {
        if n >= self.len {
            return;
        }
        self.len = n;
        if self.dim == 0 {
            return;
        }
        let per = self.page_rows();
        let keep = n.div_ceil(per);
        self.pages.truncate(keep);
        if let Some(p) = self.pages.last_mut() {
            p.truncate((n - (keep - 1) * per) * self.dim);
        }
    }

    /// Moves the last row into row `i` and drops the last.
    pub fn swap_remove(&mut self, i: usize) {
        let last = self.len - 1;
        if i != last && self.dim > 0 {
            self.copy_row(last, i);
        }
        self.truncate(last);
    }

    /// Reorders the rows in place so that row `i` becomes what row `order[i]` was (`order` a
    /// permutation of `0..len`), with one row of scratch: a sealing memtable sorts its rows
    /// without a second copy of them.
    pub fn permute(&mut self, order: &[u32]) {
        if self.dim == 0 {
            return;
        }
        debug_assert_eq!(order.len(), self.len);
        let mut done = vec![false; order.len()];
        let mut held = vec![0.0f32; self.dim];
        for start in 0..order.len() {
            if done[start] || order[start] as usize == start {
                continue;
            }
            held.copy_from_slice(self.row(start));
            let mut at = start;
            loop {
                done[at] = true;
                let from = order[at] as usize;
                if from == start {
                    self.row_mut(at).copy_from_slice(&held);
                    break;
                }
                self.copy_row(from, at);
                at = from;
            }
        }
    }

    /// Copies row `from` over row `to`.
    fn copy_row(&mut self, from: usize, to: usize) {
        let d = self.dim;
        let ((fp, fo), (tp, to)) = (self.locate(from), self.locate(to));
        if fp == tp {
            self.pages[fp].copy_within(fo..fo + d, to);
        } else if fp < tp {
            let (head, tail) = self.pages.split_at_mut(tp);
            tail[0][to..to + d].copy_from_slice(&head[fp][fo..fo + d]);
        } else {
            let (head, tail) = self.pages.split_at_mut(fp);
            head[tp][to..to + d].copy_from_slice(&tail[0][fo..fo + d]);
        }
    }

    /// Gives back the last page's spare room.
    pub fn shrink_to_fit(&mut self) {
        if let Some(p) = self.pages.last_mut() {
            p.shrink_to_fit();
        }
        self.pages.shrink_to_fit();
    }

    /// Bytes held, spare room included.
    pub fn heap_bytes(&self) -> usize {
        heap::vec(&self.pages) + self.pages.iter().map(heap::vec).sum::<usize>()
    }

    /// The pages in order, each a whole number of rows.
    pub fn pages(&self) -> impl Iterator<Item = &[f32]> {
        self.pages.iter().map(Vec::as_slice)
    }

    /// The rows as the search structures read them.
    #[inline]
    pub fn view(&self) -> Dense<'_> {
        Dense {
            one: &[],
            pages: &self.pages,
            dim: self.dim,
            shift: self.shift,
            len: self.len,
        }
    }
}

impl PartialEq for DenseRows {
    fn eq(&self, other: &Self) -> bool {
        self.dim == other.dim
            && self.len == other.len
            && self.pages().flatten().eq(other.pages().flatten())
    }
}

/// Rows of `dim` floats as the search structures read them: either one contiguous slice or
/// the pages of a [`DenseRows`].
#[derive(Debug, Clone, Copy)]
pub struct Dense<'a> {
    one: &'a [f32],
    pages: &'a [Vec<f32>],
    dim: usize,
    shift: u32,
    len: usize,
}

impl<'a> Dense<'a> {
    /// The rows of a contiguous slice, `dim` floats each.
    pub fn flat(flat: &'a [f32], dim: usize) -> Self {
        Dense {
            one: flat,
            pages: &[],
            dim,
            shift: usize::BITS - 1,
            len: flat.len().checked_div(dim).unwrap_or(0),
        }
    }

    /// Floats per row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Row `i` (panics past the end).
    #[inline]
    pub fn row(&self, i: usize) -> &'a [f32] {
        self.rows(i, 1)
    }

    /// Row `i`, or `None` past the end.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&'a [f32]> {
        (i < self.len).then(|| self.row(i))
    }

    /// Rows `start..start + n`, contiguous: they must lie in one page, which holds for any
    /// aligned run of up to [`MIN_PAGE_ROWS`] rows.
    #[inline]
    pub fn rows(&self, start: usize, n: usize) -> &'a [f32] {
        let d = self.dim;
        if self.pages.is_empty() {
            return &self.one[start * d..(start + n) * d];
        }
        let at = (start & ((1 << self.shift) - 1)) * d;
        &self.pages[start >> self.shift][at..at + n * d]
    }

    /// The first `n` rows (`n` at most [`Dense::len`]).
    pub fn prefix(self, n: usize) -> Self {
        debug_assert!(n <= self.len);
        Dense { len: n, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_of(d: &DenseRows) -> Vec<Vec<f32>> {
        (0..d.len()).map(|i| d.row(i).to_vec()).collect()
    }

    #[test]
    fn pages_hold_rows_like_one_vec() {
        for dim in [0, 1, 3, 384, 5000] {
            let mut d = DenseRows::new(dim);
            let mut oracle: Vec<Vec<f32>> = Vec::new();
            let per = 1usize << d.shift;
            let n = 2 * per + 7;
            for i in 0..n {
                let row: Vec<f32> = (0..dim).map(|j| (i * 31 + j) as f32).collect();
                d.push(&row);
                oracle.push(row);
            }
            assert_eq!(rows_of(&d), oracle, "dim {dim}");
            if dim > 0 {
                assert_eq!(d.pages().count(), 3);
                assert!(d.pages().all(|p| p.len() % dim == 0));
            }
            // swap_remove across pages and within the last one
            for i in [0, per + 1, n - 3] {
                d.swap_remove(i);
                oracle.swap_remove(i);
                assert_eq!(rows_of(&d), oracle, "dim {dim} after removing {i}");
            }
            d.truncate(per);
            oracle.truncate(per);
            assert_eq!(rows_of(&d), oracle);
            if dim > 0 {
                assert_eq!(d.pages().count(), 1);
                d.row_mut(3).fill(-1.0);
                oracle[3].fill(-1.0);
                assert_eq!(rows_of(&d), oracle);
            }
            let flat: Vec<f32> = oracle.concat();
            let view = Dense::flat(&flat, dim);
            if dim > 0 {
                assert_eq!(DenseRows::from_flat(dim, &flat), d);
                assert_eq!(view.len(), d.len());
                for i in 0..d.len() {
                    assert_eq!(view.row(i), d.view().row(i));
                }
            }
        }
    }

    #[test]
    fn permuting_in_place_reorders_rows_across_pages() {
        for dim in [0, 2, 384] {
            let n = 3 * (1usize << page_shift(dim.max(1))).min(700) + 11;
            let mut d = DenseRows::new(dim);
            for i in 0..n {
                d.push(&vec![i as f32; dim]);
            }
            // A permutation with long cycles, fixed points and swaps.
            let mut order: Vec<u32> = (0..n as u32).collect();
            let mut x = 12345u64;
            for i in (1..n).rev() {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                order.swap(i, (x >> 33) as usize % (i + 1));
            }
            let want: Vec<Vec<f32>> = order.iter().map(|&o| vec![o as f32; dim]).collect();
            d.permute(&order);
            assert_eq!(rows_of(&d), want, "dim {dim}");
        }
    }

    #[test]
    fn aligned_blocks_never_cross_a_page() {
        for dim in [1, 384, 4096, 20_000] {
            let per = 1usize << page_shift(dim);
            assert!(
                per >= MIN_PAGE_ROWS && per.is_multiple_of(MIN_PAGE_ROWS),
                "dim {dim}"
            );
            let d = DenseRows::zeroed(dim, 3 * MIN_PAGE_ROWS + 5);
            assert_eq!(d.len(), 3 * MIN_PAGE_ROWS + 5);
            let v = d.view();
            assert_eq!(
                v.rows(2 * MIN_PAGE_ROWS, MIN_PAGE_ROWS).len(),
                MIN_PAGE_ROWS * dim
            );
        }
    }

    #[test]
    fn a_small_column_holds_little_more_than_its_rows() {
        let mut d = DenseRows::new(384);
        for _ in 0..10 {
            d.push(&[0.5; 384]);
        }
        assert!(d.heap_bytes() < 20 * 384 * 4, "{}", d.heap_bytes());
    }
}
