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
use crate::index::hnsw::{HnswView, SearchScratch};

/// Codes and quantization parameters for slots `0..n`.
#[derive(Debug, Clone, PartialEq)]
pub struct Int8Index {
    metric: Metric,
    dim: usize,
    lo: Vec<f32>,
    scale: f32,
    /// `Σ lo[d]²`, the constant term of a dot product between two codes.
    lo_sq: f32,
    codes: Vec<u8>,
    /// Per vector: `Σ lo[d] * c[d]` (dot product and cosine only; empty for euclidean).
    offsets: Vec<f32>,
}

impl Int8Index {
    /// Quantizes every slot of `vectors` (`dim` floats each; `norms` for cosine).
    pub fn new(metric: Metric, dim: usize, vectors: &[f32], norms: &[f32]) -> Result<Int8Index> {
        if dim == 0 {
            return Err(Error::invalid(
                "int8 quantization needs a dimension of at least 1",
            ));
        }
        let n = vectors.len() / dim;
        if metric == Metric::Cosine && norms.len() < n {
            return Err(Error::invalid(format!(
                "cosine quantization needs {n} norms, got {}",
                norms.len()
            )));
        }
        let row = |s: usize, buf: &mut Vec<f32>| {
            buf.clear();
            let v = &vectors[s * dim..(s + 1) * dim];
            if metric == Metric::Cosine {
                let inv = if norms[s] > 0.0 { 1.0 / norms[s] } else { 0.0 };
                buf.extend(v.iter().map(|x| x * inv));
            } else {
                buf.extend_from_slice(v);
            }
        };
        let (mut lo, mut hi) = (vec![f32::INFINITY; dim], vec![f32::NEG_INFINITY; dim]);
        let mut buf = Vec::with_capacity(dim);
        for s in 0..n {
            row(s, &mut buf);
            for (d, &x) in buf.iter().enumerate() {
                if x.is_finite() {
                    lo[d] = lo[d].min(x);
                    hi[d] = hi[d].max(x);
                }
            }
        }
        for d in 0..dim {
            if lo[d] > hi[d] {
                (lo[d], hi[d]) = (0.0, 0.0);
            }
        }
        let range = lo
            .iter()
            .zip(&hi)
            .map(|(l, h)| h - l)
            .fold(0.0f32, f32::max);
        let scale = if range > 0.0 { range / 255.0 } else { 1.0 };
        let lo_sq = lo.iter().map(|l| l * l).sum();
        let mut q = Int8Index {
            metric,
            dim,
            lo,
            scale,
            lo_sq,
            codes: Vec::with_capacity(n * dim),
            offsets: Vec::new(),
        };
        let mut code = Vec::with_capacity(dim);
        for s in 0..n {
            row(s, &mut buf);
            q.encode(&buf, &mut code);
            q.codes.extend_from_slice(&code);
            if metric != Metric::Euclidean {
                q.offsets.push(q.offset_of(&code));
            }
        }
        Ok(q)
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
        self.codes.len() / self.dim
    }

    /// True when no slot is quantized.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// Resident bytes of all codes, offsets and quantization parameters.
    pub fn bytes(&self) -> usize {
        self.codes.len() + self.offsets.len() * 4 + self.lo.len() * 4
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
    pub fn code(&self, s: u32) -> &[u8] {
        let s = s as usize;
        self.codes
            .get(s * self.dim..(s + 1) * self.dim)
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
        vectors: &[f32],
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
        vectors: &[f32],
        norms: &[f32],
        k: usize,
        ef: usize,
        accept: &impl Fn(u32) -> bool,
        two_hop: bool,
        scratch: &mut SearchScratch,
    ) -> Result<Vec<(f32, u32)>> {
        graph.check_inputs(query, vectors, norms)?;
        if graph.metric() != self.metric || graph.dim() != self.dim || graph.len() > self.len() {
            return Err(Error::invalid(
                "int8 codes do not match the graph (metric, dimension or size)",
            ));
        }
        let mut qv = query.to_vec();
        if self.metric == Metric::Cosine {
            let n = distance::norm(query);
            let inv = if n > 0.0 { 1.0 / n } else { 0.0 };
            qv.iter_mut().for_each(|x| *x *= inv);
        }
        let mut qc = Vec::with_capacity(self.dim);
        self.encode(&qv, &mut qc);
        let pool = ef.max(k);
        let found = graph.knn_by_key(pool, pool, |s| self.key(&qc, s), accept, two_hop, scratch);
        Ok(graph.rescore(query, vectors, norms, k, found.into_iter().map(|(_, s)| s)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distance::TestRng;
    use crate::index::flat;
    use crate::index::hnsw::{Hnsw, HnswConfig};

    fn dataset(seed: u64, n: usize, dim: usize) -> (Vec<f32>, Vec<f32>) {
        let mut rng = TestRng::new(seed);
        let vectors = rng.vec(n * dim);
        let norms = vectors.chunks_exact(dim).map(distance::norm).collect();
        (vectors, norms)
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn int8_search_with_rescoring_matches_the_exact_scan() {
        let (n, dim) = (2000, 32);
        let (vectors, norms) = dataset(21, n, dim);
        let config = HnswConfig::default();
        let mut rng = TestRng::new(22);
        let mut scratch = SearchScratch::new();
        for metric in [Metric::Cosine, Metric::Euclidean, Metric::DotProduct] {
            let q8 = Int8Index::new(metric, dim, &vectors, &norms).unwrap();
            assert_eq!((q8.len(), q8.dim(), q8.metric()), (n, dim, metric));
            let on_f32 = Hnsw::build(config, metric, dim, &vectors, &norms).unwrap();
            let on_codes = Hnsw::build_on_codes(config, &q8).unwrap();
            for g in [&on_f32, &on_codes] {
                let mut hits = 0;
                for _ in 0..50 {
                    let q = rng.vec(dim);
                    let want = flat::scan(metric, &q, &vectors, &norms, 10, |_| true);
                    let got = q8
                        .search(
                            &g.view(),
                            &q,
                            &vectors,
                            &norms,
                            10,
                            64,
                            |_| true,
                            &mut scratch,
                        )
                        .unwrap();
                    assert_eq!(got.len(), 10);
                    // Rescored: every returned score is the exact one, bit for bit.
                    let exact = flat::scan(metric, &q, &vectors, &norms, n, |_| true);
                    for (score, slot) in &got {
                        let e = exact.iter().find(|e| e.1 == *slot).unwrap();
                        assert_eq!(score.to_bits(), e.0.to_bits(), "{metric:?} slot {slot}");
                    }
                    hits += got.iter().filter(|r| want.contains(r)).count();
                }
                let recall = hits as f64 / 500.0;
                let floor = if metric == Metric::DotProduct {
                    0.8
                } else {
                    0.85
                };
                assert!(recall >= floor, "{metric:?}: recall@10 {recall}");
            }
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn codes_cover_the_range_and_are_small() {
        // Both dimensions span 2.0: one shared scale of 2/255.
        let vectors = [0.0, -1.0, 2.0, 1.0, 1.0, 0.0];
        let q8 = Int8Index::new(Metric::Euclidean, 2, &vectors, &[]).unwrap();
        assert_eq!(q8.code(0), &[0, 0]);
        assert_eq!(q8.code(1), &[255, 255]);
        assert!(
            q8.code(2).iter().all(|c| (127..=128).contains(c)),
            "{:?}",
            q8.code(2)
        );
        assert_eq!(q8.code(9), &[] as &[u8], "out of range");
        assert_eq!(q8.bytes_per_vector(), 2);
        let cos = Int8Index::new(Metric::Cosine, 384, &vec![0.1; 384 * 3], &[1.96; 3]).unwrap();
        assert_eq!(cos.bytes_per_vector(), 388, "codes plus one f32 offset");
        assert!(
            Int8Index::new(Metric::Cosine, 2, &vectors, &[1.0]).is_err(),
            "missing norms"
        );
        assert!(Int8Index::new(Metric::Cosine, 0, &[], &[]).is_err());
        // Non-finite input never panics and encodes to something in range.
        let odd = Int8Index::new(
            Metric::DotProduct,
            2,
            &[f32::NAN, f32::INFINITY, 1.0, 2.0],
            &[],
        )
        .unwrap();
        assert_eq!(odd.len(), 2);
    }
}
