//! `Int8Index::from_bytes` on arbitrary bytes (the payload of a segment's int8 code chunks),
//! then a search on whatever decodes, over a graph of matching size: nothing may panic, results
//! stay in range, and what decodes encodes back to the same bytes.
//!
//!   cargo +nightly fuzz run int8_codes     (from this directory)
#![no_main]

use larch::index::hnsw::{Hnsw, HnswConfig, SearchScratch};
use larch::index::quant::Int8Index;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(codes) = Int8Index::from_bytes(data) else {
        return;
    };
    assert_eq!(codes.to_bytes(), data);
    // Keep the graph build bounded.
    let (n, dim) = (codes.len(), codes.dim());
    if n > 512 || dim > 256 {
        return;
    }
    let vectors: Vec<f32> = (0..n * dim)
        .map(|i| ((i * 7919) % 97) as f32 / 97.0 - 0.5)
        .collect();
    let norms: Vec<f32> = vectors
        .chunks_exact(dim)
        .map(larch::distance::norm)
        .collect();
    let config = HnswConfig {
        ef_construction: 16,
        ..HnswConfig::default()
    };
    let Ok(graph) = Hnsw::build(config, codes.metric(), dim, &vectors, &norms) else {
        return;
    };
    let query = vec![0.25f32; dim];
    let mut scratch = SearchScratch::new();
    let accept = |s: u32| s % 3 != 1;
    if let Ok(found) = codes.search(&graph.view(), &query, &vectors, &norms, 10, 32, accept, &mut scratch) {
        assert!(found.len() <= 10);
        assert!(found.iter().all(|&(_, s)| (s as usize) < n && accept(s)));
    }
});
