//! Search structures over one namespace's records.
//!
//! `flat` is the exact scan (memtable, small segments, selective filters and the recall oracle);
//! `hnsw` is the approximate graph index of sealed segments (searched in place from bytes);
//! `quant` is its int8 representation; `sparse` scores sparse vectors.

pub mod flat;
pub mod hnsw;
pub mod quant;
pub mod sparse;
