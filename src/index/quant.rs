//! int8 scalar quantization: one byte per dimension, searched on the graph, rescored in f32.
//!
//! Each component is stored as a code `c = round((x - lo[d]) / scale)` in `0..=255`, with a
//! per-dimension offset `lo[d]` (that dimension's minimum) and one global `scale` (the widest
//! dimension's range / 255). One shared scale keeps distances on codes pure integer arithmetic
//! (`distance::int8`, SIMD128 `i32x4.dot_i16x8_s`):
//! - euclidean: `|x - y|² ≈ scale² Σ (cx - cy)²`, so the key is the integer sum itself;
//! - dot product: `x·y ≈ Σ lo² + scale (Σ lo·cx + Σ lo·cy) + scale² Σ cx·cy`; the terms that
//!   depend on `x` are `scale Σ lo·cx` (stored per vector, 4 bytes) and the integer dot;
//! - cosine: the same on unit-normalised copies (quantized once; the f32 vectors stay as given).
//!
//! The query is quantized with the same parameters (clamped), the graph (built on the f32
//! vectors) is walked with keys on codes, and the `max(ef, k)` best candidates are rescored
//! with the full-precision vectors, so the returned scores are exact and only those few rows
//! of f32 data are touched: a memory-bound host can keep the codes and the graph resident
//! (`dim + 4` bytes per vector plus the graph) and fetch full vectors for rescoring only.

use crate::distance::{self, Metric, int8};
use crate::error::{Error, Result};
use crate::index::dense::Dense;
use crate::index::flat;
use crate::index::hnsw::{HnswView, SearchScratch};

mod format;

/// Slots per page of codes, as a power of two: the most whose codes fit one blob's payload
/// ([`crate::format::MAX_PAYLOAD`]), at least one.
#[inline]
fn page_shift(dim: usize) -> u32 {
    let slots = (crate::format::MAX_PAYLOAD / dim.max(1)).max(1);
    slots.ilog2()
}

/// Codes and quantization parameters for slots `0..n`.
#[derive(Debug, Clone, PartialEq)]
pub struct Int8Index {
    metric: Metric,
    dim: usize,
    lo: Vec<f32>,
    scale: f32,
    /// `Σ lo[d]²`, the constant term of a dot product between two codes.
    lo_sq: f32,
    /// Number of quantized slots.
    n: usize,
    /// `page_shift(dim)`.
    shift: u32,
    /// The codes in pages of `1 << page_shift(dim)` slots (the last one shorter), each the
    /// payload of one stored blob, so a load keeps the blobs it is given instead of copying
    /// them into one buffer.
    pages: Vec<Vec<u8>>,
    /// Per vector: `Σ lo[d] * c[d]` (dot product and cosine only; empty for euclidean).
    offsets: Vec<f32>,
}

impl Int8Index {
    /// Quantizes every slot of `vectors` (`dim` floats each; `norms` for cosine) in one go:
    /// [`Int8Builder`] run to the end.
    pub fn new(metric: Metric, dim: usize, vectors: Dense<'_>, norms: &[f32]) -> Result<Int8Index> {
        let n = vectors.len();
        let mut b = Int8Builder::new(metric, dim, n)?;
        b.step(vectors, norms, usize::MAX)?;
        b.finish()
    }

    /// The codes as little-endian bytes (layout in `quant/format.rs`); [`Int8Index::from_bytes`]
    /// reads them back.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format::encode_head(self);
        for p in &self.pages {
            out.extend_from_slice(p);
        }
        out
    }

    /// [`Int8Index::to_bytes`] as the blobs that store it, each made by `seal` from its
    /// payload: one blob when everything fits in `max` bytes, else the header and parameters
    /// in pieces of at most `max` bytes, then one piece per page of codes.
    /// [`Int8Index::from_payloads`] of these payloads keeps the pages as they are, without
    /// copying them into one buffer.
    pub fn blobs(&self, max: usize, seal: impl Fn(&[u8]) -> Vec<u8>) -> Vec<Vec<u8>> {
        let head = format::encode_head(self);
        if head.len() + self.n * self.dim <= max {
            return vec![seal(&self.to_bytes())];
        }
        head.chunks(max.max(1))
            .chain(self.pages.iter().map(Vec::as_slice))
            .map(seal)
            .collect()
    }

    /// Decodes and validates bytes of [`Int8Index::to_bytes`]: the header, the exact length
    /// for `n × dim` codes, finite parameters and offsets. Anything else is
    /// [`Error::Corrupt`], never a panic.
    pub fn from_bytes(bytes: &[u8]) -> Result<Int8Index> {
        format::decode(vec![bytes.to_vec()])
    }

    /// [`Int8Index::from_bytes`] of the bytes given in pieces, in order (the payloads of the
    /// blobs that store the codes). A piece that holds exactly one page of codes (as
    /// [`Int8Index::blobs`] writes them) becomes that page as it is; codes split otherwise are
    /// copied into pages, each piece dropped once consumed. So a load holds about one copy
    /// of the codes at any time.
    pub fn from_payloads(pieces: Vec<Vec<u8>>) -> Result<Int8Index> {
        format::decode(pieces)
    }

    /// The metric the codes approximate.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Codes per vector.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of quantized slots.
    pub fn len(&self) -> usize {
        self.n
    }

    /// True when no slot is quantized.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Resident bytes of all codes, offsets and quantization parameters.
    pub fn bytes(&self) -> usize {
        self.n * self.dim + self.offsets.len() * 4 + self.lo.len() * 4
    }

    /// Resident bytes per vector: the codes plus the per-vector offset.
    pub fn bytes_per_vector(&self) -> usize {
        self.dim
            + if self.metric == Metric::Euclidean {
                0
            } else {
                4
            }
    }

    /// The code of slot `s`.
    #[inline]
    pub fn code(&self, s: u32) -> &[u8] {
        let (s, shift) = (s as usize, self.shift);
        let at = (s & ((1 << shift) - 1)) * self.dim;
        self.pages
            .get(s >> shift)
            .and_then(|p| p.get(at..at + self.dim))
            .unwrap_or(&[])
    }

    fn encode(&self, v: &[f32], out: &mut Vec<u8>) {
        out.clear();
        let inv = 1.0 / self.scale;
        out.extend(v.iter().zip(&self.lo).map(|(&x, &l)| {
            let c = ((x - l) * inv).round();
            if c.is_nan() {
                0
            } else {
                c.clamp(0.0, 255.0) as u8
            }
        }));
    }

    /// Appends the code of slot `self.n`, starting a page (sized for `total` slots in all)
    /// when the last one is full.
    fn push_code(&mut self, code: &[u8], total: usize) {
        let per_page = 1 << self.shift;
        if self.n.is_multiple_of(per_page) {
            let slots = per_page.min(total.saturating_sub(self.n)).max(1);
            self.pages.push(Vec::with_capacity(slots * self.dim));
        }
        if let Some(p) = self.pages.last_mut() {
            p.extend_from_slice(code);
        }
        self.n += 1;
    }

    fn offset_of(&self, code: &[u8]) -> f32 {
        self.scale
            * code
                .iter()
                .zip(&self.lo)
                .map(|(&c, &l)| f32::from(c) * l)
                .sum::<f32>()
    }

    /// The approximate key (lower is better) of slot `s` for a query code `qc`. Terms that
    /// depend on the query alone are left out: they do not change the ranking.
    #[inline]
    fn key(&self, qc: &[u8], s: u32) -> f32 {
        let c = self.code(s);
        if c.is_empty() {
            return f32::INFINITY;
        }
        match self.metric {
            Metric::Euclidean => int8::l2sq_u8(qc, c) as f32,
            Metric::Cosine | Metric::DotProduct => {
                let off = self.offsets.get(s as usize).copied().unwrap_or(0.0);
                -(off + self.scale * self.scale * int8::dot_u8(qc, c) as f32)
            }
        }
    }

    /// Like [`HnswView::search`], walking the graph on codes and rescoring the `max(ef, k)`
    /// best candidates with `vectors` / `norms` (only those rows are read). Scores are exact.
    #[allow(clippy::too_many_arguments)]
    pub fn search(
        &self,
        graph: &HnswView<'_>,
        query: &[f32],
        vectors: Dense<'_>,
        norms: &[f32],
        k: usize,
        ef: usize,
        accept: impl Fn(u32) -> bool,
        scratch: &mut SearchScratch,
    ) -> Result<Vec<(f32, u32)>> {
        self.search_mode(graph, query, vectors, norms, k, ef, &accept, false, scratch)
    }

    /// [`Int8Index::search`], optionally with the two-hop filtered beam (for mid-range
    /// filters, like [`HnswView::search_filtered`]). Like it, this may return fewer than `k`
    /// accepted slots; callers that must not be short fall back to an exact scan.
    #[allow(clippy::too_many_arguments)]
    pub fn search_mode(
        &self,
        graph: &HnswView<'_>,
        query: &[f32],
        vectors: Dense<'_>,
        norms: &[f32],
        k: usize,
        ef: usize,
        accept: &impl Fn(u32) -> bool,
        two_hop: bool,
        scratch: &mut SearchScratch,
    ) -> Result<Vec<(f32, u32)>> {
        self.check(graph, query, vectors, norms)?;
        let qc = self.query_code(query);
        let pool = ef.max(k);
        let found = graph.knn_by_key(pool, pool, |s| self.key(&qc, s), accept, two_hop, scratch);
        Ok(graph.rescore(query, vectors, norms, k, found.into_iter().map(|(_, s)| s)))
    }

    /// The exact scan's int8 counterpart: every accepted slot's code is scored (a quarter of
    /// the bytes of its f32 row), the best `max(pool, k)` are rescored with `vectors` / `norms`
    /// and the best `k` of those returned, with exact scores. Returns `min(k, accepted)` slots;
    /// unlike the exact scan, a true top-`k` slot ranked below the pool by its code is missed.
    #[allow(clippy::too_many_arguments)]
    pub fn scan(
        &self,
        graph: &HnswView<'_>,
        query: &[f32],
        vectors: Dense<'_>,
        norms: &[f32],
        k: usize,
        pool: usize,
        accept: impl Fn(u32) -> bool,
    ) -> Result<Vec<(f32, u32)>> {
        self.check(graph, query, vectors, norms)?;
        let qc = self.query_code(query);
        let mut top = flat::TopK::new(pool.max(k), false);
        for s in (0..graph.len() as u32).filter(|&s| accept(s)) {
            top.push(self.key(&qc, s), s);
        }
        let found = top.into_sorted();
        Ok(graph.rescore(query, vectors, norms, k, found.into_iter().map(|(_, s)| s)))
    }

    /// The `pool` best accepted slots by their codes, walking the graph (`two_hop` as in
    /// [`Int8Index::search_mode`]), unscored: the caller rescores them from their rows, which
    /// need not be in memory yet. May return fewer than `pool`.
    #[allow(clippy::too_many_arguments)]
    pub fn candidates(
        &self,
        graph: &HnswView<'_>,
        query: &[f32],
        pool: usize,
        accept: &impl Fn(u32) -> bool,
        two_hop: bool,
        scratch: &mut SearchScratch,
    ) -> Result<Vec<u32>> {
        self.check_codes(graph, query)?;
        let qc = self.query_code(query);
        let found = graph.knn_by_key(pool, pool, |s| self.key(&qc, s), accept, two_hop, scratch);
        Ok(found.into_iter().map(|(_, s)| s).collect())
    }

    /// The `pool` best accepted slots by their codes, scanning every code (the exact plan's
    /// candidates, [`Int8Index::scan`] without the rescoring): `min(pool, accepted)` slots.
    pub fn scan_candidates(
        &self,
        graph: &HnswView<'_>,
        query: &[f32],
        pool: usize,
        accept: impl Fn(u32) -> bool,
    ) -> Result<Vec<u32>> {
        self.check_codes(graph, query)?;
        let qc = self.query_code(query);
        let mut top = flat::TopK::new(pool, false);
        for s in (0..graph.len() as u32).filter(|&s| accept(s)) {
            top.push(self.key(&qc, s), s);
        }
        Ok(top.into_sorted().into_iter().map(|(_, s)| s).collect())
    }

    /// Approximate distances of `slots` from `query` (lower is better) that compare across
    /// indexes: the query in f32 against each slot's decoded code, `lo + scale · code` —
    /// squared distance for euclidean, minus the dot product otherwise (for cosine, `query`
    /// must be a unit vector: codes are of unit vectors).
    ///
    /// Expanded so that each slot costs one float-by-code dot product (`int8::dot_f32_u8`),
    /// with the query's own terms computed once: `-(q·lo + scale Σ q·c)`, and for euclidean
    /// `Σ d² - 2 scale Σ d·c + scale² Σ c²` with `d = q - lo`.
    pub fn approx_distances(&self, query: &[f32], slots: &[u32]) -> Vec<f32> {
        if query.len() != self.dim {
            return vec![f32::INFINITY; slots.len()];
        }
        let s = self.scale;
        match self.metric {
            Metric::Euclidean => {
                let d: Vec<f32> = query.iter().zip(&self.lo).map(|(q, l)| q - l).collect();
                let d_sq = distance::dot(&d, &d);
                slots
                    .iter()
                    .map(|&slot| match self.code(slot) {
                        [] => f32::INFINITY,
                        c => {
                            let c_sq = int8::dot_u8(c, c) as f32;
                            d_sq - 2.0 * s * int8::dot_f32_u8(&d, c) + s * s * c_sq
                        }
                    })
                    .collect()
            }
            Metric::Cosine | Metric::DotProduct => {
                let q_lo = distance::dot(query, &self.lo);
                slots
                    .iter()
                    .map(|&slot| match self.code(slot) {
                        [] => f32::INFINITY,
                        c => -(q_lo + s * int8::dot_f32_u8(query, c)),
                    })
                    .collect()
            }
        }
    }

    /// Codes made for `graph`'s metric, dimension and slots, and a query of that dimension.
    fn check_codes(&self, graph: &HnswView<'_>, query: &[f32]) -> Result<()> {
        if query.len() != self.dim {
            return Err(Error::DimensionMismatch {
                expected: self.dim as u32,
                got: query.len(),
            });
        }
        if graph.metric() != self.metric || graph.dim() != self.dim || graph.len() > self.len() {
            return Err(Error::invalid(
                "int8 codes do not match the graph (metric, dimension or size)",
            ));
        }
        Ok(())
    }

    /// The inputs of a search: the graph's (see `HnswView::check_inputs`), and codes made for
    /// that graph's metric, dimension and slots.
    fn check(
        &self,
        graph: &HnswView<'_>,
        query: &[f32],
        vectors: Dense<'_>,
        norms: &[f32],
    ) -> Result<()> {
        graph.check_inputs(query, vectors, norms)?;
        if graph.metric() != self.metric || graph.dim() != self.dim || graph.len() > self.len() {
            return Err(Error::invalid(
                "int8 codes do not match the graph (metric, dimension or size)",
            ));
        }
        Ok(())
    }

    /// The query's code (of the unit vector, for cosine).
    fn query_code(&self, query: &[f32]) -> Vec<u8> {
        let mut qv = query.to_vec();
        if self.metric == Metric::Cosine {
            let n = distance::norm(query);
            let inv = if n > 0.0 { 1.0 / n } else { 0.0 };
            qv.iter_mut().for_each(|x| *x *= inv);
        }
        let mut qc = Vec::with_capacity(self.dim);
        self.encode(&qv, &mut qc);
        qc
    }
}

impl crate::index::hnsw::build::Between for Int8Index {
    /// The key between two stored vectors, from their codes alone: the squared distance in
    /// code units, or minus the approximate dot product (cosine: of the unit vectors)
    /// `Σ lo² + off_a + off_b + scale² Σ ca·cb`.
    #[inline]
    fn between(&self, a: u32, b: u32) -> f32 {
        let (ca, cb) = (self.code(a), self.code(b));
        match self.metric {
            Metric::Euclidean => int8::l2sq_u8(ca, cb) as f32,
            Metric::Cosine | Metric::DotProduct => {
                let off = |s: u32| self.offsets.get(s as usize).copied().unwrap_or(0.0);
                -(self.lo_sq
                    + off(a)
                    + off(b)
                    + self.scale * self.scale * int8::dot_u8(ca, cb) as f32)
            }
        }
    }
}

/// Rows of vectors `0..n`, normalised for cosine, one at a time.
fn row_into(metric: Metric, vectors: Dense<'_>, norms: &[f32], s: usize, buf: &mut Vec<f32>) {
    buf.clear();
    let v = vectors.row(s);
    if metric == Metric::Cosine {
        let inv = if norms[s] > 0.0 { 1.0 / norms[s] } else { 0.0 };
        buf.extend(v.iter().map(|x| x * inv));
    } else {
        buf.extend_from_slice(v);
    }
}

/// Quantizes `n` vectors in bounded slices, so a host's `index_step` budget bounds the work of
/// one call: a first pass over every row finds the per-dimension ranges, a second encodes the
/// rows. [`Int8Builder::work`] is `2n` row passes; [`Int8Builder::step`] does at most the
/// number it is given. The result is the same, bit for bit, however the work is sliced.
///
/// Every stored parameter is finite (what [`Int8Index::from_bytes`] requires): a range too
/// wide for `f32` gets the largest finite scale, and an offset that overflows is clamped.
#[derive(Debug, Clone)]
pub struct Int8Builder {
    metric: Metric,
    dim: usize,
    n: usize,
    /// Row passes done: `0..=n` ranging, then `n..=2n` encoding.
    done: usize,
    lo: Vec<f32>,
    hi: Vec<f32>,
    /// Created when the ranging pass ends; filled by the encoding pass.
    index: Option<Int8Index>,
}

impl Int8Builder {
    /// A builder for `n` vectors of `dim` dimensions.
    pub fn new(metric: Metric, dim: usize, n: usize) -> Result<Int8Builder> {
        if dim == 0 {
            return Err(Error::invalid(
                "int8 quantization needs a dimension of at least 1",
            ));
        }
        Ok(Int8Builder {
            metric,
            dim,
            n,
            done: 0,
            lo: vec![f32::INFINITY; dim],
            hi: vec![f32::NEG_INFINITY; dim],
            index: None,
        })
    }

    /// Total row passes: two per vector.
    pub fn work(&self) -> usize {
        2 * self.n
    }

    /// Bytes held: the ranges, and the codes encoded so far.
    pub fn heap_bytes(&self) -> usize {
        let codes = self.index.as_ref().map_or(0, |q| {
            crate::heap::vec(&q.lo)
                + crate::heap::vec(&q.pages)
                + q.pages.iter().map(crate::heap::vec).sum::<usize>()
                + crate::heap::vec(&q.offsets)
        });
        crate::heap::vec(&self.lo) + crate::heap::vec(&self.hi) + codes
    }

    /// True when every row is encoded.
    pub fn is_done(&self) -> bool {
        self.done == self.work()
    }

    /// Does at most `max_rows` row passes over `vectors` (the same `n × dim` floats at every
    /// call; `norms` for cosine) and returns how many it did.
    pub fn step(&mut self, vectors: Dense<'_>, norms: &[f32], max_rows: usize) -> Result<usize> {
        let (metric, dim, n) = (self.metric, self.dim, self.n);
        if vectors.dim() != dim || vectors.len() < n {
            return Err(Error::invalid(format!(
                "int8 quantization of {n} vectors of {dim} got {} × {}",
                vectors.len(),
                vectors.dim()
            )));
        }
        if metric == Metric::Cosine && norms.len() < n {
            return Err(Error::invalid(format!(
                "cosine quantization needs {n} norms, got {}",
                norms.len()
            )));
        }
        let start = self.done;
        let mut buf = Vec::with_capacity(dim);
        // Ranging pass.
        let end = n.min(self.done.saturating_add(max_rows));
        for s in self.done.min(n)..end {
            row_into(metric, vectors, norms, s, &mut buf);
            for (d, &x) in buf.iter().enumerate() {
                if x.is_finite() {
                    self.lo[d] = self.lo[d].min(x);
                    self.hi[d] = self.hi[d].max(x);
                }
            }
        }
        self.done = self.done.max(end);
        if self.done == n && self.index.is_none() {
            self.index = Some(self.parameters());
        }
        // Encoding pass.
        let left = max_rows - (self.done - start);
        let end = (2 * n).min(self.done.saturating_add(left));
        if let Some(q) = self.index.as_mut() {
            let mut code = Vec::with_capacity(dim);
            for s in (self.done - n)..(end.max(self.done) - n) {
                row_into(metric, vectors, norms, s, &mut buf);
                q.encode(&buf, &mut code);
                q.push_code(&code, n);
                if metric != Metric::Euclidean {
                    let off = q.offset_of(&code);
                    q.offsets.push(if off.is_nan() {
                        0.0
                    } else {
                        off.clamp(f32::MIN, f32::MAX)
                    });
                }
            }
            self.done = self.done.max(end);
        }
        Ok(self.done - start)
    }

    /// The quantization parameters, from the ranges of the first pass.
    fn parameters(&mut self) -> Int8Index {
        let (lo, hi) = (&mut self.lo, &mut self.hi);
        for d in 0..self.dim {
            if lo[d] > hi[d] {
                (lo[d], hi[d]) = (0.0, 0.0);
            }
        }
        let range = lo
            .iter()
            .zip(hi.iter())
            .map(|(l, h)| h - l)
            .fold(0.0f32, f32::max);
        // Two finite values can be more than f32::MAX apart (an infinite range), and a
        // subnormal range can round to a zero scale: keep the scale finite and positive.
        let scale = range / 255.0;
        let scale = if scale > 0.0 {
            scale.min(f32::MAX)
        } else {
            1.0
        };
        let lo = std::mem::take(lo);
        Int8Index {
            metric: self.metric,
            dim: self.dim,
            lo_sq: lo.iter().map(|l| l * l).sum(),
            lo,
            scale,
            n: 0,
            shift: page_shift(self.dim),
            pages: Vec::new(),
            offsets: Vec::with_capacity(if self.metric == Metric::Euclidean {
                0
            } else {
                self.n
            }),
        }
    }

    /// The codes, once [`Int8Builder::is_done`].
    pub fn finish(mut self) -> Result<Int8Index> {
        if self.n == 0 && self.index.is_none() {
            self.index = Some(self.parameters());
        }
        match self.index {
            Some(q) if self.done == 2 * self.n => Ok(q),
            _ => Err(Error::invalid(format!(
                "int8 quantization is not finished ({} of {} row passes)",
                self.done,
                2 * self.n
            ))),
        }
    }
}

#[cfg(test)]
mod tests;
