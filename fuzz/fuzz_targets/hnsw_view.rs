//! `HnswView::from_bytes` on arbitrary bytes, then a plain, a filtered and an int8-free search
//! on whatever decodes: nothing may panic, and results must stay in range.
//!
//!   cargo +nightly fuzz run hnsw_view     (from this directory)
//!
//! The first input byte picks the filter; the rest is the graph blob.
#![no_main]

use larch::index::hnsw::{HnswView, SearchScratch};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, blob)) = data.split_first() else {
        return;
    };
    let Ok(view) = HnswView::from_bytes(blob) else {
        return;
    };
    // Keep memory bounded: a valid header may describe a large dimension with few nodes.
    let dim = view.dim();
    if dim > 4096 || view.len().saturating_mul(dim) > 1 << 22 {
        return;
    }
    let vectors: Vec<f32> = (0..view.len() * dim)
        .map(|i| ((i * 7919) % 97) as f32 / 97.0 - 0.5)
        .collect();
    let norms: Vec<f32> = vectors
        .chunks_exact(dim)
        .map(larch::distance::norm)
        .collect();
    let query = vec![0.25f32; dim];
    let mut scratch = SearchScratch::new();
    let step = u32::from(pick % 7) + 1;
    let accept = |s: u32| s % step == 0;
    if let Ok(found) = view.search(&query, &vectors, &norms, 10, 32, accept, &mut scratch) {
        assert!(
            found
                .iter()
                .all(|&(_, s)| (s as usize) < view.len() && accept(s))
        );
    }
    let frac = 1.0 / step as f32;
    if let Ok((found, _)) =
        view.search_filtered(&query, &vectors, &norms, 10, 32, accept, frac, &mut scratch)
    {
        assert!(
            found
                .iter()
                .all(|&(_, s)| (s as usize) < view.len() && accept(s))
        );
        let accepted = (0..view.len() as u32).filter(|&s| accept(s)).count();
        assert_eq!(found.len(), accepted.min(10));
    }
});
